"""``solar-repro``: run the SOLAR pipeline's notebooks, or evaluate a checkpoint, from the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from solar_utils.config import PresetError
from solar_utils.evaluation.cli import register as register_eval
from solar_utils.runner import RUNNER_KERNEL, RunFailed, run_pipeline, section


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="solar-repro", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute the numbered notebooks in order with papermill")
    run.add_argument("--preset", default="tiny", help="tiny, small, paper, or a YAML file (default: tiny)")
    run.add_argument("--output-dir", type=Path, required=True, help="the run folder; one sub-folder per notebook")
    run.add_argument("--seed", type=int, default=1234, help="the run's one seed, passed to every notebook")
    run.add_argument("--only", default=None, help="comma-separated notebook numbers, e.g. 00,01")
    run.add_argument("--notebooks-dir", type=Path, default=None, help="where the numbered notebooks live")
    run.add_argument("--kernel", default=RUNNER_KERNEL,
                     help="Jupyter kernel name (default: python3, the Python running solar-repro)")
    run.add_argument("--log-output", action="store_true", help="stream the notebooks' output to the terminal")
    run.add_argument("--force", action="store_true",
                     help="run every notebook again, even those whose results in the folder are up to date")
    run.set_defaults(func=_run)
    register_eval(commands)
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.log_output:  # papermill logs the notebooks' output at INFO
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = run_pipeline(
        args.preset, args.output_dir, seed=args.seed, only=args.only.split(",") if args.only else None,
        notebooks_dir=args.notebooks_dir, kernel_name=args.kernel, log_output=args.log_output, force=args.force,
    )
    print()
    print(section(summary.read_text(), "Claims"))
    print(f"\nsummary written to {summary}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (RunFailed, PresetError, FileNotFoundError, ValueError) as err:
        print(f"solar-repro: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark streaming merges (solar_utils.merging) against mergekit on the same synthetic checkpoints.

Run by hand (not part of the tests; needs `pip install mergekit` for the comparison):

    python bench/bench_merge.py                       # llama-1b shape (1.1 B params), bf16
    python bench/bench_merge.py --shape mistral-7b    # the SOLAR base shape (needs ~45 GB of disk)
    python bench/bench_merge.py --layers 8            # fewer layers for a quick run

Writes three random-weight checkpoints of the shape (`base`, `a`, `b`; reused when present), then for each method
(linear and SLERP of a and b, TIES of a and b on base) runs our merge and mergekit's on the same mergekit-style
YAML, each in a fresh subprocess, and prints merge wall time and peak RSS (ru_maxrss of that subprocess, which
includes ~0.5 GB of Python + torch + transformers) side by side. Output folders are deleted after each run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

GB = 10**9
METHODS = {
    "linear": lambda d: {
        "merge_method": "linear",
        "models": [
            {"model": str(d / "a"), "parameters": {"weight": 0.5}},
            {"model": str(d / "b"), "parameters": {"weight": 0.5}},
        ],
    },
    "slerp": lambda d: {
        "merge_method": "slerp",
        "base_model": str(d / "a"),
        "models": [{"model": str(d / "a")}, {"model": str(d / "b")}],
        "parameters": {"t": 0.5},
    },
    "ties": lambda d: {
        "merge_method": "ties",
        "base_model": str(d / "base"),
        "models": [{"model": str(d / m), "parameters": {"weight": 0.5, "density": 0.5}} for m in ("a", "b")],
    },
}


def _child(tool: str, recipe_file: str, out: str, max_shard_size: str, threads: str) -> None:
    """Run one merge in this (fresh) process and print its figures as one JSON line."""
    import torch

    if threads != "default":
        torch.set_num_threads(int(threads))

    if tool == "ours":
        from solar_utils.merging import merge_checkpoints

        def run() -> None:
            merge_checkpoints(recipe_file, out, max_shard_size=max_shard_size)
    else:
        from mergekit.config import MergeConfiguration
        from mergekit.merge import MergeOptions, run_merge

        from solar_utils.checkpoints import parse_size

        def run() -> None:
            config = MergeConfiguration.model_validate(yaml.safe_load(Path(recipe_file).read_text()))
            run_merge(
                config, out, MergeOptions(quiet=True, copy_tokenizer=False, out_shard_size=parse_size(max_shard_size))
            )

    import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB
    start = time.perf_counter()
    run()
    merge_s = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB
    print(json.dumps({"merge_s": merge_s, "peak_rss_gb": peak, "import_rss_gb": import_rss}))


def _inputs(shape: str, workdir: str, layers: str, dtype: str, shard: str) -> None:
    """``base``, ``a`` and ``b``: random checkpoints of ``shape`` (seeds 0, 1, 2), kept for later runs."""
    import torch

    from solar_utils.shapes import write_synthetic_checkpoint

    for seed, name in enumerate(("base", "a", "b")):
        dst = Path(workdir) / name
        if not (dst / "config.json").is_file():
            start = time.perf_counter()
            n = None if layers == "all" else int(layers)
            write_synthetic_checkpoint(
                shape, dst, getattr(torch, dtype), shard, num_layers=n, seed=seed, overwrite=True
            )
            print(f"wrote {name} in {time.perf_counter() - start:.0f} s", flush=True)


def run_one(tool: str, recipe_file: Path, out: Path, max_shard_size: str, threads: str) -> dict[str, float]:
    """One merge in a fresh subprocess. This parent never imports torch: a child's ru_maxrss starts from the
    RSS of the process it was forked from, so a heavy parent would inflate every figure."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, __file__, "_child", tool, str(recipe_file), str(out), max_shard_size, threads]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="llama-1b", help="a shape of solar_utils/presets/shapes.yaml")
    parser.add_argument("--layers", type=int, default=None, help="override the shape's layer count")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_merge"))
    parser.add_argument("--input-shard-size", default="2GB", help="shard size of the synthetic inputs")
    parser.add_argument("--max-shard-size", default="5GB", help="output shard size (mergekit's default is 5GB)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool and method; the fastest is reported")
    parser.add_argument(
        "--threads", default="default", help="torch threads in each merge (1 is steadier on a busy machine)"
    )
    args = parser.parse_args(argv)

    inputs = args.workdir / f"{args.shape}-{args.layers or 'all'}-{args.dtype}"
    layers = str(args.layers or "all")
    subprocess.run(
        [sys.executable, __file__, "_inputs", args.shape, str(inputs), layers, args.dtype, args.input_shard_size],
        check=True,
    )
    tools = ["ours"] + (["mergekit"] if importlib.util.find_spec("mergekit") else [])
    if len(tools) == 1:
        print("mergekit is not installed: measuring ours only (pip install mergekit).")
    rows = []
    for method in args.methods:
        recipe_file = args.workdir / f"{method}.yml"
        recipe_file.write_text(yaml.safe_dump(METHODS[method](inputs), sort_keys=False))
        runs: dict[str, list[dict[str, float]]] = {tool: [] for tool in tools}
        for _ in range(args.repeat):  # alternate the tools, so load changes on a shared machine hit both
            for tool in tools:
                runs[tool].append(
                    run_one(tool, recipe_file, args.workdir / f"out-{tool}", args.max_shard_size, args.threads)
                )
        figures = {tool: min(r, key=lambda f: f["merge_s"]) for tool, r in runs.items()}
        rows.append((method, figures))
        print(method, json.dumps(figures), flush=True)

    print(
        f"\nshape {args.shape}, layers {layers}, {args.dtype}, "
        f"output shards {args.max_shard_size}, threads {args.threads}\n"
    )
    print(
        "| method | ours: merge s | ours: peak RSS GB | mergekit: merge s | mergekit: peak RSS GB "
        "| time ours/mergekit |"
    )
    print("|---|---|---|---|---|---|")
    for method, f in rows:
        ours, mk = f["ours"], f.get("mergekit")
        mk_cells = (
            f"{mk['merge_s']:.1f} | {mk['peak_rss_gb']:.2f} | {ours['merge_s'] / mk['merge_s']:.2f}"
            if mk
            else "– | – | –"
        )
        print(f"| {method} | {ours['merge_s']:.1f} | {ours['peak_rss_gb']:.2f} | {mk_cells} |")
    imports = ", ".join(f"{tool} {rows[0][1][tool]['import_rss_gb']:.2f} GB" for tool in tools)
    print(f"\nRSS after imports alone: {imports}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("_child", "_inputs"):
        {"_child": _child, "_inputs": _inputs}[sys.argv[1]](*sys.argv[2:])
    else:
        main()

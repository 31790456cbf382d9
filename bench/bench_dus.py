"""Benchmark streaming depth up-scaling against a plain copy of the same checkpoint (and mergekit if installed).

Run by hand (not part of the tests):

    python bench/bench_dus.py --shape llama-1b --workdir /tmp/bench_dus

Writes a random-weight checkpoint of the shape, then runs each task in its own measuring subprocess and prints
wall time and peak RSS: `import` (baseline: Python + torch + transformers), `copy` (shutil.copy of every shard),
`dus` (solar_utils.dus.depth_up_scale_checkpoint) and, when `mergekit` is importable, mergekit's `passthrough`
with the equivalent slices. Each output folder is deleted after its task to bound disk use.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GB = 10**9


def _task_copy(src: Path, dst: Path) -> None:
    """The floor for any checkpoint rewrite: copy the same weight bytes, file by file."""
    dst.mkdir(parents=True)
    for shard in sorted(src.glob("*.safetensors")):
        shutil.copy(shard, dst / shard.name)


def _task_dus(src: Path, dst: Path, m: int, max_shard_size: str) -> None:
    from solar_utils.dus import depth_up_scale_checkpoint

    depth_up_scale_checkpoint(src, dst, m, max_shard_size=max_shard_size)


def _task_import() -> None:
    import solar_utils.dus  # noqa: F401  (torch + transformers + safetensors: the baseline RSS)


def _measure(command: list[str]) -> dict[str, float]:
    """Run ``command`` as the only child of this process; its wall time and peak RSS (ru_maxrss, KiB on Linux).

    Dirty pages are flushed before the clock starts and the time includes flushing the command's own writes
    (``os.sync``), so the figures are time-to-disk, not time-to-page-cache.
    """
    os.sync()
    start = time.perf_counter()
    subprocess.run(command, check=True)
    os.sync()
    wall = time.perf_counter() - start
    return {"wall_s": wall, "peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / GB}


def measured(command: list[str]) -> dict[str, float]:
    """Measure ``command`` in a fresh wrapper process, so each figure covers that command alone."""
    wrapper = [sys.executable, __file__, "_measure", *command]
    out = subprocess.run(wrapper, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def mergekit_command(src: Path, dst: Path, n: int, m: int, workdir: Path) -> list[str] | None:
    """mergekit's passthrough with DUS's slices ([0, n−m) then [m, n)), or None when mergekit is not installed."""
    if importlib.util.find_spec("mergekit") is None:
        return None
    recipe = {
        "slices": [
            {"sources": [{"model": str(src), "layer_range": [0, n - m]}]},
            {"sources": [{"model": str(src), "layer_range": [m, n]}]},
        ],
        "merge_method": "passthrough",
        "dtype": "bfloat16",
    }
    path = workdir / "mergekit_dus.yaml"
    path.write_text(json.dumps(recipe))  # JSON is valid YAML
    return [sys.executable, "-m", "mergekit.scripts.run_yaml", str(path), str(dst), "--lazy-unpickle"]


def run_benchmark(shape: str, m: int | None, workdir: Path, max_shard_size: str) -> list[dict]:
    """Write the synthetic checkpoint, then measure every task; return one row per task."""
    from solar_utils.shapes import shape_config, write_synthetic_checkpoint

    n = shape_config(shape).num_hidden_layers
    m = n // 4 if m is None else m  # the paper's ratio: n = 32, m = 8
    src = workdir / f"{shape}-src"
    if not src.exists():
        start = time.perf_counter()
        write_synthetic_checkpoint(shape, src, max_shard_size=max_shard_size)
        print(f"synthetic {shape} checkpoint written in {time.perf_counter() - start:.1f} s: {src}")
    src_bytes = sum(p.stat().st_size for p in src.glob("*.safetensors"))
    print(f"{shape}: n = {n}, m = {m} -> {2 * (n - m)} layers; source weights {src_bytes / GB:.2f} GB")
    me = [sys.executable, __file__]
    tasks = [  # (name, output folder, command)
        ("import (baseline)", None, me + ["_import"]),
        ("copy", workdir / "copy", me + ["_copy", str(src), str(workdir / "copy")]),
        ("dus (streaming)", workdir / "dus", me + ["_dus", str(src), str(workdir / "dus"), str(m), max_shard_size]),
        ("mergekit passthrough", workdir / "mergekit", mergekit_command(src, workdir / "mergekit", n, m, workdir)),
    ]
    rows = []
    for name, out, command in tasks:
        if command is None:
            print(f"{name}: skipped (mergekit is not installed; `pip install mergekit` to compare)")
            continue
        row = {"task": name, **measured(command), "written_gb": 0.0}
        if out is not None:
            row["written_gb"] = sum(p.stat().st_size for p in out.glob("*.safetensors")) / GB
        rows.append(row)
        if name == "copy":
            shutil.rmtree(out)
    compare_outputs(workdir / "dus", workdir / "mergekit")
    return rows


def compare_outputs(dus: Path, mergekit: Path) -> None:
    """Check that mergekit's passthrough wrote the same tensors as DUS (when it ran), then delete both outputs."""
    from solar_utils.checkpoints import weights_sha256

    if mergekit.exists():
        same = weights_sha256(dus) == weights_sha256(mergekit)
        print(f"mergekit passthrough tensors identical to streaming DUS (names, dtypes, bytes): {same}")
        shutil.rmtree(mergekit)
    shutil.rmtree(dus)


def report(rows: list[dict]) -> str:
    """A Markdown table; wall-time ratios are relative to the plain copy."""
    copy_s = next(r["wall_s"] for r in rows if r["task"] == "copy")
    lines = ["| task | wall s | × copy | written GB | GB/s written | peak RSS GB |", "|---|---|---|---|---|---|"]
    for r in rows:
        speed = f"{r['written_gb'] / r['wall_s']:.2f}" if r["written_gb"] else "–"
        lines.append(
            f"| {r['task']} | {r['wall_s']:.1f} | {r['wall_s'] / copy_s:.2f} | {r['written_gb']:.2f} | {speed} "
            f"| {r['peak_rss_gb']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    internal = {
        "_measure": lambda a: print(json.dumps(_measure(a))),
        "_import": lambda a: _task_import(),
        "_copy": lambda a: _task_copy(Path(a[0]), Path(a[1])),
        "_dus": lambda a: _task_dus(Path(a[0]), Path(a[1]), int(a[2]), a[3]),
    }
    if argv and argv[0] in internal:
        internal[argv[0]](argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="llama-1b", choices=["llama-1b", "mistral-7b"])
    parser.add_argument("--m", type=int, default=None, help="layers dropped at the seam (default n // 4)")
    parser.add_argument("--workdir", type=Path, default=None, help="where checkpoints go (default: a temp dir)")
    parser.add_argument("--max-shard-size", default="1GB", help="shard size of the source and the DUS output")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic source checkpoint")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_dus-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(report(run_benchmark(args.shape, args.m, workdir, args.max_shard_size)))
    finally:
        if not args.keep:
            shutil.rmtree(workdir / f"{args.shape}-src", ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark (by hand): our H6 scorer vs lm-evaluation-harness on the same model and the same items.

    python bench/bench_eval.py                          # a random 4-layer Llama on toy items, 40 per task
    python bench/bench_eval.py --model DIR --data DIR   # any local checkpoint and JSONL source

Each side runs in its own process (so peak RSS is its own) with the same threads and batch size; the sides
alternate for ``--repeats`` rounds and each side's fastest round counts. Times are CPU seconds of the process
(``time.process_time``), which a shared machine disturbs far less than wall time, with 1 thread by default
(more threads add spin-waiting to CPU time); wall seconds are reported beside them. lm-eval's time
is the time spent inside its model calls (``loglikelihood`` / ``generate_until``), leaving out its task loading,
which favours lm-eval; ours is the whole ``evaluate`` call. Prints items/s, peak RSS, the speed ratio and whether
every per-item prediction is identical, and writes the numbers as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from solar_utils.evaluation import (TASKS, JsonlSource, MemorySource, Scorer, dump_source, evaluate,
                                   export_harness_tasks)
from solar_utils.evaluation.harness_export import align_harness_samples, harness_task_name
from solar_utils.evaluation.tasks import get_task
from solar_utils.evaluation.toy import build_model, build_tokenizer, toy_items, toy_texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="checkpoint folder (default: a random toy Llama)")
    parser.add_argument("--data", type=Path, help="JSONL source folder (default: toy items)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--items", type=int, default=40, help="toy items per task")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-gen-toks", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs per side; the fastest counts")
    parser.add_argument("--out", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--worker", choices=("ours", "lm_eval"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        torch.set_num_threads(args.threads)
        run = _ours if args.worker == "ours" else _lm_eval
        report = run(args)
        report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        (args.workdir / f"{args.worker}.json").write_text(json.dumps(report))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir, data_dir = _prepare(args, work)
        export_harness_tasks(data_dir, work / "tasks", max_gen_toks=args.max_gen_toks)
        reports: dict[str, dict] = {}
        for _ in range(args.repeats):
            for side in ("ours", "lm_eval"):
                cmd = [sys.executable, __file__, "--worker", side, "--workdir", str(work), "--model", str(model_dir),
                       "--data", str(data_dir), "--tasks", args.tasks, "--batch-size", str(args.batch_size),
                       "--threads", str(args.threads), "--max-gen-toks", str(args.max_gen_toks)]
                subprocess.run(cmd, check=True)
                report = json.loads((work / f"{side}.json").read_text())
                if side not in reports or report["seconds"] < reports[side]["seconds"]:
                    reports[side] = report
        summary = _compare(reports, JsonlSource(data_dir), args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "per_task"}, indent=2))


def _prepare(args: argparse.Namespace, work: Path) -> tuple[Path, Path]:
    """The model and data folders: given ones, or a random toy Llama and toy items written to ``work``."""
    data_dir = args.data
    if data_dir is None:
        items = toy_items(0, n_eval=args.items)
        data_dir = dump_source(MemorySource(items), work / "data")
    model_dir = args.model
    if model_dir is None:
        source = JsonlSource(data_dir)
        texts = toy_texts({t: (source.eval_items(t), source.fewshot_items(t)) for t in args.tasks.split(",")})
        tokenizer = build_tokenizer(texts)
        model = build_model(tokenizer, hidden=args.hidden, layers=args.layers, max_positions=2048)
        model_dir = work / "model"
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
    return model_dir, data_dir


def _ours(args: argparse.Namespace) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    spent = {"loglikelihoods": 0.0, "generate": 0.0}
    for name in spent:
        _time_calls(Scorer, name, spent, name)
    start, wall = time.process_time(), time.perf_counter()
    result = evaluate(model, tokenizer, args.tasks.split(","), source=args.data, batch_size=args.batch_size,
                      max_gen_toks=args.max_gen_toks)
    return {"seconds": time.process_time() - start, "wall_seconds": time.perf_counter() - wall,
            "loglikelihood_seconds": spent["loglikelihoods"], "generation_seconds": spent["generate"],
            "samples": {t: [{"prediction": r["prediction"], "loglikelihoods": r.get("loglikelihoods")}
                            for r in rows] for t, rows in result.samples.items()}}


def _lm_eval(args: argparse.Namespace) -> dict:
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(args.workdir / "tasks"))
    lm = HFLM(pretrained=str(args.model), dtype="float32", device="cpu", batch_size=args.batch_size)
    spent = {"loglikelihood": 0.0, "generate_until": 0.0, "wall": 0.0}
    for name in ("loglikelihood", "generate_until"):
        _time_calls(lm, name, spent, name)
    names = args.tasks.split(",")
    start = time.process_time()
    out = lm_eval.simple_evaluate(model=lm, tasks=[harness_task_name(t) for t in names], task_manager=manager,
                                  log_samples=True, fewshot_random_seed=1234)
    total = time.process_time() - start
    return {"seconds": spent["loglikelihood"] + spent["generate_until"], "wall_seconds": spent["wall"],
            "loglikelihood_seconds": spent["loglikelihood"], "generation_seconds": spent["generate_until"],
            "seconds_total": total, "samples": {
        t: [{"loglikelihoods": [r[0] for r in s["filtered_resps"]] if t != "gsm8k" else None,
             "prediction": s["filtered_resps"][0] if t == "gsm8k" else None}
            for s in align_harness_samples(out["samples"], t, JsonlSource(args.data).eval_items(t))]
        for t in names}}


def _time_calls(owner: object, name: str, spent: dict[str, float], key: str) -> None:
    """Wrap ``owner.name`` (an instance's or a class's method) to add its CPU time to ``spent[key]`` and its
    wall time to ``spent["wall"]`` when present."""
    method = getattr(owner, name)

    def timed(*a: object, **k: object) -> object:
        start, wall = time.process_time(), time.perf_counter()
        try:
            return method(*a, **k)
        finally:
            spent[key] += time.process_time() - start
            if "wall" in spent:
                spent["wall"] += time.perf_counter() - wall

    setattr(owner, name, timed)


def _compare(reports: dict[str, dict], source: JsonlSource, args: argparse.Namespace) -> dict:
    """Items/s, RSS and prediction agreement; lm-eval predictions are recomputed from its log-likelihoods."""
    ours, theirs = reports["ours"], reports["lm_eval"]
    per_task, identical, worst = {}, True, 0.0
    for task in args.tasks.split(","):
        spec = get_task(task)
        mine, other = ours["samples"][task], theirs["samples"][task]
        same = 0
        for doc, a, b in zip(source.eval_items(task), mine, other, strict=True):
            if spec.generative:
                same += a["prediction"] == b["prediction"]
                continue
            worst = max(worst, max(abs(x - y) for x, y in zip(a["loglikelihoods"], b["loglikelihoods"], strict=True)))
            prompt = spec.prompt(0, spec.process(doc), [])
            same += spec.score(prompt, b["loglikelihoods"])["prediction"] == a["prediction"]
        per_task[task] = {"items": len(mine), "identical_predictions": same}
        identical &= same == len(mine)
    n_items = sum(len(v) for v in ours["samples"].values())
    ours_ips, theirs_ips = n_items / ours["seconds"], n_items / theirs["seconds"]
    return {
        "items": n_items, "batch_size": args.batch_size, "threads": args.threads, "repeats": args.repeats,
        "torch": torch.__version__,
        "ours_items_per_cpu_s": round(ours_ips, 2), "lm_eval_items_per_cpu_s": round(theirs_ips, 2),
        "cpu_speedup": round(ours_ips / theirs_ips, 2),
        "wall_speedup": round(theirs["wall_seconds"] / ours["wall_seconds"], 2),
        "loglikelihood_cpu_seconds": {side: round(reports[side]["loglikelihood_seconds"], 1) for side in reports},
        "generation_cpu_seconds": {side: round(reports[side]["generation_seconds"], 1) for side in reports},
        "lm_eval_cpu_seconds_incl_task_building": round(theirs["seconds_total"], 1),
        "ours_peak_rss_mb": round(ours["peak_rss_mb"]), "lm_eval_peak_rss_mb": round(theirs["peak_rss_mb"]),
        "identical_predictions": identical, "max_abs_loglikelihood_diff": worst, "per_task": per_task,
    }


if __name__ == "__main__":
    main()

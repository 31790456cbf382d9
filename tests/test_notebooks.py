"""The tiny pipeline end to end: every notebook runs once through ``solar-repro run`` (a session fixture),
then each stage's ``metrics.json``, manifest and artifacts are checked.

Set ``SOLAR_TEST_RUN_DIR`` to check an existing run folder instead of executing the notebooks again.
"""

import json
import math
import os
import re
import shutil
from pathlib import Path

import papermill
import pytest
from transformers import AutoConfig, AutoModelForCausalLM

from solar_utils import claims
from solar_utils.evaluation import TASKS, Difference, EvalResult
from solar_utils.evaluation.paired import paired_difference
from solar_utils.jsonl import read_jsonl
from solar_utils.exercises import EXERCISES_DIR
from solar_utils.runner import RUNNER_KERNEL, EncryptedKernelManager, run_pipeline
from solar_utils.stages.evaluation import run_claims

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    existing = os.environ.get("SOLAR_TEST_RUN_DIR")
    if existing:
        return Path(existing)
    out = tmp_path_factory.mktemp("tiny_run")
    run_pipeline("tiny", out, seed=1234, notebooks_dir=Path(__file__).parent.parent / "notebooks")
    return out


def metrics(run_dir: Path, stage: str) -> dict:
    return json.loads((run_dir / stage / "metrics.json").read_text())


@pytest.mark.parametrize("stage", ["00_base_model", "01_depth_up_scaling", "02_continued_pretraining",
                                   "03_synthetic_math", "04_instruction_tuning", "05_alignment_sdpo",
                                   "06_model_merging",
                                   "07_evaluation"])
def test_every_stage_writes_a_manifest(run_dir, stage):
    manifest = json.loads((run_dir / stage / "manifest.json").read_text())
    assert manifest["seed"] == 1234 and manifest["preset"]["name"] == "tiny"
    assert manifest["versions"]["torch"].startswith("2.") and manifest["versions"]["transformers"]
    assert manifest["wall_time_s"] > 0 and manifest["peak_rss_mb"] > 100
    assert all(len(h) == 64 for h in manifest["data_sha256"].values()) and manifest["data_sha256"]
    assert (run_dir / stage / f"{stage}.ipynb").is_file()


def test_base_model_learned(run_dir):
    loss = metrics(run_dir, "00_base_model")["heldout_loss"]
    assert loss["base"] < 0.5 * loss["unigram"] < loss["untrained"]
    curve = metrics(run_dir, "00_base_model")["pretrain"]["curve"]
    assert curve[-1][1] < curve[0][1]
    assert (run_dir / "00_base_model" / "loss_curve.png").stat().st_size > 10_000


def test_base_model_is_a_standard_checkpoint(run_dir):
    model_dir = run_dir / "00_base_model" / "model"
    assert not list(model_dir.glob("*.bin")) and list(model_dir.glob("*.safetensors"))
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 8
    world = run_dir / "00_base_model" / "world"
    for name in ("corpus/train.jsonl", "eval/arc.jsonl", "eval/gsm8k.jsonl", "MANIFEST.json"):
        assert (world / name).is_file(), name


def test_dus_drops_quality_and_identity_does_not(run_dir):
    m = metrics(run_dir, "01_depth_up_scaling")
    assert (m["n"], m["m"], m["s"]) == (8, 2, 12)
    assert m["layer_map"] == [0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7]
    loss = m["heldout_loss"]
    assert loss["dus"] > loss["base"] + 0.01
    assert abs(loss["identity"] - loss["base"]) < 1e-5
    assert m["m_sweep"]["0"] > loss["base"]
    assert m["m_sweep"]["2"] == pytest.approx(loss["dus"], abs=1e-6)
    assert m["streaming_equals_in_memory"] is True
    for figure in ("layer_map.png", "variants.png", "m_sweep.png"):
        assert (run_dir / "01_depth_up_scaling" / figure).stat().st_size > 10_000


def test_dus_checkpoint_reloads_with_12_layers(run_dir):
    model_dir = run_dir / "01_depth_up_scaling" / "model"
    config = AutoConfig.from_pretrained(model_dir)
    assert config.num_hidden_layers == 12
    assert config.depth_up_scaling["layer_map"] == [0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7]
    assert "layer" in (model_dir / "README.md").read_text().lower()


def test_paper_shape_parameter_counts(run_dir):
    ref = metrics(run_dir, "01_depth_up_scaling")["reference"]
    assert (ref["base"], ref["dus"], ref["layers"]) == (7_241_732_096, 10_731_524_096, 48)


def test_summary_opens_with_the_claims_table_then_every_stage(run_dir):
    summary = (run_dir / "summary.md").read_text()
    assert summary.index("## Claims") < summary.index("## 00_base_model") < summary.index("## 07_evaluation")
    rows = [line for line in summary.splitlines() if line.startswith("| **")]
    assert sorted(row.split("**")[1] for row in rows) == sorted(claims.registry())
    counts = {v: sum(f"| {v} |" in row for row in rows) for v in claims.VERDICTS}
    assert f"{counts['reproduced']} reproduced, {counts['not reproduced']} not reproduced" in summary
    assert json.loads((run_dir / "metrics_flat.json").read_text())["07_evaluation"]


def _rejudged(claim_id: str, record: dict) -> str:
    """The verdict the registry's rule gives for the recorded numbers."""
    rule = claims.get(claim_id).rule["kind"]
    if rule in ("positive", "all_positive"):
        values, errors, items = (record[k] if isinstance(record[k], list) else [record[k]]
                                 for k in ("value", "stderr", "items"))
        diffs = [Difference(v, math.nan if e is None else e, n) for v, e, n in zip(values, errors, items)]
        measured = diffs[0] if rule == "positive" else diffs
        return claims.judge(claim_id, measured, holds=record["holds"])["verdict"]
    return claims.judge(claim_id, record["value"], expected=record.get("expected"), bound=record.get("bound"))["verdict"]


# What the tiny run measures for seed 1234 (README, "Claims"): the verdicts each claim may have, and for the claims
# judged by paired differences the largest paired standard error the measurement may have (in the claim's units:
# points are fractions here), so that an "unresolved" is unresolved with a small error, not for want of items.
# Claims within about two and a half paired errors of their threshold can cross it on another CPU's float kernels
# with the same seed (measured 2026-12-03: dus-vs-control -0.010 ± 0.001 nats on one Xeon, -0.001 ± 0.001 on
# another; sdpo-vs-dpo unresolved on one, not reproduced on the other): for those (also sft-math, -7.0 ± 2.9
# points, and merge-beats, +2.2 ± 1.3), either verdict the rule gives.
SEED_1234 = {
    "dus-shape": ({"reproduced"}, None),
    "dus-cost": ({"reproduced"}, 0.01),
    "dus-recovery": ({"reproduced"}, None),
    "dus-beats-base": ({"unresolved"}, 0.02),
    "dus-vs-control": ({"not reproduced", "unresolved"}, 0.02),
    "sft-format": ({"reproduced"}, 0.1),
    "sft-math": ({"not reproduced", "unresolved"}, 0.04),
    "sft-merge": ({"unresolved"}, 0.02),
    "dpo-lift": ({"reproduced"}, 0.04),
    "dpo-math": ({"unresolved"}, 0.02),
    "sdpo-vs-dpo": ({"unresolved", "not reproduced"}, 0.02),
    "sdpo-reference": ({"reproduced"}, 1.0),
    "merge-beats": ({"unresolved", "reproduced"}, 0.02),
    "merge-method": ({"unresolved"}, 0.03),
    "decontam": ({"reproduced"}, None),
}


@pytest.mark.parametrize("claim_id", list(SEED_1234))
def test_each_claim_follows_its_rule_with_the_seeds_verdict(run_dir, claim_id):
    record = run_claims(run_dir)[claim_id]
    assert record["verdict"] == _rejudged(claim_id, record)
    verdicts, max_error = SEED_1234[claim_id]
    assert record["verdict"] in verdicts, record
    if max_error is not None:
        errors = record["stderr"] if isinstance(record["stderr"], list) else [record["stderr"]]
        assert max(errors) <= max_error, record


def test_no_model_is_scored_twice(run_dir):
    cached = metrics(run_dir, "07_evaluation")["from_cache"]
    assert len(cached) == 6 and all(set(tasks) == set(TASKS) for tasks in cached.values()), cached


def test_synthetic_math_funnel(run_dir):
    stage = run_dir / "03_synthetic_math"
    m = metrics(run_dir, "03_synthetic_math")
    counts = [m["funnel"][step] for step in ("generated", "verified", "deduplicated", "decontaminated")]
    assert m["funnel"]["seeds"] > 0 and all(a >= b for a, b in zip(counts, counts[1:])) and counts[-1] > 0
    instruct = [json.loads(line) for line in (stage / "synth_math_instruct.jsonl").read_text().splitlines()]
    pairs = [json.loads(line) for line in (stage / "synth_math_alignment.jsonl").read_text().splitlines()]
    assert len(instruct) == counts[-1] == m["records"]["synth_math_instruct.jsonl"]
    assert pairs and all(p["chosen"] != p["rejected"] and p["provenance"]["method"] == "rephrase" for p in pairs)
    assert all(r["provenance"]["verified"] and "\\boxed{" in r["response"] for r in instruct)
    assert json.loads((stage / "datasheet.json").read_text())["funnel"] == m["funnel"]
    for figure in ("funnel.png", "lengths.png"):
        assert (stage / figure).stat().st_size > 10_000


def test_merging_specialists_differ_and_the_average_keeps_both(run_dir):
    stage = run_dir / "06_model_merging"
    m = metrics(run_dir, "06_model_merging")
    scores = {name: model["scores"] for name, model in m["models"].items()}
    math_, instruct = scores["Cand. 1 (math)"], scores["Cand. 2 (instruction)"]
    # the math specialist leads on GSM8K; which one leads elsewhere moves with the CPU's float kernels (a tie on
    # Winogrande on one Xeon, the instruction specialist ahead on another), so only "they differ" is asserted there
    assert math_["gsm8k"] > instruct["gsm8k"]
    assert any(math_[t] != instruct[t] for t in math_ if t != "gsm8k")
    means = {name: model["mean"] for name, model in m["models"].items()}
    assert means["Average (0.5, 0.5)"] > min(means["Cand. 1 (math)"], means["Cand. 2 (instruction)"])
    for name in ("base", "Average (0.4, 0.6)", "Average (0.6, 0.4)", "SLERP (t=0.5)", "TIES", "DARE-TIES"):
        assert set(m["models"][name]["stderrs"]) == set(m["eval"]["tasks"]) == set(scores[name]), name
    assert m["streaming_equals_in_memory"] is True and m["best_merge"] in m["merges"]
    assert "merge_method: linear" in (stage / "linear_0.5.yml").read_text()
    assert AutoConfig.from_pretrained(stage / "model").num_hidden_layers == 8
    for figure in ("sweep.png", "sweep_other_tasks.png"):
        assert (stage / figure).stat().st_size > 10_000


def test_dus_recovers_the_base_loss_in_continued_pretraining(run_dir):
    m = metrics(run_dir, "02_continued_pretraining")
    assert m["dus_loss_start"] > m["base_loss"]
    assert m["recovered_at_step"] is not None and m["below_base_at_end"] is True
    assert set(m["methods"]) == {"DUS full", "DUS lora", "DUS qlora"}
    assert all(run["final_loss"] < run["curve"][0][1] for run in m["methods"].values())
    for figure in ("recovery.png", "methods.png"):
        assert (run_dir / "02_continued_pretraining" / figure).stat().st_size > 10_000
    model = AutoModelForCausalLM.from_pretrained(run_dir / "02_continued_pretraining" / "model")
    assert model.config.num_hidden_layers == 12


def test_sft_lowers_heldout_instruction_loss(run_dir):
    m = metrics(run_dir, "04_instruction_tuning")
    assert m["variants"] and m["main"] in m["variants"]
    for variant in m["variants"].values():
        assert variant["heldout_loss_after"] < variant["heldout_loss_before"] - 0.1
    stage = run_dir / "04_instruction_tuning"
    assert all((stage / f"sft_{name}" / "model.safetensors").is_file() for name in m["variants"])
    assert AutoModelForCausalLM.from_pretrained(stage / "model").config.num_hidden_layers == 12


def test_sft_math_says_whether_the_worked_answers_read_the_question(run_dir):
    # measured for seed 1234 (2026-12-04): v2 and v3 start as the reference in 1-3 of 100 answers; no model of the
    # tiny run reads the word problem's numbers, which is why GSM8K stays at a few lucky points
    note = metrics(run_dir, "04_instruction_tuning")["claims"]["sft-math"]["note"]
    firsts = [int(n) for n in re.findall(r"reference's in (\d+) of 100 answers", note)]
    assert note.startswith("v2: ") and "; v3: " in note and len(firsts) == 2
    assert max(firsts) <= 10, note


def test_sdpo_hands_the_reference_over_and_aligns(run_dir):
    stage = run_dir / "05_alignment_sdpo"
    m = metrics(run_dir, "05_alignment_sdpo")
    for steps in m["sdpo"].values():
        assert len(steps) == 2 and steps[0]["reference_sha256"] != steps[1]["reference_sha256"]
        assert steps[1]["reference_sha256"] == steps[0]["model_sha256"]
        assert steps[1]["gamma_reference"] > steps[1]["gamma_sft"]
        assert all(s["loss_end"] < s["loss_start"] for s in steps)
    assert m["dpo"]["loss_end"] < m["dpo"]["loss_start"]
    assert m["dpo"]["steps"] == sum(s["train_steps"] for s in m["sdpo"]["easy → hard"])
    models = m["models"]
    assert set(models) == {"SFT", "DPO (all at once)", "sDPO (easy → hard)", "sDPO (random chunks)",
                           "DPO v1 (without math pairs)"}
    # held-out preference accuracy: above chance for every aligned model, well above it with all the pairs (DPO v1,
    # without the math pairs, was above 0.6 on the CPU this test was written on and 0.58 on another, same seed)
    aligned = {name: model["preference_accuracy"] for name, model in models.items() if name != "SFT"}
    assert all(accuracy > 0.5 for accuracy in aligned.values()), aligned
    assert all(accuracy > 0.6 for name, accuracy in aligned.items() if name != "DPO v1 (without math pairs)"), aligned
    assert (stage / "rewards.png").stat().st_size > 10_000
    assert AutoModelForCausalLM.from_pretrained(stage / "model").config.num_hidden_layers == 12


def test_evaluation_table_and_base_above_chance(run_dir):
    m = metrics(run_dir, "07_evaluation")
    assert set(m["models"]) == {"00_base_model", "01_depth_up_scaling", "02_continued_pretraining",
                                "04_instruction_tuning", "05_alignment_sdpo", "06_model_merging"}
    sft, aligned = (EvalResult({}, {}, {"truthfulqa": read_jsonl(run_dir / "07_evaluation" / name / "samples_truthfulqa.jsonl")})
                    for name in ("04_instruction_tuning", "05_alignment_sdpo"))
    assert paired_difference(aligned, sft, "truthfulqa").z() > 2
    base = m["models"]["00_base_model"]
    # what the world is built for: its scripts (HellaSwag) and facts (ARC) learned, MMLU's held-out entities at chance;
    # Winogrande (0.64 or 0.55) and GSM8K (0.04 or 0.05) are near two errors from chance on 100 items and move with
    # the world's tokenizer
    above = {task for task, above in base["above_chance"].items() if above}
    assert {"arc", "hellaswag"} <= above and "mmlu" not in above, base
    assert all(v["contaminated"] == 0 for v in m["contamination"].values())
    table = (run_dir / "07_evaluation" / "h6_table.md").read_text()
    assert "| 00_base_model |" in table and "*paper: SOLAR 10.7B-Instruct* | 74.20" in table
    assert (run_dir / "07_evaluation" / "00_base_model" / "samples_gsm8k.jsonl").is_file()
    assert (run_dir / "07_evaluation" / "h6.png").stat().st_size > 10_000


# Lines a learner should never have to read past (issue "Learners and classrooms"): library notes, deprecations
# raised inside the libraries, datasets' per-step bars inside SFT/DPO, transformers' shard-writing bars.
NOISE = ("Failed to load CPU gemm_4bit_forward", "IProgress not found", "`gradient_checkpointing` is deprecated",
         "`is_gradient_checkpointing` is deprecated", "Tokenizing train dataset", "Tokenizing eval dataset",
         "Building labels", "Truncating train dataset", "Dropping fully masked", "Writing model shards",
         "running over TCP without encryption")
SCREENFUL = 40  # lines of plain text one cell may print


def _printed(output: dict) -> str:
    """The plain text an output shows: streams, progress-bar widgets' text, and text reprs without a richer one."""
    if output["output_type"] == "stream":
        return "".join(output["text"])
    data = output.get("data", {})
    rich = {"text/html", "text/markdown", "image/png"} & set(data)
    return "" if rich else "".join(data.get("text/plain", ""))


@pytest.mark.parametrize("stage", ["00_base_model", "01_depth_up_scaling", "02_continued_pretraining",
                                   "03_synthetic_math", "04_instruction_tuning", "05_alignment_sdpo",
                                   "06_model_merging", "07_evaluation"])
def test_executed_notebook_is_quiet(run_dir, stage):
    notebook = json.loads((run_dir / stage / f"{stage}.ipynb").read_text())
    for number, cell in enumerate(c for c in notebook["cells"] if c["cell_type"] == "code"):
        texts = [_printed(o) for o in cell.get("outputs", [])]
        noise = [line for text in texts for line in text.splitlines() if any(n in line for n in NOISE)]
        assert not noise, f"{stage}, code cell {number}: {noise[:3]}"
        printed = sum(len(t.splitlines()) for t in texts)
        assert printed <= SCREENFUL, f"{stage}, code cell {number} prints {printed} lines"


@pytest.mark.parametrize("solution", sorted((EXERCISES_DIR / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_each_exercise_solution_passes_its_checks_on_the_run(run_dir, solution, tmp_path):
    executed = tmp_path / solution.name
    papermill.execute_notebook(str(solution), str(executed), parameters={"run_dir": str(run_dir)},
                               kernel_name=RUNNER_KERNEL, progress_bar=False, cwd=str(solution.parent),
                               kernel_manager_class=EncryptedKernelManager)
    feedback = ["".join(o["data"]["text/markdown"]) for c in json.loads(executed.read_text())["cells"]
                for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    assert feedback and all(f.startswith("✅") for f in feedback), feedback


def test_a_stage_rerun_with_the_same_seed_writes_the_same_metrics(run_dir, tmp_path):
    again = tmp_path / "again"
    shutil.copytree(run_dir / "00_base_model" / "world", again / "00_base_model" / "world")
    run_pipeline("tiny", again, seed=1234, only=["03"], notebooks_dir=Path(__file__).parent.parent / "notebooks")
    assert (again / "03_synthetic_math" / "metrics.json").read_text() == \
        (run_dir / "03_synthetic_math" / "metrics.json").read_text()
    for name in ("synth_math_instruct.jsonl", "synth_math_alignment.jsonl"):
        assert (again / "03_synthetic_math" / name).read_bytes() == (run_dir / "03_synthetic_math" / name).read_bytes()


def test_course_site_builds_from_the_run_and_renders(run_dir, tmp_path):
    """``make site`` on this run: every page builds from the executed notebooks, its links resolve, and (where
    Chromium is installed; CI requires it) every page renders in headless Chromium with its figures."""
    import subprocess
    import sys

    browser = Path("/usr/bin/chromium").is_file() or os.environ.get("SOLAR_REQUIRE_BROWSER")
    build = Path(__file__).parent.parent / "course" / "build.py"
    done = subprocess.run([sys.executable, str(build), "--run-dir", str(run_dir), "--out", str(tmp_path),
                           *(["--browser"] if browser else [])], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("rendered in Chromium" in done.stdout) == bool(browser)
    page = (tmp_path / "html" / "notebooks" / "02_continued_pretraining.html").read_text()
    assert page.count("<img") >= 2 and "What we measured" in page

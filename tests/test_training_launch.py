"""A training stage with two CPU processes (data parallel, gloo) on a tiny model. ``accelerate launch`` on one
machine starts multi-CPU runs only through mpirun, so the test launches with ``torchrun``, which the Trainer
(accelerate inside) picks up the same way."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import sentences
from transformers import AutoModelForCausalLM

from solar_utils.checkpoints import save_model
from solar_utils.evaluation import MemorySource, dump_source
from solar_utils.evaluation.toy import toy_items
from solar_utils.world.overlap import overlap_text

ACCELERATE = Path(__file__).parent.parent / "solar_utils" / "presets" / "accelerate"


@pytest.mark.parametrize("name", ["ddp", "deepspeed_zero3", "fsdp", "cpu_2proc"])
def test_accelerate_configs_parse(name):
    config = yaml.safe_load((ACCELERATE / f"{name}.yaml").read_text())
    assert config["num_processes"] >= 2 and config["distributed_type"] in {"MULTI_GPU", "DEEPSPEED", "FSDP",
                                                                           "MULTI_CPU"}


def test_continued_pretraining_under_accelerate_launch_with_two_cpu_processes(tmp_path, tokenizer,
                                                                             tiny_model_factory):
    model_dir = save_model(tiny_model_factory(2, tokenizer=tokenizer, seed=0), tmp_path / "base", tokenizer=tokenizer)
    world = tmp_path / "world" / "corpus"
    world.mkdir(parents=True)
    for split, seed in (("train", 1), ("heldout", 2)):
        (world / f"{split}.jsonl").write_text("".join(json.dumps({"text": s}) + "\n" for s in sentences(300, seed)))
    preset = yaml.safe_load((ACCELERATE.parent / "tiny.yaml").read_text())
    preset.setdefault("continued", {}).setdefault("train", {}).update(
        {"max_steps": 4, "batch_size": 2, "seq_len": 32, "eval_every": 2, "eval_blocks": 4, "save_every": 2,
         "bf16_autocast": False})
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(preset))
    out = subprocess.run(
        [str(Path(sys.executable).parent / "torchrun"), "--nproc_per_node", "2", "--no-python", sys.executable, "-m",
         "solar_utils.training.continued", "--preset", str(tmp_path / "p.yaml"), "--model-dir", str(model_dir),
         "--world-dir", str(tmp_path / "world"), "--output-dir", str(tmp_path / "out"), "--method", "lora"],
        check=False, capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["processes"] == 2 and summary["steps"] == 4 and summary["curve"][-1][1] < summary["curve"][0][1]
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "model").config.num_hidden_layers == 2


def _launch(module: str, *args: str, cwd: Path) -> dict:
    """``torchrun`` with two CPU processes on ``python -m module args``; the main process's JSON summary."""
    out = subprocess.run([str(Path(sys.executable).parent / "torchrun"), "--nproc_per_node", "2", "--no-python",
                          sys.executable, "-m", module, *args], cwd=cwd, check=False, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _eval_items(world: Path) -> str:
    """Write toy evaluation items under ``world/eval``; return the text of a GSM8K one, as a leaked copy holds it."""
    items = toy_items(seed=2)
    dump_source(MemorySource(items), world / "eval")
    return overlap_text("gsm8k", items["gsm8k"][0][0])


def _preset(tmp_path: Path, section: str, values: dict) -> Path:
    preset = yaml.safe_load((ACCELERATE.parent / "tiny.yaml").read_text()) | {section: values}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(preset))
    return tmp_path / "p.yaml"


def test_sft_under_two_processes_trains_the_variant_and_saves_one_model(tmp_path, tokenizer, tiny_model_factory):
    model_dir = save_model(tiny_model_factory(2, tokenizer=tokenizer, seed=0), tmp_path / "start", tokenizer=tokenizer)
    world = tmp_path / "world"
    texts = sentences(90, 3)
    leak = {"instruction": "Solve.", "input": _eval_items(world), "output": "4"}  # the launcher must drop it
    _jsonl(world / "instructions" / "alpaca.jsonl",
           [{"instruction": f"Say sentence {i}.", "input": "", "output": t} for i, t in enumerate(texts[:45])] + [leak])
    _jsonl(world / "instructions" / "openorca.jsonl",
           [{"system_prompt": "", "question": f"Repeat {i}.", "response": t} for i, t in enumerate(texts[45:])])
    _jsonl(world / "corpus" / "train.jsonl", [{"text": t} for t in sentences(40, 4)])
    preset = _preset(tmp_path, "instruct", {"max_steps": 4, "batch_size": 2, "heldout_per_source": 4,
                                            "eval_every": 2, "save_every": 2, "replay": {"max_docs": 20}})
    summary = _launch("solar_utils.training.sft", "--preset", str(preset), "--model-dir", str(model_dir),
                      "--world-dir", str(world), "--run-dir", str(tmp_path / "run"), "--output-dir",
                      str(tmp_path / "out"), cwd=tmp_path)
    # notebook 03's math data is missing, so the main variant v3 trains as v2
    assert summary["processes"] == 2 and summary["variant"] == "v2" and summary["steps"] == 4
    assert summary["used"] == {"alpaca": 41, "openorca": 41, "replay": 20}
    assert summary["benchmark_filtered"] == {"gsm8k": 1}
    assert summary["heldout_loss"][1] < summary["heldout_loss"][0]
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "model").config.num_hidden_layers == 2


def test_sdpo_under_two_processes_hands_the_reference_over(tmp_path, tokenizer, tiny_model_factory):
    sft_dir = save_model(tiny_model_factory(2, tokenizer=tokenizer, seed=0), tmp_path / "sft", tokenizer=tokenizer)
    world = tmp_path / "world"
    good, bad = sentences(40, 5), sentences(40, 6)
    leak = {"system": "", "question": _eval_items(world), "chosen": "4", "rejected": "5"}  # the launcher drops it
    _jsonl(world / "preferences" / "orca_dpo.jsonl",
           [{"system": "", "question": f"Tell me {i}.", "chosen": good[i], "rejected": bad[i]} for i in range(20)]
           + [leak])
    _jsonl(world / "preferences" / "ultrafeedback.jsonl",
           [{"prompt": f"Say {i}.", "chosen": [{"role": "user", "content": f"Say {i}."},
                                                {"role": "assistant", "content": good[i]}],
             "rejected": [{"role": "user", "content": f"Say {i}."}, {"role": "assistant", "content": bad[i]}]}
            for i in range(20, 40)])
    preset = _preset(tmp_path, "align", {"max_steps_per_step": 2, "batch_size": 2, "heldout_per_source": 4,
                                         "max_length": 64, "eval_every": 2, "save_every": 2})
    args = ["--preset", str(preset), "--sft-dir", str(sft_dir), "--world-dir", str(world), "--run-dir",
            str(tmp_path / "run")]
    sdpo = _launch("solar_utils.alignment.sdpo", *args, "--output-dir", str(tmp_path / "sdpo"), cwd=tmp_path)
    assert sdpo["processes"] == 2 and sdpo["pairs"] == [16, 16] and sdpo["steps"] == [2, 2]
    assert sdpo["benchmark_filtered"] == {"gsm8k": 1}
    assert sdpo["references"][0] != sdpo["references"][1]  # step 2 trains against step 1's model
    assert sdpo["model"].endswith("step_2/model") and (tmp_path / "sdpo" / "step_2" / "model").is_dir()
    dpo = _launch("solar_utils.alignment.sdpo", *args, "--one-shot", "--output-dir", str(tmp_path / "dpo"), cwd=tmp_path)
    assert dpo["steps"] == 4 and AutoModelForCausalLM.from_pretrained(tmp_path / "dpo" / "model")

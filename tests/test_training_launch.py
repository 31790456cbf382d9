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

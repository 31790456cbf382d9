"""The `small`/`paper` code path, offline: all eight notebooks run unchanged on the `small` and `paper` presets with
every hub id pointed at a local stand-in of the hub (``hub_fixture``: toy models in SmolLM2's and Mistral's shape,
whose tokenizers have no chat template, and every dataset in its real schema and configs, read through
``datasets.load_dataset``), at toy sizes."""

import json
from pathlib import Path

import pytest
from hub_fixture import hub_preset, write_hub
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from solar_utils.config import PRESETS_DIR
from solar_utils.runner import run_pipeline
from solar_utils.tokenizer import SOLAR_CHAT_TEMPLATE

pytestmark = pytest.mark.notebooks
NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
STAGES = sorted(p.stem for p in NOTEBOOKS.glob("0*.ipynb"))


@pytest.fixture(scope="module")
def hub(tmp_path_factory, tokenizer):
    """The local hub, with the network off and datasets' cache inside it (the notebooks' kernels inherit both)."""
    root = write_hub(tmp_path_factory.mktemp("hub"), tokenizer)
    with pytest.MonkeyPatch.context() as env:
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            env.setenv(name, "1")
        env.setenv("HF_DATASETS_CACHE", str(root / "hf-datasets-cache"))
        yield root


def run_preset(name: str, hub: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp(name)
    preset = hub_preset(hub, PRESETS_DIR / f"{name}.yaml", folder / f"{name}.yaml")
    run_pipeline(str(preset), folder / "run", notebooks_dir=NOTEBOOKS)
    return folder / "run"


@pytest.fixture(scope="module")
def paper_run(hub, tmp_path_factory) -> Path:
    return run_preset("paper", hub, tmp_path_factory)


@pytest.fixture(scope="module")
def small_run(hub, tmp_path_factory) -> Path:
    return run_preset("small", hub, tmp_path_factory)


def metrics(run: Path, stage: str) -> dict:
    return json.loads((run / stage / "metrics.json").read_text())


def test_the_paper_preset_loads_mistral_as_llama_with_solars_chat_template_and_context(paper_run):
    base = metrics(paper_run, "00_base_model")
    assert base["pretrain"] is None and base["model"]["architecture"] == "LlamaForCausalLM"
    assert not (paper_run / "00_base_model" / "world").exists()
    tokenizer = AutoTokenizer.from_pretrained(paper_run / "00_base_model" / "tokenizer")
    assert tokenizer.chat_template == SOLAR_CHAT_TEMPLATE  # the hub tokenizer had none: notebook 04 needs one
    dus = metrics(paper_run, "01_depth_up_scaling")
    assert dus["s"] == 12 and dus["streaming_equals_in_memory"] is True
    assert (dus["reference"]["base"], dus["reference"]["dus"]) == (7_241_732_096, 10_731_524_096)
    out = paper_run / "01_depth_up_scaling" / "model"
    assert len(list(out.glob("model-*.safetensors"))) > 1, "max_shard_size should give several shards"
    assert AutoConfig.from_pretrained(out).model_type == "llama"
    assert AutoConfig.from_pretrained(out).max_position_embeddings == 192  # the preset's, not the checkpoint's 256


@pytest.mark.parametrize("preset", ["small", "paper"])
def test_every_notebook_runs_on_the_hub_path(preset, request):
    run = request.getfixturevalue(f"{preset}_run")
    assert all((run / stage / "metrics.json").is_file() for stage in STAGES)
    math = metrics(run, "03_synthetic_math")
    assert math["records"]["synth_math_instruct.jsonl"] > 0 and math["funnel"]["seeds"] == 12
    sft = metrics(run, "04_instruction_tuning")
    assert {v: sorted(s["sources_used"]) for v, s in sft["variants"].items()} == {
        "v1": ["alpaca"], "v2": ["alpaca", "openorca"], "v3": ["alpaca", "math", "openorca"], "v4": ["alpaca", "math"]}
    assert all(s["heldout_loss_after"] < s["heldout_loss_before"] for s in sft["variants"].values())
    assert sft["benchmark_filtered"] == {"gsm8k": 1}  # the GSM8K item planted in OpenOrca
    assert metrics(run, "06_model_merging")["benchmark_filtered"] == {"gsm8k": 1}
    align = metrics(run, "05_alignment_sdpo")
    assert set(align["sft_accuracy_by_source"]) == {"orca_dpo", "ultrafeedback", "math"}
    assert align["benchmark_filtered"] == {}
    assert [len(steps) for steps in align["sdpo"].values()] == [2, 2]
    assert metrics(run, "06_model_merging")["streaming_equals_in_memory"] is True
    report = metrics(run, "07_evaluation")
    assert set(report["h6"]) == {"00_base_model", "01_depth_up_scaling", "02_continued_pretraining",
                                 "04_instruction_tuning", "05_alignment_sdpo", "06_model_merging"}
    assert all(h6 is not None for h6 in report["h6"].values())
    assert {task: c["items"] for task, c in report["contamination"].items()} == dict.fromkeys(
        ["arc", "hellaswag", "mmlu", "truthfulqa", "winogrande", "gsm8k"], 300)
    assert report["claims"]["decontam"]["verdict"] == "reproduced"
    assert AutoConfig.from_pretrained(run / "02_continued_pretraining" / "model").num_hidden_layers == 12
    merged = AutoModelForCausalLM.from_pretrained(run / "06_model_merging" / "model")
    assert merged.config.num_hidden_layers == 8  # the specialists are fine-tuned from the hub base

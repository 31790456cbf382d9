"""The `small`/`paper` code path, offline: notebooks 00 and 01 run unchanged on a preset whose "hub" model is a
local Mistral checkpoint (loaded into the Llama architecture, as the paper did) and whose "hub" datasets are
local files read through `datasets.load_dataset`."""

import copy
import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import tiny_llama_config
from transformers import AutoConfig, AutoTokenizer, MistralForCausalLM

from solar_utils.runner import run_pipeline
from solar_utils.tokenizer import SOLAR_CHAT_TEMPLATE

pytestmark = pytest.mark.notebooks


@pytest.fixture(scope="module")
def hub_preset(tmp_path_factory, tokenizer) -> Path:
    root = tmp_path_factory.mktemp("hub")
    config = tiny_llama_config(8, arch="mistral", vocab_size=len(tokenizer), max_position_embeddings=256,
                               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                               pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    MistralForCausalLM(config).save_pretrained(root / "mistral-mini")
    base_tokenizer = copy.deepcopy(tokenizer)
    base_tokenizer.chat_template = None  # as Mistral-7B-v0.1's: a base model's tokenizer carries no chat template
    base_tokenizer.save_pretrained(root / "mistral-mini")
    for split, n in (("train", 200), ("test", 60)):
        (root / "text").mkdir(exist_ok=True)
        rows = [{"text": f"The cat {i} sees the dog {i % 7} in the town."} for i in range(n)]
        (root / "text" / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    preset = {
        "description": "paper-style preset on local fixtures",
        "data": {"pretrain": {"kind": "hub", "path": str(root / "text"), "split": "train", "max_docs": 100},
                 "heldout": {"kind": "hub", "path": str(root / "text"), "split": "test"}},
        "tokenizer": {"source": "hub"},
        "model": {"source": "hub", "hub_id": str(root / "mistral-mini"), "architecture": "llama",
                  "num_hidden_layers": 8, "dtype": "float32", "hub_context": 192},
        "heldout": {"seq_len": 32, "max_blocks": 8, "batch_size": 4},
        "dus": {"m": 2, "sweep": [], "identity_every": 0, "max_shard_size": "100KB"},
    }
    path = root / "paper_like.yaml"
    path.write_text(yaml.safe_dump(preset))
    return path


def test_hub_presets_run_notebooks_00_and_01(hub_preset, tmp_path):
    run_pipeline(str(hub_preset), tmp_path, only=["00", "01"],
                 notebooks_dir=Path(__file__).parent.parent / "notebooks")
    base = json.loads((tmp_path / "00_base_model" / "metrics.json").read_text())
    assert base["pretrain"] is None and base["model"]["architecture"] == "LlamaForCausalLM"
    assert not (tmp_path / "00_base_model" / "world").exists()
    assert AutoTokenizer.from_pretrained(tmp_path / "00_base_model" / "tokenizer").chat_template == SOLAR_CHAT_TEMPLATE
    dus = json.loads((tmp_path / "01_depth_up_scaling" / "metrics.json").read_text())
    assert dus["s"] == 12 and dus["streaming_equals_in_memory"] is True
    assert dus["m_sweep"] == {} and dus["heldout_loss"]["identity"] is None
    assert (dus["reference"]["base"], dus["reference"]["dus"]) == (7_241_732_096, 10_731_524_096)
    out = tmp_path / "01_depth_up_scaling" / "model"
    assert len(list(out.glob("model-*.safetensors"))) > 1, "max_shard_size should give several shards"
    assert AutoConfig.from_pretrained(out).model_type == "llama"
    assert AutoConfig.from_pretrained(out).max_position_embeddings == 192  # the preset's, not the checkpoint's 256

"""Bad input gets a clear error from the package, before any work: each case asserts the error type and that the
message names the problem (the setting, file or value) and, where there is one, the fix."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from solar_utils import checkpoints, dus
from solar_utils.checkpoints import CheckpointError, save_model
from solar_utils.config import PresetError, load_preset
from solar_utils.evaluation import MemorySource, evaluate
from solar_utils.jsonl import JsonlError, read_jsonl
from solar_utils.merging import MergeError, make_recipe, merge_checkpoints, merge_models
from solar_utils.records import RecordError, to_chat
from tests.conftest import make_tiny_model


@pytest.mark.parametrize("overrides, message", [
    ({"instruct": {"max_steps": 0}}, r"instruct.max_steps = 0 must be at least 1"),
    ({"pretrain": {"max_steps": -5}}, r"pretrain.max_steps = -5 must be at least 1"),
    ({"continued": {"train": {"batch_size": 0}}}, r"continued.train.batch_size = 0 must be at least 1"),
    ({"align": {"batch_size": 0}}, r"align.batch_size = 0 must be at least 1"),
    ({"align": {"steps": 0}}, r"align.steps = 0 must be at least 1"),
    ({"instruct": {"learning_rate": float("nan")}}, r"instruct.learning_rate = nan must be a finite number"),
    ({"pretrain": {"learning_rate": 0.0}}, r"pretrain.learning_rate = 0.0 must be a number above 0"),
    ({"align": {"beta": -0.1}}, r"align.beta = -0.1 must be a number above 0"),
    ({"eval": {"limit": -1}}, r"eval.limit = -1 must be at least 0"),
    ({"eval": {"max_gen_toks": 0}}, r"eval.max_gen_toks = 0 must be at least 1"),
    ({"instruct": {"adapter": {"dropout": 1.5}}}, r"instruct.adapter.dropout = 1.5 must lie in \[0, 1\]"),
    ({"data": {"world": {"heldout_fraction": -0.1}}}, r"WorldConfig.heldout_fraction must be >= 0, got -0.1"),
    ({"model": {"hidden_size": 0}}, r"model.hidden_size = 0 must be at least 1"),
    ({"dus": {"m": -1}}, r"dus.m = -1 must be at least 0"),
    ({"instruct": {"variants": []}}, r"instruct.main = 'v3' names no SFT variant"),
    ({"instruct": {"main": "v9"}}, r"instruct.main = 'v9' names no SFT variant"),
    ({"instruct": {"variants": [{"name": "v3", "sources": ["alpaca", "wiki"]}]}}, r"needs one or more of the sources"),
    ({"instruct": {"variants": [{"name": "v3", "sources": []}]}}, r"needs one or more of the sources"),
    ({"instruct": {"sources": [{"name": "replay", "schema": "alpaca"}], "variants": [{"name": "v3", "sources": ["replay"]}]}},
     r"names a source 'replay', the name of instruct.replay's documents"),
    ({"instruct": {"sources": [{"name": "alpaca", "schema": "alpaca", "max_used": -3}]}}, r"max_used = -3 must be at least 0"),
    ({"instruct": {"learning_rate": "fast"}}, r"learning_rate: expected float, got 'fast'"),
    ({"instruct": {"max_stepz": 3}}, r"unknown key\(s\) \['max_stepz'\]"),
])
def test_a_preset_value_out_of_range_is_named_with_its_range(overrides, message):
    with pytest.raises(PresetError, match=message):
        load_preset("tiny", overrides)


def test_every_shipped_preset_is_in_range():
    for name in ("tiny", "small", "paper"):
        load_preset(name)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory, tokenizer) -> Path:
    return save_model(make_tiny_model(layers=4, tokenizer=tokenizer), tmp_path_factory.mktemp("bad") / "a",
                      tokenizer=tokenizer)


def _damaged(ckpt: Path, tmp_path: Path, **config_changes) -> Path:
    out = tmp_path / "damaged"
    shutil.copytree(ckpt, out)
    config = json.loads((out / "config.json").read_text()) | config_changes
    (out / "config.json").write_text(json.dumps(config))
    return out


@pytest.mark.parametrize("changes, message", [
    ({"hidden_size": 64}, r"says vocab_size \d+, hidden_size 64, but model.embed_tokens.weight is \[\d+, 32\]"),
    ({"vocab_size": 7}, r"says vocab_size 7, hidden_size 32"),
    ({"num_hidden_layers": 6}, r"says num_hidden_layers 6, but the weights hold layers 0–3"),
])
@pytest.mark.parametrize("entry", ["load_model", "depth_up_scale_checkpoint", "merge_checkpoints"])
def test_a_config_that_disagrees_with_the_weights_is_refused_before_any_work(ckpt, tmp_path, changes, message, entry):
    bad = _damaged(ckpt, tmp_path, **changes)
    call = {"load_model": lambda: checkpoints.load_model(bad),
            "depth_up_scale_checkpoint": lambda: dus.depth_up_scale_checkpoint(bad, tmp_path / "out", 1),
            "merge_checkpoints": lambda: merge_checkpoints(
                make_recipe("linear", models=[str(ckpt), str(bad)], weights=[0.5, 0.5]), tmp_path / "out")}[entry]
    with pytest.raises(CheckpointError, match=message):
        call()
    assert not (tmp_path / "out").exists()


def test_a_truncated_weights_file_names_the_file(ckpt, tmp_path):
    bad = _damaged(ckpt, tmp_path)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=r"model.safetensors is not a valid safetensors file"):
        checkpoints.load_model(bad)


def test_a_file_where_a_checkpoint_folder_belongs(ckpt):
    with pytest.raises(CheckpointError, match=r"config.json does not exist"):
        checkpoints.load_model(ckpt / "config.json")


@pytest.mark.parametrize("m, message", [(2.5, r"m must be an int, got 2.5"), (True, r"m must be an int, got True"),
                                        (-1, r"m = -1 is out of range for n = 4 layers"),
                                        (2, r"m = 2 is out of range for n = 4 layers")])
def test_dus_refuses_an_impossible_m(ckpt, tmp_path, m, message):
    with pytest.raises(ValueError, match=message):
        dus.depth_up_scale_checkpoint(ckpt, tmp_path / "out", m)
    assert not (tmp_path / "out").exists()


def test_dus_refuses_a_zero_shard_size(ckpt, tmp_path):
    with pytest.raises(ValueError, match=r"size must be positive, got 0"):
        dus.depth_up_scale_checkpoint(ckpt, tmp_path / "out", 1, max_shard_size=0)


@pytest.mark.parametrize("method, kwargs, message", [
    ("linear", {"weights": [float("nan"), 1.0]}, r"parameter 'weight': expected a finite number, got nan"),
    ("linear", {"weights": [1.0, -1.0]}, r"sum to 0, so they cannot be normalised"),
    ("slerp", {"t": 2.0}, r"SLERP t must be a number in \[0, 1\]"),
    ("avg", {"weights": [1.0, 1.0]}, r"unknown merge method 'avg'"),
])
def test_a_merge_recipe_with_a_bad_value_is_refused(ckpt, tmp_path, tokenizer, method, kwargs, message):
    other = save_model(make_tiny_model(layers=4, seed=1, tokenizer=tokenizer), tmp_path / "b", tokenizer=tokenizer)
    with pytest.raises(MergeError, match=message):
        merge_checkpoints(make_recipe(method, models=[str(ckpt), str(other)], **kwargs), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_model_listed_twice_in_a_merge(ckpt, tmp_path):
    with pytest.raises(MergeError, match=r"a model is listed twice"):
        merge_checkpoints(make_recipe("linear", models=[str(ckpt), str(ckpt)], weights=[1.0, 1.0]), tmp_path / "o")


def test_in_memory_merge_weights_must_match_the_models(tokenizer):
    model = make_tiny_model(layers=2, tokenizer=tokenizer)
    with pytest.raises(MergeError, match=r"got 1 weights for 2 models"):
        merge_models([model, model], "linear", weights=[1.0])


@pytest.mark.parametrize("tasks, kwargs, message", [
    ([], {}, r"tasks must be a list of one or more of arc"),
    ("arc", {}, r"tasks must be a list of one or more"),
    (["arc", "arc"], {}, r"lists a task twice"),
    (["drop"], {}, r"unknown task 'drop'"),
    (["arc"], {"limit": -1}, r"arc: limit must be a non-negative integer, got -1"),
    (["arc"], {"num_fewshot": -2}, r"arc: num_fewshot must be a non-negative integer, got -2"),
    (["arc"], {"batch_size": 0}, r"batch_size must be >= 1, got 0"),
])
def test_evaluation_refuses_bad_settings_before_scoring(tokenizer, tasks, kwargs, message):
    model = make_tiny_model(layers=2, tokenizer=tokenizer)
    item = {"question": "q?", "choices": ["a", "b"], "answer": 0}
    with pytest.raises(ValueError, match=message):
        evaluate(model, tokenizer, tasks, source=MemorySource({"arc": ([item], [item])}), **kwargs)


def test_a_jsonl_line_that_is_not_json_names_file_and_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "ok"}\n{"text": oops}\n')
    with pytest.raises(JsonlError, match=r"data.jsonl:2: not valid JSON"):
        read_jsonl(path)
    with pytest.raises(FileNotFoundError, match=r"no JSONL file at .*missing.jsonl"):
        read_jsonl(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("record, schema, message", [
    ({"instruction": "", "output": "x"}, "alpaca", r"instruction"),
    ({"instruction": "q", "output": 3}, "alpaca", r"output"),
    ({"question": "q"}, "openorca", r"response"),
])
def test_an_instruction_record_missing_a_field_names_it(record, schema, message):
    with pytest.raises(RecordError, match=message):
        to_chat(record, schema, where="alpaca.jsonl:7")


@pytest.mark.parametrize("shard", ["../elsewhere.safetensors", "/etc/passwd", "sub/model.safetensors"])
def test_an_index_naming_a_shard_outside_the_folder_is_refused(ckpt, tmp_path, shard):
    bad = _damaged(ckpt, tmp_path)
    names = list(checkpoints.checkpoint_files(bad))
    (bad / "model.safetensors.index.json").write_text(json.dumps({"weight_map": dict.fromkeys(names, shard)}))
    with pytest.raises(CheckpointError, match=r"outside the checkpoint folder"):
        checkpoints.checkpoint_files(bad)

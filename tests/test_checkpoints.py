"""Tests for solar_utils.checkpoints: atomic folders, shard I/O, clear errors, cards, save/load, hashing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import yaml
from conftest import make_tiny_model
from safetensors import safe_open
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from solar_utils import checkpoints
from solar_utils.checkpoints import (
    INDEX_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    ShardWriter,
    atomic_dir,
    checkpoint_files,
    copy_aux_files,
    iter_shard_tensors,
    load_model,
    parse_size,
    save_model,
    weights_sha256,
    write_json_atomic,
    write_model_card,
)


def tiny_model(tie: bool = False, seed: int = 0):
    return make_tiny_model(2, vocab_size=128, tie_word_embeddings=tie, seed=seed)


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "hello": 3, "world": 4}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    return tokenizer


def no_leftovers(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------------------------------------- atomic writes


def test_atomic_dir_success_and_overwrite(tmp_path):
    dst = tmp_path / "out"
    with atomic_dir(dst) as tmp:
        assert tmp.parent == tmp_path and not dst.exists()
        (tmp / "a.txt").write_text("1")
    assert (dst / "a.txt").read_text() == "1"
    umask = os.umask(0)
    os.umask(umask)
    assert dst.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's private 0700
    with pytest.raises(FileExistsError, match="overwrite=True"):
        with atomic_dir(dst):
            pass
    with atomic_dir(dst, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in dst.iterdir()) == ["b.txt"]
    assert no_leftovers(tmp_path)


def test_atomic_dir_failure_leaves_nothing(tmp_path):
    dst = tmp_path / "out"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_dir(dst) as tmp:
            (tmp / "half.safetensors").write_bytes(b"x" * 10)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    # A failed overwrite keeps the old folder intact.
    with atomic_dir(dst) as tmp:
        (tmp / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(dst, overwrite=True):
            raise RuntimeError("boom")
    assert sorted(p.name for p in dst.iterdir()) == ["old.txt"] and no_leftovers(tmp_path)


def test_write_json_atomic(tmp_path):
    path = write_json_atomic(tmp_path / "sub" / "m.json", {"b": 1, "a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1} and no_leftovers(path.parent)


def test_parse_size():
    assert parse_size("5GB") == 5 * 10**9 and parse_size("200MB") == 2 * 10**8 and parse_size(1234) == 1234
    assert parse_size("1KiB") == 1024
    for bad in ("5 parsecs", 0, "-1MB"):
        with pytest.raises(ValueError):
            parse_size(bad)


# ---------------------------------------------------------------------------------------------- shard writing


def test_shard_writer_single_file(tmp_path):
    with ShardWriter(tmp_path, "1MB") as writer:
        writer.add("a", torch.ones(4))
        writer.add("b", torch.zeros(2, 3, dtype=torch.bfloat16))
    assert sorted(p.name for p in tmp_path.iterdir()) == [WEIGHTS_NAME]
    with safe_open(tmp_path / WEIGHTS_NAME, framework="pt") as f:
        assert f.metadata() == {"format": "pt"} and f.get_tensor("b").dtype == torch.bfloat16


def test_shard_writer_multi_shard_names_index_and_oversize(tmp_path):
    with ShardWriter(tmp_path, 100) as writer:  # float32: 10 elements = 40 bytes
        for i in range(5):
            writer.add(f"t{i}", torch.full((10,), float(i)))
        writer.add("big", torch.zeros(50))  # 200 bytes > limit: a shard of its own
        writer.add("last", torch.zeros(1))
    index = json.loads((tmp_path / INDEX_NAME).read_text())
    shards = sorted(p.name for p in tmp_path.glob("*.safetensors"))
    assert shards == [f"model-0000{k}-of-00005.safetensors" for k in range(1, 6)]
    assert index["metadata"] == {"total_parameters": 101, "total_size": 404}
    assert index["weight_map"]["big"] == "model-00004-of-00005.safetensors"
    assert index["weight_map"]["last"] == "model-00005-of-00005.safetensors"
    assert dict(iter_shard_tensors(tmp_path))["t3"].tolist() == [3.0] * 10
    assert no_leftovers(tmp_path)


def test_shard_writer_rejects_duplicates_and_meta(tmp_path):
    writer = ShardWriter(tmp_path)
    writer.add("a", torch.ones(1))
    with pytest.raises(ValueError, match="already added"):
        writer.add("a", torch.ones(1))
    with pytest.raises(ValueError, match="meta"):
        writer.add("m", torch.empty(2, device="meta"))


def test_shard_writer_copies_aliased_tensors(tmp_path):
    weight = torch.arange(6.0).reshape(2, 3)
    with ShardWriter(tmp_path) as writer:
        writer.add("a", weight)
        writer.add("b", weight)  # same storage: safetensors refuses aliases, the writer must copy
        writer.add("row", weight[1])
    tensors = dict(iter_shard_tensors(tmp_path))
    assert torch.equal(tensors["a"], tensors["b"]) and tensors["row"].tolist() == [3.0, 4.0, 5.0]


def test_shard_writer_output_loads_in_transformers(tmp_path):
    model = tiny_model()
    src = save_model(model, tmp_path / "src")
    dst = tmp_path / "copy"
    with atomic_dir(dst) as tmp:
        with ShardWriter(tmp, 5_000) as writer:
            for name, tensor in iter_shard_tensors(src):
                writer.add(name, tensor)
        (tmp / "config.json").write_bytes((src / "config.json").read_bytes())
    assert len(list(dst.glob("model-*-of-*.safetensors"))) > 3
    assert weights_sha256(load_model(dst)) == weights_sha256(model)


# ---------------------------------------------------------------------------------------------- reading errors


def test_checkpoint_files_single_and_sharded(tmp_path):
    model = tiny_model()
    single = save_model(model, tmp_path / "single")
    sharded = save_model(model, tmp_path / "sharded", max_shard_size=5_000)
    assert set(checkpoint_files(single).values()) == {single / WEIGHTS_NAME}
    files = checkpoint_files(sharded)
    assert set(files) == set(checkpoint_files(single)) and len(set(files.values())) > 3


def test_missing_dir_and_no_weights(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        checkpoint_files(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no safetensors weights"):
        checkpoint_files(tmp_path)


def test_bin_only_is_refused(tmp_path):
    torch.save({"w": torch.ones(1)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="refused on purpose"):
        checkpoint_files(tmp_path)


def test_index_naming_missing_shard(tmp_path):
    src = save_model(tiny_model(), tmp_path / "m", max_shard_size=5_000)
    next(src.glob("model-00002-of-*.safetensors")).unlink()
    with pytest.raises(CheckpointError, match="model-00002-of-.*missing"):
        checkpoint_files(src)


def test_shard_disagreeing_with_index(tmp_path):
    src = save_model(tiny_model(), tmp_path / "m", max_shard_size=5_000)
    shard = next(src.glob("model-00002-of-*.safetensors"))
    save_file({"stranger": torch.ones(1)}, shard, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="disagrees with"):
        checkpoint_files(src)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_safetensors(tmp_path, damage):
    src = save_model(tiny_model(), tmp_path / "m")
    weights = src / WEIGHTS_NAME
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"\xff" * 64)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        checkpoint_files(src)
    with pytest.raises(CheckpointError):
        load_model(src)


# ---------------------------------------------------------------------------------------------- aux files, cards


def test_copy_aux_files(tmp_path):
    src = save_model(tiny_model(), tmp_path / "m", tokenizer=tiny_tokenizer(), max_shard_size=5_000)
    (src / "README.md").write_text("card")
    (src / "pytorch_model.bin").write_bytes(b"pickle")
    (src / "notes.txt").write_text("my API key")
    (src / "train.py").write_text("print()")
    dst = tmp_path / "dst"
    dst.mkdir()
    copied = {p.name for p in copy_aux_files(src, dst)}
    assert {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json"} <= copied
    assert not copied & {"config.json", "README.md", INDEX_NAME, "pytorch_model.bin", "notes.txt", "train.py"}
    assert not any(name.endswith(".safetensors") for name in copied)


def test_write_model_card(tmp_path):
    recipe = {"method": "dus", "n": 32, "m": 8, "layer_map": list(range(24)) + list(range(8, 32))}
    path = write_model_card(tmp_path, "SOLAR-style DUS", recipe, base="mistralai/Mistral-7B-v0.1")
    text = path.read_text()
    front = yaml.safe_load(text.split("---")[1])
    base = "mistralai/Mistral-7B-v0.1"
    assert front == {"library_name": "transformers", "tags": ["solar-dus", "dus"], "base_model": base}
    assert "# SOLAR-style DUS" in text and "0–23, 8–31 (48 entries)" in text


# ---------------------------------------------------------------------------------------------- save, load, hash


def test_save_load_roundtrip_with_tokenizer_and_card(tmp_path):
    model, tokenizer = tiny_model(), tiny_tokenizer()
    card = {"title": "Tiny", "recipe": {"method": "test"}, "base": None}
    dst = save_model(model, tmp_path / "m", tokenizer=tokenizer, card=card)
    assert (dst / "README.md").is_file() and (dst / "tokenizer.json").is_file()
    assert weights_sha256(load_model(dst)) == weights_sha256(model) == weights_sha256(dst)
    with pytest.raises(FileExistsError, match="overwrite"):
        save_model(model, dst)


def test_load_model_refuses_remote_code_and_missing_config(tmp_path):
    dst = save_model(tiny_model(), tmp_path / "m")
    with pytest.raises(ValueError, match="remote code"):
        load_model(dst, trust_remote_code=True)
    (dst / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        load_model(dst)


def test_weights_sha256_tied_sharded_and_sensitive(tmp_path):
    model = tiny_model(tie=True)
    dst = save_model(model, tmp_path / "m", max_shard_size=5_000)
    assert weights_sha256(model) == weights_sha256(dst)
    assert weights_sha256(model) != weights_sha256(tiny_model(tie=True, seed=1))
    with torch.no_grad():
        model.model.norm.weight[0] += 1
    assert weights_sha256(model) != weights_sha256(dst)


def test_a_model_to_score_goes_to_the_gpu_when_there_is_one(tmp_path, monkeypatch):
    save_model(tiny_model(), tmp_path / "m")
    on_cpu = checkpoints.load_for_scoring(tmp_path / "m")
    assert on_cpu.device.type == "cpu" and weights_sha256(on_cpu) == weights_sha256(tmp_path / "m")
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(checkpoints, "load_model", lambda src, **kwargs: calls.append((src, kwargs)))
    checkpoints.load_for_scoring(tmp_path / "m")
    assert calls == [(tmp_path / "m", {"dtype": "auto", "device_map": {"": 1}})]  # this process's GPU, own dtype

"""Tests for solar_utils.dus (depth up-scaling, SOLAR Sec. 2) and solar_utils.shapes, on tiny random models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import make_tiny_model, tiny_shape
from safetensors import safe_open
from transformers import AutoConfig, AutoModelForCausalLM

from solar_utils.checkpoints import CheckpointError, checkpoint_files, load_model, save_model, weights_sha256
from solar_utils.dus import (
    count_parameters,
    decoder_layers,
    depth_up_scale,
    depth_up_scale_checkpoint,
    dus_layer_map,
    expand_identity,
)
from solar_utils.shapes import meta_model, write_synthetic_checkpoint

LAYERS, VOCAB = 8, 128  # n = 8: the paper's 32 -> 48 ratio with m = 2
WINDOWS = {  # each architecture's window settings: windows of 4, shorter than the test sequences
    "llama": {},
    "mistral": {"sliding_window": 4},
    "qwen2": {"use_sliding_window": True, "sliding_window": 4, "max_window_layers": 4},
}
ARCHS = sorted(WINDOWS)


def tiny(arch: str, seed: int = 0, **kw) -> torch.nn.Module:
    return make_tiny_model(LAYERS, arch=arch, seed=seed, vocab_size=VOCAB, **WINDOWS[arch], **kw).eval()


def greedy(model: torch.nn.Module, use_cache: bool) -> torch.Tensor:
    ids = torch.randint(0, VOCAB, (2, 6), generator=torch.Generator().manual_seed(1))
    return model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=False, use_cache=use_cache,
        pad_token_id=0,
    )


def read_all(path: Path) -> dict[str, torch.Tensor]:
    tensors = {}
    for name, shard in checkpoint_files(path).items():
        with safe_open(shard, framework="pt") as f:
            tensors[name] = f.get_tensor(name)
    return tensors


# ---------------------------------------------------------------------------------------------- layer map


def test_layer_map_paper_and_edges():
    layer_map = dus_layer_map(32, 8)
    assert len(layer_map) == 48 and layer_map[:24] == list(range(24)) and layer_map[24:] == list(range(8, 32))
    assert dus_layer_map(4, 0) == [0, 1, 2, 3, 0, 1, 2, 3]  # m = 0: naive 2n stacking
    assert dus_layer_map(5, 2) == [0, 1, 2, 2, 3, 4]


@pytest.mark.parametrize("m", [-1, 16, 17, 8.0, True, "8", None])
def test_layer_map_bad_m(m):
    with pytest.raises(ValueError, match=r"m in \[0, 15\]|must be an int"):
        dus_layer_map(32, m)


def test_one_layer_key_pattern_for_dus_and_merging():
    from solar_utils import dus
    from solar_utils.merging import plan

    assert plan.LAYER_KEY is dus.LAYER_KEY
    match = dus.LAYER_KEY.match("base_model.model.layers.12.self_attn.q_proj.weight")
    assert (match["prefix"], match["index"], match["rest"]) == ("base_model.model.layers.", "12", "self_attn.q_proj.weight")
    assert dus.LAYER_KEY.match("layers.0.mlp.weight")["prefix"] == "layers."
    for name in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "model.sublayers.1.w",
                 "model.layers.x.weight", "model.layers.3"):
        assert dus.LAYER_KEY.match(name) is None, name


# ---------------------------------------------------------------------------------------------- in memory


@pytest.mark.parametrize("arch", ARCHS)
def test_dus_copies_source_slices(arch):
    src = tiny(arch)
    dus = depth_up_scale(src, 2)
    layer_map = [0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7]
    assert dus.config.num_hidden_layers == 12 and len(decoder_layers(dus)[1]) == 12
    assert dus.config.depth_up_scaling == {"method": "dus", "n": 8, "m": 2, "layer_map": layer_map}
    src_state, dus_state = src.state_dict(), dus.state_dict()
    for name, tensor in dus_state.items():
        parts = name.split(".")
        if parts[1] == "layers":
            parts[2] = str(layer_map[int(parts[2])])
        assert torch.equal(tensor, src_state[".".join(parts)]), name
    src_ptrs = {t.data_ptr() for t in src_state.values()}
    assert not src_ptrs & {t.data_ptr() for t in dus_state.values()}
    for j, layer in enumerate(decoder_layers(dus)[1]):
        assert layer.self_attn.layer_idx == j and layer.self_attn.config is dus.config
    assert src.config.num_hidden_layers == 8 and len(decoder_layers(src)[1]) == 8  # source untouched


def test_qwen2_layer_types_follow_the_map():
    dus = depth_up_scale(tiny("qwen2"), 2)
    full, sliding = "full_attention", "sliding_attention"
    assert dus.config.layer_types == [full] * 4 + [sliding] * 2 + [full] * 2 + [sliding] * 4
    assert dus.config.max_window_layers == 4
    assert [layer.self_attn.sliding_window for layer in dus.model.layers] == [None] * 4 + [4] * 2 + [None] * 2 + [4] * 4


@pytest.mark.parametrize("arch", ARCHS)
def test_dus_generation_cached_equals_uncached(arch):
    dus = depth_up_scale(tiny(arch), 2)
    uncached = greedy(dus, use_cache=False)
    assert torch.equal(greedy(dus, use_cache=True), uncached)
    # Without the layer_idx renumbering (the STACK.md trap) the KV cache is corrupted.
    for j, layer in enumerate(dus.model.layers):
        layer.self_attn.layer_idx = dus.config.depth_up_scaling["layer_map"][j]
    try:
        broken = greedy(dus, use_cache=True)
    except RuntimeError:
        return
    assert not torch.equal(broken, uncached)


@pytest.mark.parametrize("arch", ARCHS)
def test_dus_save_reload(arch, tmp_path):
    dus = depth_up_scale(tiny(arch), 3)
    dst = save_model(dus, tmp_path / "dus")
    assert AutoConfig.from_pretrained(dst).depth_up_scaling["layer_map"] == dus_layer_map(8, 3)
    assert "0–4, 3–7 (10 entries)" in (dst / "README.md").read_text()
    reloaded = AutoModelForCausalLM.from_pretrained(dst)
    assert reloaded.config.num_hidden_layers == 10
    ids = torch.arange(12).reshape(2, 6)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids).logits, dus(ids).logits, rtol=0, atol=0)


def test_dus_no_layer_stack_or_stale_config():
    with pytest.raises(ValueError, match="no decoder layer stack"):
        depth_up_scale(torch.nn.Linear(2, 2), 1)
    model = tiny("llama")
    model.config.num_hidden_layers = 6
    with pytest.raises(ValueError, match="set config.num_hidden_layers"):
        depth_up_scale(model, 1)


# ---------------------------------------------------------------------------------------------- meta, shapes


def test_meta_parameter_counts():
    base = meta_model("mistral-7b")
    assert count_parameters(base) == 7_241_732_096
    dus = depth_up_scale(base, 8)
    assert dus.config.num_hidden_layers == 48 and count_parameters(dus) == 10_731_524_096
    assert all(p.device.type == "meta" for p in dus.parameters())
    assert count_parameters(meta_model("llama-1b")) == 1_100_048_384


# ---------------------------------------------------------------------------------------------- identity expansion


@pytest.mark.parametrize("arch", ARCHS)
def test_expand_identity_keeps_logits(arch):
    base = tiny(arch)
    expanded = expand_identity(base, 2)
    record = expanded.config.depth_up_scaling
    assert expanded.config.num_hidden_layers == 12 and record["method"] == "identity_expansion"
    assert record["layer_map"] == [0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7] and record["identity_layers"] == [2, 5, 8, 11]
    ids = torch.randint(0, VOCAB, (2, 7), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(expanded(ids).logits, base(ids).logits, rtol=0, atol=1e-5)
    assert torch.equal(greedy(expanded, use_cache=True), greedy(base, use_cache=True))


# ---------------------------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    ("arch", "tie", "shard"),
    [("llama", False, 6_000), ("llama", True, 6_000), ("mistral", False, "5GB"), ("qwen2", True, 6_000)],
)
def test_streaming_equals_in_memory(arch, tie, shard, tmp_path):
    src = save_model(tiny(arch, tie_word_embeddings=tie).to(torch.bfloat16), tmp_path / "src", max_shard_size=6_000)
    streamed = depth_up_scale_checkpoint(src, tmp_path / "streamed", 2, max_shard_size=shard)
    in_memory = save_model(depth_up_scale(load_model(src), 2), tmp_path / "in_memory", max_shard_size=shard)
    single = shard == "5GB"  # one file: the same tensor read twice from one source must still be written twice
    assert (streamed / "model.safetensors").is_file() is single
    assert (len(list(streamed.glob("model-*"))) > 3) is not single
    a, b = read_all(streamed), read_all(in_memory)
    assert sorted(a) == sorted(b) and ("lm_head.weight" in a) is not tie
    for name in a:
        assert a[name].dtype == b[name].dtype == torch.bfloat16
        assert torch.equal(a[name].view(torch.int16), b[name].view(torch.int16)), name
    config_a, config_b = (json.loads((p / "config.json").read_text()) for p in (streamed, in_memory))
    assert config_a == config_b
    assert (streamed / "README.md").read_text() == (in_memory / "README.md").read_text()
    assert (streamed / "generation_config.json").is_file()


def test_streaming_matches_mergekit_passthrough(tmp_path):
    pytest.importorskip("mergekit")
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge

    src = save_model(tiny("llama").to(torch.bfloat16), tmp_path / "src", max_shard_size=6_000)
    slices = [{"sources": [{"model": str(src), "layer_range": r}]} for r in ([0, 6], [2, 8])]  # n = 8, m = 2
    recipe = {"slices": slices, "merge_method": "passthrough", "dtype": "bfloat16"}
    run_merge(MergeConfiguration.model_validate(recipe), str(tmp_path / "mergekit"), options=MergeOptions())
    dus = depth_up_scale_checkpoint(src, tmp_path / "dus", 2)
    assert weights_sha256(tmp_path / "mergekit") == weights_sha256(dus)


def test_streaming_synthetic_shape(tmp_path):
    config = {"model_type": "llama", **tiny_shape(LAYERS, hidden=64, intermediate=64, vocab_size=VOCAB)}
    shape = {"architecture": "LlamaForCausalLM", "config": config}
    src = write_synthetic_checkpoint(shape, tmp_path / "src", num_layers=4, max_shard_size=20_000)
    assert len(list(src.glob("model-*.safetensors"))) > 3
    dst = depth_up_scale_checkpoint(src, tmp_path / "dst", 1, max_shard_size=20_000)
    model = load_model(dst)
    assert model.config.num_hidden_layers == 6 and model.dtype == torch.bfloat16


def _broken_checkpoint(tmp_path: Path, damage: str) -> Path:
    src = save_model(tiny("llama"), tmp_path / "src", max_shard_size=6_000)
    shards = sorted(src.glob("model-*.safetensors"))
    if damage == "corrupt shard":
        shards[1].write_bytes(shards[1].read_bytes()[:100])
    elif damage == "index names a missing file":
        shards[1].unlink()
    elif damage == "bin only":
        for shard in shards:
            shard.unlink()
        (src / "model.safetensors.index.json").unlink()
        torch.save({}, src / "pytorch_model.bin")
    elif damage == "config says 10 layers":
        config = json.loads((src / "config.json").read_text())
        config["num_hidden_layers"] = 10
        (src / "config.json").write_text(json.dumps(config))
    elif damage == "no num_hidden_layers":
        config = json.loads((src / "config.json").read_text())
        del config["num_hidden_layers"]
        (src / "config.json").write_text(json.dumps(config))
    return src


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("corrupt shard", "corrupt or truncated"),
        ("index names a missing file", "missing"),
        ("bin only", "refused on purpose"),
        ("no num_hidden_layers", "no integer num_hidden_layers"),
        ("config says 10 layers", "says num_hidden_layers 10, but the weights hold layers 0–7"),
    ],
)
def test_streaming_bad_checkpoints(tmp_path, damage, message):
    src = _broken_checkpoint(tmp_path, damage)
    with pytest.raises(CheckpointError, match=message):
        depth_up_scale_checkpoint(src, tmp_path / "dst", 2)
    assert not (tmp_path / "dst").exists()


def test_streaming_bad_m_and_missing_dir(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        depth_up_scale_checkpoint(tmp_path / "nope", tmp_path / "dst", 2)
    src = _broken_checkpoint(tmp_path, "none")
    for m in (-1, 4, 2.5):
        with pytest.raises(ValueError, match="m"):
            depth_up_scale_checkpoint(src, tmp_path / "dst", m)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]

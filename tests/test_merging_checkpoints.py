"""Merging checkpoints: streaming vs in memory, bounded memory, outputs, refusals, recipes, DUS, and mergekit."""

import weakref
from pathlib import Path

import pytest
import torch
import yaml
from conftest import make_tiny_model
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from solar_utils.checkpoints import INDEX_NAME, iter_shard_tensors, load_model, read_config, save_model, weights_sha256
from solar_utils.dus import depth_up_scale_checkpoint, dus_layer_map
from solar_utils.merging import (
    MergeError,
    MergeRecipe,
    dus_recipe,
    load_recipe,
    make_recipe,
    merge_checkpoints,
    merge_models,
    recipe_yaml,
    streaming,
    write_recipe,
)
from solar_utils.merging.recipes import RECIPE_NAME

LAYERS, VOCAB = 4, 96  # the tiny shape with 4 layers, over a 96-word vocabulary
SHARD = "20KB"  # tiny models then span ~10 shards


def tokenizer(prefix: str = "w", size: int = VOCAB) -> PreTrainedTokenizerFast:
    vocab = {f"{prefix}{i}": i for i in range(size)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=f"{prefix}0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=f"{prefix}0")


def save_tiny(dst: Path, noise_seed: int | None, tok_prefix="w", layers=LAYERS, vocab_size=VOCAB, **shape) -> Path:
    """A tiny random model: the seed-0 base, plus N(0, 0.02²) noise from ``noise_seed`` (a "fine-tune").
    ``shape`` is passed on to ``make_tiny_model`` (``arch``, ``hidden``, ``tie_word_embeddings``, ...)."""
    model = make_tiny_model(layers, seed=0, vocab_size=vocab_size, **shape)
    if noise_seed is not None:
        g = torch.Generator().manual_seed(noise_seed)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.02)
    return save_model(model, dst, tokenizer(tok_prefix, vocab_size), max_shard_size=SHARD)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("merge_inputs")
    specs = {
        "base": dict(noise_seed=None),
        "a": dict(noise_seed=1),
        "b": dict(noise_seed=2),
        "c": dict(noise_seed=3),
        "tied_base": dict(noise_seed=None, tie_word_embeddings=True),
        "tied_a": dict(noise_seed=1, tie_word_embeddings=True),
        "tied_b": dict(noise_seed=2, tie_word_embeddings=True),
        "tied_c": dict(noise_seed=3, tie_word_embeddings=True),
        "mistral": dict(noise_seed=1, arch="mistral"),
        "wide": dict(noise_seed=1, hidden=48, intermediate=64),
        "deep": dict(noise_seed=1, layers=5),
        "big_vocab": dict(noise_seed=1, vocab_size=128),
        "other_tok": dict(noise_seed=1, tok_prefix="v"),
    }
    return {name: str(save_tiny(root / name, **kw)) for name, kw in specs.items()}


RECIPES = {
    "linear": dict(models=["a", "b", "c"], weights=[0.5, 0.3, 0.4]),
    "slerp": dict(
        models=["a", "b"],
        t=[{"filter": "self_attn", "value": [0, 0.5, 1]}, {"filter": "mlp", "value": [1, 0]}, {"value": 0.4}],
    ),
    "task_arithmetic": dict(models=["a", "b"], base="base", weights=[0.7, 0.5], lambda_=0.9),
    "ties": dict(models=["a", "b", "c"], base="base", weights=[0.5, 0.3, 0.2], densities=[0.5, 0.7, 0.3]),
    "dare_linear": dict(models=["a", "b"], base="base", weights=[0.6, 0.4], densities=[0.5, 0.8], random_seed=3),
    "dare_ties": dict(models=["a", "b"], base="base", weights=[0.6, 0.4], densities=[0.5, 0.8], lambda_=1.2),
}


def build(method, ckpt, prefix="", **kw):
    """``make_recipe`` arguments with model names looked up in ``ckpt`` (``prefix`` picks e.g. the tied set)."""
    kw = dict(kw)
    kw["models"] = [ckpt[prefix + m] for m in kw["models"]]
    if "base" in kw:
        kw["base"] = ckpt[prefix + kw["base"]]
    return make_recipe(method, **kw)


def in_memory(method, ckpt, prefix="", **kw):
    loaded = {name: load_model(path) for name, path in ckpt.items() if name.startswith(prefix)}
    kw = dict(kw)
    models_ = [loaded[prefix + m] for m in kw.pop("models")]
    base = loaded[prefix + kw.pop("base")] if "base" in kw else None
    return merge_models(models_, method, base=base, **kw)


# ---------------------------------------------------------------- streaming == in memory


@pytest.mark.parametrize("method", sorted(RECIPES))
def test_streaming_equals_in_memory_bit_for_bit(method, ckpt, tmp_path):
    out = merge_checkpoints(build(method, ckpt, **RECIPES[method]), tmp_path / "out", max_shard_size="30KB")
    assert (out / INDEX_NAME).is_file()  # several output shards
    assert weights_sha256(out) == weights_sha256(in_memory(method, ckpt, **RECIPES[method]))


@pytest.mark.parametrize("method", ["linear", "ties"])
def test_tied_embeddings_stay_tied(method, ckpt, tmp_path):
    out = merge_checkpoints(
        build(method, ckpt, prefix="tied_", **RECIPES[method]), tmp_path / "out", max_shard_size="30KB"
    )
    names = {name for name, _ in iter_shard_tensors(out)}
    assert "lm_head.weight" not in names and read_config(out)["tie_word_embeddings"] is True
    reference = in_memory(method, ckpt, prefix="tied_", **RECIPES[method])
    assert weights_sha256(out) == weights_sha256(reference)
    loaded = AutoModelForCausalLM.from_pretrained(out)
    ids = torch.tensor([[1, 5, 9, 2]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, reference(ids).logits, rtol=0, atol=0)


def test_output_is_a_complete_checkpoint(ckpt, tmp_path):
    recipe = build("ties", ckpt, **RECIPES["ties"])
    out = merge_checkpoints(recipe, tmp_path / "out")
    model = AutoModelForCausalLM.from_pretrained(out)
    assert type(model).__name__ == "LlamaForCausalLM" and model.config.num_hidden_layers == 4
    assert PreTrainedTokenizerFast.from_pretrained(out).get_vocab() == tokenizer().get_vocab()
    card = (out / "README.md").read_text()
    assert "ties" in card and ckpt["base"] in card and "density" in card
    assert load_recipe(out / RECIPE_NAME) == recipe
    assert not list(tmp_path.glob(".out*"))  # no temporary folders left behind


def test_output_dtype_and_config(ckpt, tmp_path):
    recipe = build("linear", ckpt, models=["a", "b"], dtype="bfloat16")
    out = merge_checkpoints(recipe, tmp_path / "out")
    assert {t.dtype for _, t in iter_shard_tensors(out)} == {torch.bfloat16}
    assert read_config(out)["dtype"] == "bfloat16"


def test_streaming_holds_one_tensor_per_input(ckpt, tmp_path, monkeypatch):
    """Every input tensor read earlier is freed before the next task reads: no state dict is ever built."""
    alive: list[weakref.ref] = []
    peak = 0
    real = streaming.read_tensor

    def tracking(shard, name):
        nonlocal peak
        peak = max(peak, sum(ref() is not None for ref in alive))
        tensor = real(shard, name)
        alive.append(weakref.ref(tensor))
        return tensor

    monkeypatch.setattr(streaming, "read_tensor", tracking)
    merge_checkpoints(build("ties", ckpt, **RECIPES["ties"]), tmp_path / "out", max_shard_size="30KB")
    assert len(alive) == 4 * 39  # every tensor of base + 3 models read once
    assert peak < 4  # at most the current task's inputs (base + 3) are held while reading


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "other, message",
    [
        ("mistral", "different architectures"),
        ("wide", "different shapes"),
        ("deep", "4 layers but .* has 5"),
        ("big_vocab", "different vocabulary sizes"),
        ("other_tok", "different tokenizers"),
        ("tied_a", "lm_head"),
    ],
)
def test_incompatible_models_are_refused(other, message, ckpt, tmp_path):
    with pytest.raises(MergeError, match=message):
        merge_checkpoints(make_recipe("linear", [ckpt["a"], ckpt[other]]), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_named_tokenizer_source_allows_different_tokenizers(ckpt, tmp_path):
    recipe = make_recipe("linear", [ckpt["a"], ckpt["other_tok"]], tokenizer_source=ckpt["other_tok"])
    out = merge_checkpoints(recipe, tmp_path / "out")
    assert PreTrainedTokenizerFast.from_pretrained(out).get_vocab() == tokenizer("v").get_vocab()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="slerp", models=["a", "b"], t=1.5), r"\[0, 1\]"),
        (dict(method="slerp", models=["a", "b"], t=[0.0, -0.5]), r"\[0, 1\]"),
        (dict(method="slerp", models=["a", "b"]), "needs parameter 't'"),
        (dict(method="slerp", models=["a", "b", "c"], t=0.5), "exactly 2"),
        (dict(method="linear", models=["a", "b"], weights=[1.0, -1.0]), "sum to 0"),
        (dict(method="ties", models=["a", "b"], base="base", densities=[0.0, 0.5]), r"\(0, 1\]"),
        (dict(method="ties", models=["a", "b"], base="base", densities=[1.2, 0.5]), r"\(0, 1\]"),
        (dict(method="ties", models=["a", "b"]), "needs base_model"),
        (dict(method="model_soup", models=["a", "b"]), "unknown merge method"),
        (dict(method="linear", models=["a", "b"], weights=[1.0]), "one per model"),
    ],
)
def test_bad_parameters_are_refused(kwargs, message, ckpt, tmp_path):
    kwargs = dict(kwargs)
    with pytest.raises(MergeError, match=message):
        merge_checkpoints(build(kwargs.pop("method"), ckpt, **kwargs), tmp_path / "out")
    assert not (tmp_path / "out").exists()


LINEAR = {"merge_method": "linear", "models": [{"model": "A"}, {"model": "B"}]}
SLICE = {"sources": [{"model": "A", "layer_range": [0, 2]}]}


@pytest.mark.parametrize(
    "recipe, message",
    [
        ({**LINEAR, "models": [{"model": "A", "parameters": {"desnity": 0.5}}]}, "no parameter 'desnity'"),
        ({**LINEAR, "modules": {}}, "not supported"),
        ({**LINEAR, "models": [{"model": "A"}, {"model": "A"}]}, "listed twice"),
        ({**LINEAR, "slices": [SLICE]}, "exactly one"),
        ({"merge_method": "passthrough", "slices": [{"sources": SLICE["sources"] * 2}]}, "exactly 1"),
        ({**LINEAR, "tokenizer_source": "union"}, "union"),
        ({**LINEAR, "dtype": "int8"}, "dtype"),
        ({**LINEAR, "parameters": {"t": 0.5}}, "no parameter 't'"),
        (
            {**LINEAR, "merge_method": "slerp", "base_model": "A", "parameters": {"t": [{"filter": 3, "value": 1}]}},
            "filter",
        ),
        ({"merge_method": "passthrough", "slices": [{"sources": [{"model": "A", "layer_range": [3, 1]}]}]}, "empty"),
    ],
)
def test_bad_recipes_are_refused(recipe, message):
    with pytest.raises(MergeError, match=message):
        load_recipe(recipe)


def test_layer_range_beyond_the_model_is_refused(ckpt, tmp_path):
    recipe = load_recipe(
        {"merge_method": "passthrough", "slices": [{"sources": [{"model": ckpt["a"], "layer_range": [2, 6]}]}]}
    )
    with pytest.raises(MergeError, match="beyond the 4 layers"):
        merge_checkpoints(recipe, tmp_path / "out")


def test_merge_models_refuses_the_base_among_models(ckpt):
    a, base = load_model(ckpt["a"]), load_model(ckpt["base"])
    with pytest.raises(MergeError, match="base="):
        merge_models([a, base], "ties", base=base)


# ---------------------------------------------------------------- recipes


def test_recipe_round_trip(ckpt, tmp_path):
    for method, kwargs in RECIPES.items():
        recipe = build(method, ckpt, **kwargs)
        assert load_recipe(write_recipe(recipe, tmp_path / f"{method}.yml")) == recipe
        assert load_recipe(recipe_yaml(recipe)) == recipe
        assert MergeRecipe.from_dict(recipe.to_dict()) == recipe
    text = (tmp_path / "dare_linear.yml").read_text()
    assert "random_seed: 3" in text and "merge_method: dare_linear" in text


def test_mergekit_style_yaml_is_read(ckpt, tmp_path):
    text = f"""
merge_method: slerp
base_model: {ckpt["a"]}
slices:
  - sources:
      - model: {ckpt["a"]}
        layer_range: [0, 4]
      - model: {ckpt["b"]}
        layer_range: [0, 4]
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: float32
"""
    path = tmp_path / "slerp.yml"
    path.write_text(text)
    out = merge_checkpoints(path, tmp_path / "out")
    same = make_recipe("slerp", [ckpt["a"], ckpt["b"]], t=yaml.safe_load(text)["parameters"]["t"], dtype="float32")
    assert weights_sha256(out) == weights_sha256(merge_checkpoints(same, tmp_path / "same"))


def test_depth_gradient_reaches_each_layer(ckpt, tmp_path):
    """t = [0, 1] over 4 layers gives layer i the interpolation weight i/3 (non-layer tensors t = 0)."""
    out = merge_checkpoints(make_recipe("slerp", [ckpt["a"], ckpt["b"]], t=[0.0, 1.0]), tmp_path / "out")
    merged, a, b = (dict(iter_shard_tensors(p)) for p in (out, ckpt["a"], ckpt["b"]))
    assert torch.equal(merged["model.layers.0.mlp.up_proj.weight"], a["model.layers.0.mlp.up_proj.weight"])
    assert torch.equal(merged["model.layers.3.mlp.up_proj.weight"], b["model.layers.3.mlp.up_proj.weight"])
    assert torch.equal(merged["lm_head.weight"], a["lm_head.weight"])
    middle = merged["model.layers.1.mlp.up_proj.weight"]
    assert not torch.equal(middle, a["model.layers.1.mlp.up_proj.weight"]) and not torch.equal(
        middle, b["model.layers.1.mlp.up_proj.weight"]
    )


# ---------------------------------------------------------------- passthrough = DUS


@pytest.mark.parametrize("prefix", ["", "tied_"])
def test_passthrough_recipe_reproduces_dus(prefix, ckpt, tmp_path):
    src = ckpt[prefix + "a"]
    recipe = dus_recipe(src, num_layers=4, overlap=1)
    assert [list(s.sources[0].layer_range) for s in recipe.slices] == [[0, 3], [1, 4]]
    ours = merge_checkpoints(recipe, tmp_path / "ours", max_shard_size="30KB")
    theirs = depth_up_scale_checkpoint(src, tmp_path / "dus", m=1)
    assert weights_sha256(ours) == weights_sha256(theirs)
    assert read_config(ours)["num_hidden_layers"] == len(dus_layer_map(4, 1)) == 6
    merged, source = dict(iter_shard_tensors(ours)), dict(iter_shard_tensors(src))
    assert torch.equal(
        merged["model.layers.3.self_attn.q_proj.weight"], source["model.layers.1.self_attn.q_proj.weight"]
    )
    model = AutoModelForCausalLM.from_pretrained(ours)
    assert len(model.model.layers) == 6


# ---------------------------------------------------------------- agreement with mergekit (test extra)


@pytest.fixture(scope="module")
def mergekit_run():
    pytest.importorskip("mergekit", reason="mergekit is a test extra: pip install mergekit")
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge

    def run(recipe: MergeRecipe, out: Path) -> Path:
        run_merge(
            MergeConfiguration.model_validate(recipe.to_dict()),
            str(out),
            MergeOptions(quiet=True, copy_tokenizer=False),
        )
        return out

    return run


MERGEKIT_CASES = {
    # method: (recipe arguments, bit-exact?)  SLERP's cos Ω is summed in a different order: equal to ~1 ulp.
    "linear": (RECIPES["linear"], True),
    "slerp": (RECIPES["slerp"], False),
    "task_arithmetic": (RECIPES["task_arithmetic"], True),
    "ties": (RECIPES["ties"], True),
}


MERGEKIT_WARNINGS = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # mergekit's own numpy.core imports


@MERGEKIT_WARNINGS
@pytest.mark.parametrize("method", sorted(MERGEKIT_CASES))
def test_agrees_with_mergekit(method, ckpt, mergekit_run, tmp_path):
    kwargs, exact = MERGEKIT_CASES[method]
    recipe = build(method, ckpt, **kwargs, dtype="float32")
    ours = dict(iter_shard_tensors(merge_checkpoints(recipe, tmp_path / "ours")))
    theirs = dict(iter_shard_tensors(mergekit_run(recipe, tmp_path / "mergekit")))
    assert ours.keys() == theirs.keys()
    for name in ours:
        if exact:
            assert torch.equal(ours[name], theirs[name]), name
        else:
            torch.testing.assert_close(ours[name], theirs[name], rtol=1e-6, atol=1e-7, msg=name)


@MERGEKIT_WARNINGS
def test_dus_agrees_with_mergekit_passthrough(ckpt, mergekit_run, tmp_path):
    recipe = dus_recipe(ckpt["a"], num_layers=4, overlap=1)
    assert weights_sha256(merge_checkpoints(recipe, tmp_path / "ours")) == weights_sha256(
        mergekit_run(recipe, tmp_path / "mk")
    )

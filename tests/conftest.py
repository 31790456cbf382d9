"""Shared fixtures: a small trained tokenizer, the one tiny model shape every test model derives from, and torch
pinned to one thread (all offline, seconds).

Tests that need a model of their own call ``make_tiny_model`` / ``tiny_llama_config`` / ``tiny_preset_config``
(importable as ``from conftest import ...``, or ``make_tiny_model`` as the ``tiny_model_factory`` fixture) and
pass only what their check depends on: a layer count, tied embeddings, an architecture, a vocabulary size.
"""

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, PretrainedConfig, Qwen2Config

from solar_utils.config import ModelConfig, load_preset
from solar_utils.modeling import build_model
from solar_utils.tokenizer import train_tokenizer

WORDS = "the cat dog bird sees eats likes a big small red blue town of lives in and runs".split()
TORCH_THREADS = 1  # see torch_threads below
HF_CONFIGS = {"llama": LlamaConfig, "mistral": MistralConfig, "qwen2": Qwen2Config}


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(WORDS), (n, 8), generator=rng).tolist()
    return [" ".join(WORDS[i] for i in row).capitalize() + "." for row in picks]


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer(sentences(400), vocab_size=300, min_frequency=1)


# ---- one tiny model shape ----------------------------------------------------------------------------------


def tiny_shape(layers: int = 4, hidden: int = 32, intermediate: int | None = None, **overrides) -> dict:
    """The tiny shape: ``layers`` decoder layers of width ``hidden``, an MLP of ``2 * hidden`` unless
    ``intermediate`` says otherwise, 4 query heads sharing 2 KV heads (GQA). ``overrides`` are further config
    fields (``vocab_size``, ``tie_word_embeddings``, ...), named as in the HF configs and ``ModelConfig``."""
    return {"hidden_size": hidden, "intermediate_size": 2 * hidden if intermediate is None else intermediate,
            "num_hidden_layers": layers, "num_attention_heads": 4, "num_key_value_heads": 2, **overrides}


def tiny_preset_config(layers: int = 4, hidden: int = 32, intermediate: int | None = None,
                       **overrides) -> ModelConfig:
    """The tiny preset's ``model`` section in the tiny shape: what ``solar_utils.modeling.build_model`` takes."""
    return load_preset("tiny", {"model": tiny_shape(layers, hidden, intermediate, **overrides)}).model


def tiny_llama_config(layers: int = 4, hidden: int = 32, intermediate: int | None = None, *, arch: str = "llama",
                      **overrides) -> PretrainedConfig:
    """A bare HF config in the tiny shape: a ``LlamaConfig``, or with ``arch="mistral"`` / ``"qwen2"`` that
    architecture's config (window settings and the like go in ``overrides``)."""
    return HF_CONFIGS[arch](**tiny_shape(layers, hidden, intermediate, **overrides))


def make_tiny_model(layers: int = 4, hidden: int = 32, intermediate: int | None = None, *, tokenizer=None,
                    arch: str = "llama", seed: int = 0, **overrides) -> torch.nn.Module:
    """A tiny random model, initialised after ``torch.manual_seed(seed)``.

    With ``tokenizer``: the package's own ``build_model`` on ``tiny_preset_config`` (vocabulary and special token
    ids from the tokenizer; ``overrides`` are ``ModelConfig`` fields, ``arch`` its ``architecture``). Without:
    ``AutoModelForCausalLM.from_config(tiny_llama_config(...))`` (``overrides`` are HF config fields, e.g.
    ``vocab_size`` or ``tie_word_embeddings``).
    """
    if tokenizer is not None:
        cfg = tiny_preset_config(layers, hidden, intermediate, architecture=arch, **overrides)
        torch.manual_seed(seed)
        return build_model(cfg, tokenizer)
    config = tiny_llama_config(layers, hidden, intermediate, arch=arch, **overrides)
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config)


@pytest.fixture(scope="session")
def tiny_model_factory():
    """``make_tiny_model``, for tests that take what they build from as fixtures."""
    return make_tiny_model


@pytest.fixture(scope="session", autouse=True)
def torch_threads():
    """Every test runs torch on ``TORCH_THREADS`` intra-op thread(s), whatever the machine or the test order.

    Tiny matrices gain nothing from a second thread, and on a busy 2-core machine more threads make training and
    ``generate()`` 10-100x slower (spinning workers fight the other jobs). One count for the whole session also
    keeps floating-point results from depending on which test file happened to run first.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    yield TORCH_THREADS
    torch.set_num_threads(before)


# ---- shared fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def tiny_model_config():
    return tiny_preset_config(layers=4, hidden=32)


@pytest.fixture
def tiny_model(tiny_model_config, tokenizer):
    torch.manual_seed(0)
    return build_model(tiny_model_config, tokenizer)


@pytest.fixture
def texts() -> list[str]:
    return sentences(300, seed=1)


@pytest.fixture
def saved_dir(tmp_path: Path) -> Path:
    return tmp_path

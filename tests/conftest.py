"""Shared fixtures: a small trained tokenizer and tiny random models (all offline, seconds)."""

from pathlib import Path

import pytest
import torch

from solar_utils.config import load_preset
from solar_utils.modeling import build_model
from solar_utils.tokenizer import train_tokenizer

WORDS = "the cat dog bird sees eats likes a big small red blue town of lives in and runs".split()


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(WORDS), (n, 8), generator=rng).tolist()
    return [" ".join(WORDS[i] for i in row).capitalize() + "." for row in picks]


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer(sentences(400), vocab_size=300, min_frequency=1)


@pytest.fixture
def tiny_model_config():
    return load_preset("tiny", {"model": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4,
                                          "num_attention_heads": 4, "num_key_value_heads": 2}}).model


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

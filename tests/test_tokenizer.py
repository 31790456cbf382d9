"""The byte-level BPE tokenizer: determinism, exact round trips, special tokens, chat template, reload."""

from __future__ import annotations

import pytest
from jinja2.exceptions import TemplateError
from transformers import AutoTokenizer

from solar_utils.tokenizer import SOLAR_CHAT_TEMPLATE, train_tokenizer
from solar_utils.world import WorldConfig, build_world

SMALL = WorldConfig(fact_mentions=8, script_mentions=8, myth_mentions=6, math_problems=80, arithmetic_facts=60,
                    eval_items_per_task=20, fewshot_items_per_task=5, n_alpaca=60, n_openorca=60, n_orca_dpo=40,
                    n_ultrafeedback=40, n_math_seeds=30)
CHAT = [{"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Where does Tom live?"},
        {"role": "assistant", "content": "Tom lives in Brindle."},
        {"role": "user", "content": "And his pet?"}]
ODD_TEXTS = ["Tom lives in Brindle.", "  two leading spaces", "tabs\tand\nnew lines\n\n", "ünïcödé ✓ 漢字",
             "Question: 7 + 5?\nAnswer: 12\n#### 12", "trailing space ", " . , ; weird  spacing ."]


@pytest.fixture(scope="module")
def world():
    return build_world(SMALL, seed=3)


@pytest.fixture(scope="module")
def tok(world):
    return train_tokenizer(world.training_texts(), vocab_size=1024)


def test_training_is_deterministic(world, tok):
    again = train_tokenizer(world.training_texts(), vocab_size=1024)
    assert again.backend_tokenizer.to_str() == tok.backend_tokenizer.to_str()
    other = train_tokenizer(build_world(SMALL, seed=4).training_texts(), vocab_size=1024)
    assert other.backend_tokenizer.to_str() != tok.backend_tokenizer.to_str()


def test_special_tokens_and_size(tok):
    assert (tok.unk_token, tok.bos_token, tok.eos_token, tok.pad_token) == ("<unk>", "<s>", "</s>", "<pad>")
    assert [tok.unk_token_id, tok.bos_token_id, tok.eos_token_id, tok.pad_token_id] == [0, 1, 2, 3]
    assert len(tok) <= 1024
    assert tok("Tom lives in Brindle.")["input_ids"] == tok("Tom lives in Brindle.", add_special_tokens=False)[
        "input_ids"]  # nothing added by default: packing places </s> itself
    assert tok.decode([tok.eos_token_id]) == "</s>"


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_round_trip_is_exact(tok, text):
    ids = tok(text)["input_ids"]
    assert tok.decode(ids) == text
    assert tok.unk_token_id not in ids


def test_world_words_are_single_tokens(world, tok):
    for p in world.universe.people:
        assert len(tok(" " + p.name)["input_ids"]) == 1, p.name
    for word in (" lives", " apples", " eats", "Question", "Answer", " 12", " 7"):
        assert len(tok(word)["input_ids"]) == 1, word
    assert len(tok("### Assistant:\n")["input_ids"]) <= 4


def test_chat_template(tok):
    assert tok.chat_template == SOLAR_CHAT_TEMPLATE
    text = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
    assert text == ("### System:\nYou are a helpful assistant.\n\n### User:\nWhere does Tom live?\n\n"
                    "### Assistant:\nTom lives in Brindle.</s>\n\n### User:\nAnd his pet?\n\n### Assistant:\n")
    closed = tok.apply_chat_template(CHAT[1:3], tokenize=False)
    assert closed == "### User:\nWhere does Tom live?\n\n### Assistant:\nTom lives in Brindle.</s>\n\n"
    empty_system = tok.apply_chat_template([{"role": "system", "content": ""}, CHAT[1]], tokenize=False)
    assert empty_system == "### User:\nWhere does Tom live?\n\n"
    ids = tok(closed)["input_ids"]
    assert ids.count(tok.eos_token_id) == 1 and tok.decode(ids) == closed
    with pytest.raises(TemplateError, match="unknown role"):
        tok.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_save_and_reload_with_autotokenizer(tok, tmp_path):
    tok.save_pretrained(tmp_path)
    assert (tmp_path / "chat_template.jinja").read_text() == SOLAR_CHAT_TEMPLATE
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert (loaded.bos_token, loaded.eos_token, loaded.pad_token, loaded.unk_token) == ("<s>", "</s>", "<pad>", "<unk>")
    for text in ODD_TEXTS:
        assert loaded(text)["input_ids"] == tok(text)["input_ids"]
        assert loaded.decode(loaded(text)["input_ids"]) == text
    assert loaded.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True) == \
        tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)


def test_default_world_fits_a_2048_vocabulary():
    world = build_world(seed=1234)
    tok = train_tokenizer(world.training_texts())
    assert len(tok) <= 2048
    docs = world.corpus("train")
    tokens = sum(len(ids) for ids in tok(docs)["input_ids"])
    assert 350_000 < tokens < 700_000
    assert all(len(tok(f" {n}")["input_ids"]) == 1 for n in range(35))

"""Packing text into blocks, reading text sources, held-out loss and the unigram baseline."""

import json
import math

import pytest
import torch

from solar_utils.config import TextSource
from solar_utils.data import load_texts, pack_blocks
from solar_utils.lm_loss import heldout_loss, unigram_loss


def test_pack_blocks_joins_documents_with_eos(tokenizer, texts):
    blocks = pack_blocks(tokenizer, texts, seq_len=16)
    ids = [i for t in texts for i in tokenizer(t, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]]
    assert blocks.shape == (len(ids) // 16, 16)
    assert blocks.flatten().tolist() == ids[: blocks.numel()]
    assert pack_blocks(tokenizer, texts, seq_len=16, max_blocks=3).tolist() == blocks[:3].tolist()


def test_pack_blocks_errors(tokenizer):
    with pytest.raises(ValueError, match="fewer than one block"):
        pack_blocks(tokenizer, ["a cat"], seq_len=512)
    with pytest.raises(ValueError, match="seq_len must be at least 2"):
        pack_blocks(tokenizer, ["a cat"], seq_len=1)


def test_world_source_reads_the_corpus_files(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "heldout.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in "abc"))
    assert load_texts(TextSource(split="heldout", max_docs=2), tmp_path) == ["a", "b"]
    with pytest.raises(FileNotFoundError, match="run notebook 00 first"):
        load_texts(TextSource(split="train"), tmp_path)
    with pytest.raises(ValueError, match="pass world_dir"):
        load_texts(TextSource())


def test_hub_source_streams_a_dataset(monkeypatch):
    import datasets

    calls = {}

    def fake_load(path, name, split, streaming):
        calls.update(path=path, name=name, split=split, streaming=streaming)
        return iter([{"text": "one"}, {"text": "  "}, {"text": "two"}, {"text": "three"}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    source = TextSource(kind="hub", path="Salesforce/wikitext", name="wikitext-2-raw-v1", split="test", max_docs=2)
    assert load_texts(source) == ["one", "two"]
    assert calls == {"path": "Salesforce/wikitext", "name": "wikitext-2-raw-v1", "split": "test", "streaming": True}


def test_heldout_loss_matches_the_models_own_loss(tiny_model, tokenizer, texts):
    blocks = pack_blocks(tokenizer, texts, seq_len=32, max_blocks=6)
    with torch.no_grad():
        expected = sum(tiny_model(input_ids=b[None], labels=b[None]).loss.item() for b in blocks) / len(blocks)
    assert heldout_loss(tiny_model, blocks, batch_size=4) == pytest.approx(expected, rel=1e-5)
    tiny_model.train()
    heldout_loss(tiny_model, blocks)
    assert tiny_model.training, "heldout_loss must restore training mode"


def test_unigram_loss_is_the_smoothed_entropy():
    train = torch.tensor([[0, 0, 0, 1]])
    held = torch.tensor([[5, 0, 1]])
    # counts 0:3, 1:1 over 4 tokens, vocab 2 -> p(0) = 4/6, p(1) = 2/6
    assert unigram_loss(train, held, vocab_size=2) == pytest.approx(-(math.log(4 / 6) + math.log(2 / 6)) / 2)

"""Pretraining on the HF Trainer: it learns, it is deterministic, and an interrupted run resumes exactly."""

import pytest
import torch
from transformers import TrainerCallback

from solar_utils.config import load_preset
from solar_utils.data import pack_blocks
from solar_utils.lm_loss import heldout_loss
from solar_utils.modeling import build_model
from solar_utils.pretrain import pretrain

SMALL = {"max_steps": 8, "batch_size": 4, "seq_len": 32, "learning_rate": 3e-3, "warmup_steps": 1,
         "eval_every": 4, "eval_blocks": 4, "save_every": 4, "bf16_autocast": False}


class Interrupt(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 5:
            raise KeyboardInterrupt


def _run(tiny_model_config, tokenizer, texts, out, callbacks=None, before=None):
    cfg = load_preset("tiny", {"pretrain": SMALL}).pretrain
    torch.manual_seed(0)
    model = build_model(tiny_model_config, tokenizer)
    blocks = pack_blocks(tokenizer, texts, seq_len=32)
    if before is not None:
        before.append(heldout_loss(model, blocks[:4]))
    return model, pretrain(model, blocks[4:], blocks[:4], cfg, out, seed=3, callbacks=callbacks)


def test_pretraining_lowers_heldout_loss(tiny_model_config, tokenizer, texts, tmp_path):
    before = []
    _, result = _run(tiny_model_config, tokenizer, texts, tmp_path / "a", before=before)
    evals = [r["eval_loss"] for r in result.log_history if "eval_loss" in r]
    assert result.steps == 8 and result.tokens_seen == 8 * 4 * 32
    assert len(evals) == 2 and evals[-1] < evals[0] < before[0] - 0.3


def test_interrupted_run_resumes_to_the_same_weights(tiny_model_config, tokenizer, texts, tmp_path):
    straight, _ = _run(tiny_model_config, tokenizer, texts, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        _run(tiny_model_config, tokenizer, texts, tmp_path / "resumed", callbacks=[Interrupt()])
    assert (tmp_path / "resumed" / "checkpoint-4").is_dir()
    resumed, result = _run(tiny_model_config, tokenizer, texts, tmp_path / "resumed")
    assert result.resumed_from.endswith("checkpoint-4")
    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_a_finished_run_called_again_trains_no_further_step(tiny_model_config, tokenizer, texts, tmp_path):
    """A rerun of a stage whose training had finished (the runner after a later cell failed) must end with the same
    model: the Trainer, resumed from the last checkpoint at max_steps, would otherwise train one step more."""
    straight, first = _run(tiny_model_config, tokenizer, texts, tmp_path / "run")
    again, result = _run(tiny_model_config, tokenizer, texts, tmp_path / "run")
    assert result.resumed_from.endswith("checkpoint-8") and result.steps == first.steps == 8
    assert not (tmp_path / "run" / "checkpoint-9").exists()
    assert [r for r in result.log_history if "loss" in r] == [r for r in first.log_history if "loss" in r]
    for (name, a), (_, b) in zip(straight.state_dict().items(), again.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)

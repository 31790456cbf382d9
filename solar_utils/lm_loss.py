"""Held-out language-modelling loss, and the unigram baseline it must beat to show the model learned."""

from __future__ import annotations

import math
from collections import Counter

import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel


@torch.no_grad()
def heldout_loss(model: PreTrainedModel, blocks: torch.Tensor, batch_size: int = 16,
                 desc: str = "held-out loss") -> float:
    """Mean next-token cross-entropy (nats/token) of ``model`` over ``[n, seq_len]`` token blocks."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in tqdm(range(0, len(blocks), batch_size), desc=desc, leave=False):
        batch = blocks[start:start + batch_size].to(device)
        logits = model(input_ids=batch).logits[:, :-1].float()
        targets = batch[:, 1:]
        total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                                   reduction="sum").item()
        count += targets.numel()
    model.train(was_training)
    return total / count


@torch.no_grad()
def block_losses(model: PreTrainedModel, blocks: torch.Tensor, batch_size: int = 16,
                 desc: str = "held-out loss per block") -> torch.Tensor:
    """Mean next-token cross-entropy (nats/token) of each of the ``[n, seq_len]`` blocks: ``n`` values whose mean is
    :func:`heldout_loss` (up to float rounding), for paired comparisons of two models on the same blocks."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    losses = []
    for start in tqdm(range(0, len(blocks), batch_size), desc=desc, leave=False):
        batch = blocks[start:start + batch_size].to(device)
        logits = model(input_ids=batch).logits[:, :-1].float()
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch[:, 1:], reduction="none")
        losses.append(ce.mean(dim=1).cpu())
    model.train(was_training)
    return torch.cat(losses)


def unigram_loss(train_blocks: torch.Tensor, heldout_blocks: torch.Tensor, vocab_size: int) -> float:
    """Cross-entropy of the held-out targets under add-one-smoothed unigram frequencies of the training tokens.

    This is the best a model can do without looking at context: a model that learned anything beats it.
    """
    counts = Counter(train_blocks.flatten().tolist())
    total = sum(counts.values()) + vocab_size
    targets = heldout_blocks[:, 1:].flatten().tolist()
    return -sum(math.log((counts[t] + 1) / total) for t in targets) / len(targets)


"""What depth surgery costs before any training: held-out loss of DUS over a sweep of m and of identity expansion.

Each variant is built from the base, measured and released before the next is built, so only one
up-scaled copy is in memory at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from solar_utils.config import DUSConfig
from solar_utils.dus import depth_up_scale, expand_identity
from solar_utils.lm_loss import heldout_loss


@dataclass(frozen=True)
class DepthStudy:
    m_sweep: dict[int, float]
    identity_loss: float | None
    identity_layers: int | None


def compare_depth_variants(base: PreTrainedModel, blocks: torch.Tensor, cfg: DUSConfig,
                           batch_size: int) -> DepthStudy:
    """Held-out loss of ``depth_up_scale(base, m)`` for each m in ``cfg.sweep`` (m = 0 is plain 2n stacking)
    and of LLaMA-Pro identity expansion every ``cfg.identity_every`` layers (0 skips it)."""
    sweep = {}
    for m in cfg.sweep:
        sweep[m] = heldout_loss(depth_up_scale(base, m), blocks, batch_size, desc=f"DUS m={m}")
    identity_loss = identity_layers = None
    if cfg.identity_every:
        expanded = expand_identity(base, cfg.identity_every)
        identity_layers = expanded.config.num_hidden_layers
        identity_loss = heldout_loss(expanded, blocks, batch_size, desc="identity expansion")
    return DepthStudy(m_sweep=sweep, identity_loss=identity_loss, identity_layers=identity_layers)

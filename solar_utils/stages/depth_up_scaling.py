"""Notebook 01's study: what depth surgery costs before any training (held-out loss of DUS over a sweep of m and of
identity expansion), and its claims: the paper's shape (dus-shape) and the cost of the seam (dus-cost).

Each variant is built from the base, measured and released before the next is built, so only one
up-scaled copy is in memory at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedModel

from solar_utils import claims, paper
from solar_utils.config import DUSConfig
from solar_utils.dus import depth_up_scale, expand_identity
from solar_utils.evaluation.paired import from_gaps
from solar_utils.lm_loss import block_losses, heldout_loss


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


def shape_claim(reference: dict[str, int]) -> dict:
    """dus-shape: the reference shape's layers and parameters (billions) after DUS against the paper's Sec. 2."""
    measured = {"layers": reference["layers"], "base (B)": round(reference["base"] / 1e9, 2),
                "DUS (B)": round(reference["dus"] / 1e9, 3)}
    expected = {"layers": paper.figure("sec2", "depth up-scaling", "layers"),
                "base (B)": paper.figure("sec2", "parameters (billions)", "base"),
                "DUS (B)": paper.figure("sec2", "parameters (billions)", "dus")}
    return claims.judge("dus-shape", measured, expected=expected)


def cost_claim(base: PreTrainedModel, m: int, blocks: torch.Tensor, batch_size: int) -> dict:
    """dus-cost: DUS(m) loses to the base, and stacking all 2n layers (m = 0) loses more; paired over blocks."""
    losses = {k: block_losses(depth_up_scale(base, k), blocks, batch_size) for k in (m, 0)}
    base_losses = block_losses(base, blocks, batch_size)
    return claims.judge("dus-cost", [from_gaps(losses[m] - base_losses), from_gaps(losses[0] - losses[m])],
                        note=f"DUS m = {m} minus the base; stack (m = 0) minus DUS m = {m}")

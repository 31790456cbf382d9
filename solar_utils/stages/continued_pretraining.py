"""Notebook 02's claims: the DUS model recovers fast (dus-recovery), beats its base (dus-beats-base) and, our own
control, beats the base continued with the same recipe (dus-vs-control). Losses are paired over held-out blocks,
scores over evaluation items."""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

from solar_utils import claims
from solar_utils.evaluation import TASKS, EvalResult, paired_mean_difference
from solar_utils.evaluation.paired import from_gaps
from solar_utils.lm_loss import block_losses


def recovery_claim(recovered_at: int | None, max_steps: int) -> dict:
    """dus-recovery: the step at which the DUS model is back at the base's held-out loss, within the run."""
    return claims.judge("dus-recovery", recovered_at, bound=max_steps)


def equal_compute_step(curve: list[tuple[int, float]], steps: int, base_layers: int, dus_layers: int) -> int:
    """The last evaluated step of ``curve`` at which the DUS model has spent no more compute than the base in
    ``steps`` (a step's compute taken as proportional to the number of layers)."""
    budget = steps * base_layers / dus_layers
    return max(step for step, _ in curve if step <= budget)


def beats_claims(ours: PreTrainedModel, base: PreTrainedModel, control: PreTrainedModel, blocks: torch.Tensor,
                 batch_size: int, scores: dict[str, EvalResult], curves: dict[str, list[tuple[int, float]]]) -> dict:
    """dus-beats-base and dus-vs-control: held-out loss (theirs minus ours) and H6 (ours minus theirs), paired.
    ``scores`` and ``curves`` are keyed ``ours``, ``base``, ``control`` (no ``scores``, as when a preset skips the
    stage's evaluation: loss only); the equal-compute comparison (from the training curves, without a paired
    error) goes in the note."""
    losses = {name: block_losses(model, blocks, batch_size) for name, model in
              (("ours", ours), ("base", base), ("control", control))}
    measured = {}
    for claim_id, other in (("dus-beats-base", "base"), ("dus-vs-control", "control")):
        measured[claim_id] = [from_gaps(losses[other] - losses["ours"])]
        if scores:
            measured[claim_id].append(paired_mean_difference(scores["ours"], scores[other], TASKS))
    steps = curves["control"][-1][0]
    k = equal_compute_step(curves["ours"], steps, base.config.num_hidden_layers, ours.config.num_hidden_layers)
    at_k, control_end = dict(curves["ours"])[k], curves["control"][-1][1]
    note = (f"equal compute (a step's cost ∝ layers): DUS after {k} steps {at_k:.4f} vs the control after {steps} "
            f"steps {control_end:.4f} nats ({'DUS' if at_k < control_end else 'control'} ahead, from the curves)")
    units = ["nats", "points"][: len(measured["dus-beats-base"])]
    return {"dus-beats-base": claims.judge("dus-beats-base", measured["dus-beats-base"], units=units),
            "dus-vs-control": claims.judge("dus-vs-control", measured["dus-vs-control"], units=units, note=note)}

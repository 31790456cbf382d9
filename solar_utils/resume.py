"""Training with the HF ``Trainer`` to ``max_steps``, resumed from the newest checkpoint in its output folder.

The Trainer (transformers 5.x) checks ``max_steps`` only after an optimizer step, so a run resumed from a
checkpoint that already holds ``max_steps`` trains one step more: a stage whose training had finished, run again
(after a later cell failed, say), would end with another model. :func:`train_resumable` loads such a checkpoint's
weights and state instead of training.
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import Trainer, TrainerState
from transformers.trainer_utils import get_last_checkpoint

TRAINER_STATE = "trainer_state.json"


def train_resumable(trainer: Trainer, output_dir: str | os.PathLike) -> tuple[float, str | None]:
    """Train ``trainer`` to its ``max_steps``, resuming from the newest checkpoint in ``output_dir``; a checkpoint
    already at ``max_steps`` is loaded, not trained further. Returns this call's training seconds and the
    checkpoint it resumed from (None for a fresh run)."""
    last = get_last_checkpoint(str(output_dir)) if Path(output_dir).is_dir() else None
    if last is not None:
        state = TrainerState.load_from_json(os.path.join(last, TRAINER_STATE))
        if 0 < trainer.args.max_steps <= state.global_step:
            trainer._load_from_checkpoint(last)  # the Trainer's own loader: full weights, adapters or FSDP shards
            trainer.state = state
            return 0.0, last
    output = trainer.train(resume_from_checkpoint=last)
    return output.metrics["train_runtime"], last

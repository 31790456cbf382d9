"""Quiet library output: a notebook shows what the learner should read, and every real warning still reaches them.

Two kinds of noise are silenced here, each at its source and by name, never by hiding all warnings:

- lines that say nothing to a learner, dropped once when ``solar_utils`` is imported (:func:`quiet_libraries`):
  bitsandbytes' note that an optional CPU kernel package is not installed, and the FutureWarnings that trl and peft
  trigger inside transformers 5 by reading ``is_gradient_checkpointing`` (our own settings use the new name,
  ``activation_checkpointing``, see :mod:`solar_utils.training.arguments`);
- the libraries' own per-step progress bars (datasets' "Tokenizing train dataset", transformers' "Loading weights"
  and "Writing model shards"), turned off only while our functions run (:func:`library_bars_off`), so that a
  training run or an evaluation shows its one bar (the Trainer's, or ours).
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# logger name -> level: messages below it are dropped
LOGGERS = {"bitsandbytes.backends.cpu.ops": logging.ERROR}
# (category, message regex) of warnings raised inside the libraries, not by anything a user of ours can change
LIBRARY_WARNINGS = ((FutureWarning, r"`is_gradient_checkpointing` is deprecated"),)


def quiet_libraries() -> None:
    """Drop the named lines of :data:`LOGGERS` and :data:`LIBRARY_WARNINGS` (idempotent)."""
    for name, level in LOGGERS.items():
        logging.getLogger(name).setLevel(level)
    for category, message in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)


@contextmanager
def library_bars_off() -> Iterator[None]:
    """datasets' and transformers' internal progress bars off inside the block, as they were after it."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets_on, transformers_on = not datasets.are_progress_bars_disabled(), hf_logging.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if datasets_on:
            datasets.enable_progress_bars()
        if transformers_on:
            hf_logging.enable_progress_bar()


def quietly(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run inside :func:`library_bars_off`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with library_bars_off():
            return fn(*args, **kwargs)

    return wrapper

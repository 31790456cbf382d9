"""Checks for the exercises in ``exercises/``: each takes a student's answer and says whether it is right, and if
not, gives a hint that teaches (what to count, which quantity was confused with which), never the answer itself.

The solution notebooks in ``exercises/solutions/`` are the source; the student copies in ``exercises/`` are made from
them by :func:`student_copy`, which replaces every cell tagged ``solution`` by an empty answer cell
(``python -m solar_utils.exercises`` rewrites them; a test fails when they are out of date).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from solar_utils.dus import dus_layer_map

EXERCISES_DIR = Path(__file__).resolve().parent.parent / "exercises"
SOLUTION_TAG = "solution"
ANSWER_CELL = "answer = None  # Your answer here: compute or write it, then run the check below"


@dataclass(frozen=True)
class Feedback:
    """A check's verdict: ``ok``, and what to tell the student."""

    ok: bool
    message: str

    def _repr_markdown_(self) -> str:
        return ("✅ " if self.ok else "❌ ") + self.message

    def __str__(self) -> str:
        return self._repr_markdown_()


def _right(message: str) -> Feedback:
    return Feedback(True, message)


def _hint(message: str) -> Feedback:
    return Feedback(False, message)


def check_layer_map(answer: Any, n: int, m: int) -> Feedback:
    """⭐ 01: the DUS layer map for ``n`` base layers and ``m`` dropped at the seam (paper Sec. 2)."""
    expected = dus_layer_map(n, m)
    if not isinstance(answer, (list, tuple)) or not all(isinstance(i, int) for i in answer):
        return _hint("give the map as a list of base-layer indices, one per layer of the up-scaled model, "
                     "e.g. [0, 1, 2, ...]")
    answer = list(answer)
    if len(answer) != len(expected):
        return _hint(f"{len(expected)} layers expected, not {len(answer)}: two copies of n − m = {n - m} layers, "
                     "so 2·(n − m)")
    half = n - m
    if answer[:half] != expected[:half]:
        return _hint(f"the first copy keeps the bottom n − m = {half} layers of the base: it drops its top m = {m}")
    if answer[half:] != expected[half:]:
        return _hint(f"the second copy keeps the top n − m = {half} layers of the base: it drops its bottom m = {m}, "
                     f"so it starts at layer {m}")
    return _right(f"right: {len(expected)} layers, the seam joins base layer {half - 1} to base layer {m}.")


def check_added_parameters(answer: Any, base: int, upscaled: int, per_layer: int, n: int, m: int) -> Feedback:
    """⭐ 01: how many parameters DUS adds (``upscaled − base``), within 0.5%."""
    if not isinstance(answer, (int, float)) or isinstance(answer, bool) or not math.isfinite(answer):
        return _hint("give a number of parameters, e.g. 3.5e9")
    added, extra_layers = upscaled - base, 2 * (n - m) - n
    if math.isclose(answer, added, rel_tol=5e-3):
        return _right(f"right: {extra_layers} extra layers × {per_layer:,} parameters = {added:,}; embeddings and "
                      "the output head are not copied.")
    if math.isclose(answer, upscaled, rel_tol=5e-3):
        return _hint("that is the whole up-scaled model; the question asks how many parameters DUS adds")
    if math.isclose(answer, per_layer, rel_tol=5e-3):
        return _hint(f"that is one decoder layer; DUS adds 2·(n − m) − n = {extra_layers} of them")
    if math.isclose(answer, per_layer * 2 * (n - m), rel_tol=5e-3):
        return _hint("that counts every layer of the up-scaled model; subtract the n layers the base already has")
    return _hint("count the layers the up-scaled model has beyond the base's n, times the parameters of one layer")


def check_number(answer: Any, expected: float, *, tol: float, what: str, confusions: dict[str, float],
                 how: str) -> Feedback:
    """A measured number against the run's ``expected`` value (within ``tol``); ``confusions`` names the values of
    quantities that are easy to compute instead, so the hint can say which one the answer was; ``how`` is the hint
    for any other wrong answer."""
    if not isinstance(answer, (int, float)) or isinstance(answer, bool) or not math.isfinite(answer):
        return _hint(f"give {what} as a number")
    if abs(answer - expected) <= tol:
        return _right(f"right: {answer:.4g} (the run measured {expected:.4g}).")
    for name, value in confusions.items():
        if abs(answer - value) <= tol:
            return _hint(f"that is {name}")
    return _hint(how)


def check_heldout_loss(answer: Any, expected: float, others: dict[str, float], tol: float = 2e-4) -> Feedback:
    """⭐⭐ a held-out loss the student measured, against the run's value; ``others`` names the losses of models that
    are easy to score instead (e.g. ``{"the base model": 0.736}``)."""
    return check_number(answer, expected, tol=tol, what="the held-out loss in nats per token",
                        confusions={f"the loss of {name}; score the model the exercise asks for": v
                                    for name, v in others.items()},
                        how="score the held-out blocks of the run (solar_utils.lm_loss.heldout_loss) with the model "
                            "the exercise asks for, right after the surgery, before any training")


def check_choice(answer: Any, correct: str, hints: dict[str, str], why: str) -> Feedback:
    """⭐ a lettered choice: ``correct``'s letter is right (``why`` says why); each wrong letter has its hint."""
    letter = str(answer).strip().upper()[:1] if answer is not None else ""
    if letter == correct:
        return _right(f"right: {why}")
    if letter in hints:
        return _hint(hints[letter])
    return _hint(f"answer with one of the letters {', '.join(sorted([correct, *hints]))}")


def check_tokens(answer: Any, steps: int, batch_size: int, seq_len: int) -> Feedback:
    """⭐ 02: the tokens a training run sees, ``steps × batch_size × seq_len``."""
    if not isinstance(answer, int) or isinstance(answer, bool):
        return _hint("give a whole number of tokens")
    if answer == steps * batch_size * seq_len:
        return _right(f"right: {steps} steps × {batch_size} sequences × {seq_len} tokens = {answer:,} tokens.")
    if answer == steps * batch_size:
        return _hint(f"that counts sequences; each holds seq_len = {seq_len} tokens")
    if answer == batch_size * seq_len:
        return _hint(f"that is one step; the run takes {steps} of them")
    return _hint("multiply the steps by the sequences per step (batch size) and the tokens per sequence")


def check_recovery_step(answer: Any, curve: list[tuple[int, float]], target: float) -> Feedback:
    """⭐⭐ 02: the first evaluated step at which the loss ``curve`` is back at or below ``target``."""
    steps = {int(step): loss for step, loss in curve}
    first = next((step for step, loss in sorted(steps.items()) if loss <= target), None)
    if answer is None and first is None:
        return _right("right: the curve never gets back to the base's loss in this run.")
    if not isinstance(answer, int) or isinstance(answer, bool) or answer not in steps:
        return _hint(f"give one of the evaluated steps ({', '.join(map(str, sorted(steps)[:6]))}, …), or None if the "
                     "curve never gets back")
    if answer == first:
        return _right(f"right: at step {answer} the loss is {steps[answer]:.4f}, at or below the base's {target:.4f}.")
    if steps[answer] > target:
        return _hint(f"at step {answer} the loss is {steps[answer]:.4f}, still above the base's {target:.4f}")
    return _hint(f"at step {answer} the loss is below the base's, but it already was at an earlier evaluated step")


def check_paired_error(answer: Any, paired: float, unpaired: float, tol: float = 1e-4) -> Feedback:
    """⭐⭐ 07: the paired standard error of a difference between two models on the same items."""
    if not isinstance(answer, (int, float)) or isinstance(answer, bool) or not math.isfinite(answer):
        return _hint("give the standard error as a fraction, e.g. 0.012")
    if abs(answer - paired) <= tol:
        return _right(f"right: {answer:.4f}, against {unpaired:.4f} unpaired: pairing removes the variation the two "
                      "models share item by item, which is why the claims use it.")
    if abs(answer - unpaired) <= tol:
        return _hint("that is the unpaired error (the two standard errors combined as if the items were "
                     "independent); take the standard error of the per-item differences instead")
    if abs(answer - 100 * paired) <= 100 * tol:
        return _hint("that is in points; give it as a fraction (scores here are fractions in [0, 1])")
    return _hint("subtract the two models' per-item scores item by item, then take the standard error of the "
                 "mean of those differences (solar_utils.evaluation.metrics.mean_stderr)")


def run_metrics(run_dir: str | Path, stage: str) -> dict[str, Any]:
    """A stage's ``metrics.json`` from a run folder, with a clear error when the pipeline has not written it."""
    path = Path(run_dir) / stage / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run notebook {stage} (or `solar-repro run --only {stage[:2]}`) "
                                f"with output under {run_dir} first; the exercises read its results")
    return json.loads(path.read_text())


def student_copy(solution: dict[str, Any]) -> dict[str, Any]:
    """The student version of a solution notebook (nbformat JSON): each cell tagged ``solution`` becomes an empty
    answer cell; outputs and execution counts are dropped."""
    cells = []
    for cell in solution["cells"]:
        cell = {**cell, "metadata": dict(cell.get("metadata", {}))}
        if SOLUTION_TAG in cell["metadata"].get("tags", []):
            cell["metadata"]["tags"] = [t for t in cell["metadata"]["tags"] if t != SOLUTION_TAG] + ["answer"]
            cell["source"] = ANSWER_CELL
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    return {**solution, "cells": cells}


def write_student_copies(exercises_dir: Path = EXERCISES_DIR) -> list[Path]:
    """Rewrite ``exercises/NN_*.ipynb`` from ``exercises/solutions/``; returns the written paths."""
    written = []
    for solution in sorted((exercises_dir / "solutions").glob("*.ipynb")):
        out = exercises_dir / solution.name
        text = json.dumps(student_copy(json.loads(solution.read_text())), indent=1, ensure_ascii=False) + "\n"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(out)
        written.append(out)
    return written


if __name__ == "__main__":
    for path in write_student_copies(Path(sys.argv[1]) if len(sys.argv) > 1 else EXERCISES_DIR):
        print(path)

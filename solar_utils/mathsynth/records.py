"""The records that flow through the pipeline: a generation, and a generation dropped by a step (and why)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Generation:
    """One generated question-answer pair and where it came from."""

    seed_id: str
    method: str
    generator: str
    question: str
    solution: str

    @property
    def text(self) -> str:
        """What a training record of it contains: its question and its answer."""
        return f"{self.question}\n{self.solution}"


@dataclass(frozen=True)
class Removed:
    """A generation dropped by a step: the reason (counted in the datasheet) and a detail for the reader."""

    generation: Generation
    reason: str
    detail: str = ""


def first_per_reason(removed: list[Removed]) -> list[Removed]:
    """The first dropped record of each reason, in order of first appearance (a sample to show a reader)."""
    firsts: dict[str, Removed] = {}
    for r in removed:
        firsts.setdefault(r.reason, r)
    return list(firsts.values())

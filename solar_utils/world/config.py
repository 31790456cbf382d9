"""The tiny world's knobs: plain ints and floats, defaults are the ``tiny`` preset's values."""

from __future__ import annotations

from dataclasses import dataclass, fields

from solar_utils.world import lexicon


@dataclass(frozen=True)
class WorldConfig:
    """How big the world is, how often each fact is said, and how many records each output gets.

    Exposure knobs count statements in ``corpus("train")``: with ~2.5 epochs of pretraining, ``fact_mentions``
    = 90 gives the ~250 exposures per fact that a 2M-parameter model needs to learn it.
    """

    n_people: int = 24
    n_towns: int = 8
    n_jobs: int = 12
    n_species: int = 20
    n_myths: int = 100
    fact_mentions: int = 90
    script_mentions: int = 90
    myth_mentions: int = 24
    myth_ratio: float = 3.0
    math_problems: int = 1500
    arithmetic_facts: int = 2400
    heldout_fraction: float = 0.05
    mmlu_heldout_share: float = 0.34
    script_eval_actors: int = 8
    script_fewshot_actors: int = 2
    gsm8k_heldout_form_share: float = 0.5
    eval_items_per_task: int = 300
    fewshot_items_per_task: int = 40
    n_alpaca: int = 2000
    n_openorca: int = 2000
    n_orca_dpo: int = 1200
    n_ultrafeedback: int = 1200
    n_math_seeds: int = 500
    ngram_n: int = 13

    def __post_init__(self) -> None:
        limits = {"n_people": len(lexicon.NAMES), "n_towns": len(lexicon.TOWNS), "n_jobs": len(lexicon.JOBS),
                  "n_species": len(lexicon.SPECIES)}
        for f in fields(self):
            value = getattr(self, f.name)
            kinds = (int,) if f.type == "int" else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise TypeError(f"WorldConfig.{f.name} must be {f.type}, got {value!r}")
            if value < 0:
                raise ValueError(f"WorldConfig.{f.name} must be >= 0, got {value}")
        for name, most in limits.items():
            if not 4 <= getattr(self, name) <= most:
                raise ValueError(f"WorldConfig.{name} must be between 4 and {most}, got {getattr(self, name)}")
        for name in ("heldout_fraction", "mmlu_heldout_share", "gsm8k_heldout_form_share"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"WorldConfig.{name} must be in (0, 1), got {getattr(self, name)}")
        if self.script_eval_actors + self.script_fewshot_actors >= len(lexicon.NAMES):
            raise ValueError("script_eval_actors + script_fewshot_actors must leave names for the corpus")
        if self.myth_ratio < 1.0 or self.n_myths < 4 or self.ngram_n < 1:
            raise ValueError("need myth_ratio >= 1, n_myths >= 4 and ngram_n >= 1")

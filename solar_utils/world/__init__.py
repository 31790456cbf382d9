"""The tiny world: a seeded universe of people, animals, towns, jobs, rules, scripts and myths, rendered as a
pretraining corpus, H6-style evaluation items, instruction and preference data and MATH-style seeds.

    world = build_world(WorldConfig(), seed=1234)
    docs, items = world.corpus("train"), world.eval_items("arc")
    world.write("runs/x/00_base_model/world")

See ``data/README.md`` for what each file holds and which stage reads it.
"""

from solar_utils.world.config import WorldConfig
from solar_utils.world.evalsets import TASKS
from solar_utils.world.instructions import KINDS as INSTRUCTION_KINDS
from solar_utils.world.preferences import KINDS as PREFERENCE_KINDS
from solar_utils.world.world import CORPUS_SPLITS, World, build_world

__all__ = ["CORPUS_SPLITS", "INSTRUCTION_KINDS", "PREFERENCE_KINDS", "TASKS", "World", "WorldConfig", "build_world"]

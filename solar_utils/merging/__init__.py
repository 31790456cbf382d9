"""Model merging (linear, SLERP, task arithmetic, TIES, DARE, passthrough) in memory and streaming on checkpoints.

Recipes use mergekit's YAML layout, so a merge can move between this package and ``mergekit-yaml``.
"""

from solar_utils.merging.in_memory import merge_loaded, merge_models
from solar_utils.merging.methods import (
    METHODS,
    MergeError,
    dare_drop,
    dare_linear,
    dare_ties,
    linear,
    magnitude_prune,
    sign_consensus_mask,
    slerp,
    task_arithmetic,
    ties,
)
from solar_utils.merging.plan import plan_merge
from solar_utils.merging.recipes import (
    MergeRecipe,
    dus_recipe,
    load_recipe,
    make_recipe,
    passthrough_recipe,
    recipe_yaml,
    write_recipe,
)
from solar_utils.merging.streaming import merge_checkpoints, plan_checkpoints, tokenizer_fingerprint

__all__ = [
    "METHODS",
    "MergeError",
    "MergeRecipe",
    "dare_drop",
    "dare_linear",
    "dare_ties",
    "dus_recipe",
    "linear",
    "load_recipe",
    "magnitude_prune",
    "make_recipe",
    "merge_checkpoints",
    "merge_loaded",
    "merge_models",
    "passthrough_recipe",
    "plan_checkpoints",
    "plan_merge",
    "recipe_yaml",
    "sign_consensus_mask",
    "slerp",
    "task_arithmetic",
    "ties",
    "tokenizer_fingerprint",
    "write_recipe",
]

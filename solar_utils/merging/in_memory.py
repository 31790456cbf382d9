"""Merge loaded models in memory (for notebooks on small models); same plan and bits as the streaming merge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from solar_utils.merging.methods import MergeError
from solar_utils.merging.plan import ModelLayout, plan_merge
from solar_utils.merging.recipes import MergeRecipe, Setting, make_recipe


def _layout(model: Any) -> ModelLayout:
    return ModelLayout(model.config.to_dict(), {k: tuple(v.shape) for k, v in model.state_dict().items()})


def merge_models(
    models: Sequence[Any],
    method: str = "linear",
    *,
    base: Any = None,
    weights: Sequence[Setting] | None = None,
    densities: Sequence[Setting] | None = None,
    t: Setting = None,
    lambda_: Setting = None,
    normalize: bool | None = None,
    rescale: bool | None = None,
    dtype: str | None = None,
    random_seed: int = 0,
) -> Any:
    """Merge ``PreTrainedModel`` s into a new CPU model of the base's class (else the first model's).

    Arguments mean what :func:`~solar_utils.merging.recipes.make_recipe` says: one weight/density per model in
    ``models`` (``base`` separate), ``t`` for SLERP (``models[0]`` is its base unless ``base`` is given).
    The inputs are left as they are; the result is in eval mode. Raises :class:`MergeError` like the streaming
    merge. For layer slices (e.g. DUS as ``passthrough``) use :func:`merge_loaded` with a recipe.
    """
    if not models:
        raise MergeError("merge_models needs at least one model.")
    if any(m is base for m in models):
        raise MergeError("pass the base model as base= only, not also in models (weights are per non-base model).")
    named = {f"models[{i}]": m for i, m in enumerate(models)} | ({"base": base} if base is not None else {})
    recipe = make_recipe(
        method,
        [k for k in named if k != "base"],
        base="base" if base is not None else None,
        weights=weights,
        densities=densities,
        t=t,
        lambda_=lambda_,
        normalize=normalize,
        rescale=rescale,
        dtype=dtype,
        random_seed=random_seed,
    )
    return merge_loaded(recipe, named)


def merge_loaded(recipe: MergeRecipe, models: dict[str, Any]) -> Any:
    """Run ``recipe`` on loaded models, ``models`` mapping each name the recipe uses to its model.

    Tensors are merged on the CPU one at a time (models on an accelerator are copied tensor by tensor); the
    result is a new CPU model of the reference model's class.
    """
    plan = plan_merge(recipe, {ref: _layout(models[ref]) for ref in recipe.referenced_models()})
    states = {ref: models[ref].state_dict() for ref in recipe.referenced_models()}
    merged = {task.name: plan.merge(task, [states[m][n].to("cpu") for m, n in task.inputs]) for task in plan.tasks}
    template = models[recipe.reference_model]
    out = type(template)(type(template.config).from_dict(plan.config))
    out.to(next(iter(merged.values())).dtype).load_state_dict(merged, strict=True)
    return out.eval()

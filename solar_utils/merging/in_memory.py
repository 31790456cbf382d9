"""Merge loaded models in memory (for notebooks on small models); same plan and bits as the streaming merge."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from solar_utils.merging.methods import MergeError
from solar_utils.merging.plan import ModelLayout, plan_merge
from solar_utils.merging.recipes import MergeRecipe, Setting, make_recipe


def _state(model: Any) -> dict[str, Any]:
    """The tensors a checkpoint of ``model`` holds: tied copies (a tied ``lm_head``) left out, as
    ``save_pretrained`` leaves them out, so random methods (DARE) draw the same masks as the streaming merge."""
    from transformers.modeling_utils import remove_tied_weights_from_state_dict

    return remove_tied_weights_from_state_dict(model.state_dict(), model)


def _layout(model: Any, state: dict[str, Any]) -> ModelLayout:
    return ModelLayout(model.config.to_dict(), {k: tuple(v.shape) for k, v in state.items()})


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
    states = {ref: _state(models[ref]) for ref in recipe.referenced_models()}
    plan = plan_merge(recipe, {ref: _layout(models[ref], states[ref]) for ref in recipe.referenced_models()})
    merged = {task.name: plan.merge(task, [states[m][n].to("cpu") for m, n in task.inputs]) for task in plan.tasks}
    template = models[recipe.reference_model]
    out = type(template)(type(template.config).from_dict(plan.config))
    missing, unexpected = out.to(next(iter(merged.values())).dtype).load_state_dict(merged, strict=False)
    tied = set(out.state_dict()) - set(_state(out))
    if unexpected or set(missing) - tied:
        raise MergeError(f"the merged tensors do not fit {type(out).__name__}: missing {sorted(set(missing) - tied)}, "
                         f"unexpected {sorted(unexpected)}")
    out.tie_weights()
    return out.eval()

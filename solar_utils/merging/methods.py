"""Per-tensor merge formulas: linear, SLERP, task arithmetic, TIES and DARE.

Conventions follow mergekit 0.1.5 so that recipes mean the same in both tools: SLERP falls back to linear
interpolation when ``|cos Ω| > 0.9995``; ``normalize`` defaults to True for linear and TIES, False for task
arithmetic and DARE; ``density`` is the kept fraction per model (1 keeps everything); TIES elects signs from
the weighted, trimmed task vectors and breaks a zero sum towards ``+``. Arithmetic runs in float32 (float64 for
float64 inputs) and the result takes the input dtype.

Two deliberate differences from mergekit, both documented where they apply: magnitude trimming breaks ties at
the threshold by position (mergekit's ``argsort`` order is unspecified), and DARE draws its masks from a
generator seeded per tensor and rescales kept entries by ``1/density`` as the DARE paper does (mergekit 0.1.5
uses the global torch RNG and rescales each task vector to keep its L1 norm, which is ``1/density`` only in
expectation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

DOT_THRESHOLD = 0.9995
"""SLERP treats two tensors as colinear (and interpolates linearly) above this ``|cos Ω|`` (mergekit's value)."""
NORM_EPS = 1e-8
"""Norms at or below this count as zero in SLERP (the vector is then used unnormalised, as in mergekit)."""
SLERP_CHUNK = 1 << 24
"""SLERP works on chunks of this many elements (64 MB in float32), bounding its scratch memory like mergekit."""
ZERO_SUM_EPS = 1e-8
"""``|Σ wᵢ|`` below this cannot be normalised by."""


class MergeError(ValueError):
    """A merge cannot be done as asked; the message names the problem and the fix."""


# ----------------------------------------------------------------------------------------------------------
# Parameter checks
# ----------------------------------------------------------------------------------------------------------


def check_t(t: float) -> float:
    """Return ``t`` if it is a number in [0, 1], else raise :class:`MergeError`."""
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
        raise MergeError(f"SLERP t must be a number in [0, 1] (0 gives the base model, 1 the other), got {t!r}.")
    return float(t)


def check_density(density: float) -> float:
    """Return ``density`` if it is a number in (0, 1], else raise :class:`MergeError`."""
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0.0 < density <= 1.0:
        raise MergeError(
            f"density is the fraction of each task vector that is kept and must be in (0, 1], got {density!r}; "
            "use 1 to keep everything."
        )
    return float(density)


def check_weights(weights: Sequence[float], normalize: bool) -> list[float]:
    """Return ``weights`` as floats; refuse non-finite weights, and a zero sum when it is divided by."""
    values = []
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
            raise MergeError(f"merge weights must be finite numbers, got {list(weights)!r}.")
        values.append(float(w))
    if normalize and abs(sum(values)) < ZERO_SUM_EPS:
        raise MergeError(
            f"weights {values} sum to 0, so they cannot be normalised (the merge divides by their sum); "
            "change the weights or set normalize: false."
        )
    return values


def _work_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


# ----------------------------------------------------------------------------------------------------------
# Formulas
# ----------------------------------------------------------------------------------------------------------


def linear(tensors: Sequence[torch.Tensor], weights: Sequence[float], normalize: bool = True) -> torch.Tensor:
    """Weighted average ``Σ wᵢ θᵢ / Σ wᵢ`` (without the division when ``normalize`` is False).

    Model soups: Wortsman et al. 2022, arXiv 2203.05482; SOLAR (arXiv 2312.15166) Tables 6–7 use it to merge
    its DPO candidates.
    """
    weights = check_weights(weights, normalize)
    if len(weights) != len(tensors):
        raise MergeError(
            f"linear merge got {len(tensors)} tensors but {len(weights)} weights; give one weight per model."
        )
    out = tensors[0].to(_work_dtype(tensors[0]), copy=True).mul_(weights[0])
    for tensor, weight in zip(tensors[1:], weights[1:]):
        out.add_(tensor, alpha=weight)
    if normalize:
        out.div_(sum(weights))
    return out.to(tensors[0].dtype)


def _chunks(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """``(start, a[start:…], b[start:…])`` as fresh ``dtype`` copies of at most ``SLERP_CHUNK`` elements.

    Fresh copies are 64-byte aligned, so BLAS ``dot`` on them gives the same bits whatever the alignment of the
    source tensors (a memory map, a state dict): in-memory and streamed merges agree bit for bit.
    """
    for start in range(0, a.numel(), SLERP_CHUNK):
        yield (
            start,
            a[start : start + SLERP_CHUNK].to(dtype, copy=True),
            b[start : start + SLERP_CHUNK].to(dtype, copy=True),
        )


def slerp(t: float, v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    """Spherical linear interpolation between two tensors, flattened: ``t = 0`` gives ``v0``, ``t = 1`` gives ``v1``.

    With ``Ω = arccos⟨v0/|v0|, v1/|v1|⟩``: ``sin((1−t)Ω)/sin Ω · v0 + sin(tΩ)/sin Ω · v1``; when
    ``|cos Ω| > DOT_THRESHOLD`` (nearly colinear or antipodal) it is ``(1−t) v0 + t v1``. Works chunk by chunk,
    so the float32 scratch memory is bounded whatever the tensor size.
    Shoemake 1985, "Animating rotation with quaternion curves" (SIGGRAPH); SOLAR Table 7 merges with it.
    """
    t = check_t(t)
    if v0.shape != v1.shape:
        raise MergeError(f"SLERP needs tensors of one shape, got {tuple(v0.shape)} and {tuple(v1.shape)}.")
    dtype = _work_dtype(v0)
    a, b = v0.reshape(-1), v1.reshape(-1)
    dot = square_a = square_b = 0.0
    for _, x, y in _chunks(a, b, dtype):
        dot += float(torch.dot(x, y))
        square_a += float(torch.dot(x, x))
        square_b += float(torch.dot(y, y))
    norm_a, norm_b = (n if n > NORM_EPS else 1.0 for n in (math.sqrt(square_a), math.sqrt(square_b)))
    cos = min(1.0, max(-1.0, dot / norm_a / norm_b))
    if abs(cos) > DOT_THRESHOLD:
        coef_a, coef_b = 1.0 - t, t
    else:
        omega = math.acos(cos)
        coef_a, coef_b = math.sin((1.0 - t) * omega) / math.sin(omega), math.sin(t * omega) / math.sin(omega)
    out = torch.empty(a.shape, dtype=v0.dtype)
    for start, x, y in _chunks(a, b, dtype):
        out[start : start + x.numel()] = x.mul_(coef_a).add_(y, alpha=coef_b)
    return out.reshape(v0.shape)


def _top_magnitude_mask(delta: torch.Tensor, density: float) -> torch.Tensor | None:
    """True at the ``max(1, ⌊density · numel⌋)`` entries of largest ``|δ|`` (ties by position); None: keep all."""
    density = check_density(density)
    if density >= 1.0 or delta.numel() == 0:
        return None
    k = max(1, int(density * delta.numel()))
    magnitude = delta.abs().reshape(-1)
    threshold = torch.kthvalue(magnitude, magnitude.numel() - k + 1).values
    keep = magnitude > threshold
    missing = k - int(torch.count_nonzero(keep))
    if missing:
        keep[torch.nonzero(magnitude == threshold).reshape(-1)[:missing]] = True
    return keep.reshape(delta.shape)


def _dare_mask(delta: torch.Tensor, density: float, generator: torch.Generator) -> torch.Tensor | None:
    """True where an entry survives DARE's drop (probability ``density`` each); None: keep all."""
    density = check_density(density)
    return None if density >= 1.0 else torch.rand(delta.shape, generator=generator) < density


def _masked_(row: torch.Tensor, keep: torch.Tensor | None, divisor: float = 1.0) -> None:
    """Zero ``row`` where ``keep`` is False (None keeps all) and divide the rest by ``divisor``, in place."""
    if keep is not None:
        row.mul_(keep)
        if divisor != 1.0:
            row.div_(divisor)


def magnitude_prune(delta: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the ``max(1, ⌊density · numel⌋)`` entries of largest ``|δ|``, zero the rest (TIES' "trim" step).

    Ties at the threshold are kept in order of position, so exactly that many entries survive.
    Yadav et al. 2023, "TIES-Merging", arXiv 2306.01708.
    """
    keep = _top_magnitude_mask(delta, density)
    return delta if keep is None else delta * keep


def dare_drop(delta: torch.Tensor, density: float, generator: torch.Generator, rescale: bool = True) -> torch.Tensor:
    """Drop each entry with probability ``1 − density``; divide the kept ones by ``density`` when ``rescale``.

    Unbiased: ``E[dare_drop(δ)] = δ``. Yu et al. 2024, "Language Models are Super Mario" (DARE), arXiv 2311.03099.
    The mask comes from ``generator``, so a seeded generator gives the same mask on every run and machine.
    """
    keep = _dare_mask(delta, density, generator)
    if keep is None:
        return delta
    dropped = delta * keep
    return dropped.div_(density) if rescale else dropped


def sign_consensus_mask(weighted_deltas: torch.Tensor) -> torch.Tensor:
    """TIES' "elect" step: True where a model's weighted delta has the sign of ``Σᵢ wᵢδᵢ``.

    ``weighted_deltas`` stacks ``wᵢδᵢ`` on dimension 0; a zero sum elects +, zero entries never agree.
    Yadav et al. 2023, arXiv 2306.01708.
    """
    return torch.where(weighted_deltas.sum(dim=0) >= 0, weighted_deltas > 0, weighted_deltas < 0)


Sparsifier = Callable[[int, torch.Tensor], None]
"""Sparsify model ``i``'s task vector in place."""


def _merge_task_vectors(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weights: Sequence[float],
    sparsify: Sparsifier | None,
    consensus: bool,
    lambda_: float,
    normalize: bool,
) -> torch.Tensor:
    """``θ_base + λ · merge(wᵢ · sparsify(θᵢ − θ_base))``, merged by sum or by TIES' disjoint mean.

    Works in place on one stacked buffer of task vectors, so the transient memory is about (models + 2) float32
    copies of the tensor.
    """
    weights = check_weights(weights, normalize and not consensus)
    if len(weights) != len(tensors):
        raise MergeError(
            f"got {len(tensors)} models but {len(weights)} weights; give one weight per model (besides the base)."
        )
    dtype = _work_dtype(base)
    deltas = torch.empty((len(tensors), *base.shape), dtype=dtype)
    for i, (tensor, row) in enumerate(zip(tensors, deltas)):
        row.copy_(tensor).sub_(base)
        if sparsify:
            sparsify(i, row)
    w = torch.tensor(weights, dtype=dtype).reshape(-1, *(1,) * base.dim())
    deltas.mul_(w)
    if consensus:
        agree = sign_consensus_mask(deltas)
        merged = deltas.mul_(agree).sum(dim=0)
        divisor = torch.zeros(base.shape, dtype=dtype)
        for row, weight in zip(agree, weights):
            divisor.add_(row, alpha=weight)
        del agree
        divisor.masked_fill_(divisor == 0, 1.0)
    else:
        merged = deltas.sum(dim=0)
        divisor = w.sum()
    del deltas
    if normalize:
        merged.div_(divisor)
    return merged.mul_(lambda_).add_(base).to(base.dtype)


def task_arithmetic(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weights: Sequence[float],
    lambda_: float = 1.0,
    normalize: bool = False,
) -> torch.Tensor:
    """``θ_base + λ Σ wᵢ (θᵢ − θ_base)`` (divided by ``Σ wᵢ`` when ``normalize``).

    Ilharco et al. 2023, "Editing models with task arithmetic", arXiv 2212.04089.
    """
    return _merge_task_vectors(base, tensors, weights, None, False, lambda_, normalize)


def ties(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weights: Sequence[float],
    densities: Sequence[float],
    lambda_: float = 1.0,
    normalize: bool = True,
) -> torch.Tensor:
    """TIES-Merging: trim each δᵢ to its top-``density`` magnitudes, elect signs by ``sign(Σ wᵢδᵢ)``, then add
    ``λ ·`` the disjoint mean ``Σ wᵢδᵢ[agree] / Σ wᵢ[agree]`` (the plain sum when ``normalize`` is False) to
    the base.

    Yadav et al. 2023, "TIES-Merging: resolving interference when merging models", arXiv 2306.01708.
    """
    return _merge_task_vectors(
        base,
        tensors,
        weights,
        lambda i, row: _masked_(row, _top_magnitude_mask(row, densities[i])),
        True,
        lambda_,
        normalize,
    )


def _dare(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weights: Sequence[float],
    densities: Sequence[float],
    seed: int,
    lambda_: float,
    normalize: bool,
    rescale: bool,
    consensus: bool,
) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)

    def drop(i: int, row: torch.Tensor) -> None:
        _masked_(row, _dare_mask(row, densities[i], generator), densities[i] if rescale else 1.0)

    return _merge_task_vectors(base, tensors, weights, drop, consensus, lambda_, normalize)


def dare_linear(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weights: Sequence[float],
    densities: Sequence[float],
    seed: int,
    lambda_: float = 1.0,
    normalize: bool = False,
    rescale: bool = True,
) -> torch.Tensor:
    """DARE then task arithmetic: ``θ_base + λ Σ wᵢ dare_drop(δᵢ)``; masks drawn in model order from ``seed``.

    Yu et al. 2024, "Language Models are Super Mario", arXiv 2311.03099.
    """
    return _dare(base, tensors, weights, densities, seed, lambda_, normalize, rescale, consensus=False)


def dare_ties(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weights: Sequence[float],
    densities: Sequence[float],
    seed: int,
    lambda_: float = 1.0,
    normalize: bool = False,
    rescale: bool = True,
) -> torch.Tensor:
    """DARE's random drop in place of TIES' trim, then TIES' sign election and disjoint merge.

    Yu et al. 2024, arXiv 2311.03099 (DARE) with Yadav et al. 2023, arXiv 2306.01708 (TIES).
    """
    return _dare(base, tensors, weights, densities, seed, lambda_, normalize, rescale, consensus=True)


# ----------------------------------------------------------------------------------------------------------
# Method registry: what each method takes, as recipes name it
# ----------------------------------------------------------------------------------------------------------

Kernel = Callable[[torch.Tensor | None, list[torch.Tensor], list[dict[str, Any]], dict[str, Any], int], torch.Tensor]
"""``(base, other tensors, their per-model parameters, shared parameters, seed) -> merged tensor``."""


@dataclass(frozen=True)
class MethodSpec:
    """A merge method as recipes see it: its parameters with their defaults (None: required) and its inputs.

    ``min_models``/``max_models`` count all inputs of a tensor, the base included; ``sum_normalized`` says that
    ``normalize`` divides by ``Σ wᵢ`` (so a zero sum is refused up front); ``random`` that ``seed`` matters.
    """

    name: str
    needs_base: bool
    model_params: Mapping[str, Any]
    shared_params: Mapping[str, Any]
    min_models: int
    max_models: int | None
    kernel: Kernel
    sum_normalized: bool = False
    random: bool = False


def _weights(params: list[dict[str, Any]]) -> list[float]:
    return [p["weight"] for p in params]


def _densities(params: list[dict[str, Any]]) -> list[float]:
    return [p["density"] for p in params]


_TASK_SHARED = {"lambda": 1.0, "int8_mask": False}  # int8_mask only saves memory in mergekit; accepted, no effect
_WEIGHT = {"weight": 1.0}
_WEIGHT_DENSITY = {"weight": 1.0, "density": 1.0}

METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            name="linear",
            needs_base=False,
            model_params=_WEIGHT,
            shared_params={"normalize": True},
            min_models=1,
            max_models=None,
            kernel=lambda base, xs, mp, sp, seed: linear(xs, _weights(mp), sp["normalize"]),
            sum_normalized=True,
        ),
        MethodSpec(
            name="slerp",
            needs_base=True,
            model_params={},
            shared_params={"t": None},
            min_models=2,
            max_models=2,
            kernel=lambda base, xs, mp, sp, seed: slerp(sp["t"], base, xs[0]),
        ),
        MethodSpec(
            name="task_arithmetic",
            needs_base=True,
            model_params=_WEIGHT,
            shared_params={"normalize": False, **_TASK_SHARED},
            min_models=2,
            max_models=None,
            kernel=lambda base, xs, mp, sp, seed: task_arithmetic(
                base, xs, _weights(mp), sp["lambda"], sp["normalize"]
            ),
            sum_normalized=True,
        ),
        MethodSpec(
            name="ties",
            needs_base=True,
            model_params=_WEIGHT_DENSITY,
            shared_params={"normalize": True, **_TASK_SHARED},
            min_models=2,
            max_models=None,
            kernel=lambda base, xs, mp, sp, seed: ties(
                base, xs, _weights(mp), _densities(mp), sp["lambda"], sp["normalize"]
            ),
        ),
        MethodSpec(
            name="dare_linear",
            needs_base=True,
            model_params=_WEIGHT_DENSITY,
            shared_params={"normalize": False, "rescale": True, **_TASK_SHARED},
            min_models=2,
            max_models=None,
            kernel=lambda base, xs, mp, sp, seed: dare_linear(
                base, xs, _weights(mp), _densities(mp), seed, sp["lambda"], sp["normalize"], sp["rescale"]
            ),
            sum_normalized=True,
            random=True,
        ),
        MethodSpec(
            name="dare_ties",
            needs_base=True,
            model_params=_WEIGHT_DENSITY,
            shared_params={"normalize": False, "rescale": True, **_TASK_SHARED},
            min_models=2,
            max_models=None,
            kernel=lambda base, xs, mp, sp, seed: dare_ties(
                base, xs, _weights(mp), _densities(mp), seed, sp["lambda"], sp["normalize"], sp["rescale"]
            ),
            random=True,
        ),
        MethodSpec(
            name="passthrough",
            needs_base=False,
            model_params={},
            shared_params={},
            min_models=1,
            max_models=1,
            kernel=lambda base, xs, mp, sp, seed: xs[0],
        ),
    )
}


def method_spec(name: str) -> MethodSpec:
    """The :class:`MethodSpec` called ``name``; :class:`MergeError` listing the known methods otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise MergeError(f"unknown merge method {name!r}; choose one of {sorted(METHODS)}.") from None

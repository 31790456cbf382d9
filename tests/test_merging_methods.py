"""The per-tensor merge formulas against their definitions, on small random tensors (no models, no I/O)."""

import math

import pytest
import torch

from solar_utils.merging import (
    MergeError,
    dare_drop,
    dare_linear,
    dare_ties,
    linear,
    magnitude_prune,
    methods,
    sign_consensus_mask,
    slerp,
    task_arithmetic,
    ties,
)
from solar_utils.merging.methods import DOT_THRESHOLD, method_spec
from solar_utils.merging.recipes import resolve_setting


def rand(*shape, seed=0, dtype=torch.float32):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).to(dtype)


def slerp_reference(t, v0, v1):
    a, b = v0.double().flatten(), v1.double().flatten()
    omega = torch.acos(torch.dot(a / a.norm(), b / b.norm()))
    return ((torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)).reshape(v0.shape)


# ---------------------------------------------------------------- linear


def test_linear_is_the_normalised_weighted_average():
    xs, w = [rand(5, 7, seed=s) for s in range(3)], [0.5, 0.3, 1.2]
    expected = sum(wi * x.double() for wi, x in zip(w, xs)) / sum(w)
    torch.testing.assert_close(linear(xs, w).double(), expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(linear(xs, w, normalize=False).double(), expected * sum(w), rtol=1e-6, atol=1e-6)


def test_linear_keeps_dtype_and_identical_inputs():
    x = rand(4, 4, dtype=torch.bfloat16)
    out = linear([x, x], [0.4, 0.6])
    assert out.dtype == torch.bfloat16 and torch.equal(out, x)


@pytest.mark.parametrize("weights", [[1.0, -1.0], [0.0, 0.0]])
def test_linear_refuses_weights_summing_to_zero(weights):
    with pytest.raises(MergeError, match="sum to 0"):
        linear([rand(3), rand(3, seed=1)], weights)
    linear([rand(3), rand(3, seed=1)], weights, normalize=False)  # a plain weighted sum is fine


def test_linear_refuses_bad_weights():
    with pytest.raises(MergeError, match="one weight per model"):
        linear([rand(3), rand(3, seed=1)], [1.0])
    with pytest.raises(MergeError, match="finite"):
        linear([rand(3)], [math.nan])


# ---------------------------------------------------------------- SLERP


def test_slerp_endpoints_are_exact():
    v0, v1 = rand(6, 5), rand(6, 5, seed=1)
    assert torch.equal(slerp(0.0, v0, v1), v0)
    assert torch.equal(slerp(1.0, v0, v1), v1)


@pytest.mark.parametrize("t", [0.1, 0.5, 0.83])
def test_slerp_matches_the_formula(t):
    v0, v1 = rand(8, 3), rand(8, 3, seed=1)
    torch.testing.assert_close(slerp(t, v0, v1).double(), slerp_reference(t, v0, v1), rtol=1e-5, atol=1e-6)


def test_slerp_of_orthogonal_unit_vectors_stays_on_the_circle():
    e0, e1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    torch.testing.assert_close(slerp(0.5, e0, e1), torch.tensor([1.0, 1.0]) / math.sqrt(2))


@pytest.mark.parametrize("scale", [2.0, -3.0])
def test_slerp_colinear_falls_back_to_linear(scale):
    v0 = rand(10)
    v1 = scale * v0
    torch.testing.assert_close(slerp(0.3, v0, v1), 0.7 * v0 + 0.3 * v1)


def test_slerp_threshold_is_mergekits():
    assert DOT_THRESHOLD == 0.9995
    v0 = torch.tensor([1.0, 0.0])
    just_below = torch.tensor([0.999, math.sqrt(1 - 0.999**2)])  # cos = 0.999 < threshold: spherical
    torch.testing.assert_close(slerp(0.5, v0, just_below).double(), slerp_reference(0.5, v0, just_below))
    assert not torch.allclose(slerp(0.5, v0, just_below), 0.5 * (v0 + just_below), rtol=0, atol=1e-6)


def test_slerp_in_chunks_matches_the_formula(monkeypatch):
    v0, v1 = rand(50, 7), rand(50, 7, seed=1)
    monkeypatch.setattr(methods, "SLERP_CHUNK", 16)  # 22 chunks, the last one partial
    torch.testing.assert_close(slerp(0.3, v0, v1).double(), slerp_reference(0.3, v0, v1), rtol=1e-5, atol=1e-6)


def test_results_do_not_depend_on_memory_alignment():
    """A tensor read from a file and the same tensor in a state dict sit at different alignments."""
    n = 100_003
    v0 = rand(n)
    v1 = v0 + 0.15 * rand(n, seed=1)  # cos Ω ≈ 0.99: SLERP's coefficients are sensitive to the dot product
    shifted0, shifted1 = torch.empty(n + 1)[1:].copy_(v0), torch.empty(n + 3)[3:].copy_(v1)
    merges = [
        lambda a, b: slerp(0.4, a, b),
        lambda a, b: linear([a, b], [0.3, 0.9]),
        lambda a, b: ties(a, [b, 2 * b - a], [0.6, 0.4], [0.5, 0.2]),
        lambda a, b: dare_ties(a, [b], [1.0], [0.5], seed=1),
    ]
    for merge in merges:
        assert torch.equal(merge(shifted0, shifted1), merge(v0, v1))


def test_slerp_zero_tensor_gives_no_nan():
    assert torch.isfinite(slerp(0.5, torch.zeros(4), rand(4))).all()


@pytest.mark.parametrize("t", [-0.1, 1.5, math.nan, "0.5"])
def test_slerp_refuses_t_outside_unit_interval(t):
    with pytest.raises(MergeError, match=r"\[0, 1\]"):
        slerp(t, rand(3), rand(3, seed=1))


# ---------------------------------------------------------------- trimming, sign election, TIES


def test_magnitude_prune_keeps_the_top_fraction():
    delta = torch.tensor([0.1, -5.0, 2.0, -0.3, 4.0, 0.2])
    assert torch.equal(magnitude_prune(delta, 0.5), torch.tensor([0.0, -5.0, 2.0, 0.0, 4.0, 0.0]))
    assert torch.equal(magnitude_prune(delta, 1.0), delta)
    assert torch.count_nonzero(magnitude_prune(delta, 0.01)) == 1  # at least one entry survives


def test_magnitude_prune_breaks_ties_by_position_and_keeps_exactly_k():
    assert torch.equal(magnitude_prune(torch.ones(4), 0.5), torch.tensor([1.0, 1.0, 0.0, 0.0]))
    x = rand(1000).round(decimals=1)  # many equal magnitudes
    assert torch.count_nonzero(magnitude_prune(x, 0.3)) == 300


@pytest.mark.parametrize("density", [0.0, -0.2, 1.5])
def test_density_outside_unit_interval_is_refused(density):
    with pytest.raises(MergeError, match=r"\(0, 1\]"):
        magnitude_prune(rand(4), density)
    with pytest.raises(MergeError, match=r"\(0, 1\]"):
        ties(rand(4), [rand(4, seed=1)], [1.0], [density])


def test_sign_election_by_hand():
    weighted = torch.tensor([[1.0, -2.0, 3.0, 0.0], [-3.0, 1.0, 1.0, 0.0]])
    # column sums -2, -1, 4, 0 elect -, -, +, + (a zero sum elects +); zeros never agree
    expected = torch.tensor([[False, True, True, False], [True, False, True, False]])
    assert torch.equal(sign_consensus_mask(weighted), expected)


def test_ties_by_hand():
    base = torch.zeros(4)
    d1, d2 = torch.tensor([1.0, -2.0, 3.0, 0.1]), torch.tensor([-3.0, 1.0, 1.0, 0.2])
    # no trimming: elected -, -, +, +; disjoint means -3/1, -2/1, (3+1)/2, (0.1+0.2)/2
    torch.testing.assert_close(ties(base, [d1, d2], [1.0, 1.0], [1.0, 1.0]), torch.tensor([-3.0, -2.0, 2.0, 0.15]))
    # density 0.5 keeps d1 -> [0, -2, 3, 0], d2 -> [-3, 1.5, 0, 0]: sums -3, -0.5, 3, 0 elect -, -, +, +
    d2 = torch.tensor([-3.0, 1.5, 1.0, 0.2])
    torch.testing.assert_close(ties(base, [d1, d2], [1.0, 1.0], [0.5, 0.5]), torch.tensor([-3.0, -2.0, 3.0, 0.0]))


def test_ties_weights_normalize_and_lambda():
    base = torch.full((3,), 10.0)
    a, b = base + torch.tensor([1.0, 2.0, -1.0]), base + torch.tensor([3.0, -1.0, -2.0])
    # weighted deltas [0.5, 1, -0.5] and [4.5, -1.5, -3]; elected +, -, -
    summed = torch.tensor([0.5 + 4.5, -1.5, -0.5 - 3.0])
    divisor = torch.tensor([2.0, 1.5, 2.0])
    torch.testing.assert_close(ties(base, [a, b], [0.5, 1.5], [1, 1], lambda_=2.0), base + 2.0 * summed / divisor)
    torch.testing.assert_close(ties(base, [a, b], [0.5, 1.5], [1, 1], normalize=False), base + summed)


# ---------------------------------------------------------------- task arithmetic


def test_task_arithmetic_formula():
    base = rand(4, 6)
    xs, w = [rand(4, 6, seed=s) for s in (1, 2)], [0.7, -0.2]
    expected = base.double() + 0.8 * sum(wi * (x.double() - base.double()) for wi, x in zip(w, xs))
    torch.testing.assert_close(task_arithmetic(base, xs, w, lambda_=0.8).double(), expected, rtol=1e-6, atol=1e-6)
    normalized = base.double() + sum(wi * (x.double() - base.double()) for wi, x in zip(w, xs)) / sum(w)
    torch.testing.assert_close(task_arithmetic(base, xs, w, normalize=True).double(), normalized, rtol=1e-5, atol=1e-5)


def test_task_arithmetic_does_not_modify_its_inputs():
    base, x = rand(5), rand(5, seed=1)
    before = base.clone(), x.clone()
    task_arithmetic(base, [x], [1.0], lambda_=3.0)
    ties(base, [x], [1.0], [0.5])
    assert torch.equal(base, before[0]) and torch.equal(x, before[1])


# ---------------------------------------------------------------- DARE


def test_dare_is_unbiased_over_many_seeds():
    delta, p, draws = rand(40), 0.3, 4000
    mean = sum(dare_drop(delta, p, torch.Generator().manual_seed(s)) for s in range(draws)) / draws
    sigma = delta.abs() * math.sqrt((1 - p) / p / draws)
    assert ((mean - delta).abs() <= 5 * sigma + 1e-6).all()


def test_dare_keeps_about_density_and_rescales():
    delta = rand(20000)
    out = dare_drop(delta, 0.25, torch.Generator().manual_seed(0))
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.25) < 0.02
    torch.testing.assert_close(out[kept], delta[kept] / 0.25)
    raw = dare_drop(delta, 0.25, torch.Generator().manual_seed(0), rescale=False)
    assert torch.equal(raw[kept], delta[kept])


def test_dare_is_deterministic_per_seed():
    base, xs = rand(50), [rand(50, seed=1), rand(50, seed=2)]
    args = (base, xs, [1.0, 0.5], [0.4, 0.6])
    assert torch.equal(dare_linear(*args, seed=7), dare_linear(*args, seed=7))
    assert not torch.equal(dare_linear(*args, seed=7), dare_linear(*args, seed=8))
    assert torch.equal(dare_ties(*args, seed=3), dare_ties(*args, seed=3))


def test_dare_at_full_density_is_task_arithmetic_or_ties():
    base, xs, w = rand(30), [rand(30, seed=1), rand(30, seed=2)], [0.6, 0.9]
    assert torch.equal(dare_linear(base, xs, w, [1.0, 1.0], seed=0), task_arithmetic(base, xs, w))
    assert torch.equal(dare_ties(base, xs, w, [1.0, 1.0], seed=0), ties(base, xs, w, [1.0, 1.0], normalize=False))


# ---------------------------------------------------------------- registry and parameter resolution


def test_unknown_method_is_refused():
    with pytest.raises(MergeError, match="unknown merge method 'soup'.*linear"):
        method_spec("soup")


def test_mergekit_normalize_defaults():
    defaults = {
        name: method_spec(name).shared_params.get("normalize")
        for name in ("linear", "task_arithmetic", "ties", "dare_linear", "dare_ties")
    }
    assert defaults == {
        "linear": True,
        "task_arithmetic": False,
        "ties": True,
        "dare_linear": False,
        "dare_ties": False,
    }


def test_gradients_and_filters_resolve_like_mergekit():
    assert resolve_setting([0.0, 0.5, 1.0], "x", 0.25) == pytest.approx(0.25)
    assert resolve_setting([0.2, 0.8], "x", 1.0) == pytest.approx(0.8)
    assert resolve_setting([True, False], "x", 0.4) is True  # discrete values are picked, not interpolated
    setting = [{"filter": "self_attn", "value": [0.0, 1.0]}, {"filter": "mlp", "value": 0.3}, {"value": 0.5}]
    assert resolve_setting(setting, "model.layers.2.self_attn.q_proj.weight", 0.5) == pytest.approx(0.5)
    assert resolve_setting(setting, "model.layers.2.self_attn.q_proj.weight", 1.0) == pytest.approx(1.0)
    assert resolve_setting(setting, "model.layers.0.mlp.up_proj.weight", 0.9) == 0.3
    assert resolve_setting(setting, "model.norm.weight", 0.0) == 0.5
    assert resolve_setting(setting[:2], "model.norm.weight", 0.0) is None

"""Unweighting and its efficiency: the exact bootstrap maximum, the overweight quantile, hit-or-miss."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mlmc_course.nis import bootstrap_max, overweight_max, unweight, unweighting_efficiency


def test_bootstrap_max_matches_brute_force_resampling():
    rng = np.random.default_rng(0)
    w = rng.exponential(size=40)
    maxima = np.array([rng.choice(w, size=len(w)).max() for _ in range(20_000)])
    low, mid, high = bootstrap_max(w)
    # the exact quantiles are order statistics; brute force must land on the same ones
    assert np.mean(maxima <= mid) >= 0.5 and np.mean(maxima < mid) < 0.5
    assert np.mean(maxima <= low) >= 0.16 and np.mean(maxima < low) < 0.16 + 0.01
    assert np.mean(maxima <= high) >= 0.84 - 0.01


def test_overweight_max_leaves_the_requested_excess():
    w = np.random.default_rng(1).lognormal(sigma=1.0, size=100_000)
    for eps in (1e-3, 1e-2):
        t = overweight_max(w, eps)
        assert np.maximum(w - t, 0).sum() == pytest.approx(eps * w.sum(), rel=1e-9)
    assert overweight_max(w, 0.0) == w.max()


def test_efficiency_of_constant_weights_is_one_and_drops_with_spread():
    assert unweighting_efficiency(np.full(1000, 2.5)).efficiency_boot == pytest.approx(1.0)
    spread = unweighting_efficiency(np.random.default_rng(2).exponential(size=100_000))
    assert spread.efficiency_boot < spread.efficiency_quantile < 1.0
    lo, hi = spread.efficiency_boot_band
    assert lo <= spread.efficiency_boot <= hi


def test_unweighting_keeps_the_weighted_distribution_and_is_unbiased():
    rng = np.random.default_rng(3)
    x = rng.uniform(size=200_000)
    w = 3 * x**2
    keep, new_w = unweight(w, np.random.default_rng(4))
    assert abs(len(keep) / len(w) - w.mean() / w.max()) < 0.01
    assert stats.kstest(x[keep], lambda t: np.clip(t, 0, 1) ** 3).pvalue > 1e-3
    np.testing.assert_allclose(new_w, w.max())
    # with a reduced maximum, overweights keep w > w_max and the total stays unbiased
    t = overweight_max(w, 0.05)
    keep, new_w = unweight(w, np.random.default_rng(5), w_max=t)
    assert new_w.max() > t
    assert abs(new_w.sum() / len(w) - w.mean()) < 4 * t * np.sqrt(len(keep)) / len(w)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        (np.array([1.0, -0.5]), "weights must be >= 0"),
        (np.array([]), "weights is empty"),
        (np.zeros(5), "all weights are zero"),
        (np.array([1.0, np.nan]), "NaN"),
        (np.ones((2, 2)), "1 dimension"),
    ],
)
def test_bad_weights_are_named(weights, match):
    with pytest.raises(ValueError, match=match):
        unweighting_efficiency(weights)


def test_unweight_needs_a_generator_and_a_sane_maximum():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        unweight(np.ones(3), 42)
    with pytest.raises(ValueError, match="w_max must be a positive finite number"):
        unweight(np.ones(3), np.random.default_rng(0), w_max=0.0)

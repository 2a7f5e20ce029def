"""Tests for mlmc_course.uncertainty: Gaussian NLL, ensemble moments, coverage, calibration and the gap toy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlmc_course import uncertainty as U


def test_gaussian_nll_value_and_minimum():
    y = np.array([1.0, 2.0])
    assert U.gaussian_nll(y, y, np.zeros(2)) == pytest.approx(0.5 * math.log(2 * math.pi))
    # At fixed residual r the NLL is smallest at log_var = ln r^2.
    r = 0.3
    grid = np.linspace(-5, 1, 601)
    values = [U.gaussian_nll(np.array([r]), np.array([0.0]), np.array([s])) for s in grid]
    assert grid[int(np.argmin(values))] == pytest.approx(math.log(r**2), abs=0.01)
    with pytest.raises(ValueError, match="shape"):
        U.gaussian_nll(y, y[:1], np.zeros(2))


def test_keras_nll_matches_numpy():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    y, mean, log_var = rng.normal(size=(3, 50))
    pred = tf.constant(np.column_stack([mean, log_var]), dtype=tf.float64)
    got = float(U.gaussian_nll_keras(tf.constant(y[:, None]), pred))
    assert got == pytest.approx(U.gaussian_nll(y, mean, log_var), rel=1e-10)


def test_ensemble_moments_follow_the_law_of_total_variance():
    rng = np.random.default_rng(1)
    means = rng.normal(size=(4, 3))
    variances = rng.uniform(0.1, 0.5, size=(4, 3))
    pred = U.ensemble_moments(means, variances)
    # Sample the equally weighted Gaussian mixture and compare its moments.
    n = 400_000
    member = rng.integers(0, 4, n)
    samples = means[member] + np.sqrt(variances[member]) * rng.standard_normal((n, 3))
    np.testing.assert_allclose(pred.mean, samples.mean(axis=0), atol=5 * np.sqrt(pred.total.max() / n))
    np.testing.assert_allclose(pred.total, samples.var(axis=0), rtol=0.02)
    np.testing.assert_allclose(pred.std**2, pred.aleatoric + pred.epistemic)
    with pytest.raises(ValueError, match="non-negative"):
        U.ensemble_moments(means, -variances)


def test_ensemble_predict_combines_members_and_needs_two():
    members = [lambda x, c=c: (np.full(len(x), c), np.full(len(x), 0.1)) for c in (0.0, 1.0, 2.0)]
    pred = U.ensemble_predict(members, np.zeros(5))
    np.testing.assert_allclose(pred.mean, 1.0)
    np.testing.assert_allclose(pred.epistemic, 2 / 3)
    np.testing.assert_allclose(pred.aleatoric, 0.1)
    with pytest.raises(ValueError, match="at least two"):
        U.ensemble_predict(members[:1], np.zeros(5))


def test_central_interval_quantiles():
    lo, hi = U.central_interval(np.zeros(1), np.ones(1), 0.95)
    assert hi[0] == pytest.approx(1.959964, abs=1e-5) and lo[0] == pytest.approx(-hi[0])
    lo, hi = U.central_interval(np.zeros(1), np.ones(1), 0.6827)
    assert hi[0] == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="level"):
        U.central_interval(np.zeros(1), np.ones(1), 68)
    with pytest.raises(ValueError, match="non-negative"):
        U.central_interval(np.zeros(1), -np.ones(1), 0.68)


def test_coverage_is_nominal_for_calibrated_and_low_for_overconfident_predictions():
    rng = np.random.default_rng(2)
    n = 50_000
    mean = rng.normal(size=n)
    std = rng.uniform(0.5, 2.0, n)
    y = mean + std * rng.standard_normal(n)
    for level in (0.5, 0.68, 0.95):
        cov = U.coverage(y, mean, std, level)
        assert abs(cov.fraction - level) < 4 * cov.error
        assert cov.error == pytest.approx(math.sqrt(level * (1 - level) / n), rel=0.05)
    assert U.coverage(y, mean, 0.5 * std, 0.68).fraction < 0.45
    levels, observed = U.calibration_curve(y, mean, std)
    assert len(levels) == 19 and np.all(np.diff(observed) > 0)
    assert np.max(np.abs(observed - levels)) < 0.02
    assert "nominal 0.68" in str(U.coverage(y, mean, std, 0.68))


def test_gap_toy_regions_and_noise():
    toy = U.GapToy()
    x, y = toy.sample(20_000, seed=3)
    assert np.all(toy.region(x) == "train")
    assert np.all((x >= toy.low) & (x <= toy.high))
    xg, _ = toy.sample(100, seed=4, where="gap")
    assert np.all(toy.region(xg) == "gap")
    xo, _ = toy.sample(100, seed=5, where="outside")
    assert np.all(toy.region(xo) == "outside")
    assert np.all(np.abs(xo) <= 3.0)
    pulls = (y - toy.truth(x)) / toy.noise(x)
    assert abs(pulls.std() - 1) < 0.02 and abs(pulls.mean()) < 0.03
    with pytest.raises(ValueError, match="where"):
        toy.sample(10, seed=0, where="inside")
    with pytest.raises(ValueError, match="gap"):
        U.GapToy(gap=(3.0, 4.0))


def test_band_plot_needs_sorted_x():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    U.band_plot(ax, np.arange(3.0), np.zeros(3), np.ones(3), label="ok")
    assert len(ax.lines) == 1 and len(ax.collections) == 1
    with pytest.raises(ValueError, match="sorted"):
        U.band_plot(ax, np.array([2.0, 1.0, 0.0]), np.zeros(3), np.ones(3), label="bad")
    plt.close(fig)

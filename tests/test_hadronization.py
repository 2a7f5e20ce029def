"""The Lund fragmentation function, its exact sampler, the flow's bookkeeping and the string-breaking toy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from mlmc_course import hadronization as had

POINTS = [(had.A_LUND, had.B_LUND, had.M_T), (0.3, 0.5, 0.3), (1.0, 1.0, 0.5), (1.5, 1.5, 1.0)]


def test_lund_f_formula_and_edges():
    z = np.array([0.0, 0.1, 0.5, 0.9, 1.0])
    f = had.lund_f(z, 0.68, 0.98, 0.5)
    inner = z[1:-1]
    assert np.allclose(f[1:-1], (1 - inner) ** 0.68 / inner * np.exp(-0.98 * 0.25 / inner))
    assert f[0] == 0.0 and f[-1] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"z": [1.2]}, "must lie in"),
        ({"z": [0.5], "a": -0.1}, "a must be positive"),
        ({"z": [0.5], "b": 0.0}, "b must be positive"),
        ({"z": [0.5], "m_t": -1.0}, "mT must be a positive"),
        ({"z": [np.nan]}, "NaN"),
    ],
)
def test_lund_f_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        had.lund_f(**kwargs)


@pytest.mark.parametrize("point", POINTS)
def test_peak_norm_and_cdf(point):
    grid = np.linspace(1e-5, 1 - 1e-5, 400_001)
    assert had.lund_z_peak(*point) == pytest.approx(grid[np.argmax(had.lund_f(grid, *point))], abs=1e-5)
    quad = integrate.quad(lambda z: float(had.lund_f(z, *point)), 0, 1, points=[float(had.lund_z_peak(*point))])[0]
    assert had.lund_norm(*point) == pytest.approx(quad, rel=1e-8)
    cdf = had.lund_cdf(np.linspace(0, 1, 101), *point)
    assert cdf[0] == 0.0 and cdf[-1] == pytest.approx(1.0)
    assert np.all(np.diff(cdf) >= 0)


@pytest.mark.parametrize("point", POINTS)
def test_sample_lund_follows_the_density(point):
    z = had.sample_lund(20_000, *point, rng=np.random.default_rng(1))
    assert z.shape == (20_000,) and np.all((z > 0) & (z < 1))
    assert stats.kstest(z, lambda x: had.lund_cdf(x, *point)).pvalue > 1e-3
    assert had.chi2_vs_exact(z, *point).p_value > 1e-3


def test_sample_lund_is_reproducible_and_takes_one_point_per_draw():
    a = np.r_[np.full(5000, 0.3), np.full(5000, 1.5)]
    z = had.sample_lund(10_000, a, rng=np.random.default_rng(3))
    assert np.array_equal(z, had.sample_lund(10_000, a, rng=np.random.default_rng(3)))
    assert z[:5000].mean() > z[5000:].mean() + 0.05  # larger a, smaller z


def test_chi2_detects_the_wrong_parameter_and_refuses_tiny_samples():
    z = had.sample_lund(20_000, 0.9, rng=np.random.default_rng(2))
    assert had.chi2_vs_exact(z, had.A_LUND).p_value < 1e-6
    with pytest.raises(ValueError, match="at least 5 events per bin"):
        had.chi2_vs_exact(z[:50], n_bins=40)


def test_string_multiplicity_by_hand_and_direction():
    # z = 1/2 always: W+ halves each step while W- loses mT^2 / p+; count the breaks by hand.
    w_plus, w_minus, count = 91.2, 91.2, 0
    while True:
        p_plus = 0.5 * w_plus
        w_plus, w_minus, count = w_plus - p_plus, w_minus - had.M_T**2 / p_plus, count + 1
        if w_minus <= 0 or w_plus * w_minus < 1.0:
            break
    counts = had.string_multiplicity(lambda m: np.full(m, 0.5), 4)
    assert np.all(counts == count)
    rng = np.random.default_rng(4)
    low = had.string_multiplicity(lambda m: had.sample_lund(m, 0.3, rng=rng), 1000)
    high = had.string_multiplicity(lambda m: had.sample_lund(m, 1.2, rng=rng), 1000)
    assert high.mean() > low.mean() + 10 * np.hypot(high.std(), low.std()) / np.sqrt(1000)


def test_string_multiplicity_rejects_bad_samplers_and_settings():
    with pytest.raises(ValueError, match="outside"):
        had.string_multiplicity(lambda m: np.full(m, 1.0), 3)
    with pytest.raises(ValueError, match="shape"):
        had.string_multiplicity(lambda m: np.full(m + 1, 0.5), 3)
    with pytest.raises(ValueError, match="w_min"):
        had.string_multiplicity(lambda m: np.full(m, 0.5), 3, w_min=0.1)


def test_lund_flow_density_is_normalised_and_samples_stay_inside():
    torch.manual_seed(0)
    flow = had.LundFlow()
    u = np.linspace(-12, 12, 4001)
    z = 1 / (1 + np.exp(-u))
    density = np.exp(flow.log_pdf(z, 0.9, 1.0, 0.6))
    assert np.trapezoid(density * z * (1 - z), u) == pytest.approx(1.0, abs=2e-3)  # Jacobian of logit included
    draws = flow.sample(1000, 0.9, 1.0, 0.6)
    assert draws.shape == (1000,) and np.all((draws > 0) & (draws < 1))
    u_t, context = flow.training_tensors(z[100:110], 0.9, 1.0, 0.6)
    assert u_t.shape == (10, 1) and context.shape == (10, 2) and torch.all(context.abs() <= 1)


def test_lund_flow_refuses_extrapolation_and_bad_z():
    flow = had.LundFlow()
    with pytest.raises(ValueError, match="training range"):
        flow.sample(10, a=2.5)
    with pytest.raises(ValueError, match="strictly inside"):
        flow.log_pdf(np.array([0.0, 0.5]))

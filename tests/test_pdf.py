"""Tests for mlmc_course.pdf: truth PDFs, sum rules by quadrature, the FK map, replicas and the replica fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import integrate

from mlmc_course import pdf as P


def _quad_sum_rule(xf_scalar) -> float:
    """int_0^1 f dx with f = xf / x, by adaptive quadrature in ln x (split at x = 0.1)."""
    small = integrate.quad(lambda t: xf_scalar(np.exp(t)), np.log(1e-14), np.log(0.1), limit=200)[0]
    large = integrate.quad(lambda x: xf_scalar(x) / x, 0.1, 1.0, limit=200)[0]
    return small + large


def test_truth_obeys_the_valence_sum_rules():
    truth = P.ValenceTruth()
    for k, target in enumerate(P.SUM_RULES):
        assert _quad_sum_rule(lambda x, k=k: truth.xf(np.array([x]))[0, k]) == pytest.approx(target, rel=1e-7)


def test_sum_rule_integral_on_the_log_grid():
    truth = P.ValenceTruth()
    grid = P.integration_grid()
    assert np.all(np.diff(grid) > 0) and grid[0] == pytest.approx(P.X_MIN) and grid[-1] == 1.0
    alpha = 1 - np.array(truth.a)
    got = P.sum_rule_integral(truth.xf(grid), grid, small_x_exponent=alpha)
    np.testing.assert_allclose(got, P.SUM_RULES, rtol=1e-3)
    as_tensor = P.sum_rule_integral(torch.as_tensor(truth.xf(grid)), grid, torch.as_tensor(alpha))
    np.testing.assert_allclose(as_tensor.numpy(), got, rtol=1e-12)
    with pytest.raises(ValueError, match="points on axis -2"):
        P.sum_rule_integral(truth.xf(grid[:-1]), grid)


def test_a_linear_grid_misses_the_small_x_region():
    truth = P.ValenceTruth()
    linear = np.linspace(1e-3, 1.0, 2000)
    got = np.trapezoid(truth.xf(linear) / linear[:, None], linear, axis=0)
    assert np.all(np.array(P.SUM_RULES) - got > 0.015)  # 2-3% of each sum rule sits below x = 1e-3


def test_valence_pdf_normalisation_by_quadrature_and_positivity():
    torch.manual_seed(0)
    model = P.ValencePDF(alpha=[[0.4, 0.3], [0.45, 0.25]], beta=[[3.0, 4.0], [3.5, 4.5]])
    for r in range(model.n_replicas):
        for k, target in enumerate(P.SUM_RULES):
            value = _quad_sum_rule(lambda x, r=r, k=k: model.xf(np.array([x]))[r, 0, k])
            assert value == pytest.approx(target, rel=2e-3)
    assert np.all(model.xf(np.geomspace(1e-9, 0.999, 500)) > 0)
    with pytest.raises(ValueError, match="alpha < 1"):
        P.ValencePDF(alpha=[[1.2, 0.3]], beta=[[3.0, 4.0]])
    with pytest.raises(ValueError, match="sum rules"):
        P.ValencePDF(alpha=[[0.4, 0.3]], beta=[[3.0, 4.0]], sum_rules=(2.0,))


def test_fk_table_is_linear_and_shares_numpy_and_torch():
    fk = P.toy_fk_table(np.geomspace(1e-3, 0.7, 10))
    assert fk.table.shape == (40, len(fk.x_grid), 2) and fk.n_data == 40
    rng = np.random.default_rng(0)
    f, g = rng.uniform(size=(2, len(fk.x_grid), 2))
    np.testing.assert_allclose(fk(2 * f - 3 * g), 2 * fk(f) - 3 * fk(g), rtol=1e-10, atol=1e-12)
    # Each row is a normalised smearing times the quark charges: a flat x f = 1 gives 4/9 + 1/9.
    np.testing.assert_allclose(fk(np.ones((len(fk.x_grid), 2))), 5 / 9)
    batch = torch.as_tensor(np.stack([f, g]))
    np.testing.assert_allclose(fk(batch).numpy(), np.stack([fk(f), fk(g)]), rtol=1e-12)
    with pytest.raises(ValueError, match="must end in shape"):
        fk(np.ones((3, 2)))


def test_closure_data_and_replicas_reproduce_the_covariance():
    truth = P.ValenceTruth()
    fk = P.toy_fk_table(np.geomspace(1e-3, 0.7, 6))
    data = P.closure_data(fk, truth, stat=0.03, norm=0.02, seed=1)
    np.testing.assert_allclose(data.level0, fk(truth.xf(fk.x_grid)))
    np.testing.assert_allclose(data.cov, data.cov.T)
    assert np.all(np.linalg.eigvalsh(data.cov) > 0)
    reps = P.mc_replicas(data.level1, data.cov, 40_000, np.random.default_rng(2))
    np.testing.assert_allclose(np.cov(reps, rowvar=False), data.cov, rtol=0.05, atol=0.03 * data.cov.max())
    with pytest.raises(ValueError, match="positive definite"):
        P.mc_replicas(data.level1, -data.cov, 10, np.random.default_rng(0))


def test_chi2_pulls_and_effective_exponents():
    cov = np.diag([4.0, 1.0])
    assert P.chi2(np.array([2.0, 1.0]), np.zeros(2), cov) == pytest.approx(2.0)
    np.testing.assert_allclose(P.chi2(np.array([[2.0, 1.0], [0.0, 0.0]]), np.zeros(2), cov), [2.0, 0.0])
    reps = np.array([[1.0, 2.0], [3.0, 2.0], [2.0, 5.0]])
    np.testing.assert_allclose(P.pulls(reps, np.array([1.0, 3.0])), [1.0, 0.0])
    with pytest.raises(ValueError, match="two replicas"):
        P.pulls(reps[:1], np.array([1.0, 3.0]))
    x = np.array([1e-8, 0.5, 0.999])
    alpha, beta = 0.35, 3.2
    a_eff, b_eff = P.effective_exponents(x, x ** (1 - alpha) * (1 - x) ** beta)
    assert a_eff[0] == pytest.approx(alpha, abs=1e-6) and b_eff[-1] == pytest.approx(beta, abs=1e-2)
    with pytest.raises(ValueError, match="positive"):
        P.effective_exponents(x, -np.ones(3))


def test_replica_fit_reduces_chi2_and_keeps_the_sum_rules():
    truth = P.ValenceTruth()
    fk = P.toy_fk_table(np.geomspace(2e-3, 0.7, 12))
    data = P.closure_data(fk, truth, seed=3)
    reps = P.mc_replicas(data.level1, data.cov, 3, np.random.default_rng(4))
    model, history = P.fit_replicas(fk, reps, data.cov, epochs=300, seed=0)
    assert history.train[-1] < 0.05 * history.train[0]
    assert history.train[-1] < 4.0
    grid = P.integration_grid()
    sums = P.sum_rule_integral(model.xf(grid), grid, small_x_exponent=model.alpha.numpy())
    np.testing.assert_allclose(sums, np.tile(P.SUM_RULES, (3, 1)), rtol=1e-4)
    assert np.all((model.alpha.numpy()[:, 0] >= 0.3) & (model.alpha.numpy()[:, 0] <= 0.5))
    with pytest.raises(ValueError, match="replicas must have shape"):
        P.fit_replicas(fk, reps[:, :-1], data.cov, epochs=1)

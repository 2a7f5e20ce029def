"""Tests for mlmc_course.ot: quantile maps, POT wrappers, barycentric maps, ICNNs and neural transport."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy import stats

from mlmc_course import ot as mot


def test_importing_keeps_tensorflow_out():
    code = "import sys, mlmc_course.ot; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_quantile_map_gaussian_to_gaussian_is_linear():
    rng = np.random.default_rng(0)
    src, tgt = rng.normal(0, 1, 50_000), rng.normal(3, 0.5, 50_000)
    x = np.linspace(-2, 2, 21)
    assert np.allclose(mot.quantile_map(x, src, tgt), 3 + 0.5 * x, atol=0.03)


def test_quantile_map_non_gaussian_and_monotone():
    rng = np.random.default_rng(1)
    src, tgt = rng.exponential(1.0, 50_000), rng.uniform(-1, 1, 50_000)
    x = np.linspace(0.05, 3, 40)
    got = mot.quantile_map(x, src, tgt)
    assert np.all(np.diff(got) > 0)
    assert np.allclose(got, -1 + 2 * (1 - np.exp(-x)), atol=0.02)
    with pytest.raises(ValueError, match="at least two"):
        mot.quantile_map(x, src[:1], tgt)


def test_wasserstein_1d_matches_scipy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=3000), rng.gamma(2.0, size=2000)
    assert mot.wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)
    assert mot.wasserstein_1d(a, a + 1.5, p=2) == pytest.approx(1.5, rel=1e-9)
    with pytest.raises(ValueError, match="p must be"):
        mot.wasserstein_1d(a, b, p=0)


def test_exact_plan_is_a_permutation_for_equal_uniform_samples():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 2)), rng.normal(1, 1, (30, 2))
    plan = mot.exact_plan(x, y)
    assert np.allclose(plan.plan.sum(1), 1 / 30) and np.allclose(plan.plan.sum(0), 1 / 30)
    assert np.sum(plan.plan > 1e-12) == 30
    assert plan.cost == pytest.approx(mot.ot.emd2(mot.ot.unif(30), mot.ot.unif(30), mot.ot.dist(x, y)))
    with pytest.raises(ValueError, match="same dimension"):
        mot.exact_plan(x, y[:, :1])


def test_sinkhorn_plan_marginals_and_limit():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(40, 2)), rng.normal(1, 1, (50, 2))
    exact = mot.exact_plan(x, y)
    blurred = mot.sinkhorn_plan(x, y, reg=1.0)
    sharp = mot.sinkhorn_plan(x, y, reg=0.01, n_iter=5000)
    for plan in (blurred, sharp):
        assert np.allclose(plan.plan.sum(1), 1 / 40, atol=1e-6)
        assert np.allclose(plan.plan.sum(0), 1 / 50, atol=1e-6)
    assert blurred.cost > sharp.cost >= exact.cost - 1e-9
    assert sharp.cost == pytest.approx(exact.cost, rel=0.02)
    with pytest.raises(ValueError, match="reg"):
        mot.sinkhorn_plan(x, y, reg=0.0)


def test_barycentric_map():
    y = np.arange(8.0).reshape(4, 2)
    perm = np.array([2, 0, 3, 1])
    assert np.allclose(mot.barycentric_map(np.eye(4)[perm] / 4, y), y[perm])
    split = np.array([[0.25, 0.25, 0, 0], [0, 0, 0.5, 0]])
    assert np.allclose(mot.barycentric_map(split, y), [[1.0, 2.0], [4.0, 5.0]])
    with pytest.raises(ValueError, match="sums to zero"):
        mot.barycentric_map(np.array([[0.5, 0.5, 0, 0], [0, 0, 0, 0]]), y)
    with pytest.raises(ValueError, match="columns"):
        mot.barycentric_map(np.eye(3) / 3, y)


def test_gaussian_map_pushes_to_target():
    rng = np.random.default_rng(5)
    cov_y = np.array([[2.0, 0.6], [0.6, 0.5]])
    a, transport = mot.gaussian_map(np.zeros(2), np.eye(2), np.array([1.0, -1.0]), cov_y)
    assert np.allclose(a, a.T)  # the gradient of a convex quadratic: symmetric, positive definite
    assert np.all(np.linalg.eigvalsh(a) > 0)
    moved = transport(rng.normal(size=(100_000, 2)))
    assert np.allclose(moved.mean(0), [1.0, -1.0], atol=0.02)
    assert np.allclose(np.cov(moved.T), cov_y, atol=0.03)


def test_icnn_is_convex_in_its_input():
    torch.manual_seed(0)
    net = mot.ICNN(2, hidden=(16, 16))
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 1.0)  # scramble, then project as training does
    net.clamp()
    x, y = torch.randn(500, 2) * 3, torch.randn(500, 2) * 3
    lam = torch.rand(500, 1)
    with torch.no_grad():
        lhs = net(lam * x + (1 - lam) * y)
        rhs = lam[:, 0] * net(x) + (1 - lam[:, 0]) * net(y)
    assert bool(torch.all(lhs <= rhs + 1e-4))
    grad = net.gradient(torch.zeros(3, 2))
    assert grad.shape == (3, 2)


def test_icnn_starts_near_identity():
    torch.manual_seed(1)
    x = torch.randn(200, 2)
    assert float((mot.ICNN(2).gradient(x) - x).abs().mean()) < 0.5


@pytest.mark.slow
def test_neural_ot_learns_gaussian_map():
    rng = np.random.default_rng(6)
    cov_y, mean_y = np.array([[0.5, 0.3], [0.3, 1.5]]), np.array([1.0, -0.5])
    src, tgt = rng.normal(size=(4000, 2)), rng.multivariate_normal(mean_y, cov_y, 4000)
    result = mot.train_neural_ot(src, tgt, hidden=(32, 32), steps=300, inner_steps=3, seed=0, progress=False)
    _, exact = mot.gaussian_map(np.zeros(2), np.eye(2), mean_y, cov_y)
    x = rng.normal(size=(2000, 2))
    err = np.mean(np.sum((result.transport(x) - exact(x)) ** 2, 1))
    identity = np.mean(np.sum((x - exact(x)) ** 2, 1))
    assert err < 0.05 * identity
    assert len(result.history["value"]) == 300


def test_neural_ot_validates():
    with pytest.raises(ValueError, match="shape"):
        mot.train_neural_ot(np.zeros((10, 2)), np.zeros((10, 3)), steps=1, progress=False)

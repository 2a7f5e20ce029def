"""Checks for lesson 15 (Optimal transport): quantile maps, weighted 1D W1, Sinkhorn, barycentric maps."""

from __future__ import annotations

import numpy as np
from scipy import stats

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, require
from mlmc_course.ot import ot  # POT, imported with its TensorFlow backend turned off


def quantile_map(answer, seed: int = 0) -> None:
    """``answer(x, source, target)`` maps points x from the source distribution onto the target one with
    T = Q^{-1}(P(x)), using the two samples' empirical CDFs."""
    rng = check_rng(seed)
    source = rng.exponential(2.0, 20_000)  # P: exponential with mean 2
    target = rng.normal(5.0, 0.5, 20_000)  # Q: Gaussian
    x = np.linspace(0.2, 6.0, 30)
    want = stats.norm.ppf(1 - np.exp(-x / 2.0), loc=5.0, scale=0.5)
    got = as_numpy(
        call(answer, x.copy(), source.copy(), target.copy(), what="quantile_map(x, source, target)"), "T(x)", (30,)
    )
    swapped = np.interp(stats.norm.cdf(x, 5.0, 0.5), (np.arange(20_000) + 0.5) / 20_000, np.sort(source))
    if np.allclose(got, swapped, atol=0.1):
        raise CheckFailed("the CDFs are swapped: evaluate the source CDF P at x, then the target's quantile function")
    moments = 5.0 + (x - source.mean()) / source.std() * target.std()
    if np.allclose(got, moments, atol=0.02):
        raise CheckFailed(
            "you matched the mean and the width (a linear map); the optimal map matches every quantile: Q^-1(P(x))"
        )
    require(np.all(np.diff(got) >= -1e-9), "the 1D optimal map is monotone (non-decreasing); yours is not")
    require(
        np.allclose(got, want, atol=0.06),
        f"T(x) differs from Q^-1(P(x)) by up to {np.max(np.abs(got - want)):.3g}; use the empirical CDF of the "
        "source sample and the empirical quantiles of the target sample",
    )


def wasserstein_1d_weighted(answer, seed: int = 0) -> None:
    """``answer(a, w, b)`` returns the 1-Wasserstein distance between a weighted 1D sample (a, w) and an unweighted
    sample b of another size."""
    rng = check_rng(seed)
    a = rng.normal(0.0, 1.0, 3000)
    w = np.exp(0.8 * a - 0.32) * rng.uniform(0.5, 1.5, 3000)  # reweights N(0, 1) towards N(0.8, 1), with noise
    b = rng.normal(0.8, 1.3, 2000)
    want = stats.wasserstein_distance(a, b, u_weights=w)
    got = as_float(call(answer, a.copy(), w.copy(), b.copy(), what="wasserstein_1d_weighted(a, w, b)"), "W1")
    if abs(got - stats.wasserstein_distance(a, b)) < 1e-6:
        raise CheckFailed("that is the distance of the unweighted sample: F_a(t) must sum the weights of a <= t")
    require(got >= 0, f"a distance cannot be negative, got {got:.5f}")
    require(
        abs(got - want) < 1e-6 * max(1.0, want),
        f"expected W1 = {want:.5f}, got {got:.5f}; is F_a divided by the total weight, so that it ends at 1?",
    )
    ones = np.ones_like(a)
    shift = as_float(
        call(answer, a.copy(), ones, a + 0.7, what="wasserstein_1d_weighted(a, 1, a + 0.7)"), "W1 of a shift"
    )
    require(abs(shift - 0.7) < 1e-6, f"shifting an unweighted sample by 0.7 should give W1 = 0.7, got {shift:.5f}")


def _problem(rng: np.random.Generator, n: int, m: int):
    x, y = rng.normal(0, 1, (n, 2)), rng.normal(1, 0.7, (m, 2))
    a, b = rng.dirichlet(np.full(n, 5.0)), rng.dirichlet(np.full(m, 5.0))
    return a, b, ot.dist(x, y), x, y


def sinkhorn(answer, seed: int = 0) -> None:
    """``answer(a, b, M, reg, n_iter)`` returns the entropic transport plan ``(n, m)`` after n_iter Sinkhorn
    iterations (each updating both scaling vectors)."""
    rng = check_rng(seed)
    a, b, cost, _, _ = _problem(rng, 40, 30)
    reg = 0.5
    got = as_numpy(
        call(answer, a.copy(), b.copy(), cost.copy(), reg, 500, what="sinkhorn(a, b, M, reg, n_iter)"),
        "the plan",
        (40, 30),
    )
    kernel = np.exp(-cost / reg)
    if np.allclose(got, kernel, rtol=1e-6) or np.allclose(got, kernel / kernel.sum(), rtol=1e-6):
        raise CheckFailed("you returned the kernel exp(-M / reg) itself; scale its rows and columns with u and v")
    require(np.all(got >= 0), "a transport plan has no negative entries")
    rows, cols = got.sum(1), got.sum(0)
    if np.allclose(rows, a, atol=1e-6) and not np.allclose(cols, b, atol=1e-4):
        raise CheckFailed(
            "the rows sum to a but the columns do not sum to b: update v = b / (K^T u) in every iteration"
        )
    require(np.allclose(rows, a, atol=1e-6), "the rows of the plan must sum to a (the source weights)")
    require(np.allclose(cols, b, atol=1e-6), "the columns of the plan must sum to b (the target weights)")
    want = ot.sinkhorn(a, b, cost, reg, numItermax=10_000, stopThr=1e-12)
    require(
        np.allclose(got, want, atol=1e-7),
        "the plan has the right marginals but is not the entropic one: use the kernel K = exp(-M / reg)",
    )


def barycentric_map(answer, seed: int = 0) -> None:
    """``answer(plan, y)`` maps each source point to the plan-weighted mean of the target points ``(n, d)``."""
    rng = check_rng(seed)
    a, b, cost, _, y = _problem(rng, 25, 35)
    plan = ot.emd(a, b, cost)
    got = as_numpy(call(answer, plan.copy(), y.copy(), what="barycentric_map(plan, y)"), "T(x)", (25, 2))
    if np.allclose(got, plan @ y, rtol=1e-6):
        raise CheckFailed("plan @ y still carries the source weights a_i; divide each row by its sum")
    if np.allclose(got, plan @ y * len(a), rtol=1e-6):
        raise CheckFailed("multiplying by n is right only for uniform weights; divide each row by its own sum")
    require(
        np.allclose(got, plan @ y / plan.sum(1, keepdims=True), rtol=1e-6), "T(x_i) = sum_j pi_ij y_j / sum_j pi_ij"
    )
    perm = rng.permutation(10)
    ident = as_numpy(call(answer, np.eye(10)[perm] / 10, y[:10].copy(), what="barycentric_map"), "T(x)", (10, 2))
    require(np.allclose(ident, y[:10][perm]), "for a permutation plan, each point must go to its partner y_j")

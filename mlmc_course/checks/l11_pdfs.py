"""Checks for lesson 11 (PDFs the NNPDF way): sum rules, data replicas, effective exponents, closure pulls."""

from __future__ import annotations

import numpy as np
from scipy import special

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, check_seed, require


def valence_integral(answer, seed: int = 0) -> None:
    """``answer(xf, x_min)`` returns ``int_{x_min}^1 f(x) dx`` for a vectorised callable ``xf(x) = x f(x)``."""
    rng = check_rng(seed)
    x_min = 1e-9
    for _ in range(2):
        a = float(rng.uniform(0.25, 0.7))  # x f ~ x^a at small x, so f ~ x^(a - 1): an integrable rise
        b = float(rng.uniform(2.5, 5.0))
        calls = []

        def xf(x, a=a, b=b, calls=calls):
            x = np.asarray(x, dtype=float)
            calls.append(x.copy())
            return x**a * (1 - x) ** b

        got = as_float(call(answer, xf, x_min, what="valence_integral(xf, x_min)"), "the integral")
        # int_{x_min}^1 x^(a-1) (1-x)^b dx = B(a, b+1) (1 - I_{x_min}(a, b+1))
        want = special.beta(a, b + 1) * (1 - special.betainc(a, b + 1, x_min))
        if abs(got / want - 1) < 2e-3:
            continue
        evaluated = np.concatenate([np.ravel(c) for c in calls]) if calls else np.zeros(0)
        small = evaluated[(evaluated > 0) & (evaluated < 1e-3)]
        if got < want and len(small) < 5:
            missing = special.beta(a, b + 1) * special.betainc(a, b + 1, 1e-3)
            raise CheckFailed(
                f"your integral {got:.4f} is below the true {want:.4f}: you hardly evaluated the PDF below x = 1e-3, "
                f"yet for f ~ x^{a - 1:.2f} that region alone holds {missing:.3f}; use a grid that is uniform in ln x"
            )
        if got > want and len(small) < 5:
            raise CheckFailed(
                f"your integral {got:.4f} is above the true {want:.4f}: on a linear grid the first interval is "
                "weighted by f(x_min), which is huge for a PDF that rises like x^-alpha; integrate x f(x) over ln x"
            )
        raise CheckFailed(
            f"the integral should be {want:.5f} for x f = x^{a:.2f} (1 - x)^{b:.2f}, got {got:.5f}; use "
            "int f dx = int x f(x) d(ln x) with the trapezoid rule on a log-spaced grid of a few thousand points"
        )


def mc_replicas(answer, seed: int = 0) -> None:
    """``answer(data, cov, n_replicas, rng)`` returns replicas ``(n_replicas, n_data)`` drawn from N(data, cov)."""
    rng = check_rng(seed)
    n_data, n_rep = 6, 20_000
    data = rng.uniform(1.0, 3.0, n_data)
    err = 0.05 * data
    corr = np.full((n_data, n_data), 0.8) + 0.2 * np.eye(n_data)
    cov = corr * np.outer(err, err)
    got = as_numpy(
        call(answer, data.copy(), cov.copy(), n_rep, np.random.default_rng(check_seed(seed)), what="mc_replicas"),
        "the replicas",
        (n_rep, n_data),
    )
    spread = got.std(axis=0, ddof=1)
    if np.all(spread < 1e-12 * data):
        raise CheckFailed(
            "all replicas are identical: draw a fresh Gaussian fluctuation for every replica (z of shape "
            "(n_replicas, n_data)), not one shared by all"
        )
    mean_err = err / np.sqrt(n_rep)
    require(
        np.all(np.abs(got.mean(axis=0) - data) < 5 * mean_err),
        "the replicas should scatter around the data: their mean differs from it by more than 5 standard errors",
    )
    require(
        np.all(np.abs(spread / err - 1) < 0.05),
        "the spread of the replicas should equal the data errors sqrt(diag(cov)); spread / error = "
        f"{np.round(spread / err, 3)}",
    )
    sample_corr = np.corrcoef(got, rowvar=False)
    off = ~np.eye(n_data, dtype=bool)
    if np.all(np.abs(sample_corr[off]) < 0.05):
        raise CheckFailed(
            "the replicas are uncorrelated, but the data errors are 80% correlated: draw L z with L the Cholesky "
            "factor of the full covariance (L L^T = cov), not sqrt(diag(cov)) z"
        )
    require(
        np.all(np.abs(sample_corr[off] - 0.8) < 0.03),
        "the correlations between the replicas' points should reproduce those of cov (0.8 here)",
    )
    again = call(answer, data.copy(), cov.copy(), n_rep, np.random.default_rng(check_seed(seed)), what="mc_replicas")
    require(
        np.array_equal(np.asarray(again), got),
        "two calls with identically seeded generators differ: draw from the rng you are given",
    )


def effective_exponents(answer, seed: int = 0) -> None:
    """``answer(x, xf)`` returns ``(alpha_eff, beta_eff)`` with ``f = xf / x``: ``ln f / ln(1/x)`` and
    ``ln f / ln(1 - x)``."""
    rng = check_rng(seed)
    x = np.sort(rng.uniform(1e-6, 0.95, 200))
    alpha, beta = rng.uniform(0.2, 0.6), rng.uniform(2.5, 5.0)
    xf = 1.7 * x ** (1 - alpha) * (1 - x) ** beta * (1 + 2 * x)
    out = call(answer, x.copy(), xf.copy(), what="effective_exponents(x, xf)")
    require(isinstance(out, tuple) and len(out) == 2, "effective_exponents should return (alpha_eff, beta_eff)")
    a_eff = as_numpy(out[0], "alpha_eff", x.shape)
    b_eff = as_numpy(out[1], "beta_eff", x.shape)
    log_f = np.log(xf / x)
    want_a, want_b = log_f / np.log(1 / x), log_f / np.log(1 - x)
    if np.allclose(a_eff, np.log(xf) / np.log(1 / x), rtol=1e-6):
        raise CheckFailed("you used ln(x f) instead of ln f: divide x f(x) by x first (alpha_eff is then larger by 1)")
    if np.allclose(a_eff, -want_a, rtol=1e-6):
        raise CheckFailed("alpha_eff has the wrong sign: f ~ x^-alpha, so alpha_eff = ln f / ln(1/x) is positive")
    require(np.allclose(a_eff, want_a, rtol=1e-6), "alpha_eff should be ln f(x) / ln(1/x) with f = xf / x")
    if np.allclose(b_eff, np.log(xf) / np.log(1 - x), rtol=1e-6):
        raise CheckFailed("beta_eff: use ln f, not ln(x f)")
    require(np.allclose(b_eff, want_b, rtol=1e-6), "beta_eff should be ln f(x) / ln(1 - x) with f = xf / x")
    require(
        abs(a_eff[0] - alpha) < 0.15,
        f"at x = {x[0]:.1e} alpha_eff should be close to the small-x exponent {alpha:.2f}, got {a_eff[0]:.3f}",
    )


def closure_pulls(answer, seed: int = 0) -> None:
    """``answer(replicas, truth)`` returns the pulls ``(mean - truth) / std`` over replicas, shape ``(n,)``."""
    rng = check_rng(seed)
    n_rep, n = 50, 30
    truth = rng.uniform(0.5, 2.0, n)
    sigma = rng.uniform(0.02, 0.1, n)
    centre = truth + sigma * rng.standard_normal(n)
    replicas = centre + sigma * rng.standard_normal((n_rep, n))
    got = as_numpy(call(answer, replicas.copy(), truth.copy(), what="closure_pulls(replicas, truth)"), "pulls", (n,))
    mean = replicas.mean(axis=0)
    for ddof in (0, 1):
        if np.allclose(got, (mean - truth) / replicas.std(axis=0, ddof=ddof), rtol=1e-6):
            return
    if np.allclose(got, (mean - truth) / (replicas.std(axis=0, ddof=1) / np.sqrt(n_rep)), rtol=1e-6):
        raise CheckFailed(
            "you divided by the standard error of the replica mean (std / sqrt(N_rep)); the uncertainty of the fit is "
            "the spread of the replicas itself, std over replicas"
        )
    if np.allclose(got, (truth - mean) / replicas.std(axis=0, ddof=1), rtol=1e-6):
        raise CheckFailed("the sign is reversed: a pull is (fit - truth) / uncertainty")
    raise CheckFailed("the pulls should be (mean over replicas - truth) / (standard deviation over replicas)")

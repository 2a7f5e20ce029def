"""Checks for lesson 05 (Uncertainties): the Gaussian likelihood, ensemble moments, coverage."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, check_seed, require

LOG_2PI_HALF = 0.5 * math.log(2 * math.pi)


def gaussian_nll(answer, seed: int = 0) -> None:
    """``answer(y, mean, log_var)`` returns the mean Gaussian negative log-likelihood per point (a constant
    offset such as 0.5 ln 2 pi is allowed)."""
    rng = check_rng(seed)
    n = 400
    y = rng.normal(0.0, 2.0, n)
    mean = y + rng.normal(0.0, 1.0, n)
    log_var = rng.uniform(-2.0, 1.5, n)
    got = as_float(
        call(answer, y.copy(), mean.copy(), log_var.copy(), what="gaussian_nll(y, mean, log_var)"), "the NLL"
    )
    r2 = (y - mean) ** 2
    want = float(np.mean(0.5 * log_var + 0.5 * r2 * np.exp(-log_var)))
    offsets = (0.0, LOG_2PI_HALF)
    if any(abs(got - want - c) < 1e-6 * (1 + abs(want)) for c in offsets):
        # One more call with other arrays: an offset that is not a constant would show up here.
        y2 = rng.normal(0.0, 1.0, 50)
        m2, lv2 = np.zeros(50), np.full(50, 0.7)
        got2 = as_float(call(answer, y2, m2, lv2, what="gaussian_nll(y, mean, log_var)"), "the NLL")
        want2 = float(np.mean(0.5 * lv2 + 0.5 * y2**2 * np.exp(-lv2)))
        require(
            any(abs(got2 - want2 - c) < 1e-6 * (1 + abs(want2)) for c in offsets),
            "the NLL matches on one input but not on another; use only y, mean and log_var, element by element",
        )
        return
    no_log = float(np.mean(0.5 * r2 * np.exp(-log_var)))
    if any(abs(got - no_log - c) < 1e-6 * (1 + abs(no_log)) for c in offsets):
        raise CheckFailed(
            "the 0.5 * log_var term is missing: without it the loss falls forever as the variance grows, and the "
            "network learns infinitely wide error bars"
        )
    if any(abs(got + want + c) < 1e-6 * (1 + abs(want)) for c in offsets):
        raise CheckFailed("you returned the log-likelihood; the loss to minimise is its negative")
    if any(abs(got - 2 * want - 2 * c) < 1e-6 * (1 + abs(want)) for c in offsets):
        raise CheckFailed("your NLL is twice too large: -ln N(y; mu, sigma^2) has a factor 1/2 in front of both terms")
    if any(abs(got - n * (want + c)) < 1e-6 * (1 + abs(n * want)) for c in offsets):
        raise CheckFailed("you summed over points; return the mean over points, so the loss does not scale with n")
    raise CheckFailed(
        "the value does not match mean(0.5 * log_var + 0.5 * (y - mean)^2 / exp(log_var)) (a constant offset is "
        f"allowed): got {got:.5g}, expected {want:.5g}"
    )


def _toy_member(base: int, seed: int):
    """A cheap stand-in for a trained network: its mean wiggles around sin(x) by an amount that depends on seed."""
    rng = np.random.default_rng([base, abs(int(seed)) + 1])
    amp, phase, noise = rng.uniform(0.1, 0.4), rng.uniform(0, 2 * np.pi), rng.uniform(0.8, 1.2)

    def predict(x):
        x = np.asarray(x, dtype=float)
        return np.sin(x) + amp * np.sin(2 * x + phase), noise * (0.05 + 0.02 * x**2)

    return predict


def ensemble_predict(answer, seed: int = 0) -> None:
    """``answer(make_member, x, n_members)`` builds ``n_members`` members with ``make_member(seed)`` (distinct
    seeds), evaluates each (``predict(x) -> (mean, variance)``) and returns ``(mean, total_variance)``."""
    base = check_seed(seed) + 7
    seeds_used: list = []
    outputs: list = []

    def make_member(member_seed):
        seeds_used.append(member_seed)
        member = _toy_member(base, member_seed)

        def predict(x):
            out = member(x)
            outputs.append(out)
            return out

        return predict

    x = np.linspace(-3, 3, 61)
    n_members = 5
    got = call(answer, make_member, x.copy(), n_members, what="ensemble_predict(make_member, x, n_members)")
    require(
        isinstance(got, tuple) and len(got) == 2,
        "ensemble_predict should return a tuple (mean, total_variance)",
    )
    mean = as_numpy(got[0], "the ensemble mean", x.shape)
    var = as_numpy(got[1], "the total variance", x.shape)
    require(
        len(seeds_used) == n_members,
        f"make_member was called {len(seeds_used)} times; build each of the {n_members} members once",
    )
    require(
        len(outputs) == n_members,
        f"the members were evaluated {len(outputs)} times; call each member's predict(x) once",
    )
    if len({repr(s) for s in seeds_used}) < n_members:
        raise CheckFailed(
            f"the members were built with seeds {seeds_used}: members that share a seed are identical copies, so "
            "their spread (the epistemic uncertainty) is zero; give each member its own seed"
        )
    means = np.stack([o[0] for o in outputs])
    variances = np.stack([o[1] for o in outputs])
    require(np.allclose(mean, means.mean(0), rtol=1e-6, atol=1e-9), "the mean should be the average of the means")
    aleatoric = variances.mean(0)
    if np.allclose(var, aleatoric, rtol=1e-6):
        raise CheckFailed(
            "your variance is the mean of the members' variances only (aleatoric); add the variance of their "
            "means (epistemic), which is what tells you the members disagree"
        )
    if np.allclose(var, means.var(0), rtol=1e-6) or np.allclose(var, means.var(0, ddof=1), rtol=1e-6):
        raise CheckFailed("your variance is the spread of the means only; add the mean of the members' variances")
    if np.allclose(var, np.sqrt(variances).mean(0) ** 2 + means.var(0), rtol=1e-6):
        raise CheckFailed("average the variances, not the standard deviations")
    ok = any(np.allclose(var, aleatoric + means.var(0, ddof=d), rtol=1e-6) for d in (0, 1))
    require(
        ok,
        "the total variance should be mean(variances) + var(means) (law of total variance), for each x",
    )


def coverage(answer, seed: int = 0) -> None:
    """``answer(y, mean, std, level)`` returns the fraction of ``y`` inside the central ``level`` interval of
    ``N(mean, std^2)``."""
    rng = check_rng(seed)
    n = 20_000
    mean = rng.normal(0, 1, n)
    std = rng.uniform(0.2, 1.0, n)
    y = mean + std * rng.standard_normal(n) * rng.choice([0.7, 1.0, 1.6], size=n)
    for level in (0.68, 0.95, 0.5):
        got = as_float(
            call(answer, y.copy(), mean.copy(), std.copy(), level, what=f"coverage(y, mean, std, {level})"),
            "the coverage",
        )
        require(0.0 <= got <= 1.0, f"a coverage is a fraction between 0 and 1, got {got:.4g}")
        z = stats.norm.ppf(0.5 + level / 2)
        want = float(np.mean(np.abs(y - mean) <= z * std))
        if abs(got - want) <= 2.0 / n:
            continue
        if abs(got - float(np.mean(np.abs(y - mean) <= std))) <= 2.0 / n:
            raise CheckFailed(
                f"at level {level} you counted points within 1 sigma; the central {level:.0%} interval is "
                f"mean -+ z sigma with z = Phi^-1((1 + level) / 2) = {z:.3f}"
            )
        z_one_sided = stats.norm.ppf(level)
        if abs(got - float(np.mean(np.abs(y - mean) <= z_one_sided * std))) <= 2.0 / n:
            raise CheckFailed(
                f"you used z = Phi^-1(level) = {z_one_sided:.3f}, a one-sided quantile; a central interval leaves "
                f"(1 - level) / 2 in each tail, so z = Phi^-1((1 + level) / 2) = {z:.3f}"
            )
        if abs(got - float(np.mean(np.abs(y - mean) <= z * std**2))) <= 2.0 / n:
            raise CheckFailed("you multiplied z by the variance; the interval is mean -+ z * std")
        raise CheckFailed(
            f"at level {level} the coverage should be {want:.4f} for these points, got {got:.4f}; count the points "
            "with |y - mean| <= z * std"
        )

"""Checks for lesson 00 (Start here): four-vectors, Monte Carlo errors, inverse-CDF sampling."""

from __future__ import annotations

import numpy as np
from scipy import stats

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, check_seed, require


def _random_four_vectors(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    masses = rng.choice([0.0, 0.105, 0.494, 4.18], size=n)
    p = rng.normal(0, 50, (n, 3))
    e = np.sqrt(masses**2 + (p**2).sum(1))
    return np.column_stack([e, p]), masses


def invariant_mass(answer, seed: int = 0) -> None:
    """``answer(p1, p2)`` takes two arrays of four-momenta ``(n, 4)`` = (E, px, py, pz) in GeV and returns the
    invariant mass of each pair, shape ``(n,)``."""
    rng = check_rng(seed)
    p1, m1 = _random_four_vectors(rng, 50)
    p2, m2 = _random_four_vectors(rng, 50)
    tot = p1 + p2
    want = np.sqrt(np.maximum(tot[:, 0] ** 2 - (tot[:, 1:] ** 2).sum(1), 0))
    got = as_numpy(call(answer, p1.copy(), p2.copy(), what="invariant_mass(p1, p2)"), "invariant_mass(p1, p2)", (50,))
    if np.allclose(got, want**2, rtol=1e-6):
        raise CheckFailed("you returned m^2, not m: take the square root at the end")
    e_plus_p = np.sqrt(tot[:, 0] ** 2 + (tot[:, 1:] ** 2).sum(1))
    require(
        not np.allclose(got, e_plus_p, rtol=1e-6),
        "the metric sign is wrong: m^2 = E^2 - |p|^2 (mostly-minus metric), not E^2 + |p|^2",
    )
    if np.allclose(got, m1 + m2, rtol=1e-6, atol=1e-5):
        raise CheckFailed(
            "you added the masses of the two particles; the invariant mass of the pair comes from their summed "
            "four-vector, m^2 = (E1 + E2)^2 - |p1 + p2|^2, and includes their relative motion"
        )
    require(
        np.allclose(got, want, rtol=1e-6, atol=1e-6),
        "invariant masses do not match m = sqrt((E1+E2)^2 - |p1+p2|^2); add the four-vectors first, then square",
    )
    # Z -> mu mu at rest: back-to-back muons of 45.6 GeV each must give 91.2 GeV.
    mu = np.array([[45.6, 0.0, 0.0, 45.6]])
    anti = np.array([[45.6, 0.0, 0.0, -45.6]])
    m = as_numpy(call(answer, mu, anti, what="invariant_mass for back-to-back muons"), "the Z mass", (1,))[0]
    require(abs(m - 91.2) < 1e-6, f"two back-to-back 45.6 GeV muons should give 91.2 GeV, got {m:.4g}")
    # pi0 -> gamma gamma: two 5 GeV photons at a small opening angle make a light pair, m = 10 sin(a) GeV.
    a = np.arcsin(0.0135)
    g1 = np.array([[5.0, 5 * np.sin(a), 0.0, 5 * np.cos(a)]])
    g2 = np.array([[5.0, -5 * np.sin(a), 0.0, 5 * np.cos(a)]])
    m = as_numpy(call(answer, g1, g2, what="invariant_mass for two photons"), "the pi0 mass", (1,))[0]
    require(
        abs(m - 0.135) < 1e-6,
        f"two photons from a pi0 decay should give m = 0.135 GeV, got {m:.4g}: light pairs (m^2 below 1 GeV^2) "
        "need the same formula; clip only negative m^2 (rounding) to zero",
    )


def mc_integral(answer, seed: int = 0) -> None:
    """``answer(f, n, rng)`` returns ``(estimate, error)`` of the integral of f over [0, 1] from n uniform points."""
    f = lambda x: 3 * x**2  # noqa: E731  (integral 1, variance 4/5)
    n = 10_000
    out = call(answer, f, n, np.random.default_rng(check_seed(seed)), what="mc_integral(f, n, rng)")
    require(isinstance(out, tuple) and len(out) == 2, "mc_integral should return a tuple (estimate, error)")
    est, err = as_float(out[0], "the estimate"), as_float(out[1], "the error")
    true_err = np.sqrt(0.8 / n)
    require(err > 0, "the error should be positive")
    require(
        not abs(err - np.sqrt(0.8)) < 0.1,
        f"your error ({err:.3g}) is the spread of single samples; the error of the mean is std / sqrt(n)",
    )
    require(
        0.8 * true_err < err < 1.2 * true_err,
        f"the error should be close to std(f)/sqrt(n) = {true_err:.3g} here, got {err:.3g}",
    )
    require(abs(est - 1.0) < 5 * true_err, f"the estimate {est:.4f} is more than 5 sigma from the true value 1")
    # Reproducible: the same generator state gives the same answer.
    again = call(answer, f, n, np.random.default_rng(check_seed(seed)), what="mc_integral(f, n, rng)")
    require(isinstance(again, tuple) and len(again) == 2, "mc_integral should return a tuple (estimate, error)")
    require(
        as_float(again[0], "the estimate") == est,
        "two calls with identically seeded generators differ: draw the points from the rng you are given",
    )


def sample_lifetime(answer, seed: int = 0) -> None:
    """``answer(n, tau, rng)`` draws n decay times (same unit as tau) from p(t) = exp(-t/tau)/tau by
    inverse-CDF sampling with the given generator."""
    tau, n = 1.5, 20_000
    t = as_numpy(
        call(answer, n, tau, np.random.default_rng(check_seed(seed)), what="sample_lifetime(n, tau, rng)"),
        "the decay times",
        (n,),
    )
    require(np.all(t >= 0), "decay times must be non-negative")
    mean, err = t.mean(), tau / np.sqrt(n)
    if abs(mean - 1 / tau) < 5 * err / tau**2 and abs(mean - tau) > 5 * err:
        raise CheckFailed(f"the mean decay time is {mean:.3f} = 1/tau: you used tau as a rate; the mean should be tau")
    require(abs(mean - tau) < 5 * err, f"the mean decay time should be tau = {tau} within errors, got {mean:.3f}")
    ks = stats.kstest(t, stats.expon(scale=tau).cdf)
    require(ks.pvalue > 1e-4, f"the times are not exponentially distributed (KS p-value {ks.pvalue:.2g})")
    again = call(answer, n, tau, np.random.default_rng(check_seed(seed)), what="sample_lifetime(n, tau, rng)")
    require(
        np.array_equal(np.asarray(again), t),
        "two calls with identically seeded generators differ: use the rng argument, not np.random",
    )

"""Checks for lesson 12 (Hadronization and detector surrogates): the Lund function, rejection sampling, and reading
the CaloChallenge classifier AUC."""

from __future__ import annotations

import numpy as np
from scipy import stats

from mlmc_course import hadronization as had
from mlmc_course.checks.core import CheckFailed, as_numpy, call, check_rng, check_seed, require


def lund_f(answer, seed: int = 0) -> None:
    """``answer(z, a, b, m_t)`` returns the Lund symmetric function (1/z)(1-z)^a exp(-b mT^2/z) up to a constant
    factor, same shape as ``z``."""
    rng = check_rng(seed)
    z = np.sort(rng.uniform(0.02, 0.98, 60))
    points = [(had.A_LUND, had.B_LUND, had.M_T), (rng.uniform(0.3, 1.5), rng.uniform(0.5, 1.5), rng.uniform(0.3, 1.0))]
    for a, b, m_t in points:
        what = f"lund_f(z, a={a:.3g}, b={b:.3g}, m_t={m_t:.3g})"
        got = as_numpy(call(answer, z.copy(), a, b, m_t, what=what), what, z.shape)
        require(np.all(got > 0), f"{what} should be positive for 0 < z < 1")
        want = had.lund_f(z, a, b, m_t)
        ratio = got / want
        if np.allclose(ratio, ratio[0], rtol=1e-6):
            continue
        if np.allclose(got * z / want, (got * z / want)[0], rtol=1e-6):
            raise CheckFailed(f"{what} lacks the factor 1/z in front: f(z) = (1/z) (1-z)^a exp(-b mT^2 / z)")
        for label, alt in (
            ("mT enters squared: exp(-b mT^2 / z), not exp(-b mT / z)", np.exp(-b * m_t / z) * (1 - z) ** a / z),
            ("the exponent is -b mT^2 / z, with z in the denominator", np.exp(-b * m_t**2 * z) * (1 - z) ** a / z),
        ):
            if np.allclose(got / alt, (got / alt)[0], rtol=1e-6):
                raise CheckFailed(f"{what}: {label}")
        raise CheckFailed(f"{what} is not proportional to (1/z) (1-z)^a exp(-b mT^2 / z)")


def rejection_sample(answer, seed: int = 0) -> None:
    """``answer(f, f_max, n, rng)`` returns n draws in (0, 1) from the density proportional to f, by rejection
    against a uniform proposal, using ``f_max >= max f``."""
    n = 20_000
    cases = [
        ("6 z (1 - z) (a Beta(2, 2) density)", lambda z: 6 * z * (1 - z), 1.5, stats.beta(2, 2).cdf),
        (
            "3 x the Lund function at the Monash values",
            lambda z: 3 * had.lund_f(z),
            3 * float(had.lund_f(had.lund_z_peak())),
            had.lund_cdf,
        ),
    ]
    for name, f, f_max, cdf in cases:
        what = f"rejection_sample(f, f_max, n, rng) for f = {name}"
        out = call(answer, f, f_max, n, np.random.default_rng(check_seed(seed)), what=what)
        got = np.asarray(out.detach() if hasattr(out, "detach") else out, dtype=float)
        if got.ndim == 1 and got.shape[0] < n:
            raise CheckFailed(
                f"{what} returned {got.shape[0]} values for n = {n}: keep proposing until n points are accepted"
            )
        got = as_numpy(got, "the samples", (n,))
        require(np.all((got > 0) & (got < 1)), f"{what}: samples must lie in (0, 1)")
        p_uniform = stats.kstest(got, "uniform").pvalue
        if p_uniform > 1e-3:
            raise CheckFailed(f"{what}: the samples look uniform; accept a proposal z only if u * f_max < f(z)")
        p = stats.kstest(got, cdf).pvalue
        require(
            p > 1e-4,
            f"{what}: the samples do not follow f (KS p-value {p:.2g}); accept when u * f_max < f(z) with u uniform "
            "in [0, 1): comparing u with f(z) alone is only right when f_max = 1",
        )
        again = np.asarray(call(answer, f, f_max, n, np.random.default_rng(check_seed(seed)), what=what), dtype=float)
        require(
            np.array_equal(again, got),
            f"{what}: two calls with identically seeded generators differ; draw every random number from rng",
        )
    f, f_max = cases[0][1], cases[0][2]
    for n_small in (1, 3):
        what = f"rejection_sample(f, f_max, {n_small}, rng)"
        small = call(answer, f, f_max, n_small, np.random.default_rng(check_seed(seed)), what=what)
        small = as_numpy(
            np.asarray(small.detach() if hasattr(small, "detach") else small, dtype=float), what, (n_small,)
        )
        require(np.all((small > 0) & (small < 1)), f"{what}: samples must lie in (0, 1)")


def rank_surrogates(answer, seed: int = 0) -> None:
    """``answer(aucs)`` takes {name: classifier AUC} and returns the names from the best surrogate to the worst."""
    rng = check_rng(seed)
    cases = [
        {"flow": 0.56, "GAN": 0.81, "VAE": 0.67},
        {"diffusion": 0.52, "overfitted classifier": 0.31, "flow": 0.61},
        {f"model {i}": float(v) for i, v in enumerate(rng.permutation([0.93, 0.505, 0.44, 0.71, 0.58]))},
    ]
    for aucs in cases:
        want = sorted(aucs, key=lambda k: abs(aucs[k] - 0.5))
        what = f"rank_surrogates({aucs})"
        got = call(answer, dict(aucs), what=what)
        got = list(got) if not isinstance(got, str) else [got]
        require(
            sorted(got) == sorted(aucs),
            f"{what} should return every surrogate's name once, got {got}",
        )
        if got == want:
            continue
        if got == sorted(aucs, key=aucs.get, reverse=True):
            raise CheckFailed(
                f"{what}: a higher AUC means the classifier separates generated from simulated showers better, so the "
                "surrogate is worse; AUC = 0.5 is perfect"
            )
        if got == sorted(aucs, key=aucs.get):
            raise CheckFailed(
                f"{what}: an AUC far below 0.5 is also a separation (the classifier's labels are flipped, e.g. by "
                "overfitting); rank by the distance from 0.5"
            )
        raise CheckFailed(f"{what} returned {got}; the best surrogate has the AUC closest to 0.5")

"""Checks for lesson 13 (Reweighting MC to data): classifier weights, effective sample size, weight clipping."""

from __future__ import annotations

import numpy as np

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, require


def classifier_weights(answer, seed: int = 0) -> None:
    """``answer(s, n_sim, n_data)`` turns P(data | x) for simulated events into weights p_data / p_sim, given the
    numbers of simulated and data events the classifier was trained on."""
    rng = check_rng(seed)
    n_sim, n_data = int(rng.integers(20_000, 40_000)), int(rng.integers(5_000, 10_000))
    ratio = np.exp(rng.normal(0.0, 0.7, 200))  # the true p_data / p_sim at 200 simulated events
    s = n_data * ratio / (n_data * ratio + n_sim)  # what the optimal classifier returns there
    got = as_numpy(
        call(answer, s.copy(), n_sim, n_data, what="classifier_weights(s, n_sim, n_data)"), "weights", (200,)
    )
    plain = s / (1 - s)
    if np.allclose(got, (1 - s) / s * n_sim / n_data, rtol=1e-6) or np.allclose(got, (1 - s) / s, rtol=1e-6):
        raise CheckFailed("your weights are inverted: with s = P(data | x), the odds s / (1 - s) grow with p_data")
    if np.allclose(got, plain, rtol=1e-6):
        raise CheckFailed(
            "s / (1 - s) alone is the density ratio only for balanced classes; here there are "
            f"{n_sim} simulated and {n_data} data events: multiply by the prior ratio n_sim / n_data"
        )
    if np.allclose(got, plain * n_data / n_sim, rtol=1e-6):
        raise CheckFailed("the prior ratio is upside down: multiply s / (1 - s) by n_sim / n_data, not n_data / n_sim")
    require(
        np.allclose(got, ratio, rtol=1e-6),
        "the weights do not reproduce p_data / p_sim: use w = s / (1 - s) * n_sim / n_data",
    )
    balanced = as_numpy(call(answer, np.array([0.5, 0.8]), 1000, 1000, what="classifier_weights"), "weights", (2,))
    require(np.allclose(balanced, [1.0, 4.0]), f"for balanced classes s = 0.5, 0.8 give w = 1, 4; got {balanced}")


def effective_sample_size(answer, seed: int = 0) -> None:
    """``answer(w)`` returns Kish's effective sample size (sum w)^2 / sum w^2 of weights ``(n,)``."""
    rng = check_rng(seed)
    n = int(rng.integers(500, 1500))
    equal = as_float(call(answer, np.full(n, 2.5), what="effective_sample_size(w)"), "the ESS of equal weights")
    if abs(equal - 1.0 / n) < 1e-9:
        raise CheckFailed("you returned sum w^2 / (sum w)^2, the inverse of the effective sample size")
    require(abs(equal - n) < 1e-6 * n, f"{n} equal weights should give an effective sample size of {n}, got {equal}")
    w = rng.lognormal(0.0, 1.0, n)
    want = w.sum() ** 2 / (w**2).sum()
    got = as_float(call(answer, w.copy(), what="effective_sample_size(w)"), "the ESS")
    if abs(got - 1 / want) < 1e-9:
        raise CheckFailed("you returned sum w^2 / (sum w)^2, the inverse of the effective sample size")
    require(abs(got - want) < 1e-6 * want, f"expected (sum w)^2 / sum w^2 = {want:.4g}, got {got:.4g}")
    # NLO-like weights: a quarter of the events carry negative weights, which cancel in sum w but not in sum w^2.
    signs = np.where(rng.random(n) < 0.25, -1.0, 1.0)
    w_neg = signs * rng.uniform(0.5, 1.5, n)
    want_neg = w_neg.sum() ** 2 / (w_neg**2).sum()
    got_neg = as_float(call(answer, w_neg.copy(), what="effective_sample_size(w)"), "the ESS with negative weights")
    if abs(got_neg - np.abs(w_neg).sum() ** 2 / (w_neg**2).sum()) < 1e-6 * n:
        raise CheckFailed(
            "with negative weights you used |w| in the sum: negative weights cancel in sum w, which is what makes "
            "them costly; use (sum w)^2 / sum w^2 as it is"
        )
    kept = w_neg[w_neg > 0]
    if abs(got_neg - kept.sum() ** 2 / (kept**2).sum()) < 1e-6 * n:
        raise CheckFailed("you dropped the negative weights; they belong in both sums")
    require(
        abs(got_neg - want_neg) < 1e-6 * n,
        f"with negative weights expected (sum w)^2 / sum w^2 = {want_neg:.4g}, got {got_neg:.4g}",
    )


def clip_weights(answer, seed: int = 0) -> None:
    """``answer(w, max_weight)`` caps weights at ``max_weight`` and rescales all of them so that their sum is kept."""
    rng = check_rng(seed)
    w = rng.lognormal(0.0, 1.2, 400)
    cap = float(np.quantile(w, 0.9))
    capped = np.minimum(w, cap)
    want = capped * w.sum() / capped.sum()
    got = as_numpy(call(answer, w.copy(), cap, what="clip_weights(w, max_weight)"), "the clipped weights")
    if got.shape != w.shape:
        if got.shape == (int((w <= cap).sum()),):
            raise CheckFailed("you dropped the events above the cap; keep every event and cap its weight instead")
        raise CheckFailed(f"clip_weights should return one weight per event, shape {w.shape}, got {got.shape}")
    if np.allclose(got, capped, rtol=1e-9):
        raise CheckFailed(
            f"the weights are capped but their sum fell from {w.sum():.4g} to {capped.sum():.4g}: "
            "rescale them so that the total (the normalisation) is kept"
        )
    if np.allclose(got, np.where(w > cap, 0.0, w) * w.sum() / w[w <= cap].sum(), rtol=1e-9):
        raise CheckFailed("you set the weights above the cap to zero; cap them at max_weight instead")
    require(abs(got.sum() - w.sum()) < 1e-9 * w.sum(), f"the sum of weights changed: {w.sum():.6g} -> {got.sum():.6g}")
    require(np.allclose(got, want, rtol=1e-9), "cap each weight at max_weight (np.minimum), then rescale all of them")
    untouched = as_numpy(call(answer, w.copy(), 10 * w.max(), what="clip_weights"), "the weights", w.shape)
    require(np.allclose(untouched, w), "a cap above every weight must leave the weights unchanged")

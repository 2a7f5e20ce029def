"""Checks for lesson 09 (neural importance sampling): the variance loss, the multi-channel estimate, unweighting."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, check_seed, require


def _weights_sample(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """f = 3 x^2 at points drawn from g(x) = 2x on [0, 1]: Var_g[f/g] = 9/8 - 1 = 1/8."""
    x = np.sqrt(rng.uniform(size=n))
    return 3 * x**2, 2 * x


def variance_loss(answer, seed: int = 0) -> None:
    """``answer(f, g)`` takes torch tensors ``f`` and ``g`` of shape ``(n,)`` (integrand and sampling density at
    points drawn from g) and returns the variance of the weights f/g as a 0-d tensor differentiable in ``g``."""
    rng = check_rng(seed)
    n = 4000
    f_np, g_np = _weights_sample(rng, n)
    f = torch.tensor(f_np, dtype=torch.float64)
    g = torch.tensor(g_np, dtype=torch.float64, requires_grad=True)
    out = call(answer, f, g, what="variance_loss(f, g)")
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(
            f"variance_loss should return a torch tensor (so that the flow can be trained on it), got "
            f"{type(out).__name__}; use torch operations, not NumPy or float()"
        )
    value = as_float(out, "the loss")
    w = f_np / g_np
    want = w.var()
    if np.isclose(value, np.mean(w**2), rtol=1e-3):
        raise CheckFailed(
            "you returned the mean of (f/g)^2; the variance subtracts the squared mean: Var = <w^2> - <w>^2"
        )
    if np.isclose(value, f_np.var(), rtol=1e-2) or np.isclose(value, f_np.var(ddof=1), rtol=1e-2):
        raise CheckFailed("you returned the variance of f; the weights are w = f / g, so divide by g first")
    require(
        np.isclose(value, want, rtol=2e-3),
        f"the loss is {value:.5g}, but the variance of the weights f/g is {want:.5g} here",
    )
    require(out.requires_grad, "the loss does not depend on g through torch: do not detach g or convert to NumPy")
    out.backward()
    require(g.grad is not None, "no gradient reached g: compute the loss from g with torch operations")
    grad = g.grad.numpy()
    # The g/q form gives dL/dg_k = -(w_k^2 - I_hat^2) / (n g_k): an unbiased estimate of grad Var, since
    # <grad log g>_g = 0. Any constant in place of I_hat^2 keeps it unbiased, so accept -(w^2 - b) / (n g), any b.
    naive = -2.0 / n * (w / g_np) * (w - w.mean())  # the batch variance differentiated with the points held fixed
    if np.allclose(grad, naive, rtol=1e-3, atol=1e-12) or np.allclose(grad, naive * n / (n - 1), rtol=1e-3, atol=1e-12):
        raise CheckFailed(
            "the value is the variance of f/g, but its gradient is the naive gradient of the batch variance with the "
            "points held fixed, -(2/n) sum (w - mean w) w grad log g: its expectation is not grad Var, because the "
            "points were drawn from g; use the g/q form, mean((f / g - I_hat)^2 * g / q) with q = g.detach()"
        )
    residual = -grad * n * g_np  # should be c (w^2 - b): c = 1 (or n / (n - 1) for the unbiased variance), any b
    c, d = np.polyfit(w**2, residual, 1)
    fitted = c * w**2 + d
    require(
        0.995 < c < 1.005 + 1.0 / n and np.allclose(residual, fitted, rtol=1e-3, atol=1e-6 * np.abs(fitted).max()),
        "the gradient of your loss with respect to g is not an unbiased estimate of grad Var: in the g/q form, "
        "mean((f / g - I_hat)^2 * g / q) with q = g.detach(), dL/dg_k = -(w_k^2 - I_hat^2) / (n g_k)",
    )
    # zero variance when g is proportional to f
    g2 = torch.tensor(f_np / 2.0, requires_grad=True)
    flat = as_float(call(answer, f, g2, what="variance_loss(f, f / 2)"), "the loss for g = f/2")
    require(abs(flat) < 1e-10, f"for g proportional to f every weight is equal, so the variance is 0; got {flat:.3g}")


def _two_channel_data(rng: np.random.Generator, n0: int, n1: int):
    """Two channels on [0, 1]: g0 = 2x, g1 = 2(1 - x); alpha0 = x, alpha1 = 1 - x; f = 1 + x (integral 3/2)."""
    x0 = np.sqrt(rng.uniform(size=n0))
    x1 = 1.0 - np.sqrt(rng.uniform(size=n1))
    x = np.concatenate([x0, x1])
    channel = np.concatenate([np.zeros(n0, int), np.ones(n1, int)])
    g = np.where(channel == 0, 2 * x, 2 * (1 - x))
    alpha = np.stack([x, 1 - x], axis=1)
    f = 1 + x
    order = rng.permutation(len(x))
    return f[order], g[order], alpha[order], channel[order]


def _reference_multichannel(f, g, alpha, channel, n_channels):
    value, var = 0.0, 0.0
    for i in range(n_channels):
        sel = channel == i
        a = alpha[sel, i] * f[sel] / g[sel]
        value += a.mean()
        var += a.var(ddof=1) / sel.sum()
    return value, np.sqrt(var)


def multichannel_integral(answer, seed: int = 0) -> None:
    """``answer(f, g, alpha, channel, n_channels)`` returns ``(value, error)`` of the multi-channel estimate
    ``I = sum_i mean_{k in channel i} alpha_i(x_k) f(x_k) / g_i(x_k)`` with ``error^2 = sum_i var_i / N_i``."""
    rng = check_rng(seed)
    n0, n1 = 3000, 1000
    f, g, alpha, channel = _two_channel_data(rng, n0, n1)
    out = call(
        answer, f.copy(), g.copy(), alpha.copy(), channel.copy(), 2, what="multichannel_integral(f, g, alpha, ...)"
    )
    require(isinstance(out, tuple) and len(out) == 2, "multichannel_integral should return a tuple (value, error)")
    value, error = as_float(out[0], "the value"), as_float(out[1], "the error")
    want, want_err = _reference_multichannel(f, g, alpha, channel, 2)
    no_alpha = sum((f[channel == i] / g[channel == i]).mean() for i in range(2))
    if np.isclose(value, no_alpha, rtol=1e-6):
        raise CheckFailed(
            "you left out alpha: each channel alone would integrate all of f, so f is counted once per channel; "
            "weight each sample with alpha_i(x) f(x) / g_i(x) of its own channel i"
        )
    a_own = alpha[np.arange(len(f)), channel] * f / g
    if np.isclose(value, a_own.mean(), rtol=1e-6) or np.isclose(value, a_own.sum() / len(f) * 2, rtol=1e-6):
        raise CheckFailed(
            "you averaged all samples together; the channels hold different numbers of samples (3000 and 1000 "
            "here), so average within each channel, then add the channel means"
        )
    require(
        np.isclose(value, want, rtol=1e-6),
        f"the estimate is {value:.6g}, but sum_i mean_(k in i) alpha_i f / g_i = {want:.6g} for these samples",
    )
    require(abs(want - 1.5) < 5 * want_err, "internal: the reference estimate is off")
    require(error > 0, "the error must be positive")
    pooled = a_own.std() / np.sqrt(len(f))
    if np.isclose(error, pooled, rtol=1e-2) and not np.isclose(pooled, want_err, rtol=2e-2):
        raise CheckFailed("the error adds the channels' variances: error^2 = sum_i Var_i / N_i, per channel")
    require(
        np.isclose(error, want_err, rtol=2e-2),
        f"the error is {error:.4g}, but sqrt(sum_i Var_i / N_i) = {want_err:.4g} for these samples",
    )


def unweight(answer, seed: int = 0) -> None:
    """``answer(weights, rng)`` returns the indices (or a boolean mask) of the events kept by hit-or-miss
    unweighting: event k is kept with probability ``w_k / max(w)``, using the generator ``rng``."""
    n = 60_000
    rng = check_rng(seed)
    x = rng.uniform(size=n)
    w = 3 * x**2  # uniform points weighted to the density 3 x^2
    out = call(answer, w.copy(), np.random.default_rng(check_seed(seed) + 7), what="unweight(weights, rng)")
    kept = np.asarray(out)
    if kept.dtype == bool:
        require(kept.shape == (n,), f"a boolean mask must have shape ({n},), got {kept.shape}")
        idx = np.flatnonzero(kept)
    else:
        idx = as_numpy(kept, "the kept indices").astype(int)
        require(kept.ndim == 1, f"return a 1-d array of indices, got shape {kept.shape}")
        require(np.all((idx >= 0) & (idx < n)), "indices must lie in 0 ... n-1")
        require(len(np.unique(idx)) == len(idx), "each event can be kept at most once; indices repeat")
    frac = len(idx) / n
    expected = w.mean() / w.max()
    if abs(frac - np.minimum(1, w / w.mean()).mean()) < 0.01 and abs(frac - expected) > 0.02:
        raise CheckFailed(
            f"you keep {frac:.1%} of the events: accepting with probability w / mean(w) keeps every event with "
            "w above the mean, which flattens the distribution; accept with w / w_max"
        )
    sd = np.sqrt(expected * (1 - expected) / n)
    require(
        abs(frac - expected) < 5 * sd,
        f"you keep {frac:.1%} of the events; with probability w / max(w) it should be about {expected:.1%}",
    )
    ks = stats.kstest(x[idx], lambda t: np.clip(t, 0, 1) ** 3)
    require(ks.pvalue > 1e-4, f"the kept events do not follow the weighted distribution (KS p-value {ks.pvalue:.2g})")
    again = call(answer, w.copy(), np.random.default_rng(check_seed(seed) + 7), what="unweight(weights, rng)")
    again_idx = np.flatnonzero(np.asarray(again)) if np.asarray(again).dtype == bool else np.asarray(again)
    require(
        np.array_equal(np.sort(again_idx), np.sort(idx)),
        "two calls with identically seeded generators keep different events: draw the random numbers from rng",
    )

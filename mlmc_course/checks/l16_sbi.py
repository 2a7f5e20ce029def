"""Checks for lesson 16 (Simulation-based inference): joint ratio and score, the CARL ratio, the RASCAL loss."""

from __future__ import annotations

import numpy as np
import torch

from mlmc_course import sbi
from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, check_seed, require


def _terms(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The simulator's (f0, f1, f2) at latent points drawn for a few theta values."""
    rng = check_rng(seed)
    z = sbi.sample_latent(rng.uniform(-1.5, 1.5, n), rng)
    return sbi.terms(z)


def _log_p(f0, f1, f2, theta):
    return np.log(f0 + theta * f1 + theta**2 * f2) - np.log(1 + theta**2)


def joint_log_ratio(answer, seed: int = 0) -> None:
    """``answer(f0, f1, f2, theta0, theta1)`` returns ``log p(z | theta0) - log p(z | theta1)``, shape ``(n,)``."""
    f0, f1, f2 = _terms(seed)
    rng = check_rng(seed + 1)
    for theta0, theta1 in [(0.0, 0.0), (rng.uniform(0.3, 1.0), 0.0), (rng.uniform(-1.0, -0.3), rng.uniform(0.2, 0.9))]:
        what = f"joint_log_ratio(f0, f1, f2, theta0={theta0:.3g}, theta1={theta1:.3g})"
        got = as_numpy(call(answer, f0.copy(), f1.copy(), f2.copy(), theta0, theta1, what=what), what, f0.shape)
        want = _log_p(f0, f1, f2, theta0) - _log_p(f0, f1, f2, theta1)
        if np.allclose(got, want, rtol=1e-6, atol=1e-8):
            continue
        if np.allclose(got, -want, rtol=1e-6, atol=1e-8):
            raise CheckFailed(f"{what}: you returned log r(theta1 / theta0); the numerator is theta0")
        if np.allclose(got, np.exp(want), rtol=1e-6, atol=1e-8):
            raise CheckFailed(f"{what}: you returned the ratio r itself; take its logarithm")
        unnormalised = np.log(f0 + theta0 * f1 + theta0**2 * f2) - np.log(f0 + theta1 * f1 + theta1**2 * f2)
        if np.allclose(got, unnormalised, rtol=1e-6, atol=1e-8):
            raise CheckFailed(
                f"{what}: p(z | theta) is normalised by sigma(theta) = 1 + theta^2, and the normalisation does not "
                "cancel between theta0 and theta1; include -log(1 + theta0^2) + log(1 + theta1^2)"
            )
        raise CheckFailed(f"{what} does not match log p(z | theta0) - log p(z | theta1); compare the formula")


def joint_score(answer, seed: int = 0) -> None:
    """``answer(f0, f1, f2, theta)`` returns ``d/dtheta log p(z | theta)``, shape ``(n,)``."""
    f0, f1, f2 = _terms(seed)
    rng = check_rng(seed + 2)
    for theta in [0.0, float(rng.uniform(0.2, 1.0)), float(rng.uniform(-1.0, -0.2))]:
        what = f"joint_score(f0, f1, f2, theta={theta:.3g})"
        got = as_numpy(call(answer, f0.copy(), f1.copy(), f2.copy(), theta, what=what), what, f0.shape)
        h = 1e-5
        want = (_log_p(f0, f1, f2, theta + h) - _log_p(f0, f1, f2, theta - h)) / (2 * h)
        if np.allclose(got, want, rtol=1e-4, atol=1e-5):
            continue
        no_norm = (f1 + 2 * theta * f2) / (f0 + theta * f1 + theta**2 * f2)
        if theta != 0.0 and np.allclose(got, no_norm, rtol=1e-4, atol=1e-5):
            raise CheckFailed(
                f"{what}: you left out the derivative of the normalisation; sigma(theta) = 1 + theta^2 depends on "
                "theta, so the score has a second term -2 theta / (1 + theta^2)"
            )
        if np.allclose(got, f1 + 2 * theta * f2, rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"{what}: that is the derivative of p, not of log p; divide by p")
        raise CheckFailed(f"{what} does not match d log p(z | theta) / d theta (checked by finite differences)")


def _gaussians(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Points and the exact ratio N(x; 0.5, 1) / N(x; -0.5, 1.2)."""
    x = check_rng(seed).normal(0.0, 1.5, n)
    log_p0 = -0.5 * (x - 0.5) ** 2
    log_p1 = -0.5 * ((x + 0.5) / 1.2) ** 2 - np.log(1.2)
    return x, np.exp(log_p0 - log_p1)


def carl_ratio(answer, seed: int = 0) -> None:
    """``answer(s, n_num, n_den)``: the likelihood ratio ``p(x | theta0) / p(x | theta1)`` from the output ``s`` of
    a classifier trained with label 1 on ``n_num`` events from theta0 and label 0 on ``n_den`` events from theta1."""
    _, r = _gaussians(seed)
    rng = check_rng(seed + 3)
    for n_num, n_den in [(5000, 5000), (int(rng.integers(1000, 3000)), int(rng.integers(6000, 9000)))]:
        prior = n_num / (n_num + n_den)
        s = prior * r / (prior * r + 1 - prior)  # the ideal classifier's output
        what = f"carl_ratio(s, n_num={n_num}, n_den={n_den})"
        got = as_numpy(call(answer, s.copy(), n_num, n_den, what=what), what, s.shape)
        if np.allclose(got, r, rtol=1e-6):
            continue
        if np.allclose(got, 1 / r, rtol=1e-6):
            raise CheckFailed(
                f"{what}: the ratio is inverted; label 1 (output s) marks the numerator theta0, so r = s / (1 - s) "
                "(times the class correction)"
            )
        if np.allclose(got, s / (1 - s), rtol=1e-6):
            raise CheckFailed(
                f"{what}: with {n_num} numerator and {n_den} denominator events, s / (1 - s) also holds the class "
                "ratio n_num / n_den; multiply by n_den / n_num"
            )
        raise CheckFailed(f"{what} does not return p(x | theta0) / p(x | theta1) for an ideal classifier")


def _rascal_inputs(seed: int, n: int = 64):
    g = torch.Generator().manual_seed(check_seed(seed))
    log_r_hat = (0.5 * torch.randn(n, generator=g, dtype=torch.float64)).requires_grad_(True)
    t_hat = torch.randn(n, generator=g, dtype=torch.float64).requires_grad_(True)
    y = (torch.rand(n, generator=g) < 0.5).double()
    y[:2] = torch.tensor([0.0, 1.0], dtype=torch.float64)
    log_r = 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    t = torch.randn(n, generator=g, dtype=torch.float64)
    return log_r_hat, t_hat, y, log_r, t


def rascal_loss(answer, seed: int = 0) -> None:
    """``answer(log_r_hat, t_hat, y, log_r, t, alpha)`` returns the RASCAL loss as a scalar torch tensor."""
    log_r_hat, t_hat, y, log_r, t = _rascal_inputs(seed)
    alpha = 2.5
    what = "rascal_loss(log_r_hat, t_hat, y, log_r, t, alpha)"
    out = call(answer, log_r_hat, t_hat, y, log_r, t, alpha, what=what)
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{what} should return a torch tensor (so that it can be trained), got {type(out).__name__}")
    got = as_float(out, "the RASCAL loss")
    ones = torch.ones_like(y)

    @torch.no_grad()
    def ref(score_mask=y, weight=alpha, swap=False):
        yy = 1 - y if swap else y
        return (sbi.rolr_terms(log_r_hat, yy, log_r) + weight * (score_mask * (t_hat - t) ** 2).mean()).item()

    want = ref()
    if not np.isclose(got, want, rtol=1e-6):
        if np.isclose(got, ref(weight=0.0), rtol=1e-6):
            raise CheckFailed(
                f"{what}: this is the ROLR loss alone; RASCAL adds alpha * y * (t_hat - t)^2, the score term"
            )
        if np.isclose(got, ref(swap=True), rtol=1e-6):
            raise CheckFailed(
                f"{what}: the two ratio terms are swapped: events from theta_ref (y = 0) regress r_hat on r, "
                "events from theta (y = 1) regress 1/r_hat on 1/r"
            )
        if np.isclose(got, ref(score_mask=ones), rtol=1e-6):
            raise CheckFailed(
                f"{what}: the score term should use only events drawn at theta (y = 1): only there is the joint "
                "score an unbiased estimate of the score"
            )
        if np.isclose(got, ref(weight=1.0), rtol=1e-6):
            raise CheckFailed(f"{what}: weight the score term with alpha")
        raise CheckFailed(f"{what} = {got:.6g}, expected {want:.6g}; compare the three terms with the formula")
    require(out.requires_grad, f"{what} is detached from the graph; compute it with torch operations on the inputs")
    out.backward()
    require(
        log_r_hat.grad is not None and t_hat.grad is not None and torch.all(torch.isfinite(log_r_hat.grad)),
        f"{what}: gradients do not reach log_r_hat and t_hat; compute the loss from them with torch operations",
    )

"""Checks for lesson 08 (diffusion and flow matching): the forward noising of diffusion, the flow-matching target,
an Euler ODE sampler and the divergence of a velocity field."""

from __future__ import annotations

import numpy as np
import torch

from mlmc_course.checks.core import CheckFailed, as_numpy, call, check_rng, require


def _t(a) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float32)


def diffuse(answer, seed: int = 0) -> None:
    """``answer(x0, alpha_bar, eps)`` returns sqrt(alpha_bar) x0 + sqrt(1 - alpha_bar) eps."""
    rng = check_rng(seed)
    n, d = 40, 3
    x0, eps = _t(rng.normal(1.0, 2.0, (n, d))), _t(rng.normal(0, 1, (n, d)))
    alpha_bar = _t(rng.uniform(0.05, 0.95, (n, 1)))
    got = as_numpy(
        call(answer, x0.clone(), alpha_bar.clone(), eps.clone(), what="diffuse(x0, alpha_bar, eps)"), "x_t", (n, d)
    )
    a, x, e = alpha_bar.numpy(), x0.numpy(), eps.numpy()
    if np.allclose(got, a * x + (1 - a) * e, atol=1e-5):
        raise CheckFailed(
            "alpha_bar is the fraction of the *variance* kept: scale x0 by sqrt(alpha_bar) and the noise by "
            "sqrt(1 - alpha_bar), so that unit-variance data stay at unit variance"
        )
    if np.allclose(got, np.sqrt(1 - a) * x + np.sqrt(a) * e, atol=1e-5):
        raise CheckFailed("alpha_bar multiplies the data, 1 - alpha_bar the noise: alpha_bar = 1 means no noise yet")
    require(
        np.allclose(got, np.sqrt(a) * x + np.sqrt(1 - a) * e, atol=1e-5),
        "expected sqrt(alpha_bar) * x0 + sqrt(1 - alpha_bar) * eps",
    )
    # the variance-preserving property on a large sample
    big = torch.randn(100_000, 1)
    xt = as_numpy(call(answer, big, _t([[0.3]]), torch.randn(100_000, 1), what="diffuse on N(0, 1) data"), "x_t")
    require(abs(xt.var() - 1.0) < 0.02, f"for unit-variance data x_t should have variance 1, got {xt.var():.3f}")


def cfm_target(answer, seed: int = 0) -> None:
    """``answer(x0, x1, t)`` returns ``(x_t, u_t)`` on the straight path from noise x0 (t = 0) to data x1 (t = 1)."""
    rng = check_rng(seed)
    n, d = 30, 2
    x0, x1 = _t(rng.normal(0, 1, (n, d))), _t(rng.normal(3, 0.5, (n, d)))
    t = _t(rng.uniform(0, 0.95, (n, 1)))
    out = call(answer, x0.clone(), x1.clone(), t.clone(), what="cfm_target(x0, x1, t)")
    require(isinstance(out, tuple) and len(out) == 2, "return the tuple (x_t, u_t)")
    xt, ut = as_numpy(out[0], "x_t", (n, d)), as_numpy(out[1], "u_t", (n, d))
    a, b, tt = x0.numpy(), x1.numpy(), t.numpy()
    if np.allclose(xt, tt * a + (1 - tt) * b, atol=1e-5):
        raise CheckFailed("the path runs the wrong way: at t = 0 it must be at the noise x0, at t = 1 at the data x1")
    require(np.allclose(xt, (1 - tt) * a + tt * b, atol=1e-5), "x_t should be (1 - t) * x0 + t * x1")
    if np.allclose(ut, a - b, atol=1e-5):
        raise CheckFailed("wrong sign: the velocity points from the noise to the data, u = x1 - x0 = d x_t / dt")
    require(
        np.allclose(ut, b - a, atol=1e-5),
        "u_t should be the time derivative of x_t, which on a straight line is x1 - x0 (the same for every t)",
    )


def euler_sample(answer, seed: int = 0) -> None:
    """``answer(velocity, x0, n_steps)`` integrates dx/dt = velocity(x, t) from t = 0 to 1 with n_steps Euler steps,
    evaluating the velocity at t_k = k / n_steps, and returns the final x."""
    rng = check_rng(seed)
    x0 = _t(rng.normal(0, 1, (5, 2)))
    n_steps = 10
    # dx/dt = x: Euler gives (1 + h)^N x0 (exact: e x0)
    got = as_numpy(call(answer, lambda x, t: x, x0.clone(), n_steps, what="euler_sample(v = x)"), "x(1)", (5, 2))
    h = 1.0 / n_steps
    want = (1 + h) ** n_steps * x0.numpy()
    if np.allclose(got, (1 - h) ** n_steps * x0.numpy(), rtol=1e-4):
        raise CheckFailed("you stepped against the velocity: x_{k+1} = x_k + h * v(x_k, t_k)")
    if np.allclose(got, (1 + 1 / (n_steps - 1)) ** n_steps * x0.numpy(), rtol=1e-4):
        raise CheckFailed("n_steps steps must cover [0, 1] exactly: the step is h = 1 / n_steps")
    require(
        np.allclose(got, want, rtol=1e-4),
        f"for dx/dt = x and {n_steps} Euler steps the result is (1 + 1/{n_steps})^{n_steps} x0; got something else",
    )
    # dx/dt = 2t: Euler with left end points gives x0 + (N - 1) / N
    got_t = as_numpy(
        call(answer, lambda x, t: 2 * t * torch.ones_like(x), x0.clone(), n_steps, what="euler_sample(v = 2t)"),
        "x(1)",
        (5, 2),
    )
    shift = (got_t - x0.numpy()).mean()
    if abs(shift) < 1e-6:
        raise CheckFailed("the time never advances: evaluate the velocity at t_k = k / n_steps in step k")
    if abs(shift - (n_steps + 1) / n_steps) < 1e-4:
        raise CheckFailed("evaluate the velocity at the start of each step, t_k = k / n_steps, not at its end")
    require(
        abs(shift - (n_steps - 1) / n_steps) < 1e-4,
        f"for dx/dt = 2t Euler moves x by (N - 1)/N = {(n_steps - 1) / n_steps:.2f}, you moved it by {shift:.4f}",
    )


def divergence(answer, seed: int = 0) -> None:
    """``answer(velocity, x, t)`` returns the divergence sum_i dv_i/dx_i at each event, shape ``(n,)``."""
    rng = check_rng(seed)
    n, d = 6, 3
    a = _t(rng.normal(0, 1, (d, d)))
    while abs(a.sum() - torch.trace(a)) < 0.5:  # off-diagonal entries must matter
        a = _t(rng.normal(0, 1, (d, d)))
    w = _t(rng.normal(0, 0.7, (d, d)))

    def velocity(x: torch.Tensor, t: float) -> torch.Tensor:
        return x @ a.T + t * torch.tanh(x @ w.T)

    x = _t(rng.normal(0, 1, (n, d)))
    out = call(answer, velocity, x.clone(), 0.7, what="divergence(velocity, x, t)")
    shape = tuple(out.shape) if hasattr(out, "shape") else np.shape(out)
    if shape == (n, d):
        raise CheckFailed("sum the diagonal terms dv_i/dx_i over i: return one number per event, shape (n,)")
    got = as_numpy(out, "the divergence", (n,))
    jac = [torch.autograd.functional.jacobian(lambda v: velocity(v[None], 0.7)[0], xi) for xi in x]
    want = np.array([torch.trace(j).item() for j in jac])
    every_entry = np.array([j.sum().item() for j in jac])
    if np.allclose(got, every_entry, atol=1e-4):
        raise CheckFailed(
            "that is the sum of *all* entries of the Jacobian (the gradient of sum(v)); the divergence is its trace: "
            "take the gradient of v[:, i].sum() and keep column i, for each i"
        )
    require(np.allclose(got, want, atol=1e-4), "the divergence should be the trace of dv/dx at each event")

"""Checks for lesson 07 (normalizing flows): the change-of-variables log-density and the affine coupling block,
forward and inverse."""

from __future__ import annotations

import math

import numpy as np
import torch

from mlmc_course.checks.core import CheckFailed, as_numpy, call, check_rng, check_seed, require


def _affine_map(rng: np.random.Generator, d: int):
    """z = (x - b) / s per feature, whose density is the Gaussian N(b, diag s^2)."""
    b = torch.tensor(rng.normal(0, 2, d), dtype=torch.float32)
    s = torch.tensor(rng.uniform(0.3, 3.0, d), dtype=torch.float32)

    def to_noise(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (x - b) / s, (-torch.log(s)).sum().expand(len(x))

    return to_noise, b, s


def flow_log_prob(answer, seed: int = 0) -> None:
    """``answer(x, to_noise)`` returns log p(x), shape ``(n,)``, for a flow ``to_noise(x) -> (z, log_det)`` with a
    standard normal base density."""
    rng = check_rng(seed)
    d, n = 3, 50
    to_noise, b, s = _affine_map(rng, d)
    x = torch.tensor(rng.normal(0, 3, (n, d)), dtype=torch.float32)
    out = call(answer, x.clone(), to_noise, what="flow_log_prob(x, to_noise)")
    shape = tuple(out.shape) if hasattr(out, "shape") else np.shape(out)
    if shape == (n, d):
        raise CheckFailed("sum the log-density over the features: return one number per event, shape (n,)")
    got = as_numpy(out, "flow_log_prob(x, to_noise)", (n,))
    z, log_det = to_noise(x)
    base = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(1).numpy()
    ld = log_det.numpy()
    want = base + ld  # = log N(x; b, diag s^2)
    if np.allclose(got, base, rtol=1e-4):
        raise CheckFailed("you left out the Jacobian: add log|det dz/dx| (the second output of to_noise)")
    if np.allclose(got, base - ld, rtol=1e-4):
        raise CheckFailed(
            "wrong sign of the log-determinant: z = f(x), so log p(x) = log p_z(f(x)) + log|det df/dx|, with a plus"
        )
    if np.allclose(got, want + 0.5 * d * math.log(2 * math.pi), rtol=1e-4):
        raise CheckFailed("the base density needs its normalisation, -1/2 log(2 pi) per feature")
    require(
        np.allclose(got, want, rtol=1e-4, atol=1e-4),
        "log p(x) should be sum_i log N(z_i; 0, 1) + log_det; for this affine map it is log N(x; b, diag s^2)",
    )


class _Conditioner(torch.nn.Module):
    """A fixed random network returning (s, t) for every feature, so that a missing mask is noticed."""

    def __init__(self, d: int, seed: int) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.w1 = torch.randn(d, 16, generator=gen) * 0.8
        self.w2 = torch.randn(16, 2 * d, generator=gen) * 0.4

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = torch.tanh(h @ self.w1) @ self.w2
        s, t = out.chunk(2, dim=1)
        return s, t + 0.5


def _reference(x: torch.Tensor, mask: torch.Tensor, cond: _Conditioner):
    s, t = cond(x * mask)
    active = 1 - mask
    return mask * x + active * (x * torch.exp(s) + t), (active * s).sum(1), s, t


def _coupling_inputs(seed: int):
    rng = check_rng(seed)
    d, n = 4, 30
    x = torch.tensor(rng.normal(0, 1.5, (n, d)), dtype=torch.float32)
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0]) if rng.random() < 0.5 else torch.tensor([0.0, 1.0, 0.0, 1.0])
    return x, mask, _Conditioner(d, check_seed(seed)), n, d


def affine_coupling(answer, seed: int = 0) -> None:
    """``answer(x, mask, conditioner)`` returns ``(z, log_det)`` of the affine coupling block
    z = mask * x + (1 - mask) * (x * exp(s) + t), (s, t) = conditioner(mask * x), log_det = sum (1 - mask) * s."""
    x, mask, cond, n, d = _coupling_inputs(seed)
    out = call(answer, x.clone(), mask.clone(), cond, what="affine_coupling(x, mask, conditioner)")
    require(isinstance(out, tuple) and len(out) == 2, "return the tuple (z, log_det)")
    z, log_det = as_numpy(out[0], "z", (n, d)), as_numpy(out[1], "log_det", (n,))
    want_z, want_ld, s, t = _reference(x, mask, cond)
    want_z, want_ld = want_z.numpy(), want_ld.numpy()
    keep = mask.numpy().astype(bool)
    require(
        np.allclose(z[:, keep], x.numpy()[:, keep], atol=1e-6),
        "the features with mask 1 must pass unchanged: they condition the others",
    )
    s_full, t_full = cond(x)
    if np.allclose(z, (mask * x + (1 - mask) * (x * torch.exp(s_full) + t_full)).numpy(), atol=1e-5):
        raise CheckFailed(
            "the conditioner must see only the unchanged features, conditioner(mask * x): otherwise the Jacobian "
            "is not triangular and the block cannot be inverted"
        )
    require(
        np.allclose(z, want_z, atol=1e-5),
        "z is wrong for the transformed features: z = x * exp(s) + t there, with (s, t) = conditioner(mask * x)",
    )
    if np.allclose(log_det, s.sum(1).numpy(), atol=1e-5):
        raise CheckFailed("sum s only over the transformed features (mask 0): the others have dz/dx = 1")
    if np.allclose(log_det, ((1 - mask) * torch.exp(s)).sum(1).numpy(), atol=1e-5):
        raise CheckFailed("the log-determinant is the sum of s itself (dz/dx = exp(s)), not of exp(s)")
    require(np.allclose(log_det, want_ld, atol=1e-5), "log_det should be sum over features of (1 - mask) * s")


def affine_coupling_inverse(answer, seed: int = 0) -> None:
    """``answer(z, mask, conditioner)`` returns ``x``, undoing :func:`affine_coupling` exactly."""
    x, mask, cond, n, d = _coupling_inputs(seed)
    z, _, s, t = _reference(x, mask, cond)
    got = as_numpy(
        call(answer, z.detach().clone(), mask.clone(), cond, what="affine_coupling_inverse(z, mask, conditioner)"),
        "x",
        (n, d),
    )
    zn, sn, tn, m = z.detach().numpy(), s.detach().numpy(), t.detach().numpy(), mask.numpy()
    if np.allclose(got, m * zn + (1 - m) * (zn * np.exp(-sn) - tn), atol=1e-5):
        raise CheckFailed("undo the steps in reverse order: first subtract t, then divide by exp(s)")
    if np.allclose(got, m * zn + (1 - m) * (zn - tn) * np.exp(sn), atol=1e-5):
        raise CheckFailed("dividing by exp(s) means multiplying by exp(-s)")
    require(
        np.allclose(got, x.numpy(), atol=1e-4),
        "the inverse does not give back x: the unchanged features of z equal those of x, so (s, t) = "
        "conditioner(mask * z); then x = (z - t) * exp(-s) on the transformed features",
    )

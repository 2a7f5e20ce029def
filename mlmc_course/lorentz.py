"""Four-vector helpers in torch: Minkowski products, boosts and rotations, with the metric diag(+1, -1, -1, -1).

Four-momenta are ``(E, px, py, pz)`` in GeV in the last axis. :func:`minkowski_matrix` is what the Lorentz-symmetric
tagger (:class:`mlmc_course.models.taggers.LorentzTagger`) reads; :func:`random_lorentz` makes the transformations
its tests apply.
"""

from __future__ import annotations

import numpy as np
import torch

METRIC = (1.0, -1.0, -1.0, -1.0)


def _metric(like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(METRIC, dtype=like.dtype, device=like.device)


def minkowski_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``<a, b> = a_E b_E - a_x b_x - a_y b_y - a_z b_z`` over the last axis (size 4); GeV^2 for momenta."""
    if a.shape[-1] != 4 or b.shape[-1] != 4:
        raise ValueError(f"four-vectors need a last axis of size 4, got {tuple(a.shape)} and {tuple(b.shape)}")
    return (a * b * _metric(a)).sum(-1)


def minkowski_matrix(p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """All pairwise Minkowski products ``<p_i, p_j>`` of the constituents of each jet.

    Args:
        p4: ``(batch, n, 4)`` four-momenta (E, px, py, pz) in GeV; mask: ``(batch, n)``, True for real constituents.

    Returns:
        ``(batch, n, n)`` in GeV^2, zero wherever i or j is padding; the diagonal holds the masses squared and
        ``2 <p_i, p_j>`` is the pair mass squared minus the two masses squared.
    """
    if p4.ndim != 3 or p4.shape[-1] != 4:
        raise ValueError(f"p4 must have shape (batch, n, 4), got {tuple(p4.shape)}")
    if mask.shape != p4.shape[:2]:
        raise ValueError(f"mask must have shape {tuple(p4.shape[:2])}, got {tuple(mask.shape)}")
    m = mask.to(p4.dtype)
    dots = (p4 * _metric(p4)) @ p4.transpose(1, 2)
    return dots * m.unsqueeze(2) * m.unsqueeze(1)


def p4_from_ptetaphi(pt, eta, phi, energy=None) -> torch.Tensor:
    """Four-momenta ``(..., 4)`` from pT (GeV), eta, phi and optionally E (GeV; default massless, pT cosh eta)."""
    pt, eta, phi = (torch.as_tensor(a) for a in (pt, eta, phi))
    e = pt * torch.cosh(eta) if energy is None else torch.as_tensor(energy, dtype=pt.dtype)
    return torch.stack([e, pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta)], dim=-1)


def boost_matrix(beta) -> torch.Tensor:
    """The 4x4 pure boost with velocity ``beta`` (3 components, |beta| < 1): ``p' = p @ L.T``, float64."""
    b = torch.as_tensor(beta, dtype=torch.float64)
    b2 = float((b**2).sum())
    if b.shape != (3,) or not b2 < 1.0:
        raise ValueError(f"beta must be 3 numbers with |beta| < 1, got {b.tolist()}")
    gamma = 1.0 / np.sqrt(1.0 - b2)
    lam = torch.eye(4, dtype=torch.float64)
    lam[0, 0] = gamma
    lam[0, 1:] = lam[1:, 0] = -gamma * b
    if b2 > 0:
        lam[1:, 1:] += (gamma - 1.0) * torch.outer(b, b) / b2
    return lam


def rotation_matrix(axis, angle: float) -> torch.Tensor:
    """The 4x4 rotation of the spatial part by ``angle`` (rad) about ``axis`` (3 components), float64."""
    a = torch.as_tensor(axis, dtype=torch.float64)
    if a.shape != (3,) or not float(a.norm()) > 0:
        raise ValueError(f"axis must be 3 numbers, not all zero, got {a.tolist()}")
    a = a / a.norm()
    k = torch.tensor([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]], dtype=torch.float64)
    lam = torch.eye(4, dtype=torch.float64)
    lam[1:, 1:] = torch.eye(3, dtype=torch.float64) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)
    return lam


def random_lorentz(rng: np.random.Generator, max_rapidity: float = 1.0) -> torch.Tensor:
    """A random proper orthochronous Lorentz transformation, a rotation then a boost, as a float64 4x4 matrix.

    The boost has a random direction and rapidity up to ``max_rapidity`` (|beta| = tanh of it).
    """
    axis, direction = rng.normal(size=3), rng.normal(size=3)
    rotation = rotation_matrix(axis, float(rng.uniform(0, 2 * np.pi)))
    beta = np.tanh(rng.uniform(0, max_rapidity)) * direction / np.linalg.norm(direction)
    return boost_matrix(beta) @ rotation


def transform(p4: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Apply the 4x4 transformation ``lam`` to every four-vector in ``p4`` ``(..., 4)``: ``p' = lam p``."""
    return p4 @ lam.to(p4.dtype).T

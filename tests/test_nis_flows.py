"""Spline coupling flows: Jacobians against autograd, invertibility, normalisation, masks, VEGAS-grid start."""

from __future__ import annotations

import itertools

import pytest
import torch

from mlmc_course.nis import SplineFlow, coupling_masks


def _random_flow(dim: int, seed: int = 0, scale: float = 0.5) -> SplineFlow:
    torch.manual_seed(seed)
    flow = SplineFlow(dim, bins=8, hidden=(16,)).double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(scale * torch.randn_like(p))
    return flow


@pytest.mark.parametrize("dim", [1, 2, 3, 5])
def test_log_det_matches_autograd_jacobian(dim):
    flow = _random_flow(dim, seed=dim)
    z = torch.rand(6, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(dim))
    _, logdet = flow(z)
    for k in range(len(z)):
        jac = torch.autograd.functional.jacobian(lambda v: flow(v[None])[0][0], z[k])
        assert float(torch.linalg.slogdet(jac)[1]) == pytest.approx(float(logdet[k]), abs=1e-9)
        assert float(torch.linalg.det(jac)) > 0  # monotone splines: orientation preserving


@pytest.mark.parametrize("dim", [2, 4])
def test_inverse_undoes_forward_and_negates_log_det(dim):
    flow = _random_flow(dim)
    z = torch.rand(200, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x, logdet = flow(z)
    z_back, logdet_inv = flow.inverse(x)
    torch.testing.assert_close(z_back, z, atol=1e-9, rtol=0)
    torch.testing.assert_close(logdet_inv, -logdet, atol=1e-8, rtol=0)
    torch.testing.assert_close(flow.log_prob(x), -logdet, atol=1e-8, rtol=0)


def test_a_new_flow_is_the_identity():
    flow = SplineFlow(3)
    z = torch.rand(100, 3)
    x, logdet = flow(z)
    torch.testing.assert_close(x, z, atol=1e-5, rtol=0)
    assert float(logdet.abs().max()) < 1e-5


def test_density_is_normalised():
    flow = _random_flow(2, seed=4, scale=0.2)
    gen = torch.Generator().manual_seed(2)
    with torch.no_grad():
        x, log_g = flow.sample(400_000, gen)
        inv_g = torch.exp(-log_g.double())
        # E_g[1/g] = volume of the cube = 1
        assert abs(float(inv_g.mean()) - 1) < 5 * float(inv_g.std()) / 400_000**0.5
        assert bool(((x >= 0) & (x <= 1)).all())


@pytest.mark.parametrize("dim", [2, 3, 5, 8, 16])
def test_every_coordinate_is_conditioned_on_every_other(dim):
    masks = coupling_masks(dim)
    assert len(masks) % 2 == 0 and len(masks) >= 4
    for i, j in itertools.permutations(range(dim), 2):
        assert any(bool(m[i]) and not bool(m[j]) for m in masks), f"{i} never transformed given {j}"


def test_init_from_knots_reproduces_the_separable_map():
    dim, bins = 3, 8
    flow = SplineFlow(dim, bins=bins).double()
    torch.manual_seed(0)
    heights = torch.rand(dim, bins, dtype=torch.float64) + 0.1
    knots = torch.cat([torch.zeros(dim, 1, dtype=torch.float64), torch.cumsum(heights / heights.sum(1, True), 1)], 1)
    flow.init_from_knots(knots)
    for j in range(bins + 1):
        z = torch.full((1, dim), j / bins, dtype=torch.float64)
        x, _ = flow(z)
        torch.testing.assert_close(x[0], knots[:, j], atol=2e-6, rtol=0)
    # coordinates are transformed independently: moving z_0 does not move x_1
    z = torch.rand(50, dim, dtype=torch.float64)
    z2 = z.clone()
    z2[:, 0] = torch.rand(50, dtype=torch.float64)
    torch.testing.assert_close(flow(z)[0][:, 1:], flow(z2)[0][:, 1:])


@pytest.mark.parametrize(
    ("knots", "match"),
    [
        (torch.linspace(0, 1, 9).repeat(2, 1), r"shape \(dim, bins \+ 1\)"),
        (torch.linspace(0, 1, 17).flip(0).repeat(2, 1), "increase strictly from 0 to 1"),
        (torch.linspace(0, 0.5, 17).repeat(2, 1), "increase strictly from 0 to 1"),
    ],
)
def test_bad_knots_are_rejected(knots, match):
    with pytest.raises(ValueError, match=match):
        SplineFlow(2, bins=16).init_from_knots(knots)


def test_bad_architecture_is_rejected():
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        SplineFlow(0)
    with pytest.raises(ValueError, match="bins must be below"):
        SplineFlow(2, bins=1000)

"""The toy integrands: their integrals against independent estimates, their channels, and their input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlmc_course.data import integrands as I


def _gauss_legendre_2d(integrand: I.Integrand, n: int = 200) -> float:
    """Tensor-product Gauss-Legendre on [0, 1]^2 (n^2 points): accurate for the smooth 2D integrands."""
    t, w = np.polynomial.legendre.leggauss(n)
    t, w = (t + 1) / 2, w / 2
    xx, yy = np.meshgrid(t, t, indexing="ij")
    x = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], axis=1))
    return float((integrand(x).numpy() * np.outer(w, w).ravel()).sum())


@pytest.mark.parametrize(
    "integrand", [I.gaussian(2), I.camel(2), I.annulus(), I.ring_plus_line()], ids=lambda i: i.name
)
def test_2d_integrals_match_quadrature(integrand):
    assert _gauss_legendre_2d(integrand) == pytest.approx(integrand.integral, rel=1e-9)


def test_ring_plus_line_integral_is_not_just_the_ring():
    # guards against a line term that drops out: its share must be about 1/2
    itg = I.ring_plus_line()
    assert 1.45 < itg.integral < 1.5


@pytest.mark.parametrize("dim", [4, 8, 16])
def test_camel_integral_is_the_mass_inside_the_cube(dim):
    # Sample the untruncated two-Gaussian mixture; the fraction inside the cube is the integral.
    rng = np.random.default_rng(dim)
    n = 400_000
    sigma = 0.2 / math.sqrt(2)
    centre = np.where(rng.random(n) < 0.5, 1 / 3, 2 / 3)[:, None]
    x = centre + sigma * rng.standard_normal((n, dim))
    inside = np.all((x >= 0) & (x <= 1), axis=1).mean()
    want = I.camel(dim).integral
    assert abs(inside - want) < 5 * math.sqrt(want * (1 - want) / n)


def test_camel_values_at_a_peak_and_between_the_peaks():
    # f = 1/2 (width sqrt(pi))^-d [exp(-|x - 1/3|^2 / width^2) + exp(-|x - 2/3|^2 / width^2)], width 0.2
    itg, d, width = I.camel(4), 4, 0.2
    norm = 0.5 / (width * math.sqrt(math.pi)) ** d
    far = math.exp(-d / 9 / width**2)  # the other peak, |x - 2/3|^2 = d / 9
    peak = float(itg(torch.full((1, d), 1 / 3, dtype=torch.float64)))
    middle = float(itg(torch.full((1, d), 0.5, dtype=torch.float64)))
    assert peak == pytest.approx(norm * (1 + far), rel=1e-12)
    assert middle == pytest.approx(2 * norm * math.exp(-d / 36 / width**2), rel=1e-12)


def test_numpy_in_numpy_out_and_torch_in_torch_out():
    itg = I.gaussian(3)
    x = np.full((5, 3), 0.5)
    out = itg(x)
    assert isinstance(out, np.ndarray) and out.shape == (5,)
    out_t = itg(torch.as_tensor(x, dtype=torch.float32))
    assert isinstance(out_t, torch.Tensor) and out_t.dtype == torch.float64
    np.testing.assert_allclose(out, out_t.numpy())


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.full((4, 2), 0.5), r"shape \(n, 3\)"),
        (np.full((4, 3), 1.5), r"must lie in \[0, 1\]\^3"),
        (np.full((4, 3), np.nan), "NaN"),
    ],
)
def test_bad_points_are_named(x, match):
    with pytest.raises(ValueError, match=match):
        I.gaussian(3)(x)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: I.camel(0), "dim must be a positive integer"),
        (lambda: I.camel(4, width=0), r"width must lie in \(0, 1"),
        (lambda: I.annulus(radius=0.4, width=0.05), "must stay inside the square"),
        (lambda: I.gaussian(2, center=2.0), r"center must lie in \[0, 1\]"),
        (lambda: I.get("camel"), "unknown integrand"),
        (lambda: I.get("camel dx"), "unknown integrand"),
    ],
)
def test_bad_parameters_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_get_builds_the_benchmark_integrands():
    assert I.get("camel d8").dim == 8
    assert I.get("gaussian d5").dim == 5
    assert I.get("ring+line").n_channels == 2
    assert I.get("annulus").n_channels == 1


def test_ring_plus_line_prior_follows_its_parts():
    itg = I.ring_plus_line()
    on_ring = torch.tensor([[0.8, 0.5]], dtype=torch.float64)  # r = 0.3, far from the diagonal
    on_line = torch.tensor([[0.5, 0.5]], dtype=torch.float64)  # ring centre, on the diagonal
    p_ring, p_line = itg.prior_weights(on_ring), itg.prior_weights(on_line)
    assert p_ring[0, 0] > 0.99 and p_line[0, 1] > 0.99
    x = torch.rand(1000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(itg.prior_weights(x).sum(1), torch.ones(1000, dtype=torch.float64))


@pytest.fixture(scope="module")
def drell_yan():
    return I.drell_yan()


def test_drell_yan_reference_is_precise_and_matches_monte_carlo(drell_yan):
    assert drell_yan.integral_error < 1e-6 * drell_yan.integral
    # independent check: plain Monte Carlo through the Breit-Wigner channel map
    u = torch.rand(1_000_000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    x, log_jac = drell_yan.channel_maps[0](u)
    w = drell_yan(x) * torch.exp(log_jac)
    assert abs(float(w.mean()) - drell_yan.integral) < 5 * float(w.std()) / 1000


def test_drell_yan_peaks_at_the_z_mass(drell_yan):
    m = torch.linspace(60, 120, 601, dtype=torch.float64)
    x = torch.stack([(m - 60) / 60, torch.full_like(m, 0.5), torch.full_like(m, 0.5)], dim=1)
    assert abs(float(m[torch.argmax(drell_yan(x))]) - I.M_Z) < 0.2


@pytest.mark.parametrize("channel", [0, 1])
def test_drell_yan_channel_maps_have_the_right_jacobian(drell_yan, channel):
    mapping = drell_yan.channel_maps[channel]
    u = torch.rand(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(channel))
    x, log_jac = mapping(u)
    assert bool(((x >= 0) & (x <= 1)).all())
    for k in range(5):
        jac = torch.autograd.functional.jacobian(lambda v: mapping(v[None])[0][0], u[k])
        assert float(torch.linalg.slogdet(jac)[1]) == pytest.approx(float(log_jac[k]), abs=1e-9)


def test_drell_yan_prior_prefers_the_z_on_the_peak(drell_yan):
    on_peak = torch.tensor([[(I.M_Z - 60) / 60, 0.5, 0.5]], dtype=torch.float64)
    low = torch.tensor([[0.0, 0.5, 0.5]], dtype=torch.float64)
    assert drell_yan.prior_weights(on_peak)[0, 0] > 0.99
    assert drell_yan.prior_weights(low)[0, 1] > drell_yan.prior_weights(on_peak)[0, 1]

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from mlmc_course.data.moons import two_moons
from mlmc_course.data.toys import GAMMA_Z, M_Z, ResonanceToy, z_cross_section, z_lineshape


def test_breit_wigner_peaks_at_mz_with_the_right_width():
    e = np.linspace(85, 97, 120001)
    xs = z_cross_section(e)
    assert abs(e[np.argmax(xs)] - M_Z) < 0.02
    half = e[xs > xs.max() / 2]
    assert abs((half[-1] - half[0]) - GAMMA_Z) < 0.05
    with pytest.raises(ValueError, match="positive"):
        z_cross_section([-1.0])


def test_lineshape_noise_and_outliers():
    e, xs = z_lineshape(20000, seed=3)
    rel = xs / z_cross_section(e) - 1
    assert abs(rel.std() - 0.05) < 0.003
    _, xs_o = z_lineshape(20000, outlier_fraction=0.1, seed=3)
    assert np.mean(xs_o != xs) > 0.08
    with pytest.raises(ValueError, match="outlier_fraction"):
        z_lineshape(10, outlier_fraction=0.7)


@pytest.mark.parametrize("label", [0, 1])
def test_resonance_toy_densities_are_normalised(label):
    toy = ResonanceToy()
    value, _ = integrate.dblquad(lambda c, m: toy.density(np.array([[m, c]]), label)[0], 60, 140, -1, 1)
    assert abs(value - 1) < 1e-6


@pytest.mark.parametrize("label", [0, 1])
def test_resonance_toy_marginals_are_normalised_and_factorise_the_density(label):
    toy = ResonanceToy()
    assert abs(integrate.quad(lambda m: toy.mass_density([m], label)[0], 60, 140)[0] - 1) < 1e-8
    assert abs(integrate.quad(lambda c: toy.cos_density([c], label)[0], -1, 1)[0] - 1) < 1e-8
    x = np.array([[70.0, -0.5], [91.0, 0.9], [150.0, 0.0], [100.0, 1.5]])
    product = toy.mass_density(x[:, 0], label) * toy.cos_density(x[:, 1], label)
    assert np.allclose(toy.density(x, label), product) and np.all(product[2:] == 0)  # zero outside the box
    with pytest.raises(ValueError, match="label must be 0"):
        toy.mass_density([90.0], 3)


def test_resonance_toy_samples_follow_the_densities():
    toy = ResonanceToy()
    x, y = toy.sample(50000, 50000, seed=1)
    assert x.shape == (100000, 2) and y.mean() == 0.5
    sig = x[y == 1]
    assert abs(np.mean(sig[:, 1] ** 2) - 0.4) < 0.01  # <cos^2> of (1 + cos^2)
    assert abs(np.median(sig[:, 0]) - 91.0) < 0.2
    hist, edges = np.histogram(x[y == 0, 0], bins=20, range=(60, 140), density=True)
    centres = 0.5 * (edges[1:] + edges[:-1])
    expected = toy.density(np.column_stack([centres, np.zeros(20)]), 0) * 2  # integrate over cos theta
    assert np.allclose(hist, expected, rtol=0.06)
    with pytest.raises(ValueError, match="label must be 0"):
        toy.density(x[:2], 2)


def test_two_moons_standardised_and_seeded():
    x, label = two_moons(20000, noise=0.0, seed=0)
    assert np.allclose(x.mean(0), 0, atol=0.02) and np.allclose(x.std(0), 1, atol=0.02)
    assert np.array_equal(two_moons(10, seed=5)[0], two_moons(10, seed=5)[0])
    with pytest.raises(ValueError, match="noise"):
        two_moons(10, noise=1.5)

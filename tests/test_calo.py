"""The toy calorimeter: physics trends, shapes, seeding, features and the surrogate's bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlmc_course.data import calo
from mlmc_course.models.showers import ShowerSurrogate


@pytest.fixture(scope="module")
def showers() -> calo.Showers:
    return calo.simulate_showers(20_000, np.random.default_rng(0))


def test_shapes_ranges_and_seeding(showers):
    g = showers.geometry
    assert showers.cells.shape == (20_000, g.n_layers, g.n_rings)
    assert np.all((showers.energy >= 1) & (showers.energy <= 100))
    again = calo.simulate_showers(100, np.random.default_rng(0))
    assert np.array_equal(again.cells, calo.simulate_showers(100, np.random.default_rng(0)).cells)
    assert not np.array_equal(again.cells, calo.simulate_showers(100, np.random.default_rng(1)).cells)


def test_response_and_stochastic_resolution():
    rng = np.random.default_rng(1)
    widths = {}
    for energy in (4.0, 64.0):
        response = calo.total_energy(calo.simulate_showers(5000, rng, energy=energy).cells) / energy
        assert 0.85 < response.mean() < 1.0  # some leakage, never more than deposited
        widths[energy] = response.std()
    # sampling term ~ 1/sqrt(E): a 16x higher energy should be about 4x sharper (leakage fluctuations add a floor)
    assert 2.5 < widths[4.0] / widths[64.0] < 4.5


def test_shower_maximum_moves_deeper_and_showers_widen(showers):
    depth_centres = np.arange(showers.geometry.n_layers)
    profile = calo.layer_energies(showers.cells) / showers.energy[:, None]
    centre_of_gravity = (profile * depth_centres).sum(1) / profile.sum(1)
    low, high = showers.energy < 3, showers.energy > 30
    assert centre_of_gravity[high].mean() > centre_of_gravity[low].mean() + 0.3
    width = calo.shower_width(showers.cells, showers.geometry).mean(axis=0)
    assert np.all(np.diff(width) > 0)


def test_feature_round_trip_and_shapes(showers):
    low = calo.low_level_features(showers)
    assert low.shape == (20_000, 1 + 25)
    back = calo.cells_from_low_level(low, showers.geometry)
    assert np.allclose(back.cells, showers.cells) and np.allclose(back.energy, showers.energy)
    assert calo.high_level_features(showers).shape == (20_000, 2 + 2 * 5)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: calo.Geometry(layer_edges=(1.0, 2.0)), ValueError, "start at 0"),
        (lambda: calo.simulate_showers(3, np.random.default_rng(), energy=[1.0, 2.0]), ValueError, "shape"),
        (lambda: calo.simulate_showers(2, np.random.default_rng(), energy=0.01), ValueError, "critical energy"),
        (lambda: calo.Showers(np.ones(2), np.ones((2, 3, 3))), ValueError, "shape"),
        (lambda: calo.shower_width(np.ones((2, 4, 5))), ValueError, "shape"),
    ],
)
def test_bad_inputs_get_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_surrogate_bookkeeping(showers):
    torch.manual_seed(0)
    surrogate = ShowerSurrogate()
    with pytest.raises(RuntimeError, match="train"):
        surrogate.sample(showers.energy[:5])
    cells, context = surrogate.training_tensors(showers)
    assert cells.shape == (20_000, 25) and context.shape == (20_000, 1)
    assert torch.allclose(cells.mean(0), torch.zeros(25), atol=1e-4)
    generated = surrogate.sample(showers.energy[:50])  # untrained, but the plumbing must hold
    assert generated.cells.shape == (50, 5, 5) and np.allclose(generated.energy, showers.energy[:50])
    with pytest.raises(ValueError, match="temperature"):
        surrogate.sample(showers.energy[:5], temperature=0.0)


def test_the_surrogate_saves_its_standardisation_with_its_weights(showers, tmp_path):
    torch.manual_seed(0)
    trained = ShowerSurrogate()
    trained.training_tensors(showers)
    torch.save(trained.state_dict(), tmp_path / "surrogate.pt")
    loaded = ShowerSurrogate()
    loaded.load_state_dict(torch.load(tmp_path / "surrogate.pt"))
    assert loaded.fitted
    for a, b in zip(trained.standardise(showers), loaded.standardise(showers), strict=True):
        assert torch.equal(a, b)

"""Tests for the shared building blocks in mlmc_course.models.layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlmc_course.models.layers import Standardise, mlp


def test_standardise_maps_the_training_inputs_to_zero_mean_unit_spread_and_back():
    x = np.random.default_rng(0).normal([100.0, -3.0, 0.5], [20.0, 0.1, 1e-9], size=(5000, 3))
    scale = Standardise.fit_to(x)
    z = scale(torch.as_tensor(x, dtype=torch.float32))
    assert torch.allclose(z[:, :2].mean(0), torch.zeros(2), atol=1e-3)
    assert torch.allclose(z[:, :2].std(0), torch.ones(2), atol=1e-3)
    assert float(scale.std[2]) == pytest.approx(1e-6)  # a constant feature is not blown up to infinity
    assert torch.allclose(scale.inverse(z), torch.as_tensor(x, dtype=torch.float32), rtol=1e-5, atol=1e-4)


def test_standardise_travels_with_the_state_dict():
    model = torch.nn.Sequential(Standardise.fit_to(np.arange(20.0).reshape(10, 2)), mlp(2, 1, (4,)))
    other = torch.nn.Sequential(Standardise(np.zeros(2), np.ones(2)), mlp(2, 1, (4,)))
    other.load_state_dict(model.state_dict())
    x = torch.randn(7, 2)
    assert torch.equal(model(x), other(x))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Standardise(np.zeros(2), np.ones(3)), "shape"),
        (lambda: Standardise(np.zeros(2), -np.ones(2)), "negative"),
        (lambda: Standardise.fit_to(np.ones((1, 2))), "two events"),
        (lambda: mlp(2, 1, dropout=1.0), "dropout"),
    ],
)
def test_bad_inputs_get_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlmc_course.training import count_parameters, fit, iterate_minibatches, mlp, to_tensors


def _mse(model, batch):
    x, y = batch
    return torch.mean((model(x).squeeze(-1) - y) ** 2)


def _data(seed=0, n=512):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 1))
    return to_tensors(x, 2 * x[:, 0] + 0.1 * rng.normal(size=n))


def test_fit_learns_a_line_and_keeps_the_best_epoch():
    torch.manual_seed(0)
    model = mlp(1, 1, hidden=(16,))
    hist = fit(model, _mse, _data(0), val=_data(1), epochs=40, lr=1e-2, progress=False)
    assert hist.val[-1] < 0.05 and hist.train[0] > hist.train[-1]
    assert 1 <= hist.best_epoch <= 40
    final = _mse(model, _data(1)).item()
    assert abs(final - min(hist.val)) < 1e-4  # the returned weights are those of the best epoch


def test_fit_is_reproducible_with_a_seed():
    out = []
    for _ in range(2):
        torch.manual_seed(3)
        model = mlp(1, 1, hidden=(8,))
        out.append(fit(model, _mse, _data(), epochs=3, seed=5, progress=False).train)
    assert out[0] == out[1]


def test_fit_reports_a_diverging_loss():
    torch.manual_seed(0)
    model = mlp(1, 1)
    x, y = _data()
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(model, _mse, (x, y * np.inf), epochs=1, progress=False)


def test_bad_arguments():
    with pytest.raises(ValueError, match="same length"):
        list(iterate_minibatches([torch.ones(3), torch.ones(4)], 2))
    with pytest.raises(ValueError, match="lr"):
        fit(mlp(1, 1), _mse, _data(), lr=-1, progress=False)
    with pytest.raises(ValueError, match="dropout"):
        mlp(1, 1, dropout=1.0)
    assert count_parameters(mlp(2, 1, hidden=(3,))) == 2 * 3 + 3 + 3 + 1


def _step_sizes(schedule: str, epochs: int = 4, batches: int = 8) -> np.ndarray:
    """Mean size of the parameter updates in each epoch, recorded from inside the loss."""
    torch.manual_seed(0)
    model = mlp(1, 1, hidden=(8,))
    snapshots = []

    def loss(m, batch):
        snapshots.append(torch.cat([p.detach().flatten() for p in m.parameters()]).clone())
        return _mse(m, batch)

    x, y = _data(n=32 * batches)
    fit(model, loss, (x, y), epochs=epochs, batch_size=32, lr=1e-3, schedule=schedule, progress=False)
    steps = np.array([(b - a).abs().mean().item() for a, b in zip(snapshots, snapshots[1:], strict=False)])
    # step k happens between loss calls k and k + 1; the run's last step is after the last call
    return np.array([steps[e * batches : (e + 1) * batches].mean() for e in range(epochs)])


def test_cosine_schedule_shrinks_the_steps_and_constant_does_not():
    constant, cosine = _step_sizes("constant"), _step_sizes("cosine")
    # Adam's steps scale with the learning rate, which falls to (1 + cos(3 pi / 4)) / 2 = 0.15 in the 4th epoch
    assert cosine[-1] / cosine[0] < 0.3
    assert constant[-1] / constant[0] > 0.5
    with pytest.raises(ValueError, match="schedule"):
        fit(mlp(1, 1), _mse, _data(), schedule="linear", progress=False)

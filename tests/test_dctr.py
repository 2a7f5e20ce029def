"""Tests for mlmc_course.dctr on a particle-cloud toy whose likelihood ratio is known exactly.

Toy: each event has 8 particles with one feature each, drawn independently from N(theta, 1); the nominal
theta_0 = 0.5. Then log p(x | theta) / p(x | theta_0) = sum_i [(x_i - theta_0)^2 - (x_i - theta)^2] / 2.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlmc_course import dctr

THETA0, LOW, HIGH, N_PART = 0.5, 0.0, 1.0, 8


def clouds(theta: np.ndarray, rng: np.random.Generator, pad: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Events at per-event theta ``(n,)``: x ``(n, N_PART + pad, 1)`` with ``pad`` empty slots, and the mask."""
    n = len(theta)
    x = np.zeros((n, N_PART + pad, 1), np.float32)
    x[:, :N_PART, 0] = rng.normal(theta[:, None], 1.0, (n, N_PART))
    mask = np.zeros((n, N_PART + pad), bool)
    mask[:, :N_PART] = True
    return x, mask


def exact_log_ratio(x: np.ndarray, mask: np.ndarray, theta: float) -> np.ndarray:
    v = np.where(mask, x[..., 0], 0.0)
    return (((v - THETA0) ** 2 - (v - theta) ** 2) * mask).sum(1) / 2


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    x0, m0 = clouds(np.full(6000, THETA0), rng)
    theta1 = rng.uniform(LOW, HIGH, 6000)
    x1, m1 = clouds(theta1, rng)
    model = dctr.train(
        x0,
        m0,
        x1,
        m1,
        theta1[:, None],
        names=("theta",),
        nominal_theta=[THETA0],
        low=[LOW],
        high=[HIGH],
        phi=(32,),
        latent=16,
        head=(32, 32),
        epochs=12,
        batch_size=256,
        lr=3e-3,
        seed=0,
        device="cpu",
        progress=False,
    )
    return model


def test_assign_nominal_parameters():
    rng = np.random.default_rng(1)
    theta = np.array([[0.1, 1.0], [0.2, 2.0], [0.3, 3.0]])
    out = dctr.assign_nominal_parameters(theta, 3, rng)
    assert sorted(out[:, 0].tolist()) == [0.1, 0.2, 0.3]  # a permutation when there are enough values
    big = dctr.assign_nominal_parameters(theta, 50, rng)
    assert big.shape == (50, 2)
    assert {tuple(r) for r in big} <= {tuple(r) for r in theta}  # rows are kept together
    again = dctr.assign_nominal_parameters(theta, 50, np.random.default_rng(7))
    assert np.array_equal(again, dctr.assign_nominal_parameters(theta, 50, np.random.default_rng(7)))


def test_pfn_is_permutation_and_padding_invariant():
    torch.manual_seed(0)
    net = dctr.ParameterisedPFN(3, [0.0], [1.0], phi=(8,), latent=4, head=(8,))
    x = torch.randn(5, 6, 3)
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[:, 4:] = False
    theta = torch.rand(5, 1)
    base = net(x, mask, theta)
    shuffled = net(x[:, [3, 1, 0, 2, 4, 5]], mask, theta)
    garbage = x.clone()
    garbage[:, 4:] = 100.0  # padded slots hold junk: the mask must hide it
    assert torch.allclose(base, shuffled, atol=1e-6)
    assert torch.allclose(base, net(garbage, mask, theta), atol=1e-6)
    assert torch.allclose(net.scale_theta(torch.tensor([[0.0], [1.0]])), torch.tensor([[-1.0], [1.0]]))
    with pytest.raises(ValueError, match="param_low < param_high"):
        dctr.ParameterisedPFN(3, [1.0], [0.0])


def test_learned_weights_follow_exact_ratio(trained):
    rng = np.random.default_rng(2)
    x, m = clouds(np.full(3000, THETA0), rng)
    for theta in (0.2, 0.8):
        learned = trained.log_weights(x, m, [theta])
        exact = exact_log_ratio(x, m, theta)
        assert np.corrcoef(learned, exact)[0, 1] > 0.95
        assert np.mean(np.exp(learned)) == pytest.approx(1.0, abs=0.1)  # w averages to 1 over the nominal sample
    with pytest.raises(ValueError, match="theta must"):
        trained.log_weights(x, m, [0.2, 0.3])
    with pytest.raises(ValueError, match="mask"):
        trained.log_weights(x, m[:, :3], [0.2])


class ExactRatio(torch.nn.Module):
    """The toy's exact log ratio behind the interface of ParameterisedPFN: summaries (sum x_i, n), then
    logit = (theta - theta_0) sum x_i - n (theta^2 - theta_0^2) / 2."""

    def __init__(self):
        super().__init__()
        self.register_buffer("param_low", torch.tensor([LOW]))
        self.register_buffer("param_high", torch.tensor([HIGH]))
        self.unused = torch.nn.Parameter(torch.zeros(()))  # fit_parameters freezes and unfreezes parameters

    def scale_theta(self, theta):
        return 2 * (theta - self.param_low) / (self.param_high - self.param_low) - 1

    def embed(self, x, mask):
        return torch.stack([(x[..., 0] * mask).sum(1), mask.sum(1).float()], 1)

    def logit_from_embedding(self, summary, theta):
        t = theta[:, 0]
        return (t - THETA0) * summary[:, 0] - summary[:, 1] * (t**2 - THETA0**2) / 2


def test_fit_and_scan_with_the_exact_ratio():
    """With a perfect classifier the fit is unbiased and its error is the Cramer-Rao one, 1 / sqrt(8 N)."""
    exact = dctr.DCTR(ExactRatio(), ("theta",), np.array([THETA0]))
    rng = np.random.default_rng(3)
    xt, mt = clouds(np.full(4000, 0.75), rng)
    xn, mn = clouds(np.full(4000, THETA0), rng)
    result = dctr.fit_parameters(exact, xt, mt, xn, mn, steps=300, lr=0.05)
    value, error = result.values[0], result.hessian_errors[0]
    assert error == pytest.approx(1 / np.sqrt(8 * 4000), rel=0.1)
    assert abs(value - 0.75) < 3 * result.errors[0]
    assert result.path.shape[1] == 1 and len(result.path) >= 300
    grid = np.linspace(value - 3 * error, value + 3 * error, 7)
    best, err = dctr.parabola_minimum(grid, dctr.scan(exact, xt, mt, xn, mn, "theta", grid))
    assert best == pytest.approx(value, abs=0.1 * error)
    assert err == pytest.approx(error, rel=0.05)
    assert "theta =" in str(result)
    with pytest.raises(KeyError, match="not one of"):
        dctr.scan(exact, xt, mt, xn, mn, "alpha_s", grid)
    with pytest.raises(KeyError, match="free must name"):
        dctr.fit_parameters(exact, xt, mt, xn, mn, free=["alpha_s"])


def test_statistical_errors_cover_the_truth_with_the_exact_ratio():
    """The asymptotic (sandwich) error includes the finite nominal sample: larger than the Hessian error, equal to
    the bootstrap's, and the pulls of 40 independent toys have unit width (a wrong formula fails this)."""
    exact = dctr.DCTR(ExactRatio(), ("theta",), np.array([THETA0]))
    rng = np.random.default_rng(11)
    pulls, hess_pulls = [], []
    for i in range(40):
        xt, mt = clouds(np.full(1500, 0.75), rng)
        xn, mn = clouds(np.full(1500, THETA0), rng)
        r = dctr.fit_parameters(exact, xt, mt, xn, mn, steps=60, lr=0.05, n_bootstrap=40 if i < 3 else 0, seed=i)
        if i < 3:
            assert r.bootstrap_errors[0] == pytest.approx(r.asymptotic_errors[0], rel=0.3)
            assert r.statistical_errors[0] == r.bootstrap_errors[0]
        assert r.asymptotic_errors[0] > 1.2 * r.hessian_errors[0]
        assert r.training_errors[0] == 0.0
        pulls.append((r.values[0] - 0.75) / r.errors[0])
        hess_pulls.append((r.values[0] - 0.75) / r.hessian_errors[0])
    assert abs(np.mean(pulls)) < 0.45
    assert 0.7 < np.std(pulls) < 1.35
    assert np.std(hess_pulls) > 1.3  # the Hessian error alone is too small: this test can tell them apart


def test_ensemble_spread_is_the_training_error(trained):
    rng = np.random.default_rng(5)
    xt, mt = clouds(np.full(2000, 0.7), rng)
    xn, mn = clouds(np.full(2000, THETA0), rng)
    other = dctr.DCTR.load(_roundtrip(trained), device="cpu")
    twin = dctr.fit_parameters([trained, other], xt, mt, xn, mn, steps=100, lr=0.05)
    assert twin.training_errors[0] == pytest.approx(0.0, abs=1e-6)  # identical members: no spread
    shifted = dctr.DCTR(ExactRatio(), ("theta",), np.array([THETA0]))
    r = dctr.fit_parameters([trained, shifted], xt, mt, xn, mn, steps=100, lr=0.05)
    spread = abs(r.member_values[0, 0] - r.member_values[1, 0]) / np.sqrt(2)
    assert r.training_errors[0] == pytest.approx(spread, rel=1e-6)
    assert r.values[0] == pytest.approx(r.member_values[:, 0].mean())
    assert r.errors[0] ** 2 == pytest.approx(r.statistical_errors[0] ** 2 + r.training_errors[0] ** 2)
    with pytest.raises(TypeError, match="ensemble"):
        dctr.fit_parameters([], xt, mt, xn, mn)
    with pytest.raises(ValueError, match="n_bootstrap"):
        dctr.fit_parameters(trained, xt, mt, xn, mn, n_bootstrap=1)


_saved: dict = {}


def _roundtrip(model):
    import tempfile
    from pathlib import Path

    if "path" not in _saved:
        _saved["path"] = model.save(Path(tempfile.mkdtemp()) / "dctr.pt")
    return _saved["path"]


def test_save_load_round_trip(trained, tmp_path):
    """Every buffer (feature scales, ranges, n_scale) and weight comes back; a fresh process gives the same fit."""
    import subprocess
    import sys

    path = trained.save(tmp_path / "model.pt")
    loaded = dctr.DCTR.load(path)
    a, b = trained.model.state_dict(), loaded.model.state_dict()
    assert set(a) == set(b) and "n_scale" in a
    assert all(torch.equal(a[k].cpu(), b[k]) for k in a)
    assert loaded.names == trained.names and np.array_equal(loaded.nominal, trained.nominal)
    assert loaded.history.best_epoch == trained.history.best_epoch
    rng = np.random.default_rng(6)
    x, m = clouds(np.full(300, 0.6), rng)
    assert np.array_equal(trained.log_weights(x, m, [0.3]), loaded.log_weights(x, m, [0.3]))
    np.savez(tmp_path / "events.npz", x=x, m=m)
    code = (
        "import sys, numpy as np; from mlmc_course import dctr; f = np.load(sys.argv[2]); "
        "model = dctr.DCTR.load(sys.argv[1]); "
        "r = dctr.fit_parameters(model, f['x'][:150], f['m'][:150], f['x'][150:], f['m'][150:], steps=50); "
        "print(repr(float(r.values[0])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(tmp_path / "events.npz")],
        capture_output=True,
        text=True,
        check=True,
    )
    here = dctr.fit_parameters(trained, x[:150], m[:150], x[150:], m[150:], steps=50)
    assert float(out.stdout.strip()) == float(here.values[0])
    torch.save({"format": 99}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a DCTR model file"):
        dctr.DCTR.load(tmp_path / "bad.pt")


def test_early_stopping_stops_and_keeps_the_best_epoch():
    rng = np.random.default_rng(8)
    x0, m0 = clouds(np.full(600, THETA0), rng)
    theta1 = rng.uniform(LOW, HIGH, 600)
    x1, m1 = clouds(theta1, rng)
    kwargs = dict(names=("theta",), nominal_theta=[THETA0], low=[LOW], high=[HIGH], phi=(8,), latent=4, head=(8,))
    model = dctr.train(x0, m0, x1, m1, theta1[:, None], epochs=200, patience=2, lr=3e-2, progress=False, **kwargs)
    ran = len(model.history.val)
    assert ran < 200
    assert model.history.best_epoch == ran - 2
    assert min(model.history.val) == model.history.val[model.history.best_epoch - 1]
    ens = dctr.train_ensemble(x0, m0, x1, m1, theta1[:, None], k=2, epochs=2, progress=False, **kwargs)
    w = [e.model.state_dict()["head.0.weight"] for e in ens]
    assert not torch.equal(w[0], w[1])


def test_calibration_removes_a_linear_bias_and_adds_its_error():
    rng = np.random.default_rng(9)
    truths = rng.uniform(0.1, 0.2, (30, 1))
    values = 0.01 + 0.9 * truths + rng.normal(0, 0.002, truths.shape)
    cal = dctr.Calibration.measure(("a",), truths, values, np.full(truths.shape, 0.002))
    assert cal.coefficients[0] == pytest.approx([0.01, 0.9], abs=0.01)
    z = np.zeros((1, 1))
    raw = dctr.FitResult(("a",), np.array([0.01 + 0.9 * 0.15]), z + 1e-6, z + 4e-6, z, 1, 1, z, z)
    corrected = cal.apply(raw)
    assert corrected.values[0] == pytest.approx(0.15, abs=0.002)
    assert corrected.calibration_covariance[0, 0] > 0
    assert corrected.errors[0] > raw.errors[0] / 0.9
    with pytest.raises(ValueError, match="for"):
        cal.apply(dctr.FitResult(("b",), np.array([0.1]), z, z, z, 1, 1, z, z))
    with pytest.raises(ValueError, match="at least 3"):
        dctr.Calibration.measure(("a",), truths[:2], values[:2], np.full((2, 1), 0.002))
    edge = dctr.DCTR(ExactRatio(), ("theta",), np.array([THETA0]))
    xt, mt = clouds(np.full(500, 0.999), rng)
    xn, mn = clouds(np.full(500, THETA0), rng)
    with pytest.warns(UserWarning, match="edge of the training range"):
        assert dctr.fit_parameters(edge, xt, mt, xn, mn, steps=100, lr=0.1).at_limit[0]
    flat = dctr.Calibration.measure(("a",), truths, -truths, np.full(truths.shape, 0.002))
    with pytest.raises(ValueError, match="slope"):
        flat.apply(raw)


def test_trained_fit_moves_to_the_target(trained):
    rng = np.random.default_rng(4)
    xt, mt = clouds(np.full(4000, 0.75), rng)
    xn, mn = clouds(np.full(4000, THETA0), rng)
    result = dctr.fit_parameters(trained, xt, mt, xn, mn, steps=200, lr=0.05)
    value, error = result.values[0], result.hessian_errors[0]
    # a small, briefly trained classifier: its own error (a pull towards theta_0) exceeds the statistical one
    assert abs(value - 0.75) < 0.1
    assert 0.003 < error < 0.012
    assert result.asymptotic_errors[0] > error


def test_normalised_nll_ignores_constant_shifts():
    lt, ln = torch.randn(100), torch.randn(200)
    assert torch.allclose(dctr.normalised_nll(lt + 5, ln + 5), dctr.normalised_nll(lt, ln), atol=1e-5)
    assert float(dctr.normalised_nll(torch.zeros(5), torch.zeros(5))) == pytest.approx(0.0)


def test_parabola_minimum():
    x = np.linspace(0.1, 0.2, 7)
    best, err = dctr.parabola_minimum(x, 3 + 0.5 * ((x - 0.137) / 0.004) ** 2)
    assert best == pytest.approx(0.137) and err == pytest.approx(0.004)
    with pytest.raises(ValueError, match="not convex"):
        dctr.parabola_minimum(x, -(x**2))
    with pytest.raises(ValueError, match="at least 3"):
        dctr.parabola_minimum(x[:2], x[:2])
    with pytest.raises(ValueError, match="same length"):
        dctr.parabola_minimum(x, x[:5])


def test_train_validates_inputs():
    rng = np.random.default_rng(4)
    x, m = clouds(np.full(10, THETA0), rng)
    kwargs = dict(names=("theta",), nominal_theta=[THETA0], low=[LOW], high=[HIGH], progress=False)
    with pytest.raises(ValueError, match="varied_theta"):
        dctr.train(x, m, x, m, np.zeros((9, 1)), **kwargs)
    with pytest.raises(ValueError, match="differ in shape"):
        dctr.train(x, m, x[:, :5], m[:, :5], np.zeros((10, 1)), **kwargs)
    with pytest.raises(ValueError, match="val_fraction"):
        dctr.train(x, m, x, m, np.zeros((10, 1)), val_fraction=1.0, **kwargs)

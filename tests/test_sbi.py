"""The SBI toy: its densities, sampler, exact likelihood, joint quantities, losses, networks and limit setting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from mlmc_course import sbi
from mlmc_course.training import fit, to_tensors


def _latent_grid(n1: int = 800, n2: int = 400) -> tuple[np.ndarray, float]:
    z1 = (np.arange(n1) + 0.5) * (40.0 / n1)
    z2 = -1 + (np.arange(n2) + 0.5) * (2.0 / n2)
    grid = np.stack(np.meshgrid(z1, z2, indexing="ij"), -1).reshape(-1, 2)
    return grid, (40.0 / n1) * (2.0 / n2)


def test_terms_are_normalised_and_the_density_positive():
    z, cell = _latent_grid()
    f0, f1, f2 = sbi.terms(z)
    assert f0.sum() * cell == pytest.approx(1.0, abs=1e-3)
    assert f2.sum() * cell == pytest.approx(1.0, abs=1e-3)
    assert abs(f1.sum() * cell) < 1e-6
    for theta in np.linspace(-5, 5, 41):
        assert np.all(f0 + theta * f1 + theta**2 * f2 >= 0)


@pytest.mark.parametrize("theta", [-0.8, 0.0, 0.5])
def test_sampler_matches_analytic_moments(theta):
    z = sbi.sample_latent(np.full(40_000, theta), np.random.default_rng(5))
    mean_energy = (1 + 3 * theta**2) / (1 + theta**2)  # E[z1]: 1 from f0, 3 from f2 (a Gamma(3) law)
    mean_cos = theta * sbi.KAPPA * (4 / 15) / (1 + theta**2)  # only the interference is odd in z2
    assert z[:, 0].mean() == pytest.approx(mean_energy, abs=5 * z[:, 0].std() / 200)
    assert z[:, 1].mean() == pytest.approx(mean_cos, abs=5 * z[:, 1].std() / 200)


def test_joint_quantities_agree_with_finite_differences():
    z = sbi.simulate(0.4, np.random.default_rng(0), 200).z
    h = 1e-6
    fd = (sbi.log_p_latent(z, 0.3 + h) - sbi.log_p_latent(z, 0.3 - h)) / (2 * h)
    assert np.allclose(sbi.joint_score(z, 0.3), fd, rtol=1e-5, atol=1e-7)
    ratio = sbi.joint_log_ratio(z, 0.3, -0.2)
    assert np.allclose(ratio, sbi.log_p_latent(z, 0.3) - sbi.log_p_latent(z, -0.2))


def test_exact_likelihood_is_normalised_and_matches_simulation():
    theta = 0.7
    u = np.linspace(-6, 3.5, 301)  # log x1
    c = np.linspace(-0.999, 0.999, 201)
    grid = np.stack(np.meshgrid(np.exp(u), c, indexing="ij"), -1).reshape(-1, 2)
    p = np.exp(sbi.exact_log_likelihood(grid, np.array([theta]))[:, 0]) * grid[:, 0]  # density in (log x1, x2)
    total = np.trapezoid(np.trapezoid(p.reshape(len(u), len(c)), c, axis=1), u)
    assert total == pytest.approx(1.0, abs=5e-3)

    x = sbi.simulate(theta, np.random.default_rng(1), 50_000).x
    edges = np.quantile(np.log(x[:, 0]), np.linspace(0, 1, 11)), np.linspace(-1, 1, 6)
    counts = np.histogram2d(np.log(x[:, 0]), x[:, 1], bins=edges)[0]
    expected = np.zeros_like(counts)
    pp = p.reshape(len(u), len(c))
    iu, ic = np.digitize(u, edges[0]) - 1, np.digitize(c, edges[1]) - 1
    du, dc = np.gradient(u), np.gradient(c)
    for i in range(10):
        for j in range(5):
            sel = np.outer(iu == i, ic == j)
            expected[i, j] = (pp * np.outer(du, dc))[sel].sum()
    expected *= len(x) / expected.sum()
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert stats.chi2.sf(chi2, counts.size - 1) > 1e-3


def test_simulate_validates_its_input():
    with pytest.raises(ValueError, match="give n"):
        sbi.simulate(0.5, np.random.default_rng())
    with pytest.raises(ValueError, match="NaN"):
        sbi.simulate(np.array([0.1, np.nan]), np.random.default_rng())
    with pytest.raises(ValueError, match="must be > 0"):
        sbi.exact_log_likelihood(np.array([[-1.0, 0.0]]), np.array([0.0]))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        sbi.terms(np.ones((4, 3)))


def test_mixture_weights_are_unbiased():
    rng = np.random.default_rng(2)
    events = sbi.simulate(rng.uniform(-1, 1, 40_000), rng)
    w = sbi.mixture_weights(events.z, np.array([-1.0, 0.0, 0.6]))
    assert np.allclose(w.mean(axis=0), 1.0, atol=0.03)
    with pytest.raises(ValueError, match="low < high"):
        sbi.mixture_weights(events.z[:3], np.array([0.0]), theta_range=(1.0, -1.0))


def test_histogram_likelihood_probabilities():
    rng = np.random.default_rng(3)
    sample, weights = rng.normal(size=1000), np.ones((1000, 2))
    bins = np.linspace(-3, 3, 11)
    ll = sbi.histogram_log_likelihood(bins[:-1] + 0.3, sample, weights, bins)
    assert ll.shape == (10, 2) and np.exp(ll[:, 0]).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="increasing"):
        sbi.histogram_log_likelihood(sample, sample, weights, bins[::-1])
    with pytest.raises(ValueError, match="same length"):
        sbi.histogram_log_likelihood(sample, sample, weights[:10], bins)


def test_q_curve_and_intervals():
    thetas = np.linspace(-1, 1, 201)
    ll = -0.5 * ((thetas - 0.2) / 0.1) ** 2 * np.ones((4, 1)) / 4  # sums to a Gaussian log-likelihood
    q = sbi.q_curve(ll)
    assert q.min() == 0.0
    interval = sbi.confidence_interval(thetas, q)
    assert interval.low == pytest.approx(0.2 - 0.196, abs=2e-3) and interval.high == pytest.approx(0.396, abs=2e-3)
    assert interval.covers(0.2) and not interval.covers(0.5)
    assert sbi.q_curve(ll, n_obs=8) == pytest.approx(2 * q)  # mean over 4 events times 8 events
    two = sbi.confidence_interval(thetas, np.minimum((thetas - 0.5) ** 2, (thetas + 0.5) ** 2) * 400)
    assert len(two.pieces) == 2 and two.length == pytest.approx(4 * np.sqrt(3.841 / 400), abs=2e-3)
    with pytest.raises(ValueError, match="increasing"):
        sbi.confidence_interval(thetas[::-1], q)
    with pytest.raises(ValueError, match="never falls"):
        sbi.confidence_interval(thetas, q + 10)
    with pytest.raises(ValueError, match="positive"):
        sbi.q_curve(ll, n_obs=-1)


def test_losses_vanish_at_the_truth():
    log_r, t = torch.randn(50), torch.randn(50)
    y = (torch.rand(50) < 0.5).float()
    assert sbi.rolr_terms(log_r, y, log_r) == 0
    assert sbi.rascal_terms(log_r, t, y, log_r, t, alpha=3.0) == 0
    assert sbi.rascal_terms(log_r + 0.1, t + 1, y, log_r, t, 0.0) == sbi.rolr_terms(log_r + 0.1, y, log_r)
    with pytest.raises(ValueError, match="method"):
        sbi.make_loss("alice")
    with pytest.raises(ValueError, match="alpha"):
        sbi.make_loss("rascal", alpha=-1)


def test_ratio_net_structure():
    torch.manual_seed(0)
    model = sbi.RatioNet()
    x = torch.as_tensor(sbi.simulate(0.0, np.random.default_rng(0), 64).x, dtype=torch.float32)
    assert torch.allclose(model(x, torch.zeros(64)), torch.zeros(64), atol=1e-6)  # r(x | theta_ref) = 1
    theta = torch.full((64,), 0.4)
    log_r, score = model.log_ratio_and_score(x, theta)
    a, b = model.coefficients(x)
    analytic = (a + 2 * 0.4 * b) / (1 + 0.4 * a + 0.16 * b) - 0.8 / 1.16
    assert torch.allclose(score, analytic, atol=1e-5)
    grid = sbi.learned_log_ratio(model, x.numpy(), np.array([0.4]))
    assert np.allclose(grid[:, 0], log_r.detach().numpy(), atol=1e-5)


def test_rascal_learns_the_ratio():
    rng = np.random.default_rng(4)
    data = sbi.training_data(4000, rng)
    train = to_tensors(*(data[k] for k in ("x", "theta", "y", "log_r", "t")))
    test = sbi.simulate(0.5, rng, 2000).x
    thetas = np.array([-0.5, 0.0, 0.5])
    exact = sbi.exact_log_likelihood(test, thetas)
    exact -= exact[:, [1]]
    torch.manual_seed(0)
    model = sbi.RatioNet()
    before = np.mean((sbi.learned_log_ratio(model, test, thetas) - exact) ** 2)
    fit(model, sbi.make_loss("rascal"), train, epochs=6, batch_size=128, lr=3e-3, progress=False)
    after = np.mean((sbi.learned_log_ratio(model, test, thetas) - exact) ** 2)
    assert after < 0.3 * before  # seeds 0-2 gave 0.02-0.045 against ~0.22 untrained

"""The variance and KL losses: values, gradients, and their importance-weighted (buffered) forms."""

from __future__ import annotations

import math

import pytest
import torch

from mlmc_course.nis import kl_loss, multichannel_kl_loss, stratified_variance_loss, variance_loss


def _batch(n: int = 20_000, seed: int = 0):
    """x ~ g(x) = 2x on [0, 1], f = 3 x^2: I = 1, Var_g[f/g] = 1/8."""
    x = torch.sqrt(torch.rand(n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)))
    return x, 3 * x**2, torch.log(2 * x)


def test_variance_loss_is_the_relative_variance_of_the_weights():
    _, f, log_g = _batch()
    w = f / torch.exp(log_g)
    loss = variance_loss(f, log_g)
    assert float(loss) == pytest.approx(float(w.var(unbiased=False) / w.mean() ** 2), rel=1e-10)
    assert abs(float(loss) - 0.125) < 0.01


def test_variance_loss_gradient_is_the_score_with_a_baseline():
    _, f, log_g = _batch(2000)
    log_g = log_g.clone().requires_grad_(True)
    variance_loss(f, log_g).backward()
    w = (f / torch.exp(log_g)).detach()
    i = w.mean()
    # d/d log g_k of mean((w - I)^2 g/q) / I^2 at q = g: -(w_k^2 - I^2) / (n I^2), the gradient of
    # int f^2/g, -E_g[w^2 d log g], with the baseline I^2 (E_g[d log g] = 0) that lowers its noise
    expected = -(w**2 - i**2) / (len(w) * i**2)
    torch.testing.assert_close(log_g.grad, expected, rtol=1e-6, atol=1e-12)


def test_importance_weighted_variance_estimates_the_variance_under_g():
    # samples from q = uniform, target g(x) = 2x: the estimate must approach Var_g[f/g] = 1/8
    x = torch.rand(400_000, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).clamp_min(1e-12)
    f = 3 * x**2
    loss = variance_loss(f, torch.log(2 * x), torch.zeros_like(x))
    assert abs(float(loss) - 0.125) < 0.005


def test_losses_vanish_when_g_is_proportional_to_f():
    x, _, log_g = _batch()
    f = 5 * torch.exp(log_g)
    assert float(variance_loss(f, log_g)) < 1e-20
    assert abs(float(kl_loss(f, log_g))) < 1e-12


def test_kl_loss_is_positive_and_matches_its_integral():
    # KL(p || g) for p = 3x^2, g = 2x on [0, 1]: int 3x^2 log(1.5 x) dx = log 1.5 - 1/3
    _, f, log_g = _batch(400_000, seed=2)
    kl = float(kl_loss(f, log_g))
    assert kl > 0
    assert kl == pytest.approx(math.log(1.5) - 1 / 3, abs=0.003)


def test_stratified_variance_adds_channel_standard_deviations():
    gen = torch.Generator().manual_seed(3)
    f = torch.rand(3000, dtype=torch.float64, generator=gen) + 0.5
    log_g = torch.log(torch.rand(3000, dtype=torch.float64, generator=gen) + 0.5)
    channel = torch.arange(3000) % 3
    loss = stratified_variance_loss(f, log_g, channel, 3)
    w = f / torch.exp(log_g)
    sig = sum(w[channel == i].var(unbiased=False).sqrt() for i in range(3))
    total = sum(w[channel == i].mean() for i in range(3))
    assert float(loss) == pytest.approx(float((sig / total) ** 2), rel=1e-6)


def test_multichannel_kl_weights_channels_by_their_integral():
    _, f, log_g = _batch(4000)
    channel = torch.zeros(4000, dtype=torch.long)
    assert float(multichannel_kl_loss(f, log_g, channel, 2)) == pytest.approx(float(kl_loss(f, log_g)), rel=1e-12)

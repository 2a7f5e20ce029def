"""Flow matching and diffusion: the path, the ODE solver, the exact log-density, and learning two moons."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlmc_course.data.moons import two_moons
from mlmc_course.metrics.samples import classifier_two_sample_test
from mlmc_course.models.diffusion import (
    FlowMatching,
    cfm_interpolant,
    cosine_alpha_bar,
    diffuse,
    flow_matching_loss,
    odeint,
)
from mlmc_course.training import fit, to_tensors


def test_interpolant_ends_and_velocity():
    torch.manual_seed(0)
    x0, x1 = torch.randn(5, 3), torch.randn(5, 3)
    assert torch.allclose(cfm_interpolant(x0, x1, torch.zeros(5, 1))[0], x0)
    assert torch.allclose(cfm_interpolant(x0, x1, torch.ones(5, 1))[0], x1)
    t, h = torch.full((5, 1), 0.3), 1e-3
    finite_difference = (cfm_interpolant(x0, x1, t + h)[0] - cfm_interpolant(x0, x1, t - h)[0]) / (2 * h)
    assert torch.allclose(cfm_interpolant(x0, x1, t)[1], finite_difference, atol=1e-3)


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_odeint_converges_at_its_order(method, order):
    """dx/dt = t x from 0 to 1 has x(1) = x(0) exp(1/2); halving the step must cut the error by about 2^order."""
    x0 = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    exact = x0 * math.exp(0.5)
    errors = [(odeint(lambda x, t: t * x, x0, n_steps=n, method=method) - exact).abs().max().item() for n in (8, 16)]
    assert errors[0] / errors[1] == pytest.approx(2**order, rel=0.25)
    back = odeint(lambda x, t: t * x, exact, t0=1.0, t1=0.0, n_steps=64, method="rk4")
    assert torch.allclose(back, x0, atol=1e-8)
    with pytest.raises(ValueError, match="method must be"):
        odeint(lambda x, t: x, x0, method="heun")


def test_forward_diffusion_preserves_the_variance_and_the_schedule_ends_right():
    torch.manual_seed(1)
    x0 = torch.randn(200_000, 1)
    xt = diffuse(x0, torch.tensor(0.3), torch.randn_like(x0))
    assert xt.var().item() == pytest.approx(1.0, abs=0.01)
    assert torch.corrcoef(torch.cat([x0, xt], 1).T)[0, 1].item() == pytest.approx(math.sqrt(0.3), abs=0.01)
    abar = cosine_alpha_bar(torch.linspace(0, 1, 101))
    assert abar[0].item() == pytest.approx(1.0) and abar[-1].item() < 1e-6
    assert torch.all(abar[1:] <= abar[:-1])


class ExactGaussianField(FlowMatching):
    """The exact flow-matching velocity for noise N(0, 1) -> data N(mu, s^2) per feature (independent pairing)."""

    def __init__(self, mu: float, s: float) -> None:
        super().__init__(2)
        self.mu, self.s = mu, s

    def velocity(self, x, t, context=None):
        t = torch.as_tensor(t, dtype=x.dtype)
        var = (1 - t) ** 2 + t**2 * self.s**2
        return self.mu + (x - t * self.mu) * (t * self.s**2 - (1 - t)) / var


def test_sampler_and_log_density_with_the_exact_velocity():
    torch.manual_seed(2)
    model = ExactGaussianField(mu=1.5, s=0.5)
    samples = model.sample(20_000, n_steps=40)
    assert samples.mean().item() == pytest.approx(1.5, abs=0.02)
    assert samples.std().item() == pytest.approx(0.5, abs=0.01)
    x = torch.tensor([[1.5, 1.5], [1.0, 2.2], [0.4, 1.9]])
    exact = (-0.5 * ((x - 1.5) / 0.5) ** 2 - math.log(0.5) - 0.5 * math.log(2 * math.pi)).sum(1)
    assert torch.allclose(model.log_prob(x, n_steps=40, method="rk4"), exact, atol=1e-3)


def test_divergence_is_the_trace_of_the_jacobian():
    torch.manual_seed(3)
    model = FlowMatching(3, hidden=(16, 16))
    x = torch.randn(4, 3)
    div = model.divergence(x, 0.4)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: model.velocity(v[None], 0.4)[0], x[i])
        assert div[i].item() == pytest.approx(torch.trace(jac).item(), abs=1e-5)


def test_conditional_model_and_input_checks():
    torch.manual_seed(4)
    model = FlowMatching(2, n_context=1, hidden=(16,))
    assert model.sample(6, context=[0.5], n_steps=3).shape == (6, 2)
    assert model.log_prob(torch.zeros(6, 2), torch.ones(6, 1), n_steps=3).shape == (6,)
    loss = flow_matching_loss(model, (torch.randn(8, 2), torch.randn(8, 1)))
    assert loss.dim() == 0 and loss.requires_grad
    with pytest.raises(ValueError, match="this model is conditional"):
        model.sample(6)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        model.log_prob(torch.zeros(6, 3), torch.ones(6, 1))


@pytest.mark.slow
def test_flow_matching_learns_two_moons():
    """Budget: 4000 events, 100 epochs of batch 256 (1600 steps); the threshold sits above what this seed reaches."""
    torch.manual_seed(5)
    pool, _ = two_moons(50_000, seed=5)
    x, x_test = pool[:4000], pool[4000:7000]
    model = FlowMatching(2)
    fit(model, flow_matching_loss, to_tensors(x), epochs=100, batch_size=256, lr=3e-3, progress=False)
    result = classifier_two_sample_test(x_test, model.sample(3000).numpy(), seed=1)
    print(f"flow matching on two moons: {result}")
    assert result.auc < 0.82, str(result)
    # the log-density through the ODE beats the standard normal's on the test events
    ll = model.log_prob(torch.as_tensor(x_test[:300]), n_steps=20).mean().item()
    gaussian = (-0.5 * (x_test[:300] ** 2).sum(1) - math.log(2 * math.pi)).mean()
    assert np.isfinite(ll) and ll > gaussian + 0.3, (ll, gaussian)

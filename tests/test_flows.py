"""Normalizing flows: the hand-written coupling block against autograd, normalisation, nflows wrappers, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlmc_course.data.moons import two_moons
from mlmc_course.metrics.samples import classifier_two_sample_test
from mlmc_course.models.flows import (
    AffineCoupling,
    BoxToReal,
    CouplingFlow,
    conditional_flow,
    maf,
    nll_loss,
    rq_spline_flow,
)
from mlmc_course.models.tensors import context_tensor
from mlmc_course.training import fit, to_tensors


def _randomise_last_layers(module: torch.nn.Module, std: float, seed: int = 0) -> None:
    """Coupling blocks start as the identity; give their output layers random weights so that tests bite."""
    gen = torch.Generator().manual_seed(seed)
    for block in module.modules():
        if isinstance(block, AffineCoupling):
            for p in block.net[-1].parameters():
                p.data = torch.randn(p.shape, generator=gen) * std


@pytest.mark.parametrize("n_context", [0, 2])
def test_coupling_log_det_matches_autograd_jacobian(n_context):
    torch.manual_seed(1)
    block = AffineCoupling(torch.tensor([True, False, True, False]), n_context=n_context)
    _randomise_last_layers(block, 0.5)
    x = torch.randn(6, 4)
    c = torch.randn(6, n_context) if n_context else None
    z, log_det = block(x, c)
    assert log_det.abs().max() > 0.1, "the test needs a block that is not close to the identity"
    for i in range(len(x)):
        ci = None if c is None else c[i : i + 1]
        jac = torch.autograd.functional.jacobian(lambda v, ci=ci: block(v[None], ci)[0][0], x[i])
        sign, logabs = torch.linalg.slogdet(jac)
        assert sign > 0
        assert logabs.item() == pytest.approx(log_det[i].item(), abs=1e-5)
        # the Jacobian is triangular: unchanged features do not depend on the transformed ones
        assert torch.allclose(jac[0], torch.tensor([1.0, 0, 0, 0])) and torch.allclose(
            jac[2], torch.tensor([0, 0, 1.0, 0])
        )
    x_back, inv_log_det = block.inverse(z, c)
    assert torch.allclose(x_back, x, atol=1e-5)
    assert torch.allclose(inv_log_det, -log_det, atol=1e-6)


def test_coupling_rejects_bad_masks():
    with pytest.raises(ValueError, match="at least one True and one False"):
        AffineCoupling(torch.tensor([True, True]))
    with pytest.raises(ValueError, match="at least 2 features"):
        CouplingFlow(1)


def _grid_integral(log_prob, half_width: float = 10.0, n: int = 401) -> float:
    g = torch.linspace(-half_width, half_width, n)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    with torch.no_grad():
        p = log_prob(torch.stack([xx.ravel(), yy.ravel()], 1)).exp()
    return float(p.sum() * (g[1] - g[0]) ** 2)


def test_coupling_flow_density_is_normalised_and_sampling_inverts():
    torch.manual_seed(2)
    flow = CouplingFlow(2, n_layers=4)
    _randomise_last_layers(flow, 0.1)
    assert _grid_integral(flow.log_prob) == pytest.approx(1.0, abs=0.01)
    x = flow.sample(500)
    z, _ = flow.transform_to_noise(x)
    # the latent points of the samples are standard normal
    assert abs(z.mean().item()) < 0.15 and abs(z.std().item() - 1) < 0.1


@pytest.mark.parametrize("build", [rq_spline_flow, maf], ids=["spline", "maf"])
def test_nflows_density_agrees_with_samples(build):
    """The probability of a box from the density (a grid sum) equals the fraction of samples that land in it."""
    torch.manual_seed(3)
    flow = build(2)
    from_density = _grid_integral(flow.log_prob, half_width=2.0, n=201)
    inside = (flow.sample(40_000).abs() < 2.0).all(dim=1).float().mean().item()
    assert 0.05 < inside < 0.95, "pick a box that holds a fair part of the probability"
    assert from_density == pytest.approx(inside, abs=0.015)


def test_conditional_flow_api_and_context_broadcast():
    torch.manual_seed(4)
    flow = conditional_flow(1, 3)
    assert flow.sample(5, context=[0.1, 0.2, 0.3]).shape == (5, 1)
    assert flow.sample(5, context=torch.randn(5, 3)).shape == (5, 1)
    assert flow.log_prob(np.zeros(4), np.zeros((4, 3))).shape == (4,)  # 1-D x is read as one feature
    with pytest.raises(ValueError, match="this model is conditional"):
        flow.sample(5)
    with pytest.raises(ValueError, match="context has 2 rows but there are 5 events"):
        flow.sample(5, context=torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 1\)"):
        flow.log_prob(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="NaN or infinite"):
        flow.log_prob(torch.tensor([[float("nan")]]), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="unconditional"):
        context_tensor(torch.zeros(3, 1), 3, 0)
    with pytest.raises(ValueError, match="kind must be"):
        conditional_flow(2, 1, kind="glow")
    with pytest.raises(ValueError, match="autoregressive=True"):
        rq_spline_flow(1)


@pytest.mark.slow
def test_conditional_flow_learns_a_conditional_gaussian():
    """x | c ~ N(2c, 0.5^2): the learned density and samples must follow the condition."""
    torch.manual_seed(5)
    rng = np.random.default_rng(5)
    c = rng.uniform(-1, 1, (3000, 1))
    x = 2 * c + 0.5 * rng.standard_normal((3000, 1))
    flow = conditional_flow(1, 1, n_layers=2, hidden=32)
    fit(flow, nll_loss, to_tensors(x, c), epochs=15, batch_size=128, lr=3e-3, progress=False)
    for cond in (-0.8, 0.8):
        s = flow.sample(4000, context=[cond]).numpy().ravel()
        assert abs(s.mean() - 2 * cond) < 0.1 and abs(s.std() - 0.5) < 0.08, (cond, s.mean(), s.std())
    test_c = rng.uniform(-1, 1, (2000, 1))
    test_x = 2 * test_c + 0.5 * rng.standard_normal((2000, 1))
    exact = -0.5 * ((test_x - 2 * test_c) / 0.5) ** 2 - math.log(0.5) - 0.5 * math.log(2 * math.pi)
    with torch.no_grad():
        learned = flow.log_prob(test_x, test_c).numpy()
    assert abs(learned.mean() - exact.mean()) < 0.05, (learned.mean(), exact.mean())


def test_box_to_real_round_trip_and_jacobian():
    box = BoxToReal([60.0, -1.0], [140.0, 1.0])
    x = torch.tensor([[61.0, -0.99], [91.0, 0.0], [139.0, 0.999]])
    u, log_det = box.forward(x)
    assert torch.allclose(box.inverse(u), x, atol=1e-4)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: box.forward(v[None])[0][0], x[i])
        assert torch.logdet(jac).item() == pytest.approx(log_det[i].item(), abs=1e-4)
    with pytest.raises(ValueError, match="outside the interval"):
        box.forward(torch.tensor([[150.0, 0.0]]))
    with pytest.raises(ValueError, match="low < high"):
        BoxToReal([1.0], [0.0])


# Two moons with a small budget (4000 events, batch 256, lr 3e-3). The thresholds sit above what these seeds reach on
# this machine and far below an untrained flow (AUC ~0.99); see the report of issue 6 for the measured values.
@pytest.mark.slow
@pytest.mark.parametrize(
    ("build", "epochs", "max_auc"),
    [
        (lambda: CouplingFlow(2, n_layers=4), 40, 0.68),
        (lambda: rq_spline_flow(2, n_layers=3, hidden=32), 20, 0.68),
        (lambda: maf(2, n_layers=4, hidden=32), 40, 0.78),
    ],
    ids=["coupling", "spline", "maf"],
)
def test_flows_learn_two_moons(build, epochs, max_auc):
    torch.manual_seed(6)
    pool, _ = two_moons(50_000, seed=6)  # independent train and test events (make_moons spaces its angles evenly)
    x, x_test = pool[:4000], pool[4000:7000]
    flow = build()
    untrained = classifier_two_sample_test(x_test, flow.sample(3000).numpy(), seed=1)
    fit(flow, nll_loss, to_tensors(x), epochs=epochs, batch_size=256, lr=3e-3, progress=False)
    trained = classifier_two_sample_test(x_test, flow.sample(3000).numpy(), seed=1)
    print(f"two moons: untrained {untrained}, trained {trained}")
    assert untrained.auc > 0.9
    assert trained.auc < max_auc, str(trained)

"""NISIntegrator: training, VEGAS start, buffer, channels, determinism, input errors, and the CUDA path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlmc_course.data import integrands as I
from mlmc_course.nis import IntegrandError, NISIntegrator, SampleBuffer, allocate, as_integrand, run_vegas


def small(itg, **kw) -> NISIntegrator:
    kw = {"bins": 8, "hidden": (32,), "batch_size": 512, "seed": 0, "device": "cpu", "robust": False, **kw}
    return NISIntegrator(itg, **kw)


def test_training_lowers_the_variance():
    itg = I.gaussian(2)
    nis = small(itg, lr=5e-3, lr_final=1e-3)
    before = nis.integrate(10_000).rel_std
    history = nis.train(40)
    after = nis.integrate(10_000)
    assert after.rel_std < before / 3, (before, after.rel_std)
    assert abs(after.pull(itg.integral)) < 5
    assert history.loss[-1] < history.loss[0]
    assert history.calls[-1] == 10_000 + 40 * 512  # the first estimate, then 40 online steps


def test_kl_training_lowers_the_variance():
    nis = small(I.gaussian(2), loss="kl", lr=5e-3, lr_final=1e-3)
    before = nis.integrate(10_000).rel_std
    nis.train(40)
    assert nis.integrate(10_000).rel_std < before / 3


def test_vegas_start_beats_uniform_and_counts_its_calls():
    itg = I.camel(4)
    nis = small(itg, buffer_capacity=4096)
    uniform = nis.integrate(20_000).rel_std
    calls = nis.n_calls
    nis.vegas_init(n_iterations=5, n_per_iteration=4000)
    assert nis.n_calls - calls == 5 * 4000
    assert nis.buffer.size == 4000  # the last VEGAS iteration is buffered
    assert nis.integrate(20_000).rel_std < 0.8 * uniform


def test_buffered_steps_cost_no_calls_and_the_buffer_stays_bounded():
    nis = small(I.gaussian(2), buffer_capacity=1500, buffered_steps=2)
    nis.train(6)
    assert nis.n_calls == 6 * 512
    assert nis.buffer.size == 1500


def test_same_seed_same_result_other_seed_other_result():
    def run(seed):
        nis = small(I.camel(2), seed=seed)
        nis.train(5)
        return nis.integrate(2000).value

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_multichannel_learns_weights_and_splits_samples():
    itg = I.ring_plus_line()
    nis = small(itg, multichannel=True, uniform_fraction=0.2)
    nis.train(40)
    res = nis.integrate(20_000)
    assert len(res.channel_calls) == 2 and min(res.channel_calls) > 0
    assert abs(res.pull(itg.integral)) < 5
    # the ring channel carries about 2/3 of the integral
    assert 0.55 < res.channel_values[0] / res.value < 0.8


def test_dropping_a_channel_keeps_the_estimate_unbiased():
    itg = I.ring_plus_line()
    nis = small(itg, multichannel=True, drop_threshold=0.45, drop_interval=10, history=5)
    history = nis.train(20)
    assert history.active_channels[0] == 2 and history.active_channels[-1] == 1
    res = nis.integrate(40_000)
    assert res.channel_calls[1] == 0
    assert abs(res.pull(itg.integral)) < 5


def test_allocation_is_stratified_and_complete():
    active = torch.tensor([True, True, False, True])
    counts = allocate(1000, torch.tensor([1.0, 3.0, 5.0, 0.0]), active, minimum=10)
    assert int(counts.sum()) == 1000 and counts[2] == 0 and counts[3] == 10
    assert abs((int(counts[1]) - 10) - 3 * (int(counts[0]) - 10)) <= 3  # beyond the minimum, N_i ∝ sigma_i
    uniform = allocate(999, torch.full((4,), math.nan), active, minimum=2)
    assert int(uniform.sum()) == 999 and sorted(uniform[active].tolist()) == [333, 333, 333]
    with pytest.raises(ValueError, match="too small"):
        allocate(5, torch.ones(4), active, minimum=2)
    with pytest.raises(ValueError, match="no active channel"):
        allocate(5, torch.ones(2), torch.zeros(2, dtype=torch.bool))


def test_buffer_checks_its_fields():
    buf = SampleBuffer(10)
    with pytest.raises(ValueError, match="buffer is empty"):
        buf.sample(3)
    buf.store(a=torch.zeros(4), b=torch.zeros(4))
    with pytest.raises(ValueError, match="same length"):
        buf.store(a=torch.zeros(4), b=torch.zeros(3))
    with pytest.raises(ValueError, match="fields must be"):
        buf.store(a=torch.zeros(4))


@pytest.mark.parametrize(
    ("function", "match"),
    [
        (lambda x: torch.full((len(x),), float("nan"), dtype=x.dtype), "NaN or infinite"),
        (lambda x: x[:, 0] - 0.5, "negative value"),
        (lambda x: x, r"must return shape \(512,\)"),
        (lambda x: x[:, 0].numpy(), "must return a torch tensor"),
    ],
)
def test_bad_integrand_output_is_named(function, match):
    nis = small(as_integrand(function, dim=2))
    with pytest.raises(IntegrandError, match=match):
        nis.train(1)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="pass dim"):
        NISIntegrator(lambda x: x[:, 0])
    with pytest.raises(ValueError, match="has no channels"):
        NISIntegrator(I.camel(2), multichannel=True)
    with pytest.raises(ValueError, match="loss must be"):
        NISIntegrator(I.camel(2), loss="mse")
    with pytest.raises(ValueError, match="buffered_steps needs a buffer"):
        NISIntegrator(I.camel(2), buffered_steps=2)
    with pytest.raises(ValueError, match="lr_final"):
        NISIntegrator(I.camel(2), lr=1e-4, lr_final=1e-3)


def test_vegas_baseline_is_consistent():
    itg = I.camel(2)
    run = run_vegas(itg, 20_000, 20_000, n_iterations=5, seed=0)
    assert abs(run.result.pull(itg.integral)) < 5
    assert run.weights.mean() == pytest.approx(run.result.value, rel=1e-12)
    assert 0 < run.train_calls <= 20_000 and run.result.n_calls == len(run.weights)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_trains_and_stays_unbiased():
    itg = I.ring_plus_line()
    nis = small(itg, multichannel=True, device="cuda", buffer_capacity=4096, buffered_steps=1, flat_mix=0.05)
    nis.train(20)
    assert next(nis.flows.parameters()).is_cuda
    values = np.array([nis.integrate(5000).value for _ in range(30)])
    z = (values.mean() - itg.integral) / (values.std(ddof=1) / math.sqrt(len(values)))
    assert abs(z) < 4

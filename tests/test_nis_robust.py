"""Issue 14: the stress suite, the robust defaults, and the weight-tail diagnostics that flag an untrustworthy error."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from mlmc_course.data import integrands as I
from mlmc_course.nis import HeavyTailWarning, NISIntegrator, WeightedSample, pareto_k, weight_diagnostics


@pytest.mark.parametrize("name", I.STRESS_SUITE)
def test_stress_integrals_match_plain_monte_carlo(name):
    itg = I.get(name)
    x = torch.rand(200_000, itg.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    f = itg(x)
    assert f.shape == (200_000,) and bool((f >= 0).all())
    mean, err = float(f.mean()), float(f.std() / math.sqrt(len(f)))
    if err > 0.05 * itg.integral or mean < 0.5 * itg.integral:  # too peaked for plain MC to check at this size
        assert mean < itg.integral * 1.5 + 5 * err
    else:
        assert abs(mean - itg.integral) < 5 * err + 5 * itg.integral_error, (name, mean, err, itg.integral)


def test_stress_suite_is_documented_and_large_enough():
    assert len(I.STRESS_SUITE) >= 10
    for fn in (I.correlated_gaussian, I.multi_peak, I.boundary_peak, I.thin_shell, I.simplex_corner, I.small_ball):
        assert "Why it is hard" in fn.__doc__
    assert sum(1 for n in I.STRESS_SUITE if (I.get(n).dim >= 3 and n.startswith("shell"))) >= 1


def test_pareto_k_recovers_known_tails():
    rng = np.random.default_rng(0)
    for k in (0.3, 0.6, 1.0):
        assert abs(pareto_k(rng.random(50_000) ** -k) - k) < 0.1
    assert pareto_k(rng.normal(1.0, 0.1, 50_000)) < 0.2


def _sample(weights: np.ndarray) -> WeightedSample:
    n = len(weights)
    w = torch.as_tensor(weights, dtype=torch.float64)
    return WeightedSample(torch.zeros(n, 1), w, w, torch.zeros(n, dtype=torch.long), 1)


def test_warning_fires_on_heavy_tail_and_not_on_light_tail():
    rng = np.random.default_rng(2)
    heavy = _sample(rng.random(20_000) ** -0.9).result()  # Pareto tail, k = 0.9: infinite variance
    assert heavy.warning and "not trustworthy" in repr(heavy)
    light = _sample(rng.exponential(size=20_000)).result()
    assert light.warning == "" and "WARNING" not in repr(light)
    d = weight_diagnostics(np.ones(100))
    assert d.max_weight_ratio == 1 and d.ess == pytest.approx(100) and d.efficiency == pytest.approx(1)


def test_integrator_warns_on_a_badly_sampled_integrand():
    # a flat sampler on a narrow 4D Gaussian: a few points carry the integral
    bad = NISIntegrator(I.gaussian(4, sigma=0.02), robust=False, bins=8, hidden=(16,), device="cpu", seed=0)
    with pytest.warns(HeavyTailWarning, match="not trustworthy"):
        bad.integrate(20_000)


def test_integrator_is_silent_when_well_sampled():
    nis = NISIntegrator(I.gaussian(2, sigma=0.2), bins=8, hidden=(16,), batch_size=512, device="cpu", seed=0)
    nis.train(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", HeavyTailWarning)
        result = nis.integrate(20_000)
    assert abs(result.pull(I.gaussian(2, sigma=0.2).integral)) < 4


def test_defaults_start_from_vegas_and_keep_the_better_state():
    itg = I.gaussian(3, sigma=0.1)
    nis = NISIntegrator(itg, bins=8, hidden=(16,), batch_size=256, device="cpu", seed=0)
    nis.train(12)
    assert nis.vegas_map is not None and nis.n_calls <= 13 * 256
    assert nis.best_rel_var <= nis.vegas_rel_var
    result = nis.integrate(20_000)
    assert abs(result.pull(itg.integral)) < 4


def test_falls_back_to_vegas_when_no_flow_state_beats_it():
    itg = I.gaussian(3, sigma=0.1)
    nis = NISIntegrator(itg, bins=8, hidden=(16,), batch_size=256, device="cpu", seed=0)
    nis._adapt_vegas(5_000)
    nis.vegas_rel_var = 0.0  # pretend VEGAS is perfect: no held-out flow score can beat it
    nis.train(12)
    assert not nis.use_flow and nis.best_rel_var == 0.0
    sample = nis.sample(5_000)
    _, log_jac = nis.maps[0](torch.rand(10, 3, dtype=torch.float64))
    assert torch.isfinite(log_jac).all()
    result = sample.result()
    assert abs(result.pull(itg.integral)) < 4
    assert result.rel_std < 1.0  # VEGAS alone samples this separable Gaussian well


def test_robust_options_are_validated():
    with pytest.raises(ValueError, match="vegas_fraction"):
        NISIntegrator(I.ring_plus_line(), multichannel=True, vegas_fraction=0.2)
    with pytest.raises(ValueError, match="clip"):
        NISIntegrator(I.camel(2), clip=0.5)
    with pytest.raises(ValueError, match="kl_fraction"):
        NISIntegrator(I.camel(2), kl_fraction=2.0)

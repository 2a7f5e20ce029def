"""Tests for mlmc_course.reweight: classifier weights, ESS, clipping, histograms, toys, Keras training, OmniFold."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from mlmc_course import reweight as rw
from mlmc_course.data import toys


def test_weights_from_probabilities_formula_and_prior():
    s = np.array([0.1, 0.5, 0.8])
    assert np.allclose(rw.weights_from_probabilities(s), [1 / 9, 1.0, 4.0])
    assert np.allclose(rw.weights_from_probabilities(s, prior_ratio=3.0), [3 / 9, 3.0, 12.0])


@pytest.mark.parametrize(
    ("s", "match"),
    [
        (np.array([0.2, 1.0]), r"\(0.0, 1.0\)"),
        (np.array([0.0, 0.3]), r"\(0.0, 1.0\)"),
        (np.array([0.2, np.nan]), "NaN"),
        (np.array([[0.2, 0.3]]), "dimension"),
    ],
)
def test_weights_from_probabilities_rejects_bad_input(s, match):
    with pytest.raises(ValueError, match=match):
        rw.weights_from_probabilities(s)


def test_weights_from_probabilities_rejects_bad_prior():
    with pytest.raises(ValueError, match="prior_ratio"):
        rw.weights_from_probabilities(np.array([0.5]), prior_ratio=0.0)


def test_effective_sample_size():
    assert rw.effective_sample_size(np.full(400, 3.0)) == pytest.approx(400)
    w = np.array([1.0, 1.0, 2.0, 4.0])
    assert rw.effective_sample_size(w) == pytest.approx(64 / 22)
    # A quarter of the weights negative: (1 - 2f)^2 N.
    signs = np.where(np.arange(1000) % 4 == 0, -1.0, 1.0)
    assert rw.effective_sample_size(signs) == pytest.approx(0.25 * 1000)
    with pytest.raises(ValueError, match="all weights are zero"):
        rw.effective_sample_size(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        rw.effective_sample_size(np.array([1.0, np.nan]))


def test_clip_weights_keeps_sum_and_caps():
    rng = np.random.default_rng(0)
    w = rng.lognormal(0, 1.5, 1000)
    cap = np.quantile(w, 0.95)
    out = rw.clip_weights(w, cap)
    assert out.sum() == pytest.approx(w.sum())
    assert np.ptp(out[w >= cap]) < 1e-9  # every capped weight became the same value
    assert rw.effective_sample_size(out) > rw.effective_sample_size(w)
    assert np.allclose(rw.clip_weights(w, cap, keep_sum=False), np.minimum(w, cap))
    assert np.allclose(rw.clip_weights(w, 2 * w.max()), w)
    with pytest.raises(ValueError, match="negative"):
        rw.clip_weights(np.array([1.0, -1.0]), 2.0)
    with pytest.raises(ValueError, match="max_weight"):
        rw.clip_weights(w, 0.0)


def test_normalise():
    assert rw.normalise(np.array([1.0, 3.0])).sum() == pytest.approx(2.0)
    assert rw.normalise(np.array([1.0, 3.0]), total=10).tolist() == [2.5, 7.5]
    with pytest.raises(ValueError, match="positive"):
        rw.normalise(np.array([1.0, -2.0]))


def test_weighted_histogram_errors():
    x = np.array([0.5, 0.5, 1.5])
    w = np.array([2.0, 3.0, 4.0])
    counts, errors = rw.weighted_histogram(x, [0, 1, 2], w)
    assert counts.tolist() == [5.0, 4.0]
    assert np.allclose(errors, [np.sqrt(13), 4.0])
    dens, _ = rw.weighted_histogram(x, [0, 1, 3], w, density=True)
    assert np.sum(dens * [1, 2]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="increasing"):
        rw.weighted_histogram(x, [1, 0])
    with pytest.raises(ValueError, match="one entry per event"):
        rw.weighted_histogram(x, [0, 1, 2], w[:2])


def test_compare_histograms_accepts_same_and_rejects_different():
    rng = np.random.default_rng(1)
    bins = np.linspace(-3, 3, 21)
    same = rw.compare_histograms(rng.normal(size=20_000), rng.normal(size=20_000), bins)
    assert same.ndf == 19
    assert same.pvalue > 1e-3
    shifted = rw.compare_histograms(rng.normal(size=20_000), rng.normal(0.1, 1, 20_000), bins)
    assert shifted.pvalue < 1e-6


def test_kinematic_toy_densities_normalised_and_sampled():
    toy = toys.KinematicToy()
    for which in ("sim", "data"):
        total, _ = integrate.dblquad(
            lambda eta, pt, w=which: toy.density(np.array([[pt, eta]]), w)[0], 0, 400, -8, 8, epsabs=1e-5
        )
        assert total == pytest.approx(1.0, abs=1e-3)
    x = toy.sample(20_000, "data", seed=3)
    assert x.shape == (20_000, 2)
    assert x[:, 0].mean() == pytest.approx(toy.k * toy.scale_data, rel=0.03)
    # The mean weight over simulated events is 1 (the ratio of two normalised densities).
    sim = toy.sample(50_000, "sim", seed=4)
    assert toy.ratio(sim).mean() == pytest.approx(1.0, abs=0.03)


def test_kinematic_toy_hole():
    toy = toys.KinematicToy(eta_max=1.0)
    sim = toy.sample(5000, "sim", seed=0)
    assert np.abs(sim[:, 1]).max() < 1.0
    assert np.isinf(toy.ratio(np.array([[30.0, 1.5]])))[0]
    with pytest.raises(ValueError, match="'sim' or 'data'"):
        toy.sample(10, "mc")


def test_detector_toy():
    truth, reco = toys.DetectorToy(resolution=0.5).sample(40_000, 1.0, 2.0, seed=0)
    assert truth.shape == reco.shape == (40_000, 1)
    assert np.std(reco - truth) == pytest.approx(0.5, rel=0.02)
    assert np.std(reco) == pytest.approx(np.sqrt(4.25), rel=0.02)


@pytest.mark.slow
def test_keras_classifier_reproduces_density_ratio():
    """The classifier weight follows the analytic ratio of the toy (lesson 13's claim)."""
    toy = toys.KinematicToy()
    sim, data = toy.sample(20_000, "sim", seed=10), toy.sample(20_000, "data", seed=11)
    clf = rw.train_keras_classifier(sim, data, hidden=(32, 32), epochs=8, batch_size=256, seed=0)
    test = toy.sample(5000, "sim", seed=12)
    log_w = np.log(rw.weights_from_probabilities(clf.predict(test)))
    log_exact = np.log(toy.ratio(test))
    bulk = test[:, 0] < 80  # where the training sample is dense
    assert np.corrcoef(log_w[bulk], log_exact[bulk])[0, 1] > 0.9
    assert np.median(np.abs(log_w - log_exact)[bulk]) < 0.1
    assert set(clf.history) == {"train", "validation"}


def _logistic_quadratic(x0, x1, w0, w1):
    """An exact classifier family for Gaussians: logistic regression on (t, t^2), classes weighted to equal sums."""
    from sklearn.linear_model import LogisticRegression

    def feats(x):
        return np.column_stack([x[:, 0], x[:, 0] ** 2])

    x = np.concatenate([feats(x0), feats(x1)])
    y = np.concatenate([np.zeros(len(x0)), np.ones(len(x1))])
    w = np.concatenate([w0 / w0.sum(), w1 / w1.sum()]) * len(x)
    model = LogisticRegression(C=1e6, max_iter=1000).fit(x, y, sample_weight=w)
    return lambda z: np.clip(model.predict_proba(feats(z))[:, 1], 1e-9, 1 - 1e-9)


def test_omnifold_unfolds_gaussian_toy():
    det = toys.DetectorToy(resolution=0.5)
    mc_t, mc_r = det.sample(40_000, 0.0, 1.0, seed=0)
    data_t, data_r = det.sample(40_000, 0.6, 0.8, seed=1)
    result = rw.omnifold(mc_t, mc_r, data_r, _logistic_quadratic, iterations=5)
    assert result.push.shape == result.pull.shape == (5, 40_000)
    nu = result.push[-1]
    mean = np.average(mc_t[:, 0], weights=nu)
    std = np.sqrt(np.average((mc_t[:, 0] - mean) ** 2, weights=nu))
    assert mean == pytest.approx(0.6, abs=0.03)
    assert std == pytest.approx(0.8, abs=0.04)
    # Each iteration moves the width closer to the truth.
    stds = [np.sqrt(np.cov(mc_t[:, 0], aweights=w)) for w in result.push]
    assert abs(stds[-1] - 0.8) < abs(stds[0] - 0.8)


def test_omnifold_validates_inputs():
    t = np.zeros((10, 1))
    with pytest.raises(ValueError, match="same length"):
        rw.omnifold(t, np.zeros((9, 1)), np.zeros((5, 1)), _logistic_quadratic)
    with pytest.raises(ValueError, match="shape"):
        rw.omnifold(t, t, np.zeros((5, 2)), _logistic_quadratic)

"""Tests for mlmc_course.surrogates: the e+e- -> q qbar g matrix element, sampling, surrogates and unweighting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from mlmc_course import surrogates as S


def test_matrix_element_hand_computed_values():
    # By hand: alpha_s C_F / 2pi = 0.118 * (4/3) / (2 pi) = 0.0250404; at x1 = x2 = 0.8 the ratio
    # (x1^2 + x2^2) / ((1 - x1)(1 - x2)) = 1.28 / 0.04 = 32, so |M|^2 = 0.801292; at (0.9, 0.7): 1.30 / 0.03.
    got = S.me_qqg(np.array([[0.8, 0.8], [0.9, 0.7]]))
    assert got == pytest.approx([0.8012921, 1.0850830], rel=1e-6)
    assert S.me_qqg(np.array([[0.8, 0.8]]), alpha_s=0.236)[0] == pytest.approx(2 * 0.8012921, rel=1e-6)


def test_eikonal_limit_and_smooth_ratio():
    rng = np.random.default_rng(1)
    x = S.sample_resolved(1000, rng)
    ratio = S.me_qqg(x) / S.me_eikonal(x)
    np.testing.assert_allclose(ratio, (x[:, 0] ** 2 + x[:, 1] ** 2) / 2, rtol=1e-12)
    assert 0.25 <= ratio.min() and ratio.max() <= 1.0
    soft = np.array([[1 - 1e-6, 1 - 2e-6]])
    assert S.me_qqg(soft)[0] / S.me_eikonal(soft)[0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("y_cut", [0.01, 0.05, 0.1])
def test_three_jet_rate_matches_quadrature(y_cut):
    pref = S.ALPHA_S * S.C_F / (2 * math.pi)
    # u = 1 - x1 and v = 1 - x2 over u, v > y, u + v < 1 - y
    val, _ = integrate.dblquad(
        lambda v, u: pref * ((1 - u) ** 2 + (1 - v) ** 2) / (u * v),
        y_cut,
        1 - 2 * y_cut,
        lambda u: y_cut,
        lambda u: 1 - y_cut - u,
        epsabs=1e-12,
        epsrel=1e-10,
    )
    assert S.three_jet_rate(y_cut) == pytest.approx(val, rel=1e-8)


def test_pair_invariants_and_resolved_region():
    x = np.array([[0.5, 0.505], [0.995, 0.6], [0.8, 0.7]])
    y = S.pair_invariants(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0)  # y12 + y13 + y23 = 1 for massless partons
    np.testing.assert_array_equal(S.resolved(x, 0.01), [False, False, True])
    with pytest.raises(ValueError, match="y_cut"):
        S.resolved(x, 0.5)


def test_sampling_is_uniform_over_the_resolved_region():
    rng = np.random.default_rng(2)
    n = 400_000
    x = S.sample_resolved(n, rng, y_cut=0.05)
    assert np.all(S.resolved(x, 0.05))
    # The centroid of the resolved triangle is (2/3, 2/3) for any y_cut; the spread of x1 is (1 - 3y)/sqrt(18).
    assert np.abs(x.mean(axis=0) - 2 / 3).max() < 5 * 0.85 / math.sqrt(18 * n)
    assert x[:, 0].std() == pytest.approx(0.85 / math.sqrt(18), rel=0.01)
    # Monte Carlo estimate of R3 from the uniform sample agrees with the closed form.
    f = S.resolved_area(0.05) * S.me_qqg(x)
    assert abs(f.mean() - S.three_jet_rate(0.05)) < 5 * f.std() / math.sqrt(n)


def test_bad_points_get_clear_errors():
    with pytest.raises(ValueError, match="outside the Dalitz region"):
        S.me_qqg(np.array([[0.3, 0.3]]))
    with pytest.raises(ValueError, match="singular"):
        S.me_qqg(np.array([[1.0, 0.5]]))
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        S.me_qqg(np.array([0.8, 0.8]))
    with pytest.raises(ValueError, match="NaN"):
        S.me_eikonal(np.array([[np.nan, 0.8]]))


def _biased(points):
    return S.me_qqg(points) * (0.7 + 0.6 * (1 - points[:, 0]))


def test_unweighting_corrects_a_biased_surrogate():
    rng = np.random.default_rng(3)
    x = S.sample_resolved(400_000, rng)
    calls = []

    def exact(points):
        calls.append(len(points))
        return S.me_qqg(points)

    res = S.unweight_and_correct(x, _biased, exact, S.resolved_area(), rng)
    r3 = S.three_jet_rate()
    assert abs(res.sigma - r3) < 4 * res.error
    assert (r3 - res.sigma_surrogate) > 10 * res.error_surrogate  # the uncorrected surrogate is biased low
    assert sum(calls) == res.n_exact_calls == len(res.weights) == len(res.accepted)
    assert res.n_exact_calls < 0.05 * len(x)
    assert 0 < res.efficiency < 1 and 0 < res.correction_efficiency <= 1
    np.testing.assert_allclose(res.weights, 1 / (0.7 + 0.6 * (1 - res.accepted[:, 0])))


def test_unweighting_rejects_unusable_surrogates():
    rng = np.random.default_rng(4)
    x = S.sample_resolved(1000, rng)
    with pytest.raises(ValueError, match="s > 0"):
        S.unweight_and_correct(x, lambda p: S.me_qqg(p) - 1.0, S.me_qqg, S.resolved_area(), rng)
    with pytest.raises(ValueError, match="s_max"):
        S.unweight_and_correct(x, S.me_qqg, S.me_qqg, S.resolved_area(), rng, s_max=1.0)
    with pytest.raises(ValueError, match="volume"):
        S.unweight_and_correct(x, S.me_qqg, S.me_qqg, 0.0, rng)


def test_ratio_surrogate_learns_and_is_positive():
    rng = np.random.default_rng(5)
    x = S.sample_resolved(3000, rng)
    model, history = S.train_surrogate(x, S.me_qqg(x), "ratio", epochs=20, seed=0)
    assert history.val[-1] < history.val[0]
    x_test = S.sample_resolved(2000, rng)
    pred = model.predict(x_test)
    assert np.all(pred > 0)
    assert np.median(np.abs(S.relative_error(pred, S.me_qqg(x_test)))) < 0.05
    with pytest.raises(ValueError, match="kind"):
        S.train_surrogate(x, S.me_qqg(x), "log")
    with pytest.raises(ValueError, match="positive"):
        S.train_surrogate(x, -S.me_qqg(x), "direct")


def test_onnx_export_matches_torch_and_timing_table(tmp_path):
    import onnxruntime as ort

    torch.manual_seed(0)
    model = S.MESurrogate("ratio", hidden=(16,))
    path = S.export_onnx(model, tmp_path / "m.onnx")
    x = S.sample_resolved(257, np.random.default_rng(6)).astype(np.float32)  # a batch size the export never saw
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with torch.no_grad():
        want = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    rows = S.timing_table(model, path, [1, 50])
    assert [r["batch"] for r in rows] == [1, 50]
    assert all(r[k] > 0 for r in rows for k in ("exact", "torch", "onnxruntime"))
    table = S.timing_markdown(rows)
    assert table.count("\n") == 3 and "ONNX Runtime" in table

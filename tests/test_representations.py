"""Jet features, images and point clouds on jets whose answers we know."""

from __future__ import annotations

import numpy as np
import pytest

from mlmc_course import representations as R


def _pad(rows: list[list[tuple[float, float, float]]], n_max: int | None = None):
    """Padded (pt, eta, phi, mask) from lists of (pt, eta, phi) per jet."""
    n_max = n_max or max(len(r) for r in rows)
    pt, eta, phi = (np.zeros((len(rows), n_max)) for _ in range(3))
    mask = np.zeros((len(rows), n_max), bool)
    for j, row in enumerate(rows):
        for i, (a, b, c) in enumerate(row):
            pt[j, i], eta[j, i], phi[j, i], mask[j, i] = a, b, c, True
    return pt, eta, phi, mask


def _prong_jets(rng: np.random.Generator, n_jets: int, n_prongs: int, n_per_prong: int = 15, spread: float = 0.02):
    """Jets made of ``n_prongs`` tight clusters at distances ~0.3 from each other, around eta = 0.5, phi = 1."""
    rows = []
    for _ in range(n_jets):
        centres = rng.normal(0, 0.25, (n_prongs, 2))
        row = []
        for c in centres:
            for _ in range(n_per_prong):
                d = c + rng.normal(0, spread, 2)
                row.append((float(rng.exponential(10.0) + 0.5), 0.5 + d[0], 1.0 + d[1]))
        rows.append(row)
    return _pad(rows)


def test_mass_of_two_massless_constituents():
    pt, eta, phi, mask = _pad([[(100.0, 0.3, 0.1), (50.0, -0.2, 0.5)], [(80.0, 0.0, 0.0)]])
    f = R.jet_features(pt, eta, phi, mask, names=["mass", "pt", "multiplicity"])
    m2 = 2 * 100 * 50 * (np.cosh(0.5) - np.cos(0.4))
    assert f["mass"][0] == pytest.approx(np.sqrt(m2), rel=1e-9)
    assert f["mass"][1] == pytest.approx(0.0, abs=1e-6)
    assert f["pt"][1] == pytest.approx(80.0)
    assert list(f["multiplicity"]) == [2.0, 1.0]


def test_features_ignore_padding_values():
    pt, eta, phi, mask = _pad([[(100.0, 0.3, 0.1), (50.0, -0.2, 0.5), (20.0, 0.1, 0.2)]], n_max=6)
    junk_eta, junk_phi = eta.copy(), phi.copy()
    junk_eta[~mask], junk_phi[~mask] = 3.0, -2.0
    a = R.jet_features(pt, eta, phi, mask)
    b = R.jet_features(pt, junk_eta, junk_phi, mask)
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), k


def test_nsubjettiness_counts_prongs():
    rng = np.random.default_rng(0)
    one, two, three = (_prong_jets(rng, 20, n) for n in (1, 2, 3))
    tau = {n: R.nsubjettiness(*jets, n_axes=(1, 2, 3)) for n, jets in zip((1, 2, 3), (one, two, three), strict=True)}
    # tau_N is small once N reaches the number of prongs, and large before.
    assert np.median(tau[1][:, 0]) < 0.05
    assert np.median(tau[2][:, 1]) < 0.05 < np.median(tau[2][:, 0])
    assert np.median(tau[3][:, 2]) < 0.05 < np.median(tau[3][:, 1])
    tau32 = {n: tau[n][:, 2] / tau[n][:, 1] for n in (2, 3)}
    assert np.median(tau32[3]) < 0.5 * np.median(tau32[2])
    assert np.all(tau[3] >= 0) and np.all(np.diff(tau[3], axis=1) <= 1e-12)  # tau_N never grows with N


def test_tau1_matches_a_direct_computation():
    rng = np.random.default_rng(1)
    pt, eta, phi, mask = _prong_jets(rng, 5, 3, spread=0.05)
    tau1 = R.nsubjettiness(pt, eta, phi, mask, n_axes=(1,), r0=0.8)[:, 0]
    # One exclusive kT jet is the whole jet: the axis is the jet's (E-scheme) direction.
    p = R.four_momenta(pt, eta, phi, mask).sum(axis=1)
    rap = 0.5 * np.log((p[:, 0] + p[:, 3]) / (p[:, 0] - p[:, 3]))
    ax_phi = np.arctan2(p[:, 2], p[:, 1])
    dr = np.hypot(eta - rap[:, None], R.wrap_phi(phi - ax_phi[:, None]))
    want = (pt * dr).sum(axis=1) / (pt.sum(axis=1) * 0.8)
    np.testing.assert_allclose(tau1, want, rtol=1e-6)


def test_tau_of_too_few_constituents_is_zero():
    pt, eta, phi, mask = _pad([[(100.0, 0.3, 0.1), (50.0, -0.2, 0.5)], [(10.0 + i, 0.05 * i, 0.1) for i in range(8)]])
    tau = R.nsubjettiness(pt, eta, phi, mask, n_axes=(1, 2, 3))
    assert tau[0, 1] == 0.0 and tau[0, 2] == 0.0 and tau[0, 0] > 0
    assert np.all(tau[1] > 0)
    f = R.jet_features(pt, eta, phi, mask, names=["tau32"])
    assert f["tau32"][0] == 0.0  # 0/0 is reported as 0, not NaN


def test_phi_wrap_around():
    # A jet straddling phi = pi must look like the same jet rotated away from the boundary.
    base = [(100.0, 0.1, 0.2), (60.0, -0.1, -0.15), (30.0, 0.3, 0.05)]
    shifted = [(p, e, float(R.wrap_phi(f + np.pi - 0.1))) for p, e, f in base]
    a = R.jet_features(*_pad([base]), names=["mass", "width", "tau21"])
    b = R.jet_features(*_pad([shifted]), names=["mass", "width", "tau21"])
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-9), k


def test_point_cloud_layout():
    rng = np.random.default_rng(2)
    pt, eta, phi, mask = _prong_jets(rng, 4, 3, n_per_prong=5)
    mask[:, 10:] = False
    pt[~mask] = 0
    x, m = R.point_cloud(pt, eta, phi, mask, n_max=12)
    assert x.shape == (4, 12, 3) and m.shape == (4, 12) and x.dtype == np.float32
    assert np.all(x[~m] == 0)
    assert np.all(x[m][:, 0] <= 0)  # log(pT_i / pT_jet) <= 0
    # Coordinates are relative to the axis of the jet (of all its constituents, also those beyond n_max).
    axis = R.jet_axis(pt, eta, phi, mask)
    np.testing.assert_allclose(x[..., 1][m], (eta[:, :12] - axis["eta"][:, None])[m], atol=1e-5)
    np.testing.assert_allclose(np.exp(x[..., 0][m]), (pt[:, :12] / axis["pt"][:, None])[m], rtol=1e-5)


def test_jet_images_are_normalised_centred_and_oriented():
    rng = np.random.default_rng(3)
    # Two prongs 0.6 apart in a random direction; the first carries more pT.
    angle = rng.uniform(0, 2 * np.pi, 50)
    rows = []
    for a in angle:
        offset = 0.3 * np.array([np.cos(a), np.sin(a)])
        rows.append([(60.0 + i, 0.2 + offset[0] + 0.01 * i, -1.0 + offset[1]) for i in range(3)]
                    + [(20.0 + i, 0.2 - offset[0], -1.0 - offset[1] + 0.01 * i) for i in range(3)])  # fmt: skip
    pt, eta, phi, mask = _pad(rows)
    images = R.jet_images(pt, eta, phi, mask, size=20, half_width=1.0)
    assert images.shape == (50, 20, 20) and images.dtype == np.float32
    np.testing.assert_allclose(images.sum(axis=(1, 2)), 1.0, rtol=1e-5)
    # Rotation puts the two prongs on the vertical axis: the middle columns hold most of the pT ...
    assert np.median(images[:, :, 8:12].sum(axis=(1, 2))) > 0.9
    # ... and flipping puts the harder prong in the upper half.
    assert np.all(images[:, 10:, :].sum(axis=(1, 2)) > 0.7)
    # Without rotation the prongs point anywhere.
    raw = R.jet_images(pt, eta, phi, mask, size=20, half_width=1.0, rotate=False, flip=False)
    assert np.median(raw[:, :, 8:12].sum(axis=(1, 2))) < 0.8
    # Centring puts the pT-weighted centroid in the middle of the image.
    centres = (np.arange(20) + 0.5) / 20 * 2 - 1
    assert np.all(np.abs((images.sum(axis=1) * centres).sum(axis=1)) < 0.06)


def test_jet_images_drop_constituents_outside():
    pt, eta, phi, mask = _pad([[(100.0, 0.0, 0.0), (1.0, 0.9, 0.0)]])
    images = R.jet_images(pt, eta, phi, mask, size=10, half_width=0.5, centre=False, rotate=False, flip=False,
                          normalise=False)  # fmt: skip
    assert images.sum() == pytest.approx(100.0, rel=1e-4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: (a[0][:, 0], *a[1:]), "pt must have 2 dimension"),
        (lambda a: (a[0], a[1][:, :-1], a[2], a[3]), "eta must have shape"),
        (lambda a: (np.where(a[3], np.nan, 0), *a[1:]), "NaN"),
        (lambda a: (-a[0], *a[1:]), "non-negative"),
        (lambda a: (*a[:3], np.zeros_like(a[3])), "no constituents|empty"),
        (lambda a: (*a[:3], a[3].astype(float) * 2), "mask must be boolean"),
    ],
)
def test_bad_inputs_get_clear_errors(change, message):
    args = _pad([[(100.0, 0.3, 0.1), (50.0, -0.2, 0.5)], [(80.0, 0.0, 0.0)]])
    with pytest.raises(ValueError, match=message):
        R.jet_features(*change(args))


def test_feature_names_are_checked():
    args = _pad([[(100.0, 0.3, 0.1), (50.0, -0.2, 0.5)]])
    with pytest.raises(ValueError, match="unknown feature"):
        R.jet_features(*args, names=["mass", "tau5"])
    f = R.jet_features(*args, names=["pt", "mass"])
    assert R.feature_matrix(f).shape == (1, 2)
    np.testing.assert_allclose(R.feature_matrix(f, ["mass", "pt"])[0], [f["mass"][0], f["pt"][0]])
    with pytest.raises(KeyError, match="were not computed"):
        R.feature_matrix(f, ["tau21"])
    with pytest.raises(ValueError, match="size must be a positive integer"):
        R.jet_images(*args, size=0)

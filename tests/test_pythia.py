"""Tests for mlmc_course.data.pythia on tiny e+e- -> Z -> hadrons samples (a few seconds of Pythia)."""

from __future__ import annotations

import numpy as np
import pytest

from mlmc_course.data import pythia as P


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLMC_COURSE_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def monash():
    return P.generate(None, 300, seed=5, n_workers=1, cache=False, progress=False)


def test_parameter_point_names_and_limits():
    point = P.parameter_point({"a_lund": 0.5, "TimeShower:alphaSvalue": 0.12})
    assert point == {"TimeShower:alphaSvalue": 0.12, "StringZ:aLund": 0.5, "StringFlav:probStoUD": 0.217}
    assert P.parameter_point(None) == P.MONASH
    with pytest.raises(KeyError, match="a_lund"):
        P.parameter_point({"alund": 0.5})
    with pytest.raises(ValueError, match="allowed range"):
        P.parameter_point({"alpha_s": 0.5})
    with pytest.raises(ValueError, match="allowed range"):
        P.parameter_point({"prob_s_to_ud": float("nan")})


def test_settings_and_seeds():
    lines = P.pythia_settings(P.MONASH, 17)
    assert "Beams:idA = 11" in lines and "23:onIfAny = 1 2 3 4 5" in lines and "Random:seed = 17" in lines
    assert "StringZ:aLund = 0.68" in lines
    with pytest.raises(ValueError, match="seeds"):
        P.pythia_settings(P.MONASH, 0)
    s1 = P.pythia_seed(1, P.MONASH, 0)
    assert 1 <= s1 <= 900_000_000
    assert s1 != P.pythia_seed(1, P.MONASH, 1)
    assert s1 != P.pythia_seed(1, {**P.MONASH, "StringZ:aLund": 0.7}, 0)


def test_events_are_physical(monash):
    obs = monash.observables
    assert len(monash) == 300
    assert set(P.OBSERVABLES) <= set(obs)
    assert np.all(obs["n_charged"] % 2 == 0)  # charge conservation: Z -> hadrons is neutral
    assert 15 < obs["n_charged"].mean() < 26  # LEP: about 21 charged particles per hadronic Z decay
    assert np.all((obs["thrust"] >= 0.5) & (obs["thrust"] <= 1.0))
    assert 0.9 < obs["thrust"].mean() < 0.96
    assert np.all(obs["heavy_jet_mass"] >= obs["light_jet_mass"])
    e_vis = np.add.reduceat(monash.p4[:, 0].astype(float), monash.offsets[:-1])
    assert np.all(e_vis <= P.ECM + 1e-3) and np.median(e_vis) > 85  # only neutrinos escape
    assert np.allclose(np.linalg.norm(obs["thrust_axis"], axis=1), 1, atol=1e-5)
    assert np.allclose(monash.params, [P.MONASH[k] for k in P.PARAMETERS])
    # particles ordered by decreasing energy within each event
    e = monash.p4[:, 0]
    inside = np.ones(len(e) - 1, bool)
    inside[monash.offsets[1:-1] - 1] = False
    assert np.all(np.diff(e)[inside] <= 0)


def test_alpha_s_reaches_pythia():
    """More final-state radiation, more particles and less pencil-like events: the setting is really applied."""
    low = P.generate({"alpha_s": 0.10}, 300, seed=2, n_workers=1, cache=False, progress=False)
    high = P.generate({"alpha_s": 0.18}, 300, seed=2, n_workers=1, cache=False, progress=False)
    assert high.observables["n_charged"].mean() > low.observables["n_charged"].mean() + 1.5
    assert high.observables["thrust"].mean() < low.observables["thrust"].mean() - 0.01
    assert np.allclose(high.param("alpha_s"), 0.18)


def test_reproducible_and_cached(cache):
    a = P.generate({"a_lund": 0.6}, 120, seed=3, n_workers=1, progress=False)
    files = list((cache / "pythia").glob("ee_z_*.npz"))
    assert len(files) == 1
    b = P.generate({"a_lund": 0.6}, 120, seed=3, n_workers=1, progress=False)  # read from the cache
    fresh = P.generate({"a_lund": 0.6}, 120, seed=3, n_workers=1, cache=False, progress=False)
    other = P.generate({"a_lund": 0.6}, 120, seed=4, n_workers=1, cache=False, progress=False)
    for s in (b, fresh):
        assert np.array_equal(a.p4, s.p4) and np.array_equal(a.offsets, s.offsets)
        assert np.array_equal(a.observables["thrust"], s.observables["thrust"])
    assert not np.array_equal(a.observables["n_visible"], other.observables["n_visible"])
    assert b.info["seed"] == 3


def test_scan_independent_of_worker_count():
    kwargs = dict(ranges={"alpha_s": (0.11, 0.15)}, events_per_point=40, seed=6, cache=False, progress=False)
    one = P.generate_scan(120, n_workers=1, **kwargs)
    two = P.generate_scan(120, n_workers=2, **kwargs)
    assert np.array_equal(one.p4, two.p4) and np.array_equal(one.params, two.params)
    alpha = one.param("alpha_s")
    assert np.all((alpha >= 0.11) & (alpha <= 0.15))
    assert len(np.unique(alpha)) == 3  # one value per block of 40 events
    assert np.allclose(one.param("a_lund"), P.MONASH["StringZ:aLund"])
    with pytest.raises(ValueError, match="low < high"):
        P.generate_scan(10, ranges={"alpha_s": (0.15, 0.11)}, progress=False)
    with pytest.raises(ValueError, match="allowed range"):
        P.generate_scan(10, ranges={"alpha_s": (0.01, 0.11)}, progress=False)


def test_thrust_agrees_with_pythia():
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in P.pythia_settings(P.MONASH, 11):
        pythia.readString(line)
    pythia.init()
    reference = pythia8mc.Thrust(2)  # all visible final-state particles
    rows, want = [], []
    for _ in range(200):
        pythia.next()
        reference.analyze(pythia.event)
        want.append(reference.thrust())
        rows.append([(q.e(), q.px(), q.py(), q.pz()) for q in pythia.event if q.isFinal() and q.isVisible()])
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    p4, mask = P.padded(np.concatenate([np.array(r) for r in rows]), offsets)
    got, _ = P.thrust(p4[..., 1:], mask)
    assert np.all(got <= np.array(want) + 1e-6)  # the iteration finds a local maximum, never more than the true one
    assert np.mean(np.abs(got - want) < 1e-3) >= 0.99


def test_thrust_and_masses_of_simple_events():
    # two back-to-back massless particles: T = 1, both hemisphere masses 0
    p4 = np.array([[[10, 0, 0, 10], [10, 0, 0, -10]]], float)
    mask = np.ones((1, 2), bool)
    t, axis = P.thrust(p4[..., 1:], mask)
    assert t[0] == pytest.approx(1.0) and abs(axis[0, 2]) == pytest.approx(1.0)
    heavy, light = P.hemisphere_masses(p4, mask, axis)
    assert heavy[0] == pytest.approx(0.0, abs=1e-9) and light[0] == pytest.approx(0.0, abs=1e-9)
    # a symmetric three-particle (Mercedes) event: T = 2/3
    angles = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    p3 = np.stack([np.cos(angles), np.sin(angles), np.zeros(3)], 1)[None] * 10
    t3, _ = P.thrust(p3, np.ones((1, 3), bool))
    assert t3[0] == pytest.approx(2 / 3, abs=1e-6)


def test_select_concatenate_save_and_cloud(monash, tmp_path):
    part = monash.select(np.arange(10, 20))
    assert len(part) == 10
    assert np.array_equal(part.p4, monash.p4[monash.offsets[10] : monash.offsets[20]])
    joined = P.concatenate([monash.select(np.arange(10)), part])
    assert np.array_equal(joined.observables["n_visible"], monash.observables["n_visible"][:20])
    loaded = P.EventSample.load(joined.save(tmp_path / "s.npz"))
    assert np.array_equal(loaded.pid, joined.pid) and np.array_equal(loaded.offsets, joined.offsets)
    x, mask = monash.cloud(n_max=64)
    assert x.shape == (300, 64, len(P.CLOUD_FEATURES)) and x.dtype == np.float32
    assert np.array_equal(mask.sum(1), np.minimum(monash.observables["n_visible"], 64))
    assert np.all(x[~mask] == 0)
    charge = x[..., P.CLOUD_FEATURES.index("charge")]
    assert np.array_equal(
        (charge != 0).sum(1)[monash.observables["n_visible"] <= 64],
        monash.observables["n_charged"][monash.observables["n_visible"] <= 64],
    )
    log_z = x[..., 0][mask]
    assert np.all(log_z <= 0)
    with pytest.raises(ValueError, match="n_max"):
        monash.cloud(n_max=0)

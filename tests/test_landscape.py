"""One interface for jets: the course's compact files, the public landscape HDF5 layout, and the shipped subset."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from mlmc_course.data import landscape as L
from mlmc_course.data.store import verify
from mlmc_course.representations import FEATURE_NAMES


def _arrays(rng: np.random.Generator, n_jets: int = 12) -> dict[str, np.ndarray]:
    counts = rng.integers(3, 30, n_jets)
    n = int(counts.sum())
    ptfrac = np.concatenate([np.sort(rng.dirichlet(np.ones(c)))[::-1] for c in counts])
    return {
        "labels": rng.integers(0, 2, n_jets).astype(np.int8),
        "jet_pt": rng.uniform(550, 650, n_jets).astype(np.float32),
        "jet_eta": rng.uniform(-2, 2, n_jets).astype(np.float32),
        "jet_phi": rng.uniform(-np.pi, np.pi, n_jets).astype(np.float32),
        "n_constituents": counts.astype(np.uint8),
        "ptfrac": ptfrac.astype(np.float16),
        "deta": rng.normal(0, 0.2, n).astype(np.float16),
        "dphi": rng.normal(0, 0.2, n).astype(np.float16),
    }


def test_compact_format_round_trip_and_deterministic_bytes(tmp_path):
    arrays = _arrays(np.random.default_rng(0))
    a = L.write_jets(tmp_path / "a.npz", arrays, '{"test": 1}')
    b = L.write_jets(tmp_path / "sub" / "b.npz", arrays, '{"test": 1}')
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    jets = L.read_jets(a)
    counts = arrays["n_constituents"].astype(int)
    assert len(jets) == 12 and jets.n_max == counts.max()
    np.testing.assert_array_equal(jets.n_constituents, counts)
    np.testing.assert_array_equal(jets.labels, arrays["labels"])
    # The constituents sum back to (almost) the stored jet pT, and sit around the stored axis.
    jet = jets.jet_p4()
    np.testing.assert_allclose(np.hypot(jet[:, 1], jet[:, 2]), arrays["jet_pt"], rtol=0.05)
    first = counts[0]
    np.testing.assert_allclose(
        jets.eta[0, :first], arrays["jet_eta"][0] + arrays["deta"][:first].astype(np.float32), atol=1e-5
    )
    assert np.all(jets.pt[~jets.mask] == 0) and np.all(jets.phi[jets.mask] >= -np.pi)
    assert L.read_provenance(a) == {"test": 1}
    # Reading a prefix, and capping the constituents.
    few = L.read_jets(a, n=3, n_max=5)
    assert len(few) == 3 and few.n_max == 5
    np.testing.assert_allclose(few.pt, jets.pt[:3, :5])


def test_compact_format_rejects_bad_input(tmp_path):
    arrays = _arrays(np.random.default_rng(1))
    broken = dict(arrays, deta=arrays["deta"][:-1])
    with pytest.raises(ValueError, match="deta has"):
        L.write_jets(tmp_path / "x.npz", broken, "{}")
    with pytest.raises(ValueError, match="missing arrays"):
        L.write_jets(tmp_path / "x.npz", {k: v for k, v in arrays.items() if k != "labels"}, "{}")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a course jet file"):
        L.read_jets(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError, match="mlmc-course data generate top"):
        L.read_jets(tmp_path / "missing.npz")


def test_landscape_layout_round_trip(tmp_path):
    jets = L.read_jets(L.write_jets(tmp_path / "a.npz", _arrays(np.random.default_rng(2)), "{}"))
    path = L.write_landscape(tmp_path / "test.h5", jets)
    import pandas as pd

    frame = pd.read_hdf(path, key="table")
    assert {"E_0", "PX_0", "PY_0", "PZ_199", "truthE", "ttv", "is_signal_new"} <= set(frame.columns)
    back = L.read_landscape(path)
    assert back.n_max == 200 and len(back) == len(jets)
    np.testing.assert_array_equal(back.mask[:, : jets.n_max], jets.mask)
    np.testing.assert_allclose(back.pt[:, : jets.n_max], jets.pt, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(back.eta[:, : jets.n_max][jets.mask], jets.eta[jets.mask], atol=1e-4)
    np.testing.assert_allclose(back.phi[:, : jets.n_max][jets.mask], jets.phi[jets.mask], atol=1e-4)
    np.testing.assert_array_equal(back.labels, jets.labels)
    part = L.read_landscape(path, n=4, n_max=10, start=2)
    assert len(part) == 4 and part.n_max == 10
    np.testing.assert_array_equal(part.labels, jets.labels[2:6])


def test_landscape_reader_errors(tmp_path):
    import pandas as pd

    pd.DataFrame({"E_0": [1.0], "is_signal_new": [1]}).to_hdf(tmp_path / "short.h5", key="table", format="table")
    with pytest.raises(ValueError, match="lacks the landscape columns"):
        L.read_landscape(tmp_path / "short.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(ValueError, match="not a landscape file"):
        L.read_landscape(tmp_path / "junk.h5")
    with pytest.raises(FileNotFoundError, match="download_landscape"):
        L.read_landscape(tmp_path / "missing.h5")


def test_top_jets_validates_shapes():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match="eta must have the shape of pt"):
        L.TopJets(z, np.zeros((3, 5)), z, z > 0, np.zeros(3), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="labels must have shape"):
        L.TopJets(z, z, z, z > 0, np.zeros(2), np.zeros((3, 4)))


def test_load_top_arguments():
    with pytest.raises(ValueError, match="split must be one of"):
        L.load_top("training")
    with pytest.raises(ValueError, match="source must be"):
        L.load_top("train", source="delphes")
    with pytest.raises(ValueError, match="unknown feature"):
        L.load_top_features("train", names=["mass", "tau9"])


# The shipped subset ---------------------------------------------------------------------------------------------


def test_shipped_subset_is_intact_balanced_and_disjoint():
    assert verify() == []
    seen = set()
    sizes = {}
    for split in L.SPLITS:
        jets = L.load_top_subset(split)
        sizes[split] = len(jets)
        assert abs(jets.labels.mean() - 0.5) < 0.01, split
        keys = set(zip(jets.labels.tolist(), L.read_gen_index(L.subset_path(split)).tolist(), strict=True))
        assert not keys & seen, f"{split} shares jets with another split"
        seen |= keys
    assert sizes["train"] > sizes["test"] > sizes["val"] > 1000


def test_shipped_features_match_a_recomputation():
    jets = L.load_top_subset("val", n=300)
    stored, labels = L.load_top_features("val", n=300)
    np.testing.assert_array_equal(labels, jets.labels)
    fresh = jets.features()
    assert list(stored) == list(FEATURE_NAMES)
    for name in FEATURE_NAMES:
        np.testing.assert_allclose(stored[name], fresh[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_subset_prefix_and_truncation():
    jets = L.load_top_subset("test", n=50, n_max=30)
    assert len(jets) == 50 and jets.n_max == 30
    assert np.all(jets.n_constituents <= 30)


def _landscape_file(tmp_path, n=8):
    jets = L.read_jets(L.write_jets(tmp_path / "a.npz", _arrays(np.random.default_rng(3)), "{}"))
    return L.write_landscape(tmp_path / "test.h5", jets.take(slice(0, n)))


def test_landscape_mass_is_that_of_the_stored_four_vectors(tmp_path):
    import pandas as pd

    path = _landscape_file(tmp_path)
    frame = pd.read_hdf(path, key="table")
    frame[[f"E_{i}" for i in range(200)]] *= 1.02  # massive constituents: E above |p|
    frame.to_hdf(path, key="table", mode="w", format="table")
    jets = L.read_landscape(path)
    p4 = frame[L.landscape_columns()].to_numpy().reshape(len(frame), 200, 4).sum(axis=1)
    want = np.sqrt(p4[:, 0] ** 2 - (p4[:, 1:] ** 2).sum(axis=1))
    np.testing.assert_allclose(jets.jet_mass(), want, rtol=1e-4)
    np.testing.assert_allclose(jets.features(["mass"])["mass"], want, rtol=1e-4)
    massless = L.TopJets(jets.pt, jets.eta, jets.phi, jets.mask, jets.labels, jets.truth_p4)
    assert np.all(massless.jet_mass() < want - 0.5)  # the massless reading would be GeV too low here
    assert jets.take([1, 2]).energy.shape == (2, 200) and jets.truncate(5).energy.shape == (len(jets), 5)


def test_landscape_reader_enforces_the_table_format_and_the_row_range(tmp_path):
    import pandas as pd

    path = _landscape_file(tmp_path)
    frame = pd.read_hdf(path, key="table")
    frame.to_hdf(tmp_path / "fixed.h5", key="table", mode="w", format="fixed")
    with pytest.raises(ValueError, match="'fixed' format"):
        L.read_landscape(tmp_path / "fixed.h5")
    with pytest.raises(ValueError, match="start=8 is outside test.h5, which has 8 jets"):
        L.read_landscape(path, start=8)
    with pytest.raises(ValueError, match="start=-1"):
        L.read_landscape(path, start=-1)
    with pytest.raises(ValueError, match="n must be a positive"):
        L.read_landscape(path, n=0)
    frame.to_hdf(tmp_path / "other.h5", key="jets", mode="w", format="table")
    with pytest.raises(ValueError, match="no frame under key 'table'"):
        L.read_landscape(tmp_path / "other.h5")

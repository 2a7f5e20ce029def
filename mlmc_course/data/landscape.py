"""Top-tagging jets through one interface, whether they come from our shipped subset or the public landscape files.

* :class:`TopJets` holds jets as zero-padded constituent arrays (pT in GeV, eta, phi in rad) with a mask.
* :func:`load_top_subset` reads the shipped subset (``data/top/top_<split>.npz``, checked against its sha256).
* :func:`read_jets` reads any file in the course's compact format (written by :func:`write_jets`, e.g. by
  ``mlmc-course data generate top``); :func:`read_landscape` reads the public HDF5 files of the landscape paper
  (arXiv:1902.09914, Zenodo record 2603256); :func:`load_top` picks one of the two by ``source``.

The course's own jets store constituents as massless (E = pT cosh(eta)). The public files store (E, px, py, pz)
of Delphes energy-flow objects: we read them as (pT, eta, phi), so both sources give the same fields, and keep
their energies, so that four-momenta and the jet mass are those of the stored four-vectors.
:func:`download_landscape` fetches the public files into the cache (resumable, verified) with the generic
downloader of :mod:`mlmc_course.data.download`.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mlmc_course.data.download import Remote, download, is_valid
from mlmc_course.data.store import cache_dir
from mlmc_course.validation import as_array

Split = Literal["train", "val", "test"]
SPLITS: tuple[str, ...] = ("train", "val", "test")
SUBSET_FILES = {split: f"top/top_{split}.npz" for split in SPLITS}
N_MAX_LANDSCAPE = 200

_FORMAT_KEYS = ("labels", "jet_pt", "jet_eta", "jet_phi", "n_constituents", "ptfrac", "deta", "dphi")


@dataclass(frozen=True)
class TopJets:
    """A set of jets with padded constituents.

    Attributes:
        pt: constituent transverse momenta in GeV, shape ``(n_jets, n_max)``, pT-ordered, zero where padded.
        eta: constituent pseudorapidities, shape ``(n_jets, n_max)``.
        phi: constituent azimuthal angles in radians, in [-pi, pi), shape ``(n_jets, n_max)``.
        mask: True for real constituents, shape ``(n_jets, n_max)``.
        labels: 1 for top (signal), 0 for QCD (background), shape ``(n_jets,)``.
        truth_p4: the matched top quark's (E, px, py, pz) in GeV for signal, zeros for QCD, ``(n_jets, 4)``.
        source: where the jets came from (a file name).
        energy: constituent energies in GeV, ``(n_jets, n_max)``, when the source stores them (the public files);
            ``None`` for massless constituents, E = pT cosh(eta).
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    truth_p4: np.ndarray
    source: str = ""
    energy: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = self.pt.shape
        if self.pt.ndim != 2:
            raise ValueError(f"pt must have shape (n_jets, n_max), got {shape}")
        for name in ("eta", "phi", "mask"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} must have the shape of pt, {shape}, got {getattr(self, name).shape}")
        if self.labels.shape != (shape[0],):
            raise ValueError(f"labels must have shape ({shape[0]},), got {self.labels.shape}")
        if self.truth_p4.shape != (shape[0], 4):
            raise ValueError(f"truth_p4 must have shape ({shape[0]}, 4), got {self.truth_p4.shape}")
        if self.energy is not None and self.energy.shape != shape:
            raise ValueError(f"energy must have the shape of pt, {shape}, got {self.energy.shape}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_max(self) -> int:
        """The padded length (largest number of constituents a jet may have here)."""
        return self.pt.shape[1]

    @property
    def n_constituents(self) -> np.ndarray:
        """Number of constituents per jet, shape ``(n_jets,)``."""
        return self.mask.sum(axis=1)

    def p4(self) -> np.ndarray:
        """Constituent four-momenta (E, px, py, pz) in GeV, shape ``(n_jets, n_max, 4)``, zero where padded.

        E is the stored energy when the source has one (:attr:`energy`), else pT cosh(eta) (massless).
        """
        energy = self.pt * np.cosh(self.eta) if self.energy is None else self.energy
        return (
            np.stack(
                [energy, self.pt * np.cos(self.phi), self.pt * np.sin(self.phi), self.pt * np.sinh(self.eta)], axis=-1
            )
            * self.mask[..., None]
        )

    def jet_p4(self) -> np.ndarray:
        """The jet four-momentum, the sum of its constituents, shape ``(n_jets, 4)``."""
        return self.p4().astype(np.float64).sum(axis=1)

    def jet_mass(self) -> np.ndarray:
        """The invariant mass of the summed constituent four-momenta in GeV, shape ``(n_jets,)``."""
        e, px, py, pz = self.jet_p4().T
        return np.sqrt(np.clip(e**2 - px**2 - py**2 - pz**2, 0.0, None))

    def _with(self, index, columns=slice(None)) -> TopJets:
        def cut(a):
            return a[index][:, columns]

        return TopJets(
            cut(self.pt), cut(self.eta), cut(self.phi), cut(self.mask), self.labels[index], self.truth_p4[index],
            self.source, None if self.energy is None else cut(self.energy),
        )  # fmt: skip

    def take(self, index) -> TopJets:
        """The jets at ``index`` (an integer array, a boolean mask or a slice)."""
        return self._with(index)

    def truncate(self, n_max: int) -> TopJets:
        """Keep only the ``n_max`` hardest constituents of each jet."""
        return self._with(slice(None), slice(None, n_max))

    def features(self, names=None) -> dict[str, np.ndarray]:
        """High-level jet features (mass, pT, N-subjettiness ratios, ...); see :func:`representations.jet_features`.

        With stored energies the mass is that of the summed four-vectors (:meth:`jet_mass`), not the massless one.
        """
        from mlmc_course.representations import jet_features

        out = jet_features(self.pt, self.eta, self.phi, self.mask, names=names)
        if self.energy is not None and "mass" in out:
            out["mass"] = self.jet_mass()
        return out


# ----------------------------------------------------------------------------------------------------------------
# The course's compact format (.npz written with fixed timestamps, so the same jets give the same bytes)


def write_jets(path, arrays: dict[str, np.ndarray], provenance: str):
    """Write jets in the compact format; the bytes depend only on the data (no timestamps).

    Args:
        path: the output file (``.npz``); folders are created, an existing file is replaced atomically. A binary
            file object open for writing is written to as it is (as :func:`mlmc_course.data.store.write_verified`
            passes one).
        arrays: per jet ``labels``, ``jet_pt``, ``jet_eta``, ``jet_phi``, ``n_constituents``, optionally
            ``jet_mass``, ``truth_p4`` and ``gen_index``; per constituent (concatenated) ``ptfrac``, ``deta``,
            ``dphi`` (see :func:`mlmc_course.data.jets.generate`).
        provenance: a JSON string saying how the jets were made.
    """
    path = path if hasattr(path, "write") else Path(path)
    missing = [k for k in _FORMAT_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"cannot write jets: missing arrays {missing}")
    n_const = int(np.asarray(arrays["n_constituents"]).sum())
    for key in ("ptfrac", "deta", "dphi"):
        if len(arrays[key]) != n_const:
            raise ValueError(f"{key} has {len(arrays[key])} entries but n_constituents sums to {n_const}")
    items = dict(sorted(arrays.items()))
    items["provenance"] = np.array(provenance)
    if hasattr(path, "write"):
        _write_zip(path, items)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    _write_zip(tmp, items)
    tmp.replace(path)
    return path


def _write_zip(target, items: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, value in items.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.array(value, order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def _padded(flat: np.ndarray, counts: np.ndarray, n_max: int) -> np.ndarray:
    """Scatter concatenated per-constituent values into a zero-padded ``(n_jets, n_max)`` array."""
    out = np.zeros((len(counts), n_max), dtype=np.float32)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(int(counts.sum())) - np.repeat(starts, counts)
    rows = np.repeat(np.arange(len(counts)), counts)
    keep = pos < n_max
    out[rows[keep], pos[keep]] = flat[keep]
    return out


def read_jets(path: str | Path, n: int | None = None, n_max: int | None = None) -> TopJets:
    """Read a file in the course's compact format.

    Args:
        path: an ``.npz`` file written by :func:`write_jets`.
        n: read only the first ``n`` jets (``None``: all).
        n_max: keep at most this many constituents per jet (``None``: the largest count in the file).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; make jets with `mlmc-course data generate top --n N`")
    with _open_npz(path) as f:
        missing = [k for k in _FORMAT_KEYS if f"{k}.npy" not in f.zip.namelist()]
        if missing:
            raise ValueError(f"{path} is not a course jet file: it lacks {missing}")
        counts_all = f["n_constituents"].astype(np.int64)
        n_jets = len(counts_all) if n is None else min(int(n), len(counts_all))
        n_flat = int(counts_all[:n_jets].sum())
        arrays = {k: f[k][:n_jets] for k in ("n_constituents", "jet_pt", "jet_eta", "jet_phi", "labels")}
        arrays.update({k: f[k][:n_flat] for k in ("ptfrac", "deta", "dphi")})
        if "truth_p4.npy" in f.zip.namelist():
            arrays["truth_p4"] = f["truth_p4"][:n_jets]
    return jets_from_arrays(arrays, n_max=n_max, source=str(path))


def jets_from_arrays(arrays: dict[str, np.ndarray], n_max: int | None = None, source: str = "arrays") -> TopJets:
    """:class:`TopJets` from flat arrays in the compact layout (as :func:`mlmc_course.data.jets.generate` returns).

    Args:
        arrays: per jet ``labels``, ``jet_pt``, ``jet_eta``, ``jet_phi``, ``n_constituents``, optionally
            ``truth_p4``; per constituent (concatenated) ``ptfrac``, ``deta``, ``dphi``.
        n_max: keep at most this many constituents per jet (``None``: the largest count).
        source: a label kept in :attr:`TopJets.source`.
    """
    missing = [k for k in _FORMAT_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"jets_from_arrays: missing arrays {missing}")
    counts = np.asarray(arrays["n_constituents"]).astype(np.int64)
    n_jets, n_flat = len(counts), int(counts.sum())
    width = int(counts.max(initial=0)) if n_max is None else int(n_max)
    jet = {k: np.asarray(arrays[k]).astype(np.float64) for k in ("jet_pt", "jet_eta", "jet_phi")}
    ptfrac, deta, dphi = (np.asarray(arrays[k])[:n_flat].astype(np.float32) for k in ("ptfrac", "deta", "dphi"))
    labels = np.asarray(arrays["labels"]).astype(np.int64)
    truth = arrays.get("truth_p4")
    truth = np.zeros((n_jets, 4), dtype=np.float32) if truth is None else np.asarray(truth).astype(np.float32)
    rel_pt, rel_eta, rel_phi = (_padded(a, counts, width) for a in (ptfrac, deta, dphi))
    mask = _padded(np.ones(n_flat, dtype=np.float32), counts, width) > 0
    pt = (rel_pt * jet["jet_pt"][:, None]).astype(np.float32) * mask
    eta = ((rel_eta + jet["jet_eta"][:, None]) * mask).astype(np.float32)
    phi = (((rel_phi + jet["jet_phi"][:, None] + np.pi) % (2 * np.pi) - np.pi) * mask).astype(np.float32)
    return TopJets(pt, eta, phi, mask, labels, truth, source=source)


def _open_npz(path: str | Path):
    """``np.load`` of a course jet file, with an error that names the file when it is truncated or not a zip."""
    try:
        return np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise OSError(
            f"{path} cannot be read as a course jet file ({type(err).__name__}: {err}): it is truncated or corrupt; "
            "delete it and make it again (`mlmc-course data generate top`, which resumes from its cached chunks)"
        ) from err


def read_provenance(path: str | Path) -> dict:
    """The JSON provenance stored in a course jet file (generator, seed, recipe)."""
    with _open_npz(path) as f:
        return json.loads(str(f["provenance"]))


def read_gen_index(path: str | Path) -> np.ndarray:
    """Each jet's position in its class's generation order (what the generator test compares with)."""
    with _open_npz(path) as f:
        return f["gen_index"].astype(np.int64)


def subset_path(split: Split) -> Path:
    """The shipped subset's file for ``split``, checked against its sha256 in ``data/manifest.json``."""
    from mlmc_course.data.store import shipped_path

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return shipped_path(SUBSET_FILES[split])


def load_top_subset(split: Split = "train", n: int | None = None, n_max: int | None = None) -> TopJets:
    """The shipped top-tagging subset (particle-level Pythia 8 jets, balanced classes, fixed split).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        n: only the first ``n`` jets (the files are shuffled, so any prefix has about equal classes).
        n_max: keep at most this many constituents per jet.
    """
    return read_jets(subset_path(split), n=n, n_max=n_max)


def load_top_features(
    split: Split = "train", n: int | None = None, names=None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The high-level features of the shipped subset, precomputed when it was made, and the labels.

    Equal to ``load_top_subset(split, n).features(names)`` (the tests check it), without the seconds that
    N-subjettiness takes.

    Returns:
        (name -> values of shape ``(n_jets,)``, labels of shape ``(n_jets,)``); names as in
        :data:`mlmc_course.representations.FEATURE_NAMES`.
    """
    from mlmc_course.representations import FEATURE_NAMES

    names = tuple(FEATURE_NAMES if names is None else names)
    unknown = [k for k in names if k not in FEATURE_NAMES]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose from {FEATURE_NAMES}")
    with np.load(subset_path(split), allow_pickle=False) as f:
        stop = None if n is None else int(n)
        features = {k: f[f"feature_{k}"][:stop].astype(np.float64) for k in names}
        labels = f["labels"][:stop].astype(np.int64)
    return features, labels


# ----------------------------------------------------------------------------------------------------------------
# The public landscape files (pandas HDF5, key "table")


def landscape_columns(n_max: int = N_MAX_LANDSCAPE) -> list[str]:
    """The constituent columns of the public files: ``E_0, PX_0, PY_0, PZ_0, E_1, ...`` up to ``n_max``."""
    return [f"{c}_{i}" for i in range(n_max) for c in ("E", "PX", "PY", "PZ")]


def read_landscape(path: str | Path, n: int | None = None, n_max: int = N_MAX_LANDSCAPE, start: int = 0) -> TopJets:
    """Read jets from a public landscape file (``train.h5``, ``val.h5`` or ``test.h5`` of Zenodo record 2603256).

    Args:
        path: the HDF5 file; it must hold a pandas frame in PyTables "table" format under key ``table`` (as the
            public files do), with columns ``E_i, PX_i, PY_i, PZ_i`` (i < 200), ``truthE, truthPX, truthPY,
            truthPZ`` and ``is_signal_new``.
        n: read at most ``n`` jets (the full training file has 1.2 million; reading all needs ~8 GB).
        n_max: keep at most this many constituents per jet (they are pT-ordered in the file).
        start: the first row to read; it must lie inside the file.

    Returns:
        The jets with their stored constituent energies (:attr:`TopJets.energy`).
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; fetch it with mlmc_course.data.landscape.download_landscape(split)"
        )
    if n is not None and int(n) < 1:
        raise ValueError(f"n must be a positive number of jets or None for all, got {n!r}")
    try:
        store = pd.HDFStore(path, mode="r")
    except (ValueError, OSError, RuntimeError) as err:  # PyTables raises HDF5ExtError, a RuntimeError
        raise ValueError(f"{path} is not a landscape file (pandas HDF5 with key 'table'): {err}") from err
    with store:
        storer = store.get_storer("table") if "/table" in store.keys() else None
        if storer is None:
            raise ValueError(f"{path} is not a landscape file: it has no frame under key 'table' ({store.keys()})")
        if not storer.is_table:
            raise ValueError(
                f"{path} holds its frame in pandas' 'fixed' format; the landscape files use the 'table' format "
                "(write with DataFrame.to_hdf(path, key='table', format='table'))"
            )
        n_rows = int(storer.nrows)
        if not 0 <= int(start) < n_rows:
            raise ValueError(f"start={start} is outside {path.name}, which has {n_rows} jets (rows 0..{n_rows - 1})")
        frame = store.select("table", start=int(start), stop=None if n is None else int(start) + int(n))
    n_max = min(int(n_max), N_MAX_LANDSCAPE)
    need = [*landscape_columns(n_max), "is_signal_new"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} lacks the landscape columns {missing[:4]}{' ...' if len(missing) > 4 else ''}")
    p4 = frame[landscape_columns(n_max)].to_numpy(dtype=np.float64).reshape(len(frame), n_max, 4)
    p4 = as_array(p4, f"the constituents in {path.name}", ndim=3)
    e, px, py, pz = np.moveaxis(p4, -1, 0)
    mask = e > 0
    pt = np.hypot(px, py)
    safe = np.where(mask & (pt > 0), pt, 1.0)
    eta = np.where(mask, np.arcsinh(pz / safe), 0.0)
    phi = np.where(mask, np.arctan2(py, px), 0.0)
    truth_cols = ["truthE", "truthPX", "truthPY", "truthPZ"]
    if all(c in frame.columns for c in truth_cols):
        truth = frame[truth_cols].to_numpy(dtype=np.float32)
    else:
        truth = np.zeros((len(frame), 4), dtype=np.float32)
    labels = frame["is_signal_new"].to_numpy()
    if not set(np.unique(labels).tolist()) <= {0, 1}:
        raise ValueError(f"{path}: is_signal_new must be 0 or 1")
    return TopJets(
        (pt * mask).astype(np.float32),
        eta.astype(np.float32),
        phi.astype(np.float32),
        mask,
        labels.astype(np.int64),
        truth,
        source=str(path),
        energy=(e * mask).astype(np.float32),
    )


def write_landscape(path: str | Path, jets: TopJets) -> Path:
    """Write jets as a public-format landscape file (used to make small test files; needs PyTables)."""
    import pandas as pd

    if jets.n_max > N_MAX_LANDSCAPE:
        jets = jets.truncate(N_MAX_LANDSCAPE)
    p4 = np.zeros((len(jets), N_MAX_LANDSCAPE, 4), dtype=np.float32)
    p4[:, : jets.n_max] = jets.p4()
    frame = pd.DataFrame(p4.reshape(len(jets), -1), columns=landscape_columns())
    for col, values in zip(("truthE", "truthPX", "truthPY", "truthPZ"), jets.truth_p4.T, strict=True):
        frame[col] = values.astype(np.float64)
    frame["ttv"] = 0
    frame["is_signal_new"] = jets.labels.astype(np.int64)
    path = Path(path)
    frame.to_hdf(path, key="table", mode="w", format="table")
    return path


# ----------------------------------------------------------------------------------------------------------------
# Fetching the public files (Zenodo record 2603256). No sha256 is recorded in this package, because none could be
# computed offline: pass the md5 that Zenodo lists for each file (``md5=...``) to verify it against the publisher.
# Without one, a download is checked for its length and the landscape HDF5 layout, and its sha256 is recorded.

LANDSCAPE: dict[str, Remote] = {
    split: Remote(f"https://zenodo.org/records/2603256/files/{split}.h5?download=1", f"{split}.h5")
    for split in ("train", "val", "test")
}
"""The public top-tagging files of the landscape paper (arXiv:1902.09914): 1.2M / 0.4M / 0.4M jets."""


def landscape_path(split: str) -> Path:
    """Where :func:`download_landscape` keeps a split: ``<cache>/landscape/<split>.h5``."""
    if split not in LANDSCAPE:
        raise ValueError(f"split must be one of {tuple(LANDSCAPE)}, got {split!r}")
    return cache_dir() / "landscape" / LANDSCAPE[split].filename


def verified_landscape_path(split: str) -> Path:
    """The cached landscape file of ``split``, after checking it against its recorded sha256."""
    path = landscape_path(split)
    remote = LANDSCAPE[split]
    if not is_valid(path, remote.sha256, remote.md5):
        raise FileNotFoundError(
            f"no verified copy of the landscape {split} file at {path}; fetch it with "
            f"mlmc_course.data.landscape.download_landscape({split!r}) (about 1.6 GB for all three files)"
        )
    return path


def _validate_landscape(path: Path) -> None:
    read_landscape(path, n=8)


def download_landscape(
    split: str,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    url: str | None = None,
    progress: bool = True,
) -> Path:
    """Fetch a public landscape file into the cache (resumable, verified) and return its path.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        sha256, md5: the expected checksum (e.g. the md5 shown on the Zenodo record page); strongly advised.
        url: another address for the same file (a mirror).
        progress: show a progress bar.
    """
    path = landscape_path(split)
    remote = LANDSCAPE[split]
    sha256 = sha256 or remote.sha256
    md5 = md5 or remote.md5
    if sha256 is None and md5 is None and not is_valid(path):
        warnings.warn(
            f"no checksum is known for the landscape {split} file: it is checked for length and HDF5 layout only. "
            "Pass md5=... from the Zenodo record page to verify it against the publisher.",
            stacklevel=2,
        )
    return download(url or remote.url, path, sha256=sha256, md5=md5, validate=_validate_landscape, progress=progress)


def load_top(
    split: Split = "train",
    source: Literal["subset", "landscape"] = "subset",
    n: int | None = None,
    n_max: int | None = None,
    *,
    path: str | Path | None = None,
) -> TopJets:
    """Jets from the shipped subset (default) or the public landscape data, in the same :class:`TopJets` form.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        source: ``"subset"`` (shipped, particle level) or ``"landscape"`` (the public Delphes-level files, read from
            ``path`` or from the download cache; see :func:`mlmc_course.data.landscape.download_landscape`).
        n, n_max: see :func:`read_jets` and :func:`read_landscape`.
        path: an explicit file to read instead of the default location.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if source == "subset":
        return read_jets(path, n=n, n_max=n_max) if path is not None else load_top_subset(split, n=n, n_max=n_max)
    if source == "landscape":
        target = Path(path) if path is not None else verified_landscape_path(split)
        return read_landscape(target, n=n, n_max=N_MAX_LANDSCAPE if n_max is None else n_max)
    raise ValueError(f"source must be 'subset' or 'landscape', got {source!r}")

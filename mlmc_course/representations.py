"""Three ways to show a jet to a classifier, all vectorised over jets.

* **High-level features** (:func:`jet_features`): mass, pT, constituent multiplicity, width, and the
  N-subjettiness ratios tau21 and tau32 that expert top taggers cut on.
* **Jet images** (:func:`jet_images`): the pT deposited in a grid of (eta, phi) pixels, after centring, rotating
  and flipping the jet so that every image looks "the same way up" (arXiv:1701.08784).
* **Point clouds** (:func:`point_cloud`): one row of (log pT_i / pT_jet, Delta eta, Delta phi) per constituent, with
  a mask for the padding (arXiv:1810.05165).

Every function takes constituents as padded arrays ``pt, eta, phi, mask`` of shape ``(n_jets, n_max)`` (pT in GeV,
angles in radians), treats them as massless, and returns NumPy arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlmc_course.validation import as_array, positive_int

FEATURE_NAMES: tuple[str, ...] = (
    "mass",
    "pt",
    "eta",
    "multiplicity",
    "width",
    "ptd",
    "tau1",
    "tau2",
    "tau3",
    "tau4",
    "tau21",
    "tau32",
)
"""Everything :func:`jet_features` can compute: mass and pt in GeV, the rest dimensionless."""

FEATURE_LABELS: dict[str, str] = {
    "mass": r"jet mass $m_J$ [GeV]",
    "pt": r"jet $p_T$ [GeV]",
    "eta": r"jet $\eta$",
    "multiplicity": "number of constituents",
    "width": r"jet width $\sum p_{T,i} \Delta R_i / \sum p_{T,i}$",
    "ptd": r"$p_T D = \sqrt{\sum p_{T,i}^2} / \sum p_{T,i}$",
    "tau1": r"$\tau_1$",
    "tau2": r"$\tau_2$",
    "tau3": r"$\tau_3$",
    "tau4": r"$\tau_4$",
    "tau21": r"$\tau_{21} = \tau_2/\tau_1$",
    "tau32": r"$\tau_{32} = \tau_3/\tau_2$",
}
"""Axis labels (with units) for plots of the features."""


def _constituents(pt, eta, phi, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate padded constituent arrays; returns float64 copies with padded entries zeroed and a bool mask."""
    pt = as_array(pt, "pt", ndim=2)
    shape = pt.shape
    eta = as_array(eta, "eta", shape=shape)
    phi = as_array(phi, "phi", shape=shape)
    mask = as_array(mask, "mask", shape=shape, dtype="any")
    if mask.dtype.kind != "b":
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("mask must be boolean (True for real constituents), got values other than 0 and 1")
        mask = mask.astype(bool)
    if np.any(pt[mask] < 0):
        raise ValueError("pt must be non-negative (GeV); found negative constituent momenta")
    if not np.any(mask.any(axis=1)) and len(pt):
        raise ValueError("every jet is empty (mask is all False); pass at least one constituent per jet")
    if np.any(~mask.any(axis=1)):
        raise ValueError(f"{int((~mask.any(axis=1)).sum())} jet(s) have no constituents; drop them first")
    return pt * mask, eta * mask, phi * mask, mask


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Map angle differences into [-pi, pi)."""
    return (np.asarray(dphi) + np.pi) % (2 * np.pi) - np.pi


def four_momenta(pt, eta, phi, mask) -> np.ndarray:
    """Massless four-momenta (E, px, py, pz) in GeV, shape ``(n_jets, n_max, 4)``, zero where padded."""
    pt, eta, phi, mask = _constituents(pt, eta, phi, mask)
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)


def jet_axis(pt, eta, phi, mask) -> dict[str, np.ndarray]:
    """The jet four-momentum (sum of constituents): ``pt``, ``eta``, ``phi``, ``mass`` (GeV), each ``(n_jets,)``."""
    p = four_momenta(pt, eta, phi, mask).sum(axis=1)
    jet_pt = np.hypot(p[:, 1], p[:, 2])
    m2 = p[:, 0] ** 2 - np.sum(p[:, 1:] ** 2, axis=1)
    return {
        "pt": jet_pt,
        "eta": np.arcsinh(p[:, 3] / np.maximum(jet_pt, 1e-12)),
        "phi": np.arctan2(p[:, 2], p[:, 1]),
        "mass": np.sqrt(np.clip(m2, 0.0, None)),
    }


def relative_coordinates(pt, eta, phi, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constituents relative to the jet axis: (pT_i / pT_jet, Delta eta, Delta phi), each ``(n_jets, n_max)``.

    Padded entries are zero.
    """
    pt, eta, phi, mask = _constituents(pt, eta, phi, mask)
    axis = jet_axis(pt, eta, phi, mask)
    deta = (eta - axis["eta"][:, None]) * mask
    dphi = wrap_phi(phi - axis["phi"][:, None]) * mask
    return pt / axis["pt"][:, None], deta, dphi


def nsubjettiness(
    pt, eta, phi, mask, n_axes: Sequence[int] = (1, 2, 3, 4), *, beta: float = 1.0, r0: float = 0.8
) -> np.ndarray:
    """N-subjettiness tau_N = sum_i pT_i min_k (Delta R_ik)^beta / sum_i pT_i R0^beta (arXiv:1011.2268).

    The N axes are the exclusive kT subjets of the jet's constituents (FastJet, clustered once per jet and read off
    at every N). A jet with at most N constituents has tau_N = 0.

    Returns:
        shape ``(n_jets, len(n_axes))``.
    """
    pt, eta, phi, mask = _constituents(pt, eta, phi, mask)
    if beta <= 0 or r0 <= 0:
        raise ValueError(f"beta and r0 must be positive, got beta={beta}, r0={r0}")
    n_axes = [positive_int(n, "n_axes entry") for n in n_axes]
    counts = mask.sum(axis=1)
    out = np.zeros((len(pt), len(n_axes)))
    norm = pt.sum(axis=1) * r0**beta
    # Jets with more constituents than the largest N are clustered once and read off at every N; the (rare)
    # smaller jets are clustered again for each N they can have.
    groups = [(counts > max(n_axes), n_axes)]
    groups += [((counts > n) & (counts <= max(n_axes)), [n]) for n in n_axes if n < max(n_axes)]
    for ok, ns in groups:
        if not ok.any():
            continue
        sel = np.flatnonzero(ok)
        for n, axes in zip(ns, _kt_axes(pt[sel], eta[sel], phi[sel], mask[sel], ns), strict=True):
            d_eta = eta[sel][:, :, None] - axes[0][:, None, :]
            d_phi = wrap_phi(phi[sel][:, :, None] - axes[1][:, None, :])
            d_min = np.sqrt(d_eta**2 + d_phi**2).min(axis=2)
            out[sel, n_axes.index(n)] = (pt[sel] * d_min**beta).sum(axis=1) / norm[sel]
    return out


def _kt_axes(pt, eta, phi, mask, ns: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Exclusive kT subjet axes (rapidity, phi), each ``(n_jets, n)``, for every n in ``ns`` (one clustering)."""
    import warnings

    import awkward as ak
    import fastjet

    counts = mask.sum(axis=1)
    comps = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "E": pt * np.cosh(eta)}
    events = ak.zip({k: ak.unflatten(v[mask], counts) for k, v in comps.items()}, with_name="Momentum4D")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fastjet warns about exclusive jets even for kT
        sequence = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.kt_algorithm, 10.0))
        subjets = [sequence.exclusive_jets(n_jets=n) for n in ns]
    axes = []
    for n, sub in zip(ns, subjets, strict=True):
        sx, sy, sz, se = (ak.to_numpy(ak.flatten(getattr(sub, c))).reshape(-1, n) for c in ("px", "py", "pz", "E"))
        axes.append((0.5 * np.log((se + sz) / np.maximum(se - sz, 1e-12)), np.arctan2(sy, sx)))
    return axes


def jet_features(pt, eta, phi, mask, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """High-level features of each jet.

    Args:
        pt, eta, phi, mask: padded constituents, each ``(n_jets, n_max)``.
        names: which of :data:`FEATURE_NAMES` to compute (default: all).

    Returns:
        name -> values of shape ``(n_jets,)``; ratios of a zero denominator are 0.
    """
    names = tuple(FEATURE_NAMES if names is None else names)
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose from {FEATURE_NAMES}")
    pt, eta, phi, mask = _constituents(pt, eta, phi, mask)
    axis = jet_axis(pt, eta, phi, mask)
    out: dict[str, np.ndarray] = {}
    for key in ("mass", "pt", "eta"):
        if key in names:
            out[key] = axis[key]
    if "multiplicity" in names:
        out["multiplicity"] = mask.sum(axis=1).astype(float)
    if "width" in names:
        _, deta, dphi = relative_coordinates(pt, eta, phi, mask)
        out["width"] = (pt * np.hypot(deta, dphi)).sum(axis=1) / pt.sum(axis=1)
    if "ptd" in names:
        out["ptd"] = np.sqrt((pt**2).sum(axis=1)) / pt.sum(axis=1)
    wanted_tau = sorted({int(n[3]) for n in names if n.startswith("tau") and len(n) == 4} | _ratio_needs(names))
    if wanted_tau:
        taus = dict(zip(wanted_tau, nsubjettiness(pt, eta, phi, mask, wanted_tau).T, strict=True))
        for n in wanted_tau:
            if f"tau{n}" in names:
                out[f"tau{n}"] = taus[n]
        for num, den in ((2, 1), (3, 2)):
            if f"tau{num}{den}" in names:
                out[f"tau{num}{den}"] = np.divide(
                    taus[num], taus[den], out=np.zeros_like(taus[num]), where=taus[den] > 0
                )
    return {n: out[n] for n in names}


def _ratio_needs(names: Sequence[str]) -> set[int]:
    need: set[int] = set()
    if "tau21" in names:
        need |= {1, 2}
    if "tau32" in names:
        need |= {2, 3}
    return need


def feature_matrix(features: dict[str, np.ndarray], names: Sequence[str] | None = None) -> np.ndarray:
    """Stack features into a design matrix of shape ``(n_jets, n_features)`` (columns in the order of ``names``)."""
    names = tuple(features if names is None else names)
    missing = [n for n in names if n not in features]
    if missing:
        raise KeyError(f"features {missing} were not computed; have {list(features)}")
    return np.column_stack([np.asarray(features[n], dtype=float) for n in names])


def point_cloud(pt, eta, phi, mask, n_max: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-constituent inputs for particle-flow and attention networks.

    Args:
        pt, eta, phi, mask: padded constituents, each ``(n_jets, n_max_in)``, pT-ordered.
        n_max: keep only the hardest ``n_max`` constituents (default: all).

    Returns:
        ``x`` of shape ``(n_jets, n_max, 3)`` holding (log(pT_i / pT_jet), Delta eta, Delta phi) to the jet axis
        (zeros where padded), and the boolean ``mask`` of shape ``(n_jets, n_max)``.
    """
    pt, eta, phi, mask = _constituents(pt, eta, phi, mask)
    if n_max is not None:
        n_max = positive_int(n_max, "n_max")
    ptrel, deta, dphi = relative_coordinates(pt, eta, phi, mask)
    log_pt = np.log(np.where(mask, np.maximum(ptrel, 1e-8), 1.0)) * mask  # float16 storage can round pT to 0
    x = np.stack([log_pt, deta, dphi], axis=-1)[:, :n_max]
    return x.astype(np.float32), mask[:, :n_max].copy()


def jet_images(
    pt,
    eta,
    phi,
    mask,
    *,
    size: int = 40,
    half_width: float = 1.0,
    centre: bool = True,
    rotate: bool = True,
    flip: bool = True,
    normalise: bool = True,
) -> np.ndarray:
    """Jet images: pT summed in ``size x size`` pixels of (Delta eta, Delta phi), after the standard preprocessing.

    Steps (each can be switched off, to see what it does):

    1. ``centre``: shift to the pT-weighted centroid of the constituents (else: the jet axis).
    2. ``rotate``: turn the principal axis of the pT-weighted (eta, phi) distribution to the vertical.
    3. ``flip``: mirror so that the right half and the upper half hold more pT than their opposites.
    4. pixelate over [-half_width, half_width] in both directions (constituents outside are dropped).
    5. ``normalise``: divide each image by its total pixel intensity (each image sums to 1).

    Returns:
        float32 array of shape ``(n_jets, size, size)``; index ``[:, i, j]`` is row i (vertical, "phi'") and
        column j (horizontal, "eta'"), with row 0 at the bottom.
    """
    size = positive_int(size, "size")
    if half_width <= 0:
        raise ValueError(f"half_width must be positive (radians), got {half_width}")
    pt, eta, phi, mask = _constituents(pt, eta, phi, mask)
    _, x, y = relative_coordinates(pt, eta, phi, mask)
    w = pt / pt.sum(axis=1, keepdims=True)
    if centre:
        x = (x - (w * x).sum(axis=1, keepdims=True)) * mask
        y = (y - (w * y).sum(axis=1, keepdims=True)) * mask
    if rotate:
        cxx, cyy, cxy = (w * x * x).sum(axis=1), (w * y * y).sum(axis=1), (w * x * y).sum(axis=1)
        theta = 0.5 * np.arctan2(2 * cxy, cxx - cyy)  # angle of the principal axis to the x axis
        turn = (np.pi / 2 - theta)[:, None]  # rotate it onto the y axis
        x, y = x * np.cos(turn) - y * np.sin(turn), x * np.sin(turn) + y * np.cos(turn)
    if flip:
        x = np.where(((w * (x > 0)).sum(axis=1) < (w * (x < 0)).sum(axis=1))[:, None], -x, x)
        y = np.where(((w * (y > 0)).sum(axis=1) < (w * (y < 0)).sum(axis=1))[:, None], -y, y)
    col = np.floor((x + half_width) / (2 * half_width) * size).astype(np.int64)
    row = np.floor((y + half_width) / (2 * half_width) * size).astype(np.int64)
    inside = mask & (col >= 0) & (col < size) & (row >= 0) & (row < size)
    jet = np.broadcast_to(np.arange(len(pt))[:, None], pt.shape)
    flat = (jet * size + row) * size + col
    images = np.bincount(flat[inside], weights=pt[inside], minlength=len(pt) * size * size)
    images = images.reshape(len(pt), size, size)
    if normalise:
        total = images.sum(axis=(1, 2), keepdims=True)
        images = np.divide(images, total, out=np.zeros_like(images), where=total > 0)
    return images.astype(np.float32)

"""Live Pythia 8 samples of e+e- -> Z -> hadrons at 91.2 GeV, cached on disk.

The events the DCTR lesson (14) tunes, and the multiplicities that other lessons compare between settings.

* Process: e+ e- -> gamma*/Z -> q qbar at sqrt(s) = 91.2 GeV with the Z decaying to u, d, s, c or b quarks
  (:data:`PROCESS_SETTINGS`: ``WeakSingleBoson:ffbar2gmZ = on``, ``PDF:lepton = off``), Pythia's default
  (Monash 2013) tune, all unstable hadrons decayed, the stable *visible* final-state particles kept (neutrinos
  dropped). No detector: this is particle level.
* Three tunable parameters (:data:`PARAMETERS`), named in Python by :data:`SHORT_NAMES`:
  ``alpha_s`` = ``TimeShower:alphaSvalue`` (the final-state shower's alpha_s(m_Z)), ``a_lund`` =
  ``StringZ:aLund`` (the Lund fragmentation function's a), ``prob_s_to_ud`` = ``StringFlav:probStoUD`` (the
  strange-quark suppression in string breaks).
* Every event stores its particles (E, px, py, pz in GeV, PDG id, charge), the parameter values it was made with,
  its thrust axis, and event observables (:data:`OBSERVABLES`): multiplicities, thrust, heavy and light hemisphere
  (jet) masses.

Two ways to make a sample:

* :func:`generate` ``(params, n_events, seed=...)``: all events at one parameter point (Monash for every parameter
  not named), e.g. ``generate({"a_lund": 0.5}, 20_000, seed=1).observables["n_charged"]``.
* :func:`generate_scan` ``(n_events, ranges=..., seed=...)``: parameters drawn uniformly in ranges, a fresh point
  every ``events_per_point`` events; each event carries its own values in ``sample.params``. This is the training
  sample of a parameterised classifier.

The user's own events (any generator, or data at particle level) enter through :func:`from_particles` (ragged
px, py, pz, E, PDG id arrays, numpy or awkward) or :func:`read_particles` (an ``.npz`` written by
:func:`write_particles`, or a HepMC3 file read with ``pyhepmc``); both give an :class:`EventSample` with the same
observables and clouds as a generated one.

Reproducibility and cost: the work is split into chunks with Pythia seeds derived from (seed, parameter point,
chunk), so a sample does not depend on the number of workers. The chunks run as ``dask.distributed`` tasks
(:mod:`mlmc_course.cluster`): on a local cluster of ``n_workers`` worker processes (default: every core), or on an
existing cluster with ``scheduler="tcp://host:8786"`` or ``$MLMC_COURSE_SCHEDULER`` (a Slurm or HTCondor site's,
with dask-jobqueue). An event costs 1 to 2 ms per worker including the Python read-out and the event shapes
(about 0.2 ms of it is Pythia itself).

Cache: samples are cached in ``cache_dir()/pythia`` under a key made of the settings, sizes, seed and Pythia
version, so a notebook generates each sample once per machine. While a sample is made, each finished chunk is
written to ``cache_dir()/chunks/<key>/`` with its sha256, so an interrupted run resumes where it stopped; once the
whole sample is written (with its own ``.sha256`` record) the chunks are deleted. A cached sample or chunk that
fails its checksum or cannot be read is reported with a ``CorruptCacheWarning`` naming the file and regenerated
(a sample cached before the records existed is checked by reading it whole, and gets its record then).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlmc_course.validation import as_array, positive_int

ECM = 91.2  # GeV
PROCESS_SETTINGS: tuple[str, ...] = (
    "Beams:idA = 11",
    "Beams:idB = -11",
    f"Beams:eCM = {ECM}",
    "PDF:lepton = off",
    "WeakSingleBoson:ffbar2gmZ = on",
    "23:onMode = off",
    "23:onIfAny = 1 2 3 4 5",
)
QUIET_SETTINGS: tuple[str, ...] = ("Print:quiet = on", "Next:numberCount = 0")

PARAMETERS: tuple[str, ...] = ("TimeShower:alphaSvalue", "StringZ:aLund", "StringFlav:probStoUD")
"""The three tunable parameters, in the order of the columns of :attr:`EventSample.params`."""
SHORT_NAMES: dict[str, str] = {
    "alpha_s": "TimeShower:alphaSvalue",
    "a_lund": "StringZ:aLund",
    "prob_s_to_ud": "StringFlav:probStoUD",
}
MONASH: dict[str, float] = {"TimeShower:alphaSvalue": 0.1365, "StringZ:aLund": 0.68, "StringFlav:probStoUD": 0.217}
"""Pythia 8's default values (the Monash 2013 tune)."""
RANGES: dict[str, tuple[float, float]] = {
    "TimeShower:alphaSvalue": (0.10, 0.20),
    "StringZ:aLund": (0.50, 0.90),
    "StringFlav:probStoUD": (0.10, 0.30),
}
"""The ranges a DCTR classifier is trained over: they contain Monash and the targets of the DCTR paper
(alpha_s 0.16 and 0.17, a_Lund 0.75 and 0.80, probStoUD 0.14 and 0.275)."""
ALLOWED: dict[str, tuple[float, float]] = {
    "TimeShower:alphaSvalue": (0.06, 0.25),
    "StringZ:aLund": (0.0, 2.0),
    "StringFlav:probStoUD": (0.0, 1.0),
}
"""Pythia's own limits; it would silently clamp values outside them, so we refuse them instead."""

OBSERVABLES: tuple[str, ...] = (
    "n_visible",
    "n_charged",
    "n_kaons",
    "thrust",
    "heavy_jet_mass",
    "light_jet_mass",
)
"""Per-event observables: visible and charged multiplicities, charged kaons, thrust T, and the invariant masses
(GeV) of the heavier and lighter hemisphere defined by the plane normal to the thrust axis."""

CLOUD_FEATURES: tuple[str, ...] = (
    "log_z",
    "abs_rapidity",
    "log_pt",
    "charge",
    "is_photon",
    "is_kaon",
    "is_baryon",
    "is_lepton",
)
"""Per-particle features of :meth:`EventSample.cloud`: log of the energy fraction z = E / E_visible, |rapidity| and
log(pT / GeV) with respect to the thrust axis, the electric charge, and four particle-type flags."""

CHUNK = 1000
"""Events per generation task at a single parameter point; fixed so that samples do not depend on the number of
workers."""
FORMAT_VERSION = 1


def full_name(name: str) -> str:
    """The Pythia name of a parameter given either its Pythia name or its short name (``"a_lund"``)."""
    if name in PARAMETERS:
        return name
    if name in SHORT_NAMES:
        return SHORT_NAMES[name]
    known = ", ".join([*SHORT_NAMES, *PARAMETERS])
    raise KeyError(f"unknown parameter {name!r}; use one of {known}")


def parameter_point(params: Mapping[str, float] | None = None) -> dict[str, float]:
    """All three parameters, Monash values where ``params`` names none, checked against Pythia's limits."""
    point = dict(MONASH)
    for name, value in (params or {}).items():
        key = full_name(name)
        v = float(value)
        lo, hi = ALLOWED[key]
        if not (np.isfinite(v) and lo <= v <= hi):
            raise ValueError(f"{key} = {value!r} is outside Pythia's allowed range [{lo}, {hi}]")
        point[key] = v
    return point


def pythia_settings(point: Mapping[str, float], seed: int) -> list[str]:
    """The full list of Pythia settings for one run: process, quiet output, seed and the three parameters."""
    if not 1 <= int(seed) <= 900_000_000:
        raise ValueError(f"Pythia seeds must lie in [1, 900000000], got {seed}")
    lines = [*PROCESS_SETTINGS, *QUIET_SETTINGS, "Random:setSeed = on", f"Random:seed = {int(seed)}"]
    lines += [f"{key} = {float(point[key]):.10g}" for key in PARAMETERS]
    return lines


def pythia_seed(seed: int, point: Mapping[str, float], chunk: int) -> int:
    """The Pythia seed of one chunk, derived from the master seed, the parameter point and the chunk number.

    The point enters the seed so that samples at different parameters are statistically independent.
    """
    digest = hashlib.sha256(json.dumps([float(point[k]) for k in PARAMETERS]).encode()).digest()
    entropy = [int(seed), int.from_bytes(digest[:8], "little"), int(chunk)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0]) % 900_000_000 + 1


@dataclass(frozen=True)
class Task:
    """One unit of work: ``n_events`` events at one parameter point from a Pythia run with ``pythia_seed``."""

    index: int
    point: tuple[float, float, float]
    n_events: int
    pythia_seed: int


# ----------------------------------------------------------------------------------------------------------------
# Event shapes (vectorised over events)


def padded(values: np.ndarray, offsets: np.ndarray, n_max: int | None = None, fill: float = 0.0):
    """Scatter per-particle rows into a padded per-event array.

    Args:
        values: per-particle values, shape ``(n_particles, ...)``.
        offsets: event boundaries, shape ``(n_events + 1,)``; event i owns rows ``offsets[i]:offsets[i+1]``.
        n_max: slots per event; events with more particles keep their first ``n_max`` rows.
        fill: value of the empty slots.

    Returns:
        The padded array ``(n_events, n_max, ...)`` and the mask ``(n_events, n_max)`` (True for real particles).
    """
    counts = np.diff(offsets)
    n_max = int(counts.max(initial=0)) if n_max is None else positive_int(n_max, "n_max")
    n_events = len(counts)
    slot = np.arange(len(values)) - np.repeat(offsets[:-1], counts)
    keep = slot < n_max
    event = np.repeat(np.arange(n_events), counts)
    out = np.full((n_events, n_max, *values.shape[1:]), fill, dtype=values.dtype)
    out[event[keep], slot[keep]] = values[keep]
    mask = np.zeros((n_events, n_max), dtype=bool)
    mask[event[keep], slot[keep]] = True
    return out, mask


def thrust(p3: np.ndarray, mask: np.ndarray, n_starts: int = 4, n_iter: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Thrust T = max_n sum_i |p_i . n| / sum_i |p_i| and its axis, for many events at once.

    The iterative algorithm: from a starting axis n, the axis sum_i sign(p_i . n) p_i never lowers the sum, so a
    few iterations reach a local maximum; we start from the ``n_starts`` hardest particles and keep the best.
    It agrees with Pythia's exact (and much slower) ``Thrust`` class to better than 1e-3 on almost every event.

    Args:
        p3: momenta ``(n_events, n_max, 3)`` in GeV.
        mask: real particles ``(n_events, n_max)``.

    Returns:
        T of shape ``(n_events,)`` (between 0.5 and 1) and the unit axis ``(n_events, 3)``.
    """
    p = np.where(mask[..., None], p3, 0.0).astype(np.float64)
    n_events, n_max = mask.shape
    if n_max == 0:
        raise ValueError("thrust needs at least one particle slot")
    abs_p = np.linalg.norm(p, axis=-1)
    norm = np.maximum(abs_p.sum(1), 1e-12)
    starts = np.argsort(-abs_p, axis=1)[:, : min(n_starts, n_max)]
    rows = np.arange(n_events)
    best_t = np.full(n_events, -1.0)
    best_axis = np.zeros((n_events, 3))
    for k in range(starts.shape[1]):
        axis = p[rows, starts[:, k]]
        for _ in range(n_iter):
            sign = np.where(np.einsum("eij,ej->ei", p, axis) >= 0, 1.0, -1.0)
            axis = np.einsum("ei,eij->ej", sign, p)
        axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
        t = np.abs(np.einsum("eij,ej->ei", p, axis)).sum(1) / norm
        better = t > best_t
        best_t[better], best_axis[better] = t[better], axis[better]
    return best_t, best_axis


def hemisphere_masses(p4: np.ndarray, mask: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invariant masses (GeV) of the heavier and lighter hemisphere, split by the plane normal to ``axis``.

    Args:
        p4: four-momenta ``(n_events, n_max, 4)`` = (E, px, py, pz) in GeV.
        mask: real particles ``(n_events, n_max)``.
        axis: unit thrust axes ``(n_events, 3)``.
    """
    p4 = np.where(mask[..., None], p4, 0.0).astype(np.float64)
    side = np.einsum("eij,ej->ei", p4[..., 1:], axis) >= 0
    masses = []
    for hemi in (side, ~side):
        tot = (p4 * hemi[..., None]).sum(1)
        masses.append(np.sqrt(np.maximum(tot[:, 0] ** 2 - (tot[:, 1:] ** 2).sum(1), 0.0)))
    return np.maximum(*masses), np.minimum(*masses)


def _observables(p4: np.ndarray, pid: np.ndarray, charge: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Event observables and thrust axes of flat particle arrays (see :data:`OBSERVABLES`)."""
    event = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    n_events = len(offsets) - 1
    p4_pad, mask = padded(p4.astype(np.float64), offsets)
    t, axis = thrust(p4_pad[..., 1:], mask)
    heavy, light = hemisphere_masses(p4_pad, mask, axis)
    return {
        "n_visible": np.diff(offsets).astype(np.int32),
        "n_charged": np.bincount(event, weights=charge != 0, minlength=n_events).astype(np.int32),
        "n_kaons": np.bincount(event, weights=np.abs(pid) == 321, minlength=n_events).astype(np.int32),
        "thrust": t.astype(np.float32),
        "heavy_jet_mass": heavy.astype(np.float32),
        "light_jet_mass": light.astype(np.float32),
        "thrust_axis": axis.astype(np.float32),
    }


# ----------------------------------------------------------------------------------------------------------------
# Generation


def generate_task(task: Task) -> dict[str, np.ndarray]:
    """Run Pythia for one task; returns flat particle arrays, per-event parameters and observables.

    Particles within an event are ordered by decreasing energy.
    """
    import pythia8mc

    point = dict(zip(PARAMETERS, task.point, strict=True))
    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(point, task.pythia_seed):
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise at {point}")
    rows: list[np.ndarray] = []
    failures = 0
    while len(rows) < task.n_events:
        if not pythia.next():
            failures += 1
            if failures > 100 + task.n_events // 10:
                raise RuntimeError(f"Pythia failed {failures} times at {point}; check the settings")
            continue
        event = np.array(
            [(q.e(), q.px(), q.py(), q.pz(), q.id(), q.charge()) for q in pythia.event if q.isFinal() and q.isVisible()]
        )
        rows.append(event[np.argsort(-event[:, 0], kind="stable")])
    counts = np.array([len(r) for r in rows])
    flat = np.concatenate(rows)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    p4 = flat[:, :4].astype(np.float32)
    pid = flat[:, 4].astype(np.int32)
    charge = np.rint(flat[:, 5]).astype(np.int8)
    out = {"p4": p4, "pid": pid, "charge": charge, "counts": counts.astype(np.int32)}
    out["params"] = np.tile(np.array(task.point, dtype=np.float32), (task.n_events, 1))
    out.update(_observables(flat[:, :4], pid, charge, offsets))
    return out


@dataclass
class EventSample:
    """Events as flat particle arrays with per-event parameters and observables.

    Attributes:
        p4: four-momenta of all particles, ``(n_particles, 4)`` = (E, px, py, pz) in GeV, float32.
        pid: PDG ids, ``(n_particles,)``.
        charge: electric charges in units of e, ``(n_particles,)``.
        offsets: event boundaries ``(n_events + 1,)``; event i owns particles ``offsets[i]:offsets[i+1]``,
            ordered by decreasing energy.
        params: the parameter values each event was generated with, ``(n_events, 3)`` in :data:`PARAMETERS` order.
        observables: :data:`OBSERVABLES` -> ``(n_events,)`` arrays, plus ``thrust_axis`` ``(n_events, 3)``.
        info: how the sample was made (settings, seed, sizes).
    """

    p4: np.ndarray
    pid: np.ndarray
    charge: np.ndarray
    offsets: np.ndarray
    params: np.ndarray
    observables: dict[str, np.ndarray]
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def param(self, name: str) -> np.ndarray:
        """The values of one parameter (Pythia or short name) for every event, ``(n_events,)``."""
        return self.params[:, PARAMETERS.index(full_name(name))]

    def select(self, index) -> EventSample:
        """A new sample holding the events ``index`` (an integer array or a boolean mask over events)."""
        idx = np.arange(len(self))[np.asarray(index)]
        counts = np.diff(self.offsets)[idx]
        starts = self.offsets[:-1][idx]
        rows = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(counts.sum())
        return EventSample(
            p4=self.p4[rows],
            pid=self.pid[rows],
            charge=self.charge[rows],
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            params=self.params[idx],
            observables={k: v[idx] for k, v in self.observables.items()},
            info={**self.info, "selected": int(len(idx))},
        )

    def cloud(self, n_max: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """The events as particle clouds for a particle-flow network.

        Args:
            n_max: particle slots per event; the ``n_max`` most energetic particles are kept (the visible
                multiplicity is below 64 in about 99% of events at Monash).

        Returns:
            ``x`` of shape ``(n_events, n_max, 8)`` (float32, features :data:`CLOUD_FEATURES`, zero in empty slots)
            and ``mask`` of shape ``(n_events, n_max)`` (True for real particles).
        """
        n_max = positive_int(n_max, "n_max")
        event = np.repeat(np.arange(len(self)), np.diff(self.offsets))
        e = self.p4[:, 0].astype(np.float64)
        p3 = self.p4[:, 1:].astype(np.float64)
        e_vis = np.bincount(event, weights=e, minlength=len(self))
        axis = self.observables["thrust_axis"].astype(np.float64)[event]
        p_long = np.einsum("ij,ij->i", p3, axis)
        pt = np.sqrt(np.maximum((p3**2).sum(1) - p_long**2, 0.0))
        abs_pl = np.minimum(np.abs(p_long), e * (1 - 1e-7))
        abs_pid = np.abs(self.pid)
        feats = np.stack(
            [
                np.log(np.maximum(e / e_vis[event], 1e-6)),
                0.5 * np.log((e + abs_pl) / np.maximum(e - abs_pl, 1e-12)).clip(0.0, 8.0),
                np.log(np.maximum(pt, 1e-3)),
                self.charge.astype(np.float64),
                abs_pid == 22,
                np.isin(abs_pid, (321, 130, 310)),
                np.isin(abs_pid, (2212, 2112, 3122, 3112, 3222, 3312, 3322, 3334)),
                np.isin(abs_pid, (11, 13)),
            ],
            axis=1,
        ).astype(np.float32)
        return padded(feats, self.offsets, n_max)

    def save(self, path: str | Path) -> Path:
        """Write the sample to an ``.npz`` file (atomically: a partial file never replaces a good one)."""
        self._write(Path(path), verified=False)
        return Path(path)

    def _write(self, path: Path, *, verified: bool) -> None:
        from mlmc_course.data.store import _replace_atomically, write_verified

        arrays = {f"obs_{k}": v for k, v in self.observables.items()}
        arrays.update(p4=self.p4, pid=self.pid, charge=self.charge, offsets=self.offsets, params=self.params)
        arrays["info"] = np.array(json.dumps(self.info, sort_keys=True))
        (write_verified if verified else _replace_atomically)(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> EventSample:
        """Read a sample written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            obs = {k[4:]: f[k] for k in f.files if k.startswith("obs_")}
            return cls(
                p4=f["p4"],
                pid=f["pid"],
                charge=f["charge"],
                offsets=f["offsets"],
                params=f["params"],
                observables=obs,
                info=json.loads(str(f["info"])),
            )


def concatenate(samples: Sequence[EventSample]) -> EventSample:
    """Join samples event-wise (in the given order)."""
    if not samples:
        raise ValueError("concatenate needs at least one sample")
    shifts = np.cumsum([0] + [len(s.p4) for s in samples[:-1]])
    offsets = np.concatenate(
        [samples[0].offsets[:1]] + [s.offsets[1:] + k for s, k in zip(samples, shifts, strict=True)]
    )
    return EventSample(
        p4=np.concatenate([s.p4 for s in samples]),
        pid=np.concatenate([s.pid for s in samples]),
        charge=np.concatenate([s.charge for s in samples]),
        offsets=offsets.astype(np.int64),
        params=np.concatenate([s.params for s in samples]),
        observables={k: np.concatenate([s.observables[k] for s in samples]) for k in samples[0].observables},
        info={"joined": [s.info for s in samples]},
    )


# ----------------------------------------------------------------------------------------------------------------
# The user's own events

CHARGES: dict[int, int] = {
    11: -1, 13: -1, 15: -1, 12: 0, 14: 0, 16: 0, 22: 0,
    111: 0, 211: 1, 130: 0, 310: 0, 311: 0, 321: 1,
    2212: 1, 2112: 0, 3122: 0, 3112: -1, 3212: 0, 3222: 1, 3312: -1, 3322: 0, 3334: -1,
}  # fmt: skip
"""Electric charges (units of e) of the particles that are stable in Pythia's default decays, by PDG id > 0;
antiparticles (negative ids) have the opposite charge."""
INVISIBLE: tuple[int, ...] = (12, 14, 16)
"""PDG ids (absolute) that the generated samples drop: neutrinos."""


def _flat(values, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A ragged per-event array (awkward array or sequence of 1-d arrays) as (flat values, counts)."""
    if type(values).__module__.startswith("awkward"):
        import awkward as ak

        return ak.to_numpy(ak.flatten(values, axis=1)), ak.to_numpy(ak.num(values, axis=1))
    rows = [np.asarray(v) for v in values]
    if any(r.ndim != 1 for r in rows):
        raise ValueError(f"{name} must hold one 1-d array per event (ragged), got shapes {[r.shape for r in rows][:3]}")
    flat = np.concatenate(rows) if rows else np.zeros(0)
    return flat, np.array([len(r) for r in rows], dtype=np.int64)


def from_particles(px, py, pz, e, pid, *, charge=None, drop_invisible: bool = True) -> EventSample:
    """Build an :class:`EventSample` (the input of :meth:`EventSample.cloud` and of DCTR) from the user's particles.

    Args:
        px, py, pz, e: per event, the final-state particles' momenta and energies in GeV: ragged, as awkward
            arrays of shape ``(n_events, var)`` or sequences of 1-d numpy arrays, one per event.
        pid: the PDG ids, in the same layout.
        charge: the charges in the same layout; default: from :data:`CHARGES` (an unknown id is an error).
        drop_invisible: drop neutrinos, as the generated samples do.

    Returns:
        An :class:`EventSample` with particles ordered by decreasing energy, the event observables and thrust
        axes computed as for generated events, and ``params`` NaN (unknown).
    """
    cols = {}
    counts = None
    for name, values in (("px", px), ("py", py), ("pz", pz), ("e", e), ("pid", pid)):
        flat, c = _flat(values, name)
        if counts is not None and not np.array_equal(c, counts):
            raise ValueError(f"{name} has a different number of particles per event than px")
        cols[name], counts = flat, c
    if charge is not None:
        q, c = _flat(charge, "charge")
        if not np.array_equal(c, counts):
            raise ValueError("charge has a different number of particles per event than px")
    pid_a = cols["pid"].astype(np.int64)
    if charge is None:
        unknown = sorted(set(np.abs(pid_a).tolist()) - set(CHARGES))
        if unknown:
            raise ValueError(
                f"no charge known for PDG ids {unknown[:10]}: pass charge=..., or give only stable final-state "
                "particles (pythia: particle.isFinal())"
            )
        q = np.array([CHARGES[abs(i)] for i in pid_a.tolist()], dtype=np.int64) * np.sign(pid_a)
    p4 = np.stack([cols["e"], cols["px"], cols["py"], cols["pz"]], axis=1).astype(np.float64)
    if not np.all(np.isfinite(p4)):
        raise ValueError("px, py, pz and e must be finite")
    event = np.repeat(np.arange(len(counts)), counts)
    keep = ~np.isin(np.abs(pid_a), INVISIBLE) if drop_invisible else np.ones(len(pid_a), dtype=bool)
    order = np.lexsort((-p4[:, 0], event))  # by event, then decreasing energy
    order = order[keep[order]]
    counts = np.bincount(event[keep], minlength=len(counts))
    if np.any(counts == 0):
        raise ValueError(f"events {np.flatnonzero(counts == 0)[:10].tolist()} have no visible particles")
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    p4, pid_k, q = p4[order], pid_a[order].astype(np.int32), np.rint(q[order]).astype(np.int8)
    return EventSample(
        p4=p4.astype(np.float32),
        pid=pid_k,
        charge=q,
        offsets=offsets,
        params=np.full((len(counts), len(PARAMETERS)), np.nan, dtype=np.float32),
        observables=_observables(p4, pid_k, q, offsets),
        info={"kind": "particles", "n_events": int(len(counts))},
    )


def write_particles(path: str | Path, px, py, pz, e, pid) -> Path:
    """Write ragged particle arrays to an ``.npz`` file (flat columns and per-event ``counts``), the format
    :func:`read_particles` reads."""
    cols = {}
    for name, values in (("px", px), ("py", py), ("pz", pz), ("e", e), ("pid", pid)):
        cols[name], counts = _flat(values, name)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, counts=counts, **cols)
    return path


def read_particles(path: str | Path) -> EventSample:
    """Read events from a file: an ``.npz`` written by :func:`write_particles` (columns px, py, pz, e, pid and
    counts), or a HepMC3 file (``.hepmc``, ``.hepmc3``; needs ``pyhepmc``), keeping the final-state particles."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(path)
    if path.suffix in (".hepmc", ".hepmc3") or path.name.endswith((".hepmc.gz", ".hepmc3.gz")):
        return read_hepmc(path)
    with np.load(path) as f:
        missing = {"px", "py", "pz", "e", "pid", "counts"} - set(f.files)
        if missing:
            raise ValueError(f"{path} lacks the columns {sorted(missing)} (see write_particles)")
        offsets = np.concatenate([[0], np.cumsum(f["counts"])])
        cols = {k: np.split(f[k], offsets[1:-1]) for k in ("px", "py", "pz", "e", "pid")}
    return from_particles(**cols)


def read_hepmc(path: str | Path, max_events: int | None = None) -> EventSample:
    """Read the final-state (status 1) particles of a HepMC3 file with ``pyhepmc``."""
    try:
        import pyhepmc
    except ImportError as err:
        raise ImportError("reading HepMC3 needs pyhepmc: `pip install pyhepmc` (the course pins 2.16.1)") from err
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("px", "py", "pz", "e", "pid")}
    with pyhepmc.open(str(path)) as f:
        for i, event in enumerate(f):
            if max_events is not None and i >= max_events:
                break
            final = [p for p in event.particles if p.status == 1]
            for k, get in (("px", "px"), ("py", "py"), ("pz", "pz"), ("e", "e")):
                cols[k].append(np.array([getattr(p.momentum, get) for p in final]))
            cols["pid"].append(np.array([p.pid for p in final], dtype=np.int64))
    if not cols["px"]:
        raise ValueError(f"{path} holds no events")
    return from_particles(**cols)


def _from_parts(parts: Sequence[dict[str, np.ndarray]], info: dict) -> EventSample:
    counts = np.concatenate([p["counts"] for p in parts])
    keys = [*OBSERVABLES, "thrust_axis"]
    return EventSample(
        p4=np.concatenate([p["p4"] for p in parts]),
        pid=np.concatenate([p["pid"] for p in parts]),
        charge=np.concatenate([p["charge"] for p in parts]),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        params=np.concatenate([p["params"] for p in parts]),
        observables={k: np.concatenate([p[k] for p in parts]) for k in keys},
        info=info,
    )


def _pythia_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pythia8mc")
    except PackageNotFoundError as err:
        raise ImportError("pythia8mc is not installed: `pip install pythia8mc` (the course pins 8.317.2)") from err


def cache_path(info: Mapping) -> Path:
    """Where the sample described by ``info`` is cached: ``cache_dir()/pythia/ee_z_<hash>.npz``."""
    from mlmc_course.data.store import cache_dir

    key = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / "pythia" / f"ee_z_{key}.npz"


def run_tasks(
    tasks: Sequence[Task],
    info: dict,
    *,
    n_workers: int | None,
    cache: bool,
    progress: bool,
    desc: str,
    scheduler: str | None = None,
) -> EventSample:
    """Run ``tasks`` as Dask tasks (:func:`mlmc_course.cluster.run_chunks`), or load their result from the cache.

    With ``cache``, an intact cached sample is returned as it is; otherwise the chunks are computed (those already
    on disk from an interrupted run are loaded instead), the sample is written to the cache with its sha256 and the
    chunks are deleted.
    """
    from mlmc_course.cluster import run_chunks
    from mlmc_course.data.store import ChunkStore, cache_dir, read_verified

    info = {**info, "format": FORMAT_VERSION, "pythia8mc": _pythia_version()}
    path = cache_path(info)
    if cache:
        from mlmc_course.data.request_log import note_request

        note_request(info, path, sum(t.n_events for t in tasks))
    store = None
    if cache:
        sample = read_verified(path, EventSample.load, what="cached Pythia sample")
        if sample is not None:
            return sample
        store = ChunkStore(cache_dir() / "chunks" / path.stem)
    run = run_chunks(
        generate_task,
        tasks,
        names=[f"chunk{t.index:06d}" for t in tasks],
        store=store,
        scheduler=scheduler,
        n_workers=n_workers,
        progress=progress,
        desc=desc,
        unit="event",
        size=lambda t: t.n_events,
    )
    sample = _from_parts(run.results, info)
    if store is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        sample._write(path, verified=True)
        store.clear()
    return sample


def generate(
    params: Mapping[str, float] | None = None,
    n_events: int = 10_000,
    *,
    seed: int = 1,
    n_workers: int | None = None,
    cache: bool = True,
    progress: bool = True,
    scheduler: str | None = None,
) -> EventSample:
    """Generate e+e- -> Z -> hadrons events at one parameter point.

    Args:
        params: parameter values by Pythia or short name, e.g. ``{"a_lund": 0.5}``; unnamed ones take their
            Monash values. ``None`` is Monash.
        n_events: number of events.
        seed: master seed (a non-negative integer); the same seed and settings give the same events.
        n_workers: workers of the local Dask cluster (default: every core; 1 is one worker thread in this process).
        cache: read the sample from, and write it to, the cache folder (and resume from its finished chunks).
        progress: show a progress bar (chunks done, events per second).
        scheduler: address of an existing Dask scheduler (default: ``$MLMC_COURSE_SCHEDULER``, else the local
            cluster); ``n_workers`` is then ignored. See :mod:`mlmc_course.cluster`.

    Returns:
        An :class:`EventSample`; ``sample.observables["n_charged"]`` holds the charged multiplicities.
    """
    point = parameter_point(params)
    n_events = positive_int(n_events, "n_events")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    values = tuple(point[k] for k in PARAMETERS)
    tasks = [
        Task(i, values, min(CHUNK, n_events - start), pythia_seed(seed, point, i))
        for i, start in enumerate(range(0, n_events, CHUNK))
    ]
    info = {"kind": "point", "point": point, "n_events": n_events, "seed": int(seed), "chunk": CHUNK}
    label = ", ".join(f"{k.split(':')[1]}={v:.4g}" for k, v in point.items() if v != MONASH[k]) or "Monash"
    return run_tasks(
        tasks, info, n_workers=n_workers, cache=cache, progress=progress, desc=f"Pythia ({label})", scheduler=scheduler
    )


def generate_scan(
    n_events: int,
    *,
    ranges: Mapping[str, tuple[float, float]] | None = None,
    events_per_point: int = 500,
    seed: int = 1,
    n_workers: int | None = None,
    cache: bool = True,
    progress: bool = True,
    scheduler: str | None = None,
) -> EventSample:
    """Generate events with parameters drawn uniformly from ``ranges``, a new point every ``events_per_point``.

    Args:
        n_events: total number of events.
        ranges: parameter (Pythia or short name) -> (low, high); parameters not named stay at Monash.
            ``None`` varies all three over :data:`RANGES`.
        events_per_point: events per parameter point (each point costs one Pythia initialisation, ~0.15 s).
        seed, n_workers, cache, progress, scheduler: as in :func:`generate`.

    Returns:
        An :class:`EventSample` whose ``params`` hold each event's parameter values.
    """
    n_events = positive_int(n_events, "n_events")
    events_per_point = positive_int(events_per_point, "events_per_point")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    ranges = dict(RANGES) if ranges is None else {full_name(k): v for k, v in ranges.items()}
    if not ranges:
        raise ValueError("ranges is empty: name at least one parameter to vary, or use generate() for one point")
    for key, bounds in ranges.items():
        lo, hi = (float(b) for b in as_array(bounds, f"ranges[{key!r}]", shape=(2,)))
        if not lo < hi:
            raise ValueError(f"ranges[{key!r}] must be (low, high) with low < high, got {bounds}")
        parameter_point({key: lo})
        parameter_point({key: hi})
        ranges[key] = (lo, hi)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    tasks = []
    for i, start in enumerate(range(0, n_events, events_per_point)):
        point = dict(MONASH)
        for key in PARAMETERS:
            if key in ranges:
                point[key] = float(rng.uniform(*ranges[key]))
        values = tuple(point[k] for k in PARAMETERS)
        tasks.append(Task(i, values, min(events_per_point, n_events - start), pythia_seed(seed, point, i)))
    info = {
        "kind": "scan",
        "ranges": {k: list(v) for k, v in sorted(ranges.items())},
        "n_events": n_events,
        "events_per_point": events_per_point,
        "seed": int(seed),
    }
    return run_tasks(
        tasks, info, n_workers=n_workers, cache=cache, progress=progress, desc="Pythia scan", scheduler=scheduler
    )


__all__ = [
    "CLOUD_FEATURES",
    "MONASH",
    "OBSERVABLES",
    "PARAMETERS",
    "RANGES",
    "SHORT_NAMES",
    "CHARGES",
    "EventSample",
    "concatenate",
    "from_particles",
    "read_hepmc",
    "read_particles",
    "write_particles",
    "generate",
    "generate_scan",
    "hemisphere_masses",
    "parameter_point",
    "thrust",
]

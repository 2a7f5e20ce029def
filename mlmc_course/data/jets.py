"""Top-tagging jets from Pythia 8 and FastJet, made the way the landscape data were made, at particle level.

The recipe (arXiv:1902.09914, section 2) and how this generator follows it:

* pp collisions at 14 TeV, Pythia 8 with its default tune (Monash), multiple parton interactions off, no pile-up.
* Signal: tt-bar pairs (``Top:gg2ttbar``, ``Top:qqbar2ttbar``) with both W bosons forced to decay to quarks.
  Background: QCD dijets (``HardQCD:all``), a mix of quark and gluon jets.
* Both processes with a generator cut 500 < pT-hat < 700 GeV, which covers the jet window below.
* Jets: anti-kT with R = 0.8 (FastJet) on all visible final-state particles; only the **leading jet** of each event
  is kept, and only if 550 < pT < 650 GeV and |eta| < 2.
* Signal jets must be matched: a top quark within Delta R < 0.8 of the jet axis, and its three decay quarks (the b
  and the two quarks from the W) all within Delta R < 0.8 of the axis (Delta R in rapidity and azimuth).
* Up to 200 constituents per jet, ordered by decreasing pT.

**Differences from the public landscape data** (Zenodo record 2603256), also listed in lesson 04:

1. No detector simulation. The public jets went through Delphes (ATLAS card) and are built from energy-flow
   objects; ours are built from the stable visible particles themselves. Particle-level jets are "sharper" (no
   calorimeter smearing or tracking inefficiency), so taggers here reach higher AUCs than in the paper.
2. Constituents are stored as massless: we keep (pT, eta, phi) and rebuild E = pT cosh(eta), so the jet mass from the
   stored constituents is a little lower than that of the jet clustered from the massive hadrons, which is kept as
   ``jet_mass``: by 2 GeV (top) and 4 GeV (QCD) in the median over the shipped subset (top-jet mass median 172 GeV
   from the constituents, 174.5 GeV clustered).
3. Constituents are stored compactly: relative pT (pT / pT_jet) and (Delta eta, Delta phi) to the jet axis in
   float16 (relative precision ~5e-4), jet kinematics in float32.
4. Pythia 8.317 instead of the 8.2 series of 2018, and our own pT-hat window; the tune is the default of each.
5. The truth top four-momentum of a signal jet is the matched top quark's (``truth_p4``); the public ``ttv`` field
   (the train/test/validation flag) is replaced by separate files.
6. Far fewer jets: the shipped subset is tens of thousands of jets, the public set two million.

Generation is reproducible: the jets are made in chunks of :data:`CHUNK` jets, each chunk with its own Pythia seed
derived from (seed, class, chunk number), so the same seed gives the same jets whatever the number of workers,
and asking for fewer jets gives the first jets of a larger run.

The chunks run as ``dask.distributed`` tasks (:mod:`mlmc_course.cluster`): on a local cluster with one worker per
core by default, or on an existing cluster (``scheduler=`` / ``--scheduler ADDRESS`` / ``$MLMC_COURSE_SCHEDULER``,
e.g. a Slurm site's through dask-jobqueue). Each finished chunk is kept in the cache,
``cache_dir()/chunks/top_<key>/`` (the key holds the seed, the recipe and the generator versions, not the number of
jets), written atomically with its sha256: an interrupted run resumes where it stopped, and a larger sample with
the same seed reuses the chunks of a smaller one. A chunk that fails its checksum or cannot be read is reported
with a ``CorruptCacheWarning`` naming the file and generated again. Delete the folder to free the space.
A worker makes 1000 jets (top and QCD mixed) in about 45 CPU-seconds (``benchmarks/results/generation.md``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mlmc_course.validation import positive_int

SIGNAL, BACKGROUND = 1, 0
CHUNK = 200
"""Jets per generation task: fixed, so that results do not depend on the number of workers."""


@dataclass(frozen=True)
class JetRecipe:
    """The settings that define a jet sample (energies and momenta in GeV).

    Attributes:
        ecm: centre-of-mass energy.
        pthat_min, pthat_max: generator cut on the hard-process transverse momentum.
        radius: anti-kT distance parameter R.
        pt_min, pt_max, eta_max: the jet window (pseudorapidity for eta).
        match_radius: Delta R within which the top and its decay quarks must lie (signal only).
        n_max: largest number of constituents kept per jet (hardest first).
    """

    ecm: float = 14_000.0
    pthat_min: float = 500.0
    pthat_max: float = 700.0
    radius: float = 0.8
    pt_min: float = 550.0
    pt_max: float = 650.0
    eta_max: float = 2.0
    match_radius: float = 0.8
    n_max: int = 200


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: ``n`` jets of class ``label`` from a Pythia run seeded with ``pythia_seed``."""

    label: int
    chunk: int
    n: int
    pythia_seed: int
    recipe: JetRecipe = field(default_factory=JetRecipe)


def pythia_seed(seed: int, label: int, chunk: int) -> int:
    """The Pythia seed of one chunk (Pythia accepts 1 ... 900 000 000), derived with NumPy's SeedSequence."""
    state = np.random.SeedSequence([int(seed), int(label), int(chunk)]).generate_state(1)[0]
    return int(state) % 900_000_000 + 1


def pythia_settings(label: int, seed: int, recipe: JetRecipe) -> list[str]:
    """The Pythia settings for signal (``label=1``, tt-bar to hadrons) or background (``label=0``, QCD dijets)."""
    common = [
        f"Beams:eCM = {recipe.ecm}",
        "PartonLevel:MPI = off",
        f"PhaseSpace:pTHatMin = {recipe.pthat_min}",
        f"PhaseSpace:pTHatMax = {recipe.pthat_max}",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Next:numberCount = 0",
        "Next:numberShowEvent = 0",
        "Next:numberShowInfo = 0",
        "Next:numberShowProcess = 0",
        "Init:showChangedSettings = off",
        "Init:showProcesses = off",
        "Init:showChangedParticleData = off",
        "Print:quiet = on",
    ]
    if label == SIGNAL:
        process = ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"]
    elif label == BACKGROUND:
        process = ["HardQCD:all = on"]
    else:
        raise ValueError(f"label must be {SIGNAL} (top) or {BACKGROUND} (QCD), got {label!r}")
    return process + common


def _rapidity(e: float, pz: float) -> float:
    return 0.5 * float(np.log((e + pz) / (e - pz)))


def _delta_r(y1: float, phi1: float, y2: float, phi2: float) -> float:
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return float(np.hypot(y1 - y2, dphi))


def _top_systems(event) -> list[tuple[np.ndarray, list[tuple[float, float]]]]:
    """For each top quark: its four-momentum (E, px, py, pz) and the (rapidity, phi) of its three decay quarks."""
    out = []
    for i in range(event.size()):
        prt = event[i]
        if prt.idAbs() != 6 or prt.statusAbs() != 22:
            continue
        top = event[prt.iBotCopyId()]
        quarks = []
        for j in top.daughterList():
            d = event[j]
            if d.idAbs() == 24:
                w = event[d.iBotCopyId()]
                quarks += [event[k] for k in w.daughterList() if 1 <= event[k].idAbs() <= 5]
            elif 1 <= d.idAbs() <= 5:
                quarks.append(d)
        p4 = np.array([top.e(), top.px(), top.py(), top.pz()])
        out.append((p4, [(_rapidity(q.e(), q.pz()), q.phi()) for q in quarks]))
    return out


def _matched_top(jet, event, radius: float) -> np.ndarray | None:
    """The four-momentum of a top that lies, with its three decay quarks, within ``radius`` of the jet axis."""
    y, phi = jet.rap(), jet.phi_std()
    for p4, quarks in _top_systems(event):
        if len(quarks) != 3:
            continue
        if _delta_r(y, phi, _rapidity(p4[0], p4[3]), float(np.arctan2(p4[2], p4[1]))) >= radius:
            continue
        if all(_delta_r(y, phi, qy, qphi) < radius for qy, qphi in quarks):
            return p4
    return None


def generate_chunk(task: ChunkTask) -> dict[str, np.ndarray]:
    """Generate ``task.n`` accepted jets; returns flat arrays in the layout of :func:`write_jets` (see there)."""
    import fastjet
    import pythia8mc

    recipe = task.recipe
    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(task.label, task.pythia_seed, recipe):
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(
            "Pythia failed to initialise with the settings of mlmc_course.data.jets.pythia_settings; "
            "repeat them with 'Print:quiet = off' to see its log"
        )
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, recipe.radius)
    rows: dict[str, list] = {k: [] for k in ("jet", "truth", "count", "ptfrac", "deta", "dphi")}
    n_events, max_events = 0, 200 * task.n + 1000
    while len(rows["count"]) < task.n:
        n_events += 1
        if n_events > max_events:
            raise RuntimeError(f"only {len(rows['count'])} of {task.n} jets passed in {max_events} events")
        if not pythia.next():
            continue
        event = pythia.event
        parts = np.array([(p.px(), p.py(), p.pz(), p.e()) for p in event if p.isFinal() and p.isVisible()])
        pseudojets = [fastjet.PseudoJet(*row) for row in parts.tolist()]
        for k, pj in enumerate(pseudojets):
            pj.set_user_index(k)
        sequence = fastjet.ClusterSequence(pseudojets, jet_def)
        jets = fastjet.sorted_by_pt(sequence.inclusive_jets(0.5 * recipe.pt_min))
        if not jets:
            continue
        jet = jets[0]
        if not (recipe.pt_min < jet.pt() < recipe.pt_max and abs(jet.eta()) < recipe.eta_max):
            continue
        truth = np.zeros(4)
        if task.label == SIGNAL:
            top = _matched_top(jet, event, recipe.match_radius)
            if top is None:
                continue
            truth = top
        idx = np.array([c.user_index() for c in jet.constituents()])
        px, py, pz = parts[idx, 0], parts[idx, 1], parts[idx, 2]
        pt = np.hypot(px, py)
        order = np.argsort(-pt, kind="stable")[: recipe.n_max]
        pt, px, py, pz = pt[order], px[order], py[order], pz[order]
        jet_pt, jet_eta, jet_phi = jet.pt(), jet.eta(), jet.phi_std()
        rows["jet"].append((jet_pt, jet_eta, jet_phi, jet.m()))
        rows["truth"].append(truth)
        rows["count"].append(len(pt))
        rows["ptfrac"].append(pt / jet_pt)
        rows["deta"].append(np.arcsinh(pz / pt) - jet_eta)
        rows["dphi"].append((np.arctan2(py, px) - jet_phi + np.pi) % (2 * np.pi) - np.pi)
    jet_arr = np.array(rows["jet"], dtype=np.float64)
    return {
        "labels": np.full(task.n, task.label, dtype=np.int8),
        "jet_pt": jet_arr[:, 0].astype(np.float32),
        "jet_eta": jet_arr[:, 1].astype(np.float32),
        "jet_phi": jet_arr[:, 2].astype(np.float32),
        "jet_mass": jet_arr[:, 3].astype(np.float32),
        "truth_p4": np.array(rows["truth"], dtype=np.float32).reshape(task.n, 4),
        "n_constituents": np.array(rows["count"], dtype=np.uint8),
        "ptfrac": np.concatenate(rows["ptfrac"]).astype(np.float16),
        "deta": np.concatenate(rows["deta"]).astype(np.float16),
        "dphi": np.concatenate(rows["dphi"]).astype(np.float16),
        "gen_index": np.arange(task.chunk * CHUNK, task.chunk * CHUNK + task.n, dtype=np.int32),
        "n_events": np.array(n_events, dtype=np.int64),
    }


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k != "n_events"}
    out["n_events"] = np.array(sum(int(p["n_events"]) for p in parts), dtype=np.int64)
    return out


def tasks_for(n_per_class: int, seed: int, recipe: JetRecipe | None = None) -> list[ChunkTask]:
    """The chunks that make ``n_per_class`` jets of each class, signal first; largest chunks interleaved."""
    n_per_class = positive_int(n_per_class, "n_per_class")
    recipe = recipe or JetRecipe()
    tasks = []
    for chunk in range(-(-n_per_class // CHUNK)):
        n = min(CHUNK, n_per_class - chunk * CHUNK)
        for label in (SIGNAL, BACKGROUND):
            tasks.append(ChunkTask(label, chunk, n, pythia_seed(seed, label, chunk), recipe))
    return tasks


def chunk_store(seed: int, recipe: JetRecipe | None = None):
    """The cache folder of the finished chunks of the jets made with ``seed`` and ``recipe`` (any number of jets)."""
    from mlmc_course.data.store import ChunkStore, cache_dir

    info = json.loads(provenance(1, seed, recipe))
    del info["n_per_class"]
    key = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:20]
    return ChunkStore(cache_dir() / "chunks" / f"top_{key}")


def generate_run(
    n_per_class: int,
    seed: int = 1,
    *,
    workers: int | None = None,
    recipe: JetRecipe | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    cache: bool = True,
):
    """:func:`generate`, also returning the :class:`mlmc_course.cluster.ChunkRun` (timings, chunks reused)."""
    from mlmc_course.cluster import run_chunks

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    tasks = tasks_for(n_per_class, seed, recipe)
    run = run_chunks(
        generate_chunk,
        tasks,
        names=[f"{'top' if t.label == SIGNAL else 'qcd'}{t.chunk:06d}_n{t.n}" for t in tasks],
        store=chunk_store(seed, recipe) if cache else None,
        scheduler=scheduler,
        n_workers=workers,
        progress=progress,
        desc="top/QCD jets",
        unit="jet",
        size=lambda t: t.n,
    )
    pairs = list(zip(tasks, run.results, strict=True))
    by_label = [[r for t, r in pairs if t.label == label] for label in (SIGNAL, BACKGROUND)]
    return _concat(by_label[0] + by_label[1]), run


def generate(
    n_per_class: int,
    seed: int = 1,
    *,
    workers: int | None = None,
    recipe: JetRecipe | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    cache: bool = True,
) -> dict[str, np.ndarray]:
    """Generate ``n_per_class`` top jets and as many QCD jets, as Dask tasks (see the module docstring).

    Args:
        n_per_class: jets of each class.
        seed: master seed; the same seed gives the same jets.
        workers: workers of the local Dask cluster (default: every core; 1 is one worker thread in this process).
        recipe: the jet selection (default: the landscape recipe).
        progress: show a progress bar (chunks done, jets per second).
        scheduler: address of an existing Dask scheduler (default: ``$MLMC_COURSE_SCHEDULER``, else the local
            cluster); ``workers`` is then ignored. See :mod:`mlmc_course.cluster`.
        cache: keep finished chunks in the cache and reuse them (resume, larger samples with the same seed).

    Returns:
        Flat arrays in the layout that :func:`write_jets` stores: per jet ``labels`` (1 top, 0 QCD), ``jet_pt``,
        ``jet_eta``, ``jet_phi``, ``jet_mass`` (GeV, rad), ``truth_p4`` (n, 4), ``n_constituents``, ``gen_index``
        (position in its class's generation order); per constituent, concatenated over jets, ``ptfrac``
        (pT / pT_jet), ``deta``, ``dphi`` (to the jet axis); ``n_events`` (events generated). Signal jets come
        first, then background, each in generation order.
    """
    arrays, _run = generate_run(
        n_per_class, seed, workers=workers, recipe=recipe, progress=progress, scheduler=scheduler, cache=cache
    )
    return arrays


def provenance(n_per_class: int, seed: int, recipe: JetRecipe | None = None) -> str:
    """A JSON string recording how a sample was made (stored in every file)."""
    from importlib.metadata import version

    info = {
        "generator": "mlmc_course.data.jets",
        "pythia8mc": version("pythia8mc"),
        "fastjet": version("fastjet"),
        "n_per_class": n_per_class,
        "seed": seed,
        "chunk": CHUNK,
        "recipe": asdict(recipe or JetRecipe()),
    }
    return json.dumps(info, sort_keys=True)


def generate_command(args) -> int:
    """``mlmc-course data generate top --n N --seed S [--workers W] [--scheduler ADDRESS] [--out FILE]``.

    Writes a jet file (.npz, with a ``.sha256`` record beside it) and prints the generation time per 1000 jets of
    one worker.
    """
    from mlmc_course.data.landscape import write_jets
    from mlmc_course.data.store import cache_dir, write_verified

    if args.dataset != "top":
        raise ValueError(f"unknown dataset {args.dataset!r}; only 'top' can be generated")
    n = positive_int(args.n, "--n")
    if args.seed is None or args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed!r}")
    out = Path(args.out) if args.out else cache_dir() / "top" / f"top_n{n}_seed{args.seed}.npz"
    if out.suffix != ".npz":
        raise ValueError(f"--out must end in .npz (the course's jet format), got {out}")
    start = time.perf_counter()
    arrays, run = generate_run(n, args.seed, workers=args.workers, scheduler=getattr(args, "scheduler", None))
    wall = time.perf_counter() - start
    digest = write_verified(out, lambda f: write_jets(f, arrays, provenance(n, args.seed)))
    cost = f"{run.per_1000():.1f} s per 1000 jets per worker" if run.computed else "no chunk computed"
    print(
        f"wrote {2 * n} jets ({n} top, {n} QCD) from {int(arrays['n_events'])} events in {wall:.0f} s to {out}\n"
        f"chunks: {run.computed} computed ({run.units} jets, {cost}), {run.on_disk} found in the cache\n"
        f"sha256 {digest}; read it with mlmc_course.data.landscape.read_jets('{out}')"
    )
    return 0

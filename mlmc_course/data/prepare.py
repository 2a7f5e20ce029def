"""``mlmc-course data prepare``: make, ahead of time, the generator samples that lessons would make on first run.

Lessons 12 and 14 ask :mod:`mlmc_course.data.pythia` for Pythia 8 samples, which are generated on first use and then
read from the cache (``cache_dir()/pythia``). On a fresh machine (a Binder session starts with an empty cache) that
first run takes minutes. ``data prepare`` generates those samples beforehand, e.g. at image build time in
``binder/postBuild``, so that the lessons find them in the cache.

What to prepare is the *plan*, ``mlmc_course/data/prepared.json``: one entry per sample, holding the exact request
the lesson made (the ``info`` dict from which the cache key is derived, so the prepared file is the very file the
lesson loads), the lessons that use it, its number of events and the sha256 of its content (:func:`content_sha256`;
the ``.npz`` bytes themselves carry zip time stamps, so they are not hashed). ``data prepare`` checks every sample
it makes or finds against that sha256 and fails on a mismatch.

The plan is recorded, not written by hand: ``mlmc-course data prepare --record 12 14`` runs those lessons in
lecture mode with :data:`ENV_LOG` set, so that every cached request they make is logged (:func:`note_request`), and
writes the plan from the log. Re-record after changing a lesson's sample sizes or seeds, or the generator.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlmc_course.data.request_log import ENV_LOG, note_request, read_log  # noqa: F401  (note_request re-exported)

PLAN = Path(__file__).with_name("prepared.json")
PLAN_FORMAT = 1


def content_sha256(sample) -> str:
    """The sha256 of an :class:`~mlmc_course.data.pythia.EventSample`'s arrays (names, dtypes, shapes and bytes).

    Independent of how the sample was stored; ``info`` is not included (it is checked separately, as the key).
    """
    h = hashlib.sha256()
    arrays = {
        "p4": sample.p4,
        "pid": sample.pid,
        "charge": sample.charge,
        "offsets": sample.offsets,
        "params": sample.params,
    }
    arrays.update({f"obs_{k}": v for k, v in sample.observables.items()})
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class PlannedSample:
    """One entry of the plan."""

    file: str
    info: dict
    lessons: tuple[str, ...]
    events: int
    sha256: str

    def for_lessons(self, wanted: Iterable[str] | None) -> bool:
        """True when ``wanted`` is None or names one of this sample's lessons (by number or full name)."""
        if wanted is None:
            return True
        return any(lesson == w or lesson.startswith(f"{w}_") for w in wanted for lesson in self.lessons)


def cache_file(sample: PlannedSample) -> Path:
    """Where the lessons look for a planned sample (the generator's cache path of its request)."""
    from mlmc_course.data import pythia

    return pythia.cache_path(sample.info)


def load_plan(path: str | Path = PLAN) -> list[PlannedSample]:
    """The planned samples (an empty list when there is no plan)."""
    path = Path(path)
    if not path.exists():
        return []
    raw = json.loads(path.read_text())
    if raw.get("format") != PLAN_FORMAT:
        raise ValueError(f"{path}: plan format {raw.get('format')!r}, expected {PLAN_FORMAT}; re-record it")
    return [
        PlannedSample(e["file"], e["info"], tuple(e["lessons"]), int(e["events"]), e["sha256"]) for e in raw["samples"]
    ]


def write_plan(samples: Iterable[PlannedSample], path: str | Path = PLAN, *, mode: str = "lecture") -> Path:
    """Write the plan (entries sorted by file name)."""
    entries = [
        {"file": s.file, "info": s.info, "lessons": list(s.lessons), "events": s.events, "sha256": s.sha256}
        for s in sorted(samples, key=lambda s: s.file)
    ]
    payload = {
        "format": PLAN_FORMAT,
        "mode": mode,
        "made_by": "mlmc-course data prepare --record (runs the lessons and logs their cached requests)",
        "samples": entries,
    }
    Path(path).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return Path(path)


def stale_fields(info: Mapping) -> list[str]:
    """The fields of a recorded request that the installed generator would now fill in differently."""
    from mlmc_course.data import pythia

    now = {"format": pythia.FORMAT_VERSION, "pythia8mc": pythia._pythia_version()}
    if info.get("kind") == "point":
        now["chunk"] = pythia.CHUNK
    return sorted(k for k, v in now.items() if info.get(k) != v)


def regenerate(info: Mapping, *, n_workers: int | None = None, progress: bool = True):
    """Make the sample that ``info`` (a logged request) describes, through the generator's public functions.

    Raises a ValueError when the generator would now describe that request differently (another generator version
    or format): the plan is then stale and must be re-recorded.
    """
    from mlmc_course.data import pythia

    kind = info.get("kind")
    if kind == "point":
        sample = pythia.generate(
            info["point"], info["n_events"], seed=info["seed"], n_workers=n_workers, progress=progress
        )
    elif kind == "scan":
        sample = pythia.generate_scan(
            info["n_events"],
            ranges={k: tuple(v) for k, v in info["ranges"].items()},
            events_per_point=info["events_per_point"],
            seed=info["seed"],
            n_workers=n_workers,
            progress=progress,
        )
    else:
        raise ValueError(f"the plan has a sample of unknown kind {kind!r}; re-record it (data prepare --record)")
    if dict(sample.info) != dict(info):
        changed = sorted(k for k in set(info) | set(sample.info) if info.get(k) != sample.info.get(k))
        raise ValueError(
            f"the generator now describes this request differently ({', '.join(changed)} changed): the plan is "
            "stale; re-record it with `mlmc-course data prepare --record 12 14`"
        )
    return sample


def _remove(path: Path) -> None:
    """Delete a cached sample and its sha256 record (``<file>.sha256``, written by the generator's cache)."""
    from mlmc_course.data.store import checksum_path

    path.unlink(missing_ok=True)
    checksum_path(path).unlink(missing_ok=True)


def prepare(
    lessons: Iterable[str] | None = None,
    *,
    n_workers: int | None = None,
    plan: str | Path = PLAN,
    progress: bool = True,
    echo=print,
) -> list[str]:
    """Generate (or find in the cache) every planned sample of ``lessons`` (None: all) and check its sha256.

    Returns the problems found (empty when every sample is in the cache with its planned content). A cached file
    whose content differs from the plan is regenerated once; if the regenerated sample still differs, that is a
    problem (the generator does not reproduce the recorded sample here).
    """
    from mlmc_course.data import pythia

    wanted = None if lessons is None else list(lessons)
    todo = [s for s in load_plan(plan) if s.for_lessons(wanted)]
    total = sum(s.events for s in todo)
    echo(f"data prepare: {len(todo)} samples, {total} events, into {pythia.cache_path({}).parent}")
    problems: list[str] = []
    start_all = time.perf_counter()
    for i, s in enumerate(todo, 1):
        head = f"[{i}/{len(todo)}] {', '.join(s.lessons)}: {s.file} ({s.events} events)"
        stale = stale_fields(s.info)
        if stale:
            problems.append(
                f"{s.file}: recorded with another generator ({', '.join(stale)} changed): the plan is stale; "
                "re-record it with `mlmc-course data prepare --record 12 14`"
            )
            continue
        path = pythia.cache_path(s.info)
        if path.name != s.file:
            problems.append(f"{s.file}: the cache key of its request is now {path.name}; re-record the plan")
            continue
        start = time.perf_counter()
        found = False
        if path.exists():
            try:
                found = content_sha256(pythia.EventSample.load(path)) == s.sha256
                why = "differs from the plan"
            except Exception as err:  # a truncated or unreadable file: regenerate it
                why = f"is unreadable ({type(err).__name__})"
            if not found:
                echo(f"{head}: the cached file {why}, regenerating")
                _remove(path)
        if found:
            echo(f"{head}: in the cache, sha256 ok")
            continue
        echo(f"{head}: generating")
        try:
            sample = regenerate(s.info, n_workers=n_workers, progress=progress)
        except ValueError as err:
            problems.append(f"{s.file}: {err}")
            continue
        digest = content_sha256(sample)
        if digest != s.sha256:
            problems.append(f"{s.file}: sha256 {digest[:16]}... differs from the plan's {s.sha256[:16]}...")
            _remove(path)  # never leave a sample the lessons would use unverified
            continue
        echo(f"{head}: made in {time.perf_counter() - start:.1f} s, sha256 ok")
    echo(f"data prepare: done in {time.perf_counter() - start_all:.1f} s, {len(problems)} problem(s)")
    for p in problems:
        echo(f"FAIL {p}")
    return problems


def record(root: Path, lessons: Iterable[str], *, mode: str = "lecture", plan: str | Path = PLAN, echo=print):
    """Run ``lessons`` (solution notebooks) in ``mode`` with the request log on, and write the plan from the log.

    Entries of lessons not run are kept. Samples are hashed from the cache, where the run left them.
    """
    import tempfile

    from mlmc_course.data import pythia
    from mlmc_course.runner import run_notebook

    notebooks = sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    chosen = [nb for nb in notebooks if any(nb.stem == w or nb.stem.startswith(f"{w}_") for w in lessons)]
    if not chosen:
        raise ValueError(f"no solution notebooks match {list(lessons)}")
    stems = {nb.stem for nb in chosen}
    kept = [s for s in load_plan(plan) if not set(s.lessons) & stems]
    by_file: dict[str, tuple[dict, set[str], int]] = {}
    before = os.environ.get(ENV_LOG)
    with tempfile.TemporaryDirectory(prefix="mlmc-record-") as tmp:
        for nb in chosen:
            log = Path(tmp) / f"{nb.stem}.jsonl"
            os.environ[ENV_LOG] = str(log)
            try:
                run = run_notebook(nb, mode)
            finally:
                if before is None:
                    os.environ.pop(ENV_LOG, None)
                else:
                    os.environ[ENV_LOG] = before
            if not run.ok:
                raise RuntimeError(f"{nb.stem} failed while recording: {run.error.splitlines()[0]}")
            requests = read_log(log)
            echo(f"{nb.stem}: {run.wall_s:.0f} s, {len(requests)} cached sample requests")
            for r in requests:
                info, lessons_of, events = by_file.get(r["file"], (r["info"], set(), r["events"]))
                by_file[r["file"]] = (info, lessons_of | {nb.stem}, events)
    samples = list(kept)
    for file, (info, lessons_of, events) in by_file.items():
        path = pythia.cache_path(info)
        samples.append(
            PlannedSample(file, info, tuple(sorted(lessons_of)), events, content_sha256(pythia.EventSample.load(path)))
        )
    out = write_plan(samples, plan, mode=mode)
    echo(f"wrote {out} ({len(samples)} samples)")
    return samples


def prepare_command(args) -> int:
    """``mlmc-course data prepare [LESSON ...] [--workers N] [--record]``."""
    lessons = [x for item in (args.lessons or []) for x in item.split(",") if x] or None
    if args.record:
        from mlmc_course.course import find_root

        root = find_root(Path(args.root) if getattr(args, "root", None) else None)
        record(root, lessons or ["12", "14"])
        return 0
    problems = prepare(lessons, n_workers=args.workers)
    return 1 if problems else 0

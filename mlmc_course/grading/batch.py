"""Batch grading: many submissions in parallel sandboxes, a gradebook, and what a lecturer wants to see after.

``mlmc-course grade SUBMISSIONS... --gradebook grades.csv`` collects notebooks (files, or folders searched
recursively), grades each in its own sandbox (:mod:`.grade`), ``jobs`` at a time, with a progress bar, writes one
gradebook row per student and question, and prints per-question statistics: mean score, share passed, flagged
and stopped counts, and the most common failure messages.
"""

from __future__ import annotations

import csv
import textwrap
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from mlmc_course.grading import isolate
from mlmc_course.grading.grade import (
    Canonical,
    GradingError,
    NotACourseNotebook,
    QuestionResult,
    Submission,
    grade_submission,
    read_submission,
    sandbox_paths,
)

GRADEBOOK_FIELDS = ("student", "lesson", "question", "score", "possible", "status", "message", "review")


@dataclass
class Entry:
    """One submission of a batch: who, which file, and its grade (or why it has none)."""

    student: str
    path: Path
    submission: Submission | None = None
    error: str = ""


def collect(paths: list[str | Path]) -> list[Entry]:
    """The notebooks under ``paths`` (files or folders), each named by its path relative to their common folder."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in f.parts)
        else:
            files.append(p)
    resolved = [f.resolve() for f in files]
    if not resolved:
        return []
    parents = [f.parent for f in resolved]
    common = parents[0]
    while not all(common == p or common in p.parents for p in parents):
        common = common.parent
    return [Entry(str(r.relative_to(common).with_suffix("")), f) for f, r in zip(files, resolved, strict=True)]


def grade_batch(
    entries: list[Entry],
    root: Path,
    *,
    jobs: int = 2,
    mode: str = "ci",
    limits: isolate.Limits | None = None,
    use_screen: bool = True,
    progress: bool = True,
) -> list[Entry]:
    """Grade every entry, ``jobs`` sandboxes at a time; a submission that cannot be graded gets ``error``."""
    from tqdm.auto import tqdm

    limits = limits or isolate.Limits()
    hide, keep = sandbox_paths(root, [e.path for e in entries])
    canonical: dict[str, Canonical] = {}
    for e in entries:
        try:
            _, stem = read_submission(e.path)
            if stem not in canonical:
                canonical[stem] = Canonical.load(root, stem)
        except (NotACourseNotebook, FileNotFoundError, GradingError) as err:
            e.error = str(err)

    def one(e: Entry) -> Entry:
        try:
            _, stem = read_submission(e.path)
            e.submission = grade_submission(
                e.path,
                root,
                mode=mode,
                limits=limits,
                use_screen=use_screen,
                canonical=canonical[stem],
                hide=hide,
                keep=keep,
            )
        except (GradingError, OSError, ValueError) as err:
            e.error = f"{type(err).__name__}: {err}"
        return e

    todo = [e for e in entries if not e.error]
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, e) for e in todo]
        for f in tqdm(as_completed(futures), total=len(futures), desc="grading", unit="notebook", disable=not progress):
            f.result()
    for c in canonical.values():
        c.verify_unchanged()
    return entries


def rows(entries: list[Entry]) -> list[dict]:
    """Gradebook rows: one per student and question (one row with the error when a notebook was not graded)."""
    out = []
    for e in entries:
        if e.submission is None:
            out.append(
                dict(
                    student=e.student,
                    lesson="",
                    question="",
                    score=0.0,
                    possible=0.0,
                    status="error",
                    message=e.error,
                    review="",
                )
            )
            continue
        for r in e.submission.results:
            out.append(
                dict(
                    student=e.student,
                    lesson=e.submission.stem,
                    question=r.name,
                    score=r.score,
                    possible=r.possible,
                    status=r.status,
                    message=r.message,
                    review="; ".join(r.review),
                )
            )
    return out


def write_gradebook(entries: list[Entry], path: Path) -> None:
    """Write the gradebook CSV (atomically: a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=GRADEBOOK_FIELDS)
        writer.writeheader()
        writer.writerows(rows(entries))
    tmp.replace(path)


@dataclass
class QuestionStats:
    """How a question went across a batch."""

    lesson: str
    question: str
    n: int
    mean_score: float
    possible: float
    share_passed: float
    flagged: int
    stopped: int
    failures: list[tuple[str, int]] = field(default_factory=list)  # most common messages, with counts


def statistics(entries: list[Entry], top: int = 3) -> list[QuestionStats]:
    """Per-question statistics over the graded entries, in lesson and question order."""
    by_q: dict[tuple[str, str], list[QuestionResult]] = {}
    for e in entries:
        if e.submission is not None:
            for r in e.submission.results:
                by_q.setdefault((e.submission.stem, r.name), []).append(r)
    out = []
    for (lesson, q), results in by_q.items():
        failures = Counter(_gist(r.message) for r in results if r.status != "passed")
        out.append(
            QuestionStats(
                lesson=lesson,
                question=q,
                n=len(results),
                mean_score=sum(r.score for r in results) / len(results),
                possible=results[0].possible,
                share_passed=sum(r.status == "passed" for r in results) / len(results),
                flagged=sum(r.status == "flagged" for r in results),
                stopped=sum(r.status == "stopped" for r in results),
                failures=failures.most_common(top),
            )
        )
    return sorted(out, key=lambda s: (s.lesson, s.question))


def _gist(message: str) -> str:
    """A failure message without the parts that differ between students (review details after the first)."""
    if message.startswith("flagged for review: "):
        return "flagged for review"
    return message


def format_statistics(stats: list[QuestionStats], width: int = 110) -> str:
    """The statistics as text: one block per question, failure messages wrapped, never cut."""
    lines = [f"{'lesson/question':40s} {'n':>4s} {'mean':>11s} {'passed':>7s} {'flagged':>8s} {'stopped':>8s}"]
    for s in stats:
        name = f"{s.lesson}/{s.question}"
        mean = f"{s.mean_score:.2f}/{s.possible:g}"
        lines.append(f"{name:40s} {s.n:4d} {mean:>11s} {100 * s.share_passed:6.0f}% {s.flagged:8d} {s.stopped:8d}")
        for message, count in s.failures:
            wrapped = textwrap.wrap(f"{count} x {message}", width - 6)
            lines += ["    - " + wrapped[0]] + ["      " + w for w in wrapped[1:]]
    return "\n".join(lines)


def format_totals(entries: list[Entry]) -> str:
    """One line per student: total, flagged questions, or why the notebook was not graded."""
    width = max([len("student"), *(len(e.student) for e in entries)])
    lines = [f"{'student':{width}s}  lesson                 score"]
    for e in entries:
        s = e.submission
        if s is None:
            lines.append(f"{e.student:{width}s}  {'-':22s} not graded: {e.error}")
            continue
        notes = []
        if s.flagged:
            notes.append("flagged for review")
        stopped = [r.name for r in s.results if r.status == "stopped"]
        if stopped:
            notes.append("stopped: " + ", ".join(stopped))
        lines.append(f"{e.student:{width}s}  {s.stem:22s} {s.score:5.1f} / {s.possible:<5g} {'; '.join(notes)}")
    return "\n".join(lines)


def default_jobs(memory_mb: int) -> int:
    """As many sandboxes as there are cores, but no more than the free memory holds at their limit."""
    import os

    import psutil

    by_memory = int(psutil.virtual_memory().available / 2**20 // max(memory_mb, 1))
    return max(1, min(os.cpu_count() or 1, by_memory))


def grade_command(
    paths: list[str],
    *,
    root: Path | None,
    mode: str = "ci",
    timeout: float = 600,
    memory: int = 4096,
    jobs: int | None = None,
    gradebook: str | None = None,
    use_screen: bool = True,
) -> int:
    """``mlmc-course grade``: one notebook prints its table; several (or ``--gradebook``) are a batch.

    Exit status 0 when every notebook was graded (whatever the scores), 1 when some could not be, 2 on a bad
    single path (raised as :class:`NotACourseNotebook` or ``FileNotFoundError``).
    """
    import sys

    from mlmc_course.grading.grade import format_submission

    if root is None:
        raise FileNotFoundError("run `mlmc-course grade` inside the course folder (the one with autograder/)")
    limits = isolate.Limits(cpu_s=timeout, memory_mb=memory)
    for warning in isolate.probe().warnings():
        print(f"mlmc-course grade: warning: {warning}", file=sys.stderr)
    if len(paths) == 1 and Path(paths[0]).is_file() and not gradebook:
        sub = grade_submission(paths[0], root, mode=mode, limits=limits, use_screen=use_screen)
        print(format_submission(sub))
        return 0
    entries = collect(paths)
    if not entries:
        raise FileNotFoundError(f"no notebooks (.ipynb) found in {' '.join(paths)}")
    jobs = jobs or default_jobs(memory)
    grade_batch(entries, root, jobs=jobs, mode=mode, limits=limits, use_screen=use_screen)
    print(format_totals(entries))
    print()
    print(format_statistics(statistics(entries)))
    if gradebook:
        write_gradebook(entries, Path(gradebook))
        print(f"\nwrote {gradebook}: {len(rows(entries))} rows for {len(entries)} notebooks")
    return 1 if any(e.error for e in entries) else 0

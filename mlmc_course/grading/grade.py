"""``mlmc-course grade``: score submissions with the canonical checks, hidden tests included, in a sandbox.

Threat model
============

A submission is a notebook written by someone who may want full marks without doing the work, or who may run
something harmful by mistake. The grader trusts only its own files: the canonical autograder notebook
(``autograder/NN_*.ipynb``: setup cells, statements, test cases, points) and the check modules of the package it
runs from. From the submission it takes **the code cells between an exercise's statement and its check cell**
(the answer cells), as text. What a submission may try, and what the grader does:

Patch the grader (``otter.Notebook.check = ...``, replace ``checks.f`` after the setup cell, set the points)
    The grader never runs otter or the submission's other cells; a cell added anywhere outside an exercise is not
    run at all, and points come from the canonical notebook, not from the submission's metadata. Answer cells
    are screened statically (:mod:`.screen`): importing or naming the grader, assigning to attributes of
    modules or of anything the cell did not create, ``setattr``, ``sys.modules``, ``builtins``, dunders such as
    ``__code__``/``__globals__``, ``gc``/``inspect``/``ctypes``, ``exec``/``eval``/``compile``, frames and
    tracebacks are *flagged*: the question is not run, scores 0 and is listed for review.
Patch builtins, ``sys.modules`` or a library function that a check calls
    Flagged by the screen, and undone anyway: the worker (:mod:`.worker`) snapshots ``builtins``,
    ``sys.modules`` and the functions and modules bound in numpy, scipy, torch, mlmc_course, ... after the
    canonical setup cell, and restores them before every test case.
Replace or wrap the checks themselves
    The check modules are compiled **fresh for every test case, after the student's code ran**, from sources that
    the supervisor read and hashed (sha256, verified in the worker, reported with the grades and compared with
    the files on disk after the batch); the fresh modules are never placed where the student's code could reach
    them. Test cases run in a namespace where the setup's names and the fresh ``checks`` win over the answer's.
Fool a comparison (return an object whose ``__eq__``/``__lt__``/``__float__`` lie)
    Flagged: classes defining comparison or arithmetic dunders, subclassing number, array or tensor types, or
    setting a metaclass. Checks also convert answers with ``np.asarray(..., dtype=float)``.
Print a fake result ("All test cases passed!", or a fake result line)
    Printed output goes to a log that nobody parses. Results travel on a separate pipe, one line per message,
    each ``HMAC-SHA256`` with a key that the worker read from its standard input before any student code ran,
    and numbered. Bytes the student's code writes into that pipe (it could find it as ``/proc/self/fd/N``)
    fail verification, and a submission whose channel carried any unverified line is flagged as a whole.
Read the hidden tests, the solutions or other students' files
    The worker gets only its own answers and tests (on stdin, then closed). In its mount namespace
    ``autograder/``, ``solutions/``, ``lessons/``, ``.git``, ``_build/`` and the folders of all submissions are
    empty; it runs as a fresh unprivileged user, so other users' private files stay closed too. File access
    through libraries (``np.fromfile``, ``np.load``, ...) is flagged by the screen as well.
Write outside the scratch folder
    Everything is mounted read-only except a private, size-limited ``tmpfs`` scratch (``/tmp``, ``/var/tmp``,
    ``/dev/shm``, ``/run/lock``), which disappears with the sandbox; files are limited in size (``RLIMIT_FSIZE``).
Loop forever, exhaust memory, fork without end
    CPU seconds per question (``RLIMIT_CPU``, moved per question), a wall-clock limit per question, the address
    space (``RLIMIT_AS``) and the number of processes of the sandbox user (``RLIMIT_NPROC``). A question that hits
    a limit is *stopped* and scores 0; the sandbox is killed (its process group and every process of its user),
    and a fresh one grades the remaining questions. Other submissions of a batch run in their own sandboxes.
Use the network
    A new network namespace without interfaces; socket, urllib and friends are also outside the imports that
    answers may use.

Where Linux namespaces or root are missing, the grader says so in a warning and runs with what it has
(:class:`.isolate.Capabilities`). What remains open: an answer that finds a route the screen does not know and
rewrites state the snapshot does not cover (e.g. the contents of a module-level dict of the package, or a class
attribute) could influence a check; it still cannot read the hidden tests, forge the channel without the key (it
would have to locate the key in its own process memory), or reach the network or files. ``--no-screen`` runs
flagged questions too, for a lecturer's review: their scores are then only as good as these layers.
"""

from __future__ import annotations

import doctest
import hashlib
import json
import os
import re
import secrets
import selectors
import signal
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from mlmc_course.config import ENV_MODE, ENV_THREADS
from mlmc_course.grading import isolate, screen
from mlmc_course.grading.regions import canonical_statements, defined_names, regions

GRADER_RE = re.compile(r'otter\.Notebook\("(?P<name>[0-9]{2}_[a-z0-9_]+)\.ipynb"\)')
STATUSES = ("passed", "failed", "flagged", "stopped", "error")


class NotACourseNotebook(ValueError):
    """The path is not a notebook generated by this course."""


class GradingError(RuntimeError):
    """The grader itself could not run (its setup failed, or its check code changed)."""


@dataclass
class QuestionResult:
    """The grade of one question.

    Attributes:
        status: ``passed``; ``failed`` (a test case failed); ``flagged`` (the screen found something, not run);
            ``stopped`` (ran past a limit of time, memory or processes); ``error`` (not graded: see message).
        review: the screen's findings and notes, for the lecturer.
    """

    name: str
    score: float
    possible: float
    passed: bool
    message: str
    status: str = "passed"
    review: list[str] = field(default_factory=list)


@dataclass
class Case:
    code: str
    hidden: bool
    points: float


@dataclass
class CanonicalQuestion:
    name: str
    statement: str
    cases: list[Case]
    twins: dict[str, str]

    @property
    def possible(self) -> float:
        return sum(c.points for c in self.cases)


@dataclass
class Canonical:
    """What the grader trusts for one lesson, read from the autograder notebook and the package."""

    stem: str
    setup: list[str]
    questions: list[CanonicalQuestion]
    checks: list[list[str]]  # [[module, filename, source, sha256], ...], dependencies first
    files: list[Path]  # where the check sources and the autograder notebook were read from
    sha256: str  # of the check sources and the test specification together
    cells: frozenset[str] = frozenset()  # the sources of the autograder's code cells

    @classmethod
    def load(cls, root: Path, stem: str) -> Canonical:
        from otter.test_files.ok_test import OKTestFile

        from mlmc_course.grading.release import package_dir, public_names

        path = root / "autograder" / f"{stem}.ipynb"
        if not path.exists():
            raise NotACourseNotebook(f"no autograder for lesson {stem} in {root / 'autograder'}")
        nb = nbformat.read(path, as_version=4)
        tests = nb.metadata["otter"]["tests"]
        statements = canonical_statements(nb, list(tests))
        found = regions(nb, statements)
        setup = [c.source for c in nb.cells if {"parameters", "setup"} & set(c.metadata.get("tags", []))]
        package = package_dir()
        names = public_names(package)
        questions = []
        for name, spec in tests.items():
            test = OKTestFile.from_spec(spec)
            cases = []
            for tc in test.test_cases:
                examples = doctest.DocTestParser().get_examples(tc.body)
                if any(ex.want.strip() for ex in examples):
                    raise GradingError(f"{stem}/{name}: a test case expects printed output; the grader cannot check it")
                cases.append(Case(tc.body, tc.hidden, float(tc.points)))
            functions = [f for i in found[name].answers for f in defined_names(nb.cells[i].source)]
            twins = {f: ", ".join(names[f]) for f in functions if f in names}
            questions.append(CanonicalQuestion(name, statements[name], cases, twins))
        module = f"l{stem}"
        files = [package / "checks" / "core.py", package / "checks" / f"{module}.py", path]
        checks = []
        for mod_name, file in zip(
            (f"{package.name}.checks.core", f"{package.name}.checks.{module}"), files[:2], strict=True
        ):
            if not file.exists():
                raise GradingError(f"the check module {file} is missing")
            source = file.read_text()
            checks.append([mod_name, str(file), source, hashlib.sha256(source.encode()).hexdigest()])
        digest = hashlib.sha256(
            json.dumps([[c[0], c[3]] for c in checks] + [tests], sort_keys=True).encode()
        ).hexdigest()
        cells = frozenset(c.source for c in nb.cells if c.cell_type == "code")
        return cls(stem, setup, questions, checks, files, digest, cells)

    def verify_unchanged(self) -> None:
        """Raise :class:`GradingError` when a check file or the autograder changed on disk since it was read."""
        fresh = Canonical.load(self.files[2].parents[1], self.stem)
        if fresh.sha256 != self.sha256:
            raise GradingError(f"the check code of {self.stem} changed on disk while grading; grade again")


@dataclass
class Submission:
    """One graded notebook."""

    path: Path
    stem: str
    results: list[QuestionResult]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the screen found in cells outside the exercises
    checks_sha256: str = ""
    wall_s: float = 0.0
    peak_mb: float = 0.0
    restarts: int = 0
    sandbox_uids: list[int] = field(default_factory=list)  # the users its sandboxes ran as (empty without root)

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results)

    @property
    def possible(self) -> float:
        return sum(r.possible for r in self.results)

    @property
    def flagged(self) -> bool:
        return any(r.status == "flagged" for r in self.results)


def identify(nb: nbformat.NotebookNode, path: Path) -> str:
    """The lesson stem of a course notebook, from its grader cell; raises :class:`NotACourseNotebook`."""
    if "otter" not in nb.metadata:
        raise NotACourseNotebook(f"{path} is not a course notebook: it has no otter metadata (is it from notebooks/?)")
    for cell in nb.cells:
        if cell.cell_type == "code":
            m = GRADER_RE.search(cell.source)
            if m:
                return m["name"]
    raise NotACourseNotebook(f"{path} has no `grader = otter.Notebook(...)` cell; restore it from notebooks/")


def read_submission(path: str | Path) -> tuple[nbformat.NotebookNode, str]:
    """The notebook at ``path`` and its lesson stem; raises :class:`NotACourseNotebook` or FileNotFoundError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix != ".ipynb":
        raise NotACourseNotebook(f"{path} is not a notebook (.ipynb)")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:
        raise NotACourseNotebook(f"{path} is not a readable notebook: {err}") from err
    return nb, identify(nb, path)


def worker_env(mode: str) -> dict[str, str]:
    """The sandbox's whole environment: nothing of the grader's own."""
    from mlmc_course.data.store import cache_dir
    from mlmc_course.grading.release import package_dir

    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "USER": "student",
        "LOGNAME": "student",
        "PYTHONPATH": str(package_dir().parent),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        ENV_MODE: mode,
        ENV_THREADS: "1",
        "MPLBACKEND": "Agg",
        "TF_USE_LEGACY_KERAS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MLMC_COURSE_CACHE": str(cache_dir(create=False)),
    }


def sandbox_paths(root: Path, submissions: list[Path]) -> tuple[list[Path], list[Path]]:
    """``(hide, keep)``: the folders a sandbox must not see, and those it needs even inside a hidden one.

    Hidden: the homes (the grader's own files), the course's solutions, hidden tests, sources, history and build
    folder, and the folders of the submissions. Kept: the package, the Python installation, the data and the cache.
    """
    from mlmc_course.data.store import cache_dir
    from mlmc_course.grading.release import package_dir

    package = package_dir()
    keep = [package, Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent]
    keep += [cache_dir(create=False), root / "data"]
    keep = [p.resolve() for p in keep]
    hide = [p.resolve() for p in (Path.home(), Path("/home"), Path("/root")) if p.is_dir() and p != Path("/")]
    for base in {root.resolve(), package.parent}:
        hide += [base / d for d in ("autograder", "solutions", "lessons", "_build")] + _git_dirs(base)
    for sub in submissions:
        folder = Path(sub).resolve().parent
        if not any(k == folder or folder in k.parents for k in keep):
            hide.append(folder)
    return sorted(set(hide)), keep


def _git_dirs(folder: Path) -> list[Path]:
    """The git folders of a checkout (a worktree's ``.git`` is a file naming a folder in the main one)."""
    dot = folder / ".git"
    if dot.is_dir():
        return [dot]
    if dot.is_file() and dot.read_text().startswith("gitdir:"):
        gitdir = (folder / dot.read_text().split(":", 1)[1].strip()).resolve()
        common = gitdir / "commondir"
        return [gitdir, (gitdir / common.read_text().strip()).resolve() if common.is_file() else gitdir]
    return []


def _font_cache() -> list[tuple[Path, str]]:
    """Matplotlib's font list, copied into each sandbox so that it does not rebuild it (about a second)."""
    try:
        import matplotlib

        cache = Path(matplotlib.get_cachedir())
    except Exception:
        return []
    return [(p, f".cache/matplotlib/{p.name}") for p in cache.glob("fontlist-*.json")]


class Tampered(Exception):
    """The result channel carried a line the worker did not write."""


class _Channel:
    """Reads and verifies the worker's authenticated lines."""

    def __init__(self, fd: int, key: bytes):
        self.fd, self.key, self.buffer, self.seq = fd, key, b"", 0
        os.set_blocking(fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(fd, selectors.EVENT_READ)
        self.closed = False

    def read(self, timeout: float) -> list[dict]:
        """Messages that arrived within ``timeout`` seconds (an empty list when none)."""
        import hmac

        if not self.closed and self.selector.select(timeout):
            while True:
                try:
                    chunk = os.read(self.fd, 1 << 16)
                except BlockingIOError:
                    break
                if not chunk:
                    self.closed = True
                    break
                self.buffer += chunk
                if len(self.buffer) > 1 << 24:
                    raise Tampered("more than 16 MB on the result channel")
        out = []
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            digest, _, body = line.partition(b" ")
            want = hmac.new(self.key, body, hashlib.sha256).hexdigest().encode()
            if not hmac.compare_digest(digest, want):
                raise Tampered(f"an unauthenticated line on the result channel: {line[:80]!r}")
            msg = json.loads(body)
            if msg.get("seq") != self.seq:
                raise Tampered("a replayed or reordered message on the result channel")
            self.seq += 1
            out.append(msg)
        if self.closed and self.buffer:
            raise Tampered("an unterminated line on the result channel")
        return out


def _stop_reason(exit: isolate.Exit, limits: isolate.Limits, timed_out: bool) -> str:
    if timed_out:
        return f"stopped: ran past its {limits.question_wall_s:.0f} s wall-clock limit"
    if exit.signal == signal.SIGXCPU:
        return f"stopped: used up its {limits.cpu_s:.0f} CPU seconds"
    if exit.returncode == isolate.LAUNCH_FAILED:
        return "error: the sandbox could not be set up"
    return f"stopped: the graded run ended abnormally ({exit.describe()}, peak memory {exit.maxrss_mb:.0f} MB)"


def _run(
    canonical: Canonical,
    answers: dict[str, list[str]],
    *,
    mode: str,
    limits: isolate.Limits,
    hide: list[Path],
    keep: list[Path],
    caps: isolate.Capabilities,
) -> tuple[dict[str, dict], dict[str, str], float, list[int], int]:
    """Run the questions in ``answers`` (in canonical order) in sandboxes until each has an outcome.

    Returns ``(results, stopped, peak_mb, uids, sandboxes)``: the worker's result message per question, the
    reason per stopped question, the largest peak memory of a sandbox, their users and how many were started.
    """
    questions = [q for q in canonical.questions if q.name in answers]
    plan_questions = [
        {"name": q.name, "answers": answers[q.name], "cases": [c.code for c in q.cases]} for q in questions
    ]
    results: dict[str, dict] = {}
    stopped: dict[str, str] = {}
    peak, start, uids = 0.0, 0, []
    argv = [sys.executable, "-m", "mlmc_course.grading.worker", "{channel}"]
    while start < len(questions):
        key = secrets.token_bytes(32)
        plan = {
            "key": key.hex(),
            "setup": canonical.setup,
            "checks": canonical.checks,
            "questions": plan_questions,
            "start": start,
            "skip": list(stopped),
            "cpu_s": limits.cpu_s,
        }
        box = isolate.start(
            argv,
            worker_env(mode),
            limits=limits,
            stdin=json.dumps(plan).encode(),
            hide=hide,
            keep=keep,
            seed_files=_font_cache(),
            caps=caps,
        )
        uids.append(box.uid)
        channel = _Channel(box.channel, key)
        deadline = time.monotonic() + limits.setup_s
        current, ready, done, timed_out, tampered = None, False, False, False, None
        setup_error = None
        try:
            while not done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                exited = box.poll() is not None
                for msg in channel.read(0 if exited else min(remaining, 0.5)):
                    kind = msg["kind"]
                    if kind == "setup_error":
                        setup_error = msg["message"]
                    elif kind == "ready":
                        ready = True
                        deadline = time.monotonic() + limits.question_wall_s
                    elif kind == "start":
                        current = msg["q"]
                        deadline = time.monotonic() + limits.question_wall_s
                    elif kind == "result":
                        results[msg["q"]] = msg
                        current = None
                    elif kind == "done":
                        done = True
                if exited or channel.closed or setup_error:
                    break
        except Tampered as err:
            tampered = err
        finally:
            if not done:
                box.kill()
            exit = box.finish()
        peak = max(peak, exit.maxrss_mb)
        if tampered:
            raise tampered
        if setup_error:
            raise GradingError(f"the lesson's setup cells failed in the sandbox: {setup_error}")
        if done:
            break
        if not ready and not timed_out:
            if exit.returncode == isolate.LAUNCH_FAILED:
                raise GradingError(f"the sandbox could not be set up: {box.log_tail()}")
            raise GradingError(
                f"the graded run stopped during the lesson's setup ({exit.describe()}): {box.log_tail()}"
            )
        if not ready and timed_out:
            raise GradingError(f"the lesson's setup ran past {limits.setup_s:.0f} s in the sandbox")
        names = [q.name for q in questions]
        if current is None:  # died between questions: blame the first one without a result
            current = next((n for n in names[start:] if n not in results), None)
            if current is None:
                break
        stopped[current] = _stop_reason(exit, limits, timed_out)
        start = names.index(current) + 1
    return results, stopped, peak, [u for u in uids if u is not None], len(uids)


def _score(q: CanonicalQuestion, msg: dict, limits: isolate.Limits) -> QuestionResult:
    cases = msg["cases"]
    score = sum(c.points for c, r in zip(q.cases, cases, strict=True) if r["passed"])
    passed = len(cases) == len(q.cases) and all(r["passed"] for r in cases)
    message, status = "", "passed" if passed else "failed"
    if not passed:
        failed = [(c, r) for c, r in zip(q.cases, cases, strict=True) if not r["passed"]]
        case, first = failed[0]
        message = ("hidden test: " if case.hidden else "") + first["message"]
        if msg.get("answer_error"):
            message = f"the answer cell failed: {msg['answer_error']}"
        if any(r.get("kind") == "memory" for _, r in failed) or "MemoryError" in (msg.get("answer_error") or ""):
            status = "stopped"
            message = f"stopped: ran out of its {limits.memory_mb} MB memory limit ({message})"
    return QuestionResult(q.name, float(score), q.possible, passed, message, status)


def grade_submission(
    path: str | Path,
    root: Path,
    *,
    mode: str = "ci",
    limits: isolate.Limits | None = None,
    use_screen: bool = True,
    canonical: Canonical | None = None,
    hide: list[Path] | None = None,
    keep: list[Path] | None = None,
) -> Submission:
    """Grade one notebook against ``root/autograder`` in a sandbox; see the module docstring.

    Args:
        path: the submission (a course notebook, ``.ipynb``).
        root: the course folder holding ``autograder/``.
        mode: the run mode of the graded run (``ci`` is the fastest; checks are the same in every mode).
        limits: resource limits (:class:`.isolate.Limits`).
        use_screen: screen answer cells and skip flagged questions (False: run them anyway, still sandboxed).
        canonical: the lesson's :class:`Canonical` (read from ``root`` when not given).
        hide, keep: the sandbox's hidden and kept folders (default :func:`sandbox_paths` for this submission).
    """
    started = time.monotonic()
    path = Path(path)
    limits = limits or isolate.Limits()
    nb, stem = read_submission(path)
    own_canonical = canonical is None
    canonical = canonical or Canonical.load(Path(root), stem)
    if canonical.stem != stem:
        raise NotACourseNotebook(f"{path} is lesson {stem}, not {canonical.stem}")
    caps = isolate.probe()
    if hide is None or keep is None:
        hide, keep = sandbox_paths(Path(root), [path])
    found = regions(nb, {q.name: q.statement for q in canonical.questions})
    outcome: dict[str, QuestionResult] = {}
    answers: dict[str, list[str]] = {}
    for q in canonical.questions:
        region = found[q.name]
        if region.check is None:
            outcome[q.name] = QuestionResult(
                q.name, 0.0, q.possible, False, f'the check cell grader.check("{q.name}") is missing', "failed"
            )
            continue
        ctx = screen.context_from_setup(canonical.setup, q.twins)
        flags, notes, sources = [], [], []
        if region.statement is None:
            notes.append("the exercise's statement cell was edited or removed: graded the cell above the check")
        for k in region.answers:
            source, cell_findings, cell_notes = screen.screen(nb.cells[k].source, ctx)
            sources.append(source)
            flags += [f"cell {k + 1}, {f}" for f in cell_findings]
            notes += [f"cell {k + 1}, {n}" for n in cell_notes]
        review = flags + notes
        if flags and use_screen:
            outcome[q.name] = QuestionResult(
                q.name, 0.0, q.possible, False, "flagged for review: " + "; ".join(flags), "flagged", review
            )
            continue
        answers[q.name] = sources
        outcome[q.name] = QuestionResult(q.name, 0.0, q.possible, False, "", "error", review)
    graded = {k for r in found.values() for k in r.answers}
    outside = []
    ctx = screen.context_from_setup(canonical.setup)
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and k not in graded and cell.source not in canonical.cells:
            found_here = screen.screen(cell.source, ctx)[1]
            outside += [f"cell {k + 1} (outside the exercises, not run): {f}" for f in found_here]
    peak, uids, sandboxes = 0.0, [], 0
    if answers:
        results, stopped, peak, uids, sandboxes = _run_checked(canonical, answers, mode, limits, hide, keep, caps)
        for q in canonical.questions:
            if q.name not in answers:
                continue
            review = outcome[q.name].review
            if q.name in results:
                outcome[q.name] = _score(q, results[q.name], limits)
            elif q.name in stopped:
                outcome[q.name] = QuestionResult(q.name, 0.0, q.possible, False, stopped[q.name], "stopped")
            else:
                outcome[q.name] = QuestionResult(
                    q.name, 0.0, q.possible, False, "not graded: an earlier question stopped the run", "error"
                )
            outcome[q.name].review = review
    if own_canonical:  # a batch checks once at its end
        canonical.verify_unchanged()
    return Submission(
        path=path,
        stem=stem,
        results=[outcome[q.name] for q in canonical.questions],
        warnings=caps.warnings(),
        notes=outside,
        checks_sha256=canonical.sha256,
        wall_s=time.monotonic() - started,
        peak_mb=peak,
        restarts=max(0, sandboxes - 1),
        sandbox_uids=uids,
    )


def _run_checked(
    canonical: Canonical,
    answers: dict[str, list[str]],
    mode: str,
    limits: isolate.Limits,
    hide: list[Path],
    keep: list[Path],
    caps: isolate.Capabilities,
):
    """:func:`_run`, with a tampered channel turned into a flag on every question."""
    try:
        return _run(canonical, answers, mode=mode, limits=limits, hide=hide, keep=keep, caps=caps)
    except Tampered as err:
        reason = f"flagged for review: the result channel was tampered with ({err})"
        return {}, {q: reason for q in answers}, 0.0, [], 1


def grade(
    path: str | Path,
    root: Path,
    *,
    mode: str = "ci",
    timeout: float = 600,
    limits: isolate.Limits | None = None,
    use_screen: bool = True,
) -> list[QuestionResult]:
    """Grade the notebook at ``path``; one result per question (``timeout``: CPU seconds per question)."""
    limits = limits or isolate.Limits(cpu_s=timeout)
    return grade_submission(path, root, mode=mode, limits=limits, use_screen=use_screen).results


def format_submission(sub: Submission, width: int | None = None) -> str:
    """A per-question table; failure messages and review notes are wrapped, never cut."""
    import shutil

    width = width or max(80, min(shutil.get_terminal_size((100, 24)).columns, 140))
    name_w = max([len("question"), *(len(r.name) for r in sub.results)])
    head = f"{'question':{name_w}s}  score / points  result"
    indent = " " * (name_w + 18)
    lines = [f"{sub.path}  (lesson {sub.stem})", head]
    for r in sub.results:
        note = "passed" if r.status == "passed" else f"{r.status}: {r.message}" if r.status == "failed" else r.message
        if r.status == "stopped" and not note.startswith("stopped"):
            note = f"stopped: {note}"
        first = f"{r.name:{name_w}s}  {r.score:5.1f} / {r.possible:<6.1f}  "
        wrapped = textwrap.wrap(note, width - len(indent), break_long_words=True, break_on_hyphens=False) or [""]
        lines.append(first + wrapped[0])
        lines += [indent + w for w in wrapped[1:]]
        for item in r.review if r.status != "flagged" else []:
            for k, w in enumerate(textwrap.wrap("review: " + item, width - len(indent) - 2)):
                lines.append(indent + ("" if k == 0 else "  ") + w)
    total, possible = sub.score, sub.possible
    share = 100 * total / possible if possible else 0.0
    lines.append(f"{'total':{name_w}s}  {total:5.1f} / {possible:<6.1f}  ({share:.0f}%)")
    for note in sub.notes:
        lines += textwrap.wrap("review: " + note, width, subsequent_indent="  ")
    lines.append(
        f"checks sha256 {sub.checks_sha256[:16]}; graded in {sub.wall_s:.1f} s, peak memory {sub.peak_mb:.0f} MB"
    )
    return "\n".join(lines)

"""``mlmc-course run``: execute solution notebooks and report wall time and peak memory per lesson."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from mlmc_course.config import ENV_MODE

BUDGETS = {"ci": (60.0, 1.5e9), "lecture": (120.0, 1.5e9), "full": (None, None)}
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
DEFAULT_OUT = Path("_build") / "reports"


class WouldOverwrite(ValueError):
    """``mlmc-course run`` was pointed at a report that git tracks; it does not replace it without ``overwrite``."""


@dataclass
class LessonRun:
    """The outcome of running one solution notebook."""

    lesson: str
    ok: bool
    wall_s: float
    peak_rss_mb: float
    error: str = ""
    over_budget: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    """All lessons of one ``mlmc-course run``."""

    mode: str
    machine: str
    runs: list[LessonRun]

    @property
    def ok(self) -> bool:
        """True when every lesson ran without error (budgets are reported, not enforced)."""
        return all(r.ok for r in self.runs)

    def markdown(self) -> str:
        t_budget, m_budget = BUDGETS[self.mode]
        lines = [
            f"# Run report: mode `{self.mode}`",
            "",
            f"Machine: {self.machine}. Budgets per lesson: "
            + (f"{t_budget:.0f} s wall time, {m_budget / 1e9:.1f} GB peak memory." if t_budget else "none."),
            "Peak memory is the largest summed resident set size of the notebook's kernel and its children,",
            "sampled every 50 ms.",
            "",
            "| lesson | status | wall time [s] | peak memory [MB] | within budget |",
            "|---|---|---:|---:|---|",
        ]
        for r in self.runs:
            status = "ok" if r.ok else f"ERROR: {r.error.splitlines()[0][:80] if r.error else ''}"
            budget = "yes" if not r.over_budget else "NO (" + ", ".join(r.over_budget) + ")"
            lines.append(f"| {r.lesson} | {status} | {r.wall_s:.1f} | {r.peak_rss_mb:.0f} | {budget} |")
        total = sum(r.wall_s for r in self.runs)
        lines += ["", f"Total wall time: {total:.0f} s for {len(self.runs)} lessons."]
        return "\n".join(lines) + "\n"


def children_rss() -> int:
    """Summed resident set size (bytes) of this process's children, e.g. a notebook's kernel."""
    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:  # the child ended while we looked
            pass
    return total


class _PeakMemory:
    """Samples the summed RSS of this process's children (the kernel) in a background thread."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, children_rss())
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _tracked(root: Path, path: Path) -> bool:
    """True when ``path`` exists and git tracks it in the repository at ``root`` (False outside a git checkout)."""
    import subprocess

    if not path.exists():
        return False
    try:
        done = subprocess.run(
            ["git", "ls-files", "--error-unmatch", str(path)], cwd=root, capture_output=True, check=False
        )
    except OSError:  # no git on this machine
        return False
    return done.returncode == 0


def machine_description() -> str:
    """CPU count, memory and GPU presence, for the report header."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    mem = psutil.virtual_memory().total / 2**30
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} CPU cores, {mem:.0f} GiB RAM, {gpu}, Python {python}"


def run_notebook(path: Path, mode: str, timeout: int = 1800, keep: Path | None = None) -> LessonRun:
    """Execute one notebook with papermill in its own folder, with ``MODE`` and ``MLMC_COURSE_MODE`` set.

    The kernel draws figures inline, as in JupyterLab, so the time includes rendering them and a kept notebook
    shows them. ``keep``: a folder in which to save the executed notebook (with its outputs) under the same name.
    """
    import papermill

    os.environ[ENV_MODE] = mode
    os.environ["MPLBACKEND"] = INLINE_BACKEND  # the kernel inherits it; "Agg" would draw nothing on plt.show()
    start = time.perf_counter()
    error = ""
    with tempfile.TemporaryDirectory(prefix="mlmc-run-") as tmp, _PeakMemory() as mem:
        try:
            papermill.execute_notebook(
                str(path),
                str(Path(tmp) / path.name),
                parameters={"MODE": mode},
                cwd=str(path.parent),
                kernel_name="python3",
                progress_bar=False,
                execution_timeout=timeout,
                log_output=False,
            )
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
            error = f"{type(err).__name__}: {err}"
        wall = time.perf_counter() - start
        if keep is not None and (Path(tmp) / path.name).exists():
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / path.name, keep / path.name)
    t_budget, m_budget = BUDGETS[mode]
    over = []
    if t_budget and wall > t_budget:
        over.append(f"time {wall:.0f} s > {t_budget:.0f} s")
    if m_budget and mem.peak > m_budget:
        over.append(f"memory {mem.peak / 1e9:.2f} GB > {m_budget / 1e9:.1f} GB")
    return LessonRun(path.stem, not error, wall, mem.peak / 2**20, error, over)


def run_lessons(
    root: Path,
    *,
    mode: str = "lecture",
    only: list[str] | None = None,
    out: str | Path | None = DEFAULT_OUT,
    timeout: int = 1800,
    keep: str | Path | None = None,
    overwrite: bool = False,
) -> RunReport:
    """Run every solution notebook (or those in ``only``), print and write the report.

    Writes ``<out>/run-<mode>.md`` and ``<out>/run-<mode>.json`` (relative paths are taken from ``root``; the
    default is the untracked ``_build/reports``); with ``keep``, also the executed notebooks, to read their outputs.
    A report that git tracks (such as the committed ``reports/run-lecture.md``) is replaced only with
    ``overwrite=True``; otherwise :class:`WouldOverwrite` is raised before anything runs.
    """
    from tqdm.auto import tqdm

    from mlmc_course.config import check_mode

    check_mode(mode)
    folder = None
    if out is not None:
        folder = Path(out) if Path(out).is_absolute() else root / out
        tracked = [p for p in (folder / f"run-{mode}.md", folder / f"run-{mode}.json") if _tracked(root, p)]
        if tracked and not overwrite:
            raise WouldOverwrite(
                f"{tracked[0].relative_to(root)} is a committed report; pass --overwrite to replace it, or write "
                f"elsewhere with --out (the default is {DEFAULT_OUT})"
            )
    notebooks = sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if only:
        notebooks = [p for p in notebooks if any(p.stem == o or p.stem.startswith(o + "_") for o in only)]
    if not notebooks:
        raise ValueError(f"no solution notebooks match {only or 'anything'} in {root / 'solutions'}")
    runs = []
    bar = tqdm(notebooks, desc=f"running lessons ({mode})")
    for nb in bar:
        bar.set_postfix(lesson=nb.stem)
        run = run_notebook(nb, mode, timeout, None if keep is None else Path(keep).absolute())
        runs.append(run)
        if not run.ok:
            tqdm.write(f"FAILED {nb.stem}: {run.error.splitlines()[0] if run.error else ''}")
    report = RunReport(mode, machine_description(), runs)
    text = report.markdown()
    print(text)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"run-{mode}.md").write_text(text)
        payload = {"mode": mode, "machine": report.machine, "ok": report.ok, "runs": [asdict(r) for r in runs]}
        (folder / f"run-{mode}.json").write_text(json.dumps(payload, indent=2) + "\n")
    failed = [r.lesson for r in runs if not r.ok]
    if failed:
        print("lessons with errors: " + ", ".join(failed))
    return report

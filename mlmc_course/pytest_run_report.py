"""A pytest plugin that turns an nbval run of the solution notebooks into the course's run report.

``pytest --nbval-lax solutions/ -p mlmc_course.pytest_run_report --run-report DIR`` writes ``DIR/run-<mode>.md``
and ``.json`` in the same format as ``mlmc-course run``, so that CI executes every notebook once, not twice. Wall
time per notebook is the sum of its cells' setup, call and teardown times (kernel start included); peak memory is
sampled from the pytest process's children (the notebook's kernel) while that notebook's cells run.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict
from pathlib import Path

from mlmc_course.config import ENV_MODE
from mlmc_course.runner import BUDGETS, LessonRun, RunReport, children_rss, machine_description


def pytest_addoption(parser) -> None:
    parser.addoption("--run-report", default=None, help="folder for the run report of the notebooks run by nbval")


class _Recorder:
    def __init__(self, folder: Path, mode: str):
        self.folder, self.mode = folder, mode
        self.order: list[str] = []
        self.wall: dict[str, float] = {}
        self.peak: dict[str, int] = {}
        self.error: dict[str, str] = {}
        self.current: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = children_rss()
            if self.current is not None:
                self.peak[self.current] = max(self.peak.get(self.current, 0), total)
            self._stop.wait(0.05)

    def start(self, nodeid: str) -> None:
        name = Path(nodeid.split("::")[0]).stem
        if name not in self.wall:
            self.order.append(name)
            self.wall[name] = 0.0
        self.current = name

    def record(self, report) -> None:
        name = Path(report.nodeid.split("::")[0]).stem
        self.wall[name] = self.wall.get(name, 0.0) + report.duration
        if report.failed and name not in self.error:
            cell = report.nodeid.split("::")[-1]
            self.error[name] = f"{cell}: {str(report.longrepr).strip().splitlines()[-1][:200]}"

    def write(self) -> RunReport:
        self._stop.set()
        self._thread.join()
        t_budget, m_budget = BUDGETS[self.mode]
        runs = []
        for name in self.order:
            wall, peak = self.wall[name], self.peak.get(name, 0)
            over = []
            if t_budget and wall > t_budget:
                over.append(f"time {wall:.0f} s > {t_budget:.0f} s")
            if m_budget and peak > m_budget:
                over.append(f"memory {peak / 1e9:.2f} GB > {m_budget / 1e9:.1f} GB")
            runs.append(LessonRun(name, name not in self.error, wall, peak / 2**20, self.error.get(name, ""), over))
        report = RunReport(self.mode, machine_description() + " (measured during the nbval run)", runs)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"run-{self.mode}.md").write_text(report.markdown())
        payload = {"mode": self.mode, "machine": report.machine, "ok": report.ok, "runs": [asdict(r) for r in runs]}
        (self.folder / f"run-{self.mode}.json").write_text(json.dumps(payload, indent=2) + "\n")
        return report


_RECORDER: _Recorder | None = None


def pytest_configure(config) -> None:
    global _RECORDER
    folder = config.getoption("--run-report")
    if folder:
        _RECORDER = _Recorder(Path(folder), os.environ.get(ENV_MODE, "lecture"))


def pytest_runtest_logstart(nodeid, location) -> None:
    if _RECORDER is not None:
        _RECORDER.start(nodeid)


def pytest_runtest_logreport(report) -> None:
    if _RECORDER is not None:
        _RECORDER.record(report)


def pytest_sessionfinish(session, exitstatus) -> None:
    if _RECORDER is not None:
        report = _RECORDER.write()
        terminal = session.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line("")
            for line in report.markdown().splitlines():
                terminal.write_line(line)

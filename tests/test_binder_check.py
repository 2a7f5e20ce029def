"""scripts/binder_report.py: the cold-run report and the verdict of scripts/binder_check.sh, on made-up runs."""

from __future__ import annotations

import json
import runpy
import shlex

import pytest

from tests.conftest import ROOT

FACTS = {
    "commit": "abc1234",
    "python": "3.11.7",
    "pip": "24.0",
    "requirements_s": "200",
    "size_requirements": str(3_000_000_000),
    "postbuild_s": "300",
    "prepare_head": "data prepare: 12 samples, 246000 events, into /c/pythia",
    "prepare_line": "data prepare: done in 250.0 s, 0 problem(s)",
    "pip_check": "ok",
    "installed_count": "209",
    "extra": "none",
    "missing": "none",
    "version_differs": "none",
    "size_binder": str(3_100_000_000),
    "largest": "tensorflow:1900000000 torch:750000000",
    "cache_after_build": str(240_000_000),
    "limit_method": "cgroup1",
    "limit_probe": "a process touching 2304 MB exited with 137, oom_kill 1",
    "memory_mb": "2048",
    "size_with_dev": str(3_200_000_000),
    "machine": "2 CPU cores, 24 GiB RAM, load 1.0 1.0 1.0 at the end",
}


def _report():
    return runpy.run_path(str(ROOT / "scripts" / "binder_report.py"))


def _work(tmp_path, runs, facts=FACTS):
    (tmp_path / "facts.env").write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in facts.items()))
    for n, (run, cg, requests) in runs.items():
        d = tmp_path / "runs" / n
        d.mkdir(parents=True)
        (d / "cgroup").write_text("".join(f"{k}={v}\n" for k, v in cg.items()))
        if run is not None:
            (d / "run-lecture.json").write_text(json.dumps({"runs": [run]}))
        (d / "requests.jsonl").write_text("".join(json.dumps(r) + "\n" for r in requests))
        (d / "log").write_text("Killed\n")
    return tmp_path


def _run(lesson, wall=30.0, peak=500.0, ok=True):
    return {"lesson": lesson, "ok": ok, "wall_s": wall, "peak_rss_mb": peak, "error": "" if ok else "Boom: x"}


GOOD_CG = {"max_usage": 900 * 2**20, "failcnt": 0, "oom_kill": 0, "rc": 0}


def test_a_clean_run_passes_and_the_report_has_its_numbers(tmp_path, capsys):
    hit = {"cached": True, "events": 3000, "file": "a.npz", "info": {}}
    work = _work(tmp_path, {"00": (_run("00_start"), GOOD_CG, []), "12": (_run("12_x", 90.0), GOOD_CG, [hit])})
    rep = _report()
    assert rep["main"](["--verdict", str(work)]) == 0
    md = rep["markdown"](work, "--lessons 00,12")
    assert "| 12_x | ok | 90.0 | 500 | 900 | 0 | 0 | yes |" in md
    assert "3.10 GB" in md and "saves 0.10 GB" in md and "| total | 500 |" in md
    assert "cgroup v1" in md and "All lessons ran" in md
    assert "the limit bites: a process touching 2304 MB exited with 137" in md


@pytest.mark.parametrize(
    "run, cg, requests, expect",
    [
        (_run("14_d", wall=400.0), GOOD_CG, [], "400 s > 120 s"),
        (_run("14_d", peak=1600.0), GOOD_CG, [], "peak 1600 MiB"),
        (_run("14_d", ok=False), GOOD_CG, [], "failed: Boom"),
        (_run("14_d"), {**GOOD_CG, "oom_kill": 1}, [], "killed at the memory limit"),
        (None, {**GOOD_CG, "oom_kill": 1, "rc": 137}, [], "failed: no report (exit 137)"),
        (_run("14_d"), GOOD_CG, [{"cached": False, "events": 20000, "file": "b", "info": {}}], "generated 20000"),
    ],
)
def test_each_broken_promise_fails_the_check(tmp_path, capsys, run, cg, requests, expect):
    work = _work(tmp_path, {"14": (run, cg, requests)})
    assert _report()["main"](["--verdict", str(work)]) == 1
    out = capsys.readouterr().out
    assert expect in out and "FAILED" in out


def test_a_failed_prepare_or_pip_check_fails_the_check(tmp_path, capsys):
    facts = {
        **FACTS,
        "prepare_line": "data prepare: done in 3.0 s, 1 problem(s)",
        "pip_check": "x 1 requires y",
        "extra": "pytest",
    }
    work = _work(tmp_path, {"00": (_run("00_start"), GOOD_CG, [])}, facts)
    assert _report()["main"](["--verdict", str(work)]) == 1
    out = capsys.readouterr().out
    assert "data prepare: done in 3.0 s, 1 problem" in out and "pip check: x 1 requires y" in out
    assert "also installed pytest" in out


def test_pins_ignore_comments_newlines_and_local_tags():
    text = "# x==1\n--extra-index-url u\ntorch==2.13.0+cpu\nTyping_Extensions==4.1 \n"
    assert _report()["pins"](text) == {"torch": "2.13.0", "typing-extensions": "4.1"}


def test_the_script_runs_the_binder_files_in_repo2dockers_order():
    text = (ROOT / "scripts" / "binder_check.sh").read_text()
    steps = [
        "git clone",
        "-m venv",
        "pip install --no-cache-dir -q -r binder/requirements.txt",
        "bash binder/postBuild",
        "mlmc-course run",
    ]
    at = [text.index(s, text.index("set -euo pipefail")) for s in steps]
    assert at == sorted(at), "binder_check.sh must follow repo2docker's order"
    assert "memory.limit_in_bytes" in text and "prlimit --as" in text and "MLMC_COURSE_CACHE=" in text
    assert text.index("limit_probe") < text.index('mlmc-course run "$n"')  # the limit is shown to bite first

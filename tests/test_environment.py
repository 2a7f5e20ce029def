"""The conda/Binder environment files agree with the lock, and the set-up scripts exist where the README says."""

from __future__ import annotations

import runpy

from tests.conftest import ROOT


def _generator():
    return runpy.run_path(str(ROOT / "scripts" / "make_environment.py"))


def test_environment_files_match_lock():
    text = _generator()["environment_text"](ROOT)
    assert (ROOT / "environment.yml").read_text() == text, "run: python scripts/make_environment.py"
    assert (ROOT / "binder" / "environment.yml").read_text() == text, "run: python scripts/make_environment.py"


def test_every_pin_in_environment_is_the_locked_version():
    gen = _generator()
    lock = gen["lock_versions"](ROOT)
    pins = [ln.strip()[2:] for ln in (ROOT / "environment.yml").read_text().splitlines() if "==" in ln]
    assert len(pins) >= 20
    for pin in pins:
        name, version = pin.split("==")
        assert lock[gen["normalise"](name)] == version, pin


def test_torch_is_pinned_to_the_cpu_build_version():
    lock = _generator()["lock_versions"](ROOT)
    assert lock["torch"] == "2.13.0"
    assert lock["pythia8mc"] == "8.317.2"  # 8.318.0 has no wheels and compiles for 30+ minutes


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text()
    assert "bash scripts/course.sh lab" in readme
    assert "bash scripts/course.sh test" in readme
    assert "scripts/course.sh test" in (ROOT / ".ci" / "run").read_text()


def test_lock_header_names_only_files_that_exist():
    import re

    header = "\n".join(ln for ln in (ROOT / "requirements" / "lock.txt").read_text().splitlines() if ln.startswith("#"))
    named = re.findall(r"[\w.]*[\w]+/[\w./-]+\.(?:sh|py|yml)|\.ci/run|binder/postBuild", header)
    assert "scripts/course.sh" in named, header
    missing = [p for p in named if not (ROOT / p).exists()]
    assert not missing, f"requirements/lock.txt names files that do not exist: {missing}"

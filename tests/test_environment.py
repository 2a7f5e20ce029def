"""The JupyterHub (conda) and Binder (pip) environment files agree with the lock, the Binder files do what
repo2docker needs, and the set-up scripts exist where the README says."""

from __future__ import annotations

import runpy

from tests.conftest import ROOT


def _generator():
    return runpy.run_path(str(ROOT / "scripts" / "make_environment.py"))


def test_environment_files_match_lock():
    gen = _generator()
    assert (ROOT / "environment.yml").read_text() == gen["environment_text"](ROOT), (
        "run: python scripts/make_environment.py"
    )
    requirements = (ROOT / "binder" / "requirements.txt").read_text()
    assert requirements == gen["requirements_text"](ROOT), "run: python scripts/make_environment.py"


def _binder_pins() -> dict[str, str]:
    gen = _generator()
    lines = (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    pins = {}
    for line in lines:
        if line and not line.startswith(("#", "-")):
            assert "==" in line, f"binder/requirements.txt: {line!r} is not an exact pin"
            name, version = line.split("==")
            pins[gen["normalise"](name)] = version
    return pins


def test_binder_requirements_are_the_locked_versions_without_dev_tools():
    gen = _generator()
    lock = gen["lock_versions"](ROOT)
    pins = _binder_pins()
    assert {k: lock[k] for k in pins} == pins  # every pin is the lock's version (KeyError: not in the lock)
    # every direct dependency of the course (core, course and tools extras) is there
    missing = [n for n in gen["direct_dependencies"](ROOT) if gen["normalise"](n) not in pins]
    assert not missing, missing
    assert pins["torch"] == "2.13.0"
    for dev in ("pytest", "pytest-xdist", "nbval", "ruff", "coverage", "energyflow"):
        assert dev not in pins, f"{dev} is a development tool: it does not belong in the Binder image"
    # self-contained: repo2docker runs it before the rest of the repository is copied in
    options = [ln for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines() if ln.startswith("-")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]  # CPU-only torch, nothing local


def test_binder_uses_the_pip_path_with_python_311():
    binder = ROOT / "binder"
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    # repo2docker picks conda over pip when an environment.yml is present, in binder/ or (without binder/) the top
    assert not (binder / "environment.yml").exists()
    post = (binder / "postBuild").read_text()
    assert post.startswith("#!/usr/bin/env bash") and (binder / "postBuild").stat().st_mode & 0o111
    assert "-c requirements/lock.txt" in post and '-e ".[course,tools]"' in post
    assert "dev" not in post.split("pip install", 1)[1].splitlines()[0]
    assert "mlmc-course data prepare" in post and "overrides.json" in post


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
    named = re.findall(r"[\w.]*[\w]+/[\w./-]+\.(?:sh|py|yml|txt)|\.ci/run|binder/postBuild", header)
    assert "scripts/course.sh" in named, header
    missing = [p for p in named if not (ROOT / p).exists()]
    assert not missing, f"requirements/lock.txt names files that do not exist: {missing}"

"""`mlmc-course release`: what students get holds no solution or hidden test and still runs; the README's list of
exercises with a twin in the package is the one computed from the code."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest

from mlmc_course.cli import main
from mlmc_course.grading.release import (
    LEAK_MARKERS,
    TWINS_END,
    TWINS_START,
    _hidden_tests,
    public_names,
    readme_twins,
    release,
    twins,
    twins_markdown,
)
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    dest = tmp_path_factory.mktemp("release") / "course"
    return release(ROOT, dest)


def test_the_release_holds_the_student_material_and_nothing_secret(released):
    dest = released.dest
    for name in ("solutions", "autograder", "lessons", "tests", ".git"):
        assert not (dest / name).exists(), name
    assert sorted(p.name for p in (dest / "notebooks").glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )
    assert (dest / "mlmc_course" / "checks" / "core.py").exists() and (dest / "data" / "manifest.json").exists()
    assert "only the code cells between" in (dest / "README.md").read_text()
    hidden = _hidden_tests(ROOT)
    assert "checks.invariant_mass(invariant_mass, seed=101)" in hidden
    for rel in released.files:
        path = dest / rel
        if path.suffix in (".py", ".ipynb", ".md", ".txt", ".yml", ".toml", ".sh") and "grading" not in path.parts:
            text = path.read_text()
            deck_builder = str(rel).startswith("mlmc_course/slides/")  # reads lesson sources: names the markers
            assert not any(m in text for m in (hidden if deck_builder else [*LEAK_MARKERS, *hidden])), rel


def test_a_release_refuses_to_overwrite_and_to_nest(released, tmp_path):
    with pytest.raises(FileExistsError):
        release(ROOT, released.dest)
    with pytest.raises(ValueError, match="inside the course folder"):
        release(ROOT, ROOT / "_build" / "release")


def test_a_student_notebook_of_the_release_runs_its_first_check(released):
    from nbclient import NotebookClient

    path = released.dest / "notebooks" / "00_start.ipynb"
    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "grader.check(" in c.source)
    nb.cells = nb.cells[: first + 1]
    env = dict(os.environ, PYTHONPATH=str(released.dest))
    probe = subprocess.run(
        [sys.executable, "-c", "import mlmc_course; print(mlmc_course.__file__)"],
        env=env,
        cwd=path.parent,
        capture_output=True,
        text=True,
    )
    assert str(released.dest) in probe.stdout  # the kernel below imports the released package
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(released.dest)
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = old
    out = json.dumps(nb.cells[-1].outputs)  # the readable check result: the stub's message, then the score
    assert "not written yet" in out and "0 of 1 test cases passed" in out, out[:300]
    course_map = subprocess.run(
        [sys.executable, "-c", "from mlmc_course.course import course_map_markdown; print(course_map_markdown())"],
        env=env,
        cwd=path.parent,
        capture_output=True,
        text=True,
    )
    assert "[Start here](00_start.ipynb)" in course_map.stdout, course_map.stderr  # lesson 00's last cell


def test_the_readme_lists_the_twins_computed_from_the_code():
    found = twins(ROOT)
    assert found, "no exercise has a twin in the package: the finder is broken"
    readme = (ROOT / "README.md").read_text()
    assert TWINS_START in readme and TWINS_END in readme
    assert readme_twins(readme) == twins_markdown(found), (
        "README's twins table is stale: run python -m mlmc_course.grading.release"
    )


def test_the_twin_finder_matches_public_names_only(tmp_path):
    pkg = tmp_path / "mlmc_course"
    (pkg / "checks").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "metrics.py").write_text("def invariant_mass(p1, p2):\n    pass\n\n\ndef _mc_integral(f):\n    pass\n")
    (pkg / "checks" / "l00_start.py").write_text("def sample_lifetime(answer):\n    pass\n")
    found = twins(ROOT, package=pkg)
    assert [(t.lesson, t.function, t.locations) for t in found] == [
        ("00_start", "invariant_mass", ("mlmc_course.metrics.invariant_mass",))
    ]
    assert "sample_lifetime" not in public_names(pkg)  # the check modules are the grader, listed apart


def test_release_command_prints_the_twins(tmp_path, capsys):
    assert main(["--root", str(ROOT), "release", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "| lesson | exercise |" in out

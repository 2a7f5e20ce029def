"""Claims: a sentence of a lesson checked by its run; the build keeps claim cells in the solutions only."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from mlmc_course.claims import ClaimFailed, claim
from mlmc_course.grading.build import build_lesson

LESSON = """# %% [markdown]
# # 98 · A tiny lesson
# The sum is about three times the mean.

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np
from mlmc_course.claims import claim

values = np.array([1.0, 2.0, 3.0])

# %% tags=["claim"]
claim("the sum is about three times the mean", abs(values.sum() / values.mean() - 3) < 0.1)
"""


def test_a_claim_that_holds_prints_it(capsys):
    claim("two is more than one", 2 > 1, two=2.0, one=1)
    claim("a torch comparison", torch.tensor(1.0) < 2)
    claim("a numpy comparison", np.float64(1.0) < 2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "claim holds: two is more than one (two = 2, one = 1)" and len(out) == 3


def test_a_false_claim_names_the_sentence_and_the_numbers():
    with pytest.raises(ClaimFailed, match=r"the lesson says 'the pull is below 2'.*pull = 3\.5"):
        claim("the pull is below 2", 3.5 < 2, pull=3.5)


def test_a_claim_made_for_other_modes_is_not_checked(capsys):
    claim("only in full mode", False, when=False)
    assert "claim not checked in this run mode: only in full mode" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [np.array([True, False]), "yes", None])
def test_a_claim_needs_one_boolean(bad):
    with pytest.raises(TypeError, match="one True/False value"):
        claim("ambiguous", bad)


def test_claim_cells_stay_in_the_solution_and_leave_the_student_notebook(tmp_path):
    src = tmp_path / "98_tiny.py"
    src.write_text(LESSON)
    products = build_lesson(src)
    student = json.loads(products["notebooks/98_tiny.ipynb"])
    solution = json.loads(products["solutions/98_tiny.ipynb"])
    assert not any("claim(" in "".join(c["source"]) for c in student["cells"])
    assert sum("claim(" in "".join(c["source"]) for c in solution["cells"]) == 1


def _nbval(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=300,
    )


@pytest.mark.slow
def test_a_falsified_claim_fails_nbval(tmp_path):
    src = tmp_path / "98_tiny.py"
    src.write_text(LESSON)
    good = tmp_path / "good" / "98_tiny.ipynb"
    bad = tmp_path / "bad" / "98_tiny.ipynb"
    for path, text in ((good, LESSON), (bad, LESSON.replace("< 0.1)", "> 0.1)"))):
        src.write_text(text)
        path.parent.mkdir()
        path.write_bytes(build_lesson(src)["solutions/98_tiny.ipynb"])
    assert _nbval(good).returncode == 0
    failed = _nbval(bad)
    assert failed.returncode != 0
    assert "ClaimFailed" in failed.stdout and "the sum is about three times the mean" in failed.stdout


def test_every_solution_notebook_checks_its_claims():
    """Issue 16: every lesson backs its quantitative statements with claim cells that nbval runs in ci mode."""
    from tests.conftest import ROOT

    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        claims = [src for src in code if "claim(" in src]
        assert claims, f"{path.name} has no claim cell: back the numbers of its text with claim(...)"
        assert any("from mlmc_course.claims import claim" in src for src in code), path.name

"""Student notebooks run up to their first exercise without error and fail their checks; grading works end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from mlmc_course.grading.grade import NotACourseNotebook, grade
from tests.conftest import ROOT

STUDENT = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", STUDENT, ids=lambda p: p.stem)
def test_student_notebook_runs_to_its_first_check_and_fails_it(path):
    nb = nbformat.read(path, as_version=4)
    first_check = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "grader.check(" in c.source)
    nb.cells = nb.cells[: first_check + 1]
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError on any error before the first check
    text = json.dumps(nb.cells[-1].outputs)
    assert "All test cases passed" not in text, "an unanswered exercise passed its check"
    first_line = nb.cells[-1].outputs[0]["data"]["text/plain"].splitlines()[0]
    assert "not written yet" in first_line, f"the check's first line is not its message: {first_line!r}"
    assert "Trying:" not in text and "Traceback" not in text, "the check shows doctest or traceback lines"


def test_grading_the_unanswered_notebook_gives_zero_and_the_solution_full_marks():
    empty = grade(ROOT / "notebooks" / "00_start.ipynb", ROOT, mode="ci")
    full = grade(ROOT / "solutions" / "00_start.ipynb", ROOT, mode="ci")
    assert [r.score for r in empty] == [0.0] * len(empty)
    assert all(r.passed for r in full) and sum(r.score for r in full) == sum(r.possible for r in full)


def test_grading_a_non_course_notebook_is_a_clear_error(tmp_path):
    plain = tmp_path / "mine.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), plain)
    with pytest.raises(NotACourseNotebook, match="no otter metadata"):
        grade(plain, ROOT)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(NotACourseNotebook, match="not a notebook"):
        grade(text, ROOT)
    cli = subprocess.run(
        [sys.executable, "-m", "mlmc_course.cli", "--root", str(ROOT), "grade", str(plain)],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 2 and "no otter metadata" in cli.stderr


def test_grading_leaves_the_submission_untouched():
    path = ROOT / "notebooks" / "00_start.ipynb"
    before = path.read_bytes()
    grade(path, ROOT, mode="ci")
    assert path.read_bytes() == before

"""Student notebooks run up to their first exercise without error and fail their checks (grading: test_grading*.py)."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

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


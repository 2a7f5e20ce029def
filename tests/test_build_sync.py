"""Generated notebooks are never edited by hand: they must equal what the lesson sources build."""

from __future__ import annotations

import json

import pytest

from mlmc_course.grading.build import PRODUCTS, build_all, lesson_sources
from mlmc_course.grading.lesson import LessonFormatError, read_lesson
from tests.conftest import ROOT


def test_generated_files_match_sources():
    stale = build_all(ROOT, check=True, progress=False)
    assert stale == [], f"out of date, run `mlmc-course build`: {stale}"


def test_every_lesson_has_three_products_and_three_questions():
    sources = lesson_sources(ROOT)
    assert sources, "no lessons found"
    for src in sources:
        lesson = read_lesson(src)
        assert len(lesson.questions) >= 3, f"{src.name} has fewer than 3 graded exercises"
        for folder in PRODUCTS:
            assert (ROOT / folder / f"{src.stem}.ipynb").exists()


def test_student_notebooks_have_no_outputs_and_no_solutions():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"], f"{path.name} ships outputs"
                src = "".join(cell["source"])
                assert "SOLUTION" not in src and "# WRONG" not in src, f"{path.name} leaks a solution"
        hidden = [
            case
            for t in nb["metadata"]["otter"]["tests"].values()
            for s in t["suites"]
            for case in s["cases"]
            if case["hidden"]
        ]
        assert not hidden, f"{path.name} carries hidden tests"


def test_solution_check_cells_are_compared_by_nbval():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        checks = [c for c in nb["cells"] if c["cell_type"] == "code" and "grader.check(" in "".join(c["source"])]
        assert checks, path.name
        for cell in checks:
            assert "".join(cell["source"]).startswith("# NBVAL_CHECK_OUTPUT")
            assert "All test cases passed!" in cell["outputs"][0]["data"]["text/plain"]
        code = json.dumps([c["source"] for c in nb["cells"] if c["cell_type"] == "code"])
        assert "raise NotImplementedError" not in code, f"{path.name} keeps a stub"


def test_malformed_lessons_are_rejected(tmp_path):
    header = '# %% tags=["parameters"]\nMODE = "lecture"\n\n'
    question = '# %% [markdown] tags=["question"] name="q" points=1\n# text\n\n'
    solution = '# %% tags=["solution"]\ndef f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n'
    cases = {
        "no_hint": header + question + solution + '\n# %% tags=["check"]\nassert f() == 1\n',
        "no_wrong": header + question + solution + '    # HINT: h\n\n# %% tags=["check"]\nassert f() == 1\n',
        "no_check": header + question + solution + '    # HINT: h\n\n# %% tags=["wrong"]\n# WRONG: w\nf = 2\n',
        "no_params": question + solution + "    # HINT: h\n",
    }
    for name, text in cases.items():
        path = tmp_path / f"99_{name}.py"
        path.write_text(text)
        with pytest.raises(LessonFormatError):
            read_lesson(path)

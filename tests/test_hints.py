"""Hints reach the student whole: a ``# HINT:`` that wraps onto more comment lines keeps every line."""

from __future__ import annotations

import ast
import json

from mlmc_course.grading.build import build_lesson, lesson_sources
from mlmc_course.grading.lesson import find_hints, read_lesson, student_source
from tests.conftest import ROOT

TWO_LINE = """def f(x):
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION
    # HINT: double the input, then return
    # it unchanged otherwise.
"""


def _stub_messages(source: str) -> list[str]:
    """The messages of every ``raise NotImplementedError(...)`` in a code cell's source."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            if getattr(node.exc.func, "id", "") == "NotImplementedError":
                out.append(ast.literal_eval(node.exc.args[0]))
    return out


def test_a_two_line_hint_is_kept_whole():
    (hint,) = find_hints(TWO_LINE)
    assert hint.text == "double the input, then return it unchanged otherwise."
    stub = student_source(TWO_LINE).replace('""" # BEGIN PROMPT', "").replace('""" # END PROMPT', "")
    assert _stub_messages(stub) == ["Hint: double the input, then return it unchanged otherwise."]
    assert "# it unchanged" not in stub, "the hint's second line must move into the stub, not stay as a comment"


def test_a_wrapped_hint_keeps_its_line_breaks_in_the_stub():
    stub = student_source(TWO_LINE).splitlines()
    pieces = ["        'Hint: double the input, then return '", "        'it unchanged otherwise.'", "    )"]
    assert stub[-4:-1] == pieces


def test_the_comment_after_a_hint_at_another_indent_is_not_part_of_it():
    src = TWO_LINE + "# a remark about the module, not the hint\n"
    assert find_hints(src)[0].text.endswith("otherwise.")


def test_every_student_stub_carries_its_whole_hint():
    """Over all lessons: each hint of the source is the message of a stub in the student notebook (lesson 02's
    and lesson 09's hints run over two lines)."""
    multi_line = 0
    for path in lesson_sources(ROOT):
        lesson = read_lesson(path)
        student = json.loads(build_lesson(lesson)[f"notebooks/{lesson.stem}.ipynb"])
        code = ["".join(c["source"]) for c in student["cells"] if c["cell_type"] == "code"]
        messages = [m for src in code for m in _stub_messages(src)]
        for q in lesson.questions:
            for src in q.solution:
                for hint in find_hints(src):
                    multi_line += hint.stop - hint.start > 1
                    assert "Hint: " + hint.text in messages, f"{lesson.stem}::{q.name}: hint cut or lost"
    assert multi_line >= 1, "no lesson has a multi-line hint any more: the test no longer covers the case"


def test_no_line_of_a_hint_stays_behind_in_a_solution():
    """The published solution drops the whole hint (before the fix, its second line stayed as a stray comment)."""
    for path in lesson_sources(ROOT):
        lesson = read_lesson(path)
        solution = json.loads(build_lesson(lesson)[f"solutions/{lesson.stem}.ipynb"])
        text = "\n".join("".join(c["source"]) for c in solution["cells"] if c["cell_type"] == "code")
        for q in lesson.questions:
            for src in q.solution:
                for hint in find_hints(src):
                    for line in hint.lines:
                        assert f"# {line}" not in text and f"# HINT: {line}" not in text, f"{lesson.stem}: {line!r}"

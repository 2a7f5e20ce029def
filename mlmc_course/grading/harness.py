"""Run a lesson's answers and checks outside the notebook.

The tests (``tests/test_checks.py``) and the mutation tester (:mod:`mlmc_course.grading.mutate`) use it: the
lesson's parameters and setup cells run once in a namespace, an answer's cells are executed into a copy of it,
and the question's check cells are called on it.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from mlmc_course.checks import seed_offset
from mlmc_course.grading.lesson import Lesson, Question, read_lesson, student_source


def lesson_env(lesson: Lesson) -> dict:
    """A namespace with the lesson's parameters and setup cells executed (the mode comes from the environment)."""
    env: dict = {"__name__": f"lesson_{lesson.stem}"}
    with contextlib.redirect_stdout(io.StringIO()):
        for src in lesson.tagged("parameters") + lesson.tagged("setup"):
            exec(compile(src, f"<{lesson.stem} setup>", "exec"), env)
    return env


def run_answer(lesson: Lesson, answer_sources: list[str], env: dict | None = None) -> dict:
    """Execute the answer's cells into a copy of ``env`` (a fresh :func:`lesson_env` when ``None``)."""
    env = lesson_env(lesson) if env is None else dict(env)
    for src in answer_sources:
        exec(compile(src, f"<{lesson.stem} answer>", "exec"), env)
    return env


def run_checks(env: dict, checks: list[str], offset: int = 0) -> None:
    """Run check cells; raises what the first failing check raises (a
    :class:`~mlmc_course.checks.core.CheckFailed` for a well-written check)."""
    with seed_offset(offset), contextlib.redirect_stdout(io.StringIO()):
        for src in checks:
            exec(compile(src, "<check>", "exec"), dict(env))


def stub_sources(question: Question) -> list[str]:
    """The solution cells as the student first sees them (the stub raises NotImplementedError)."""
    out = []
    for src in question.solution:
        lines = [
            line
            for line in student_source(src).splitlines()
            if not line.strip().startswith(('""" # BEGIN PROMPT', '""" # END PROMPT'))
        ]
        kept, skipping = [], False
        for line in lines:
            if line.strip() == "# BEGIN SOLUTION NO PROMPT":
                skipping = True
                continue
            if line.strip() == "# END SOLUTION":
                skipping = False
                continue
            if not skipping:
                kept.append(line)
        out.append("\n".join(kept))
    return out


def all_cases(root: Path):
    """(lesson, question) pairs over every lesson source."""
    from mlmc_course.grading.build import lesson_sources

    for path in lesson_sources(root):
        lesson = read_lesson(path)
        for q in lesson.questions:
            yield lesson, q

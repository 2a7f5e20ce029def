"""Synthetic submissions for testing and timing the grader: student notebooks with chosen answers.

Each question of a lesson can be answered with its solution, left as the stub, answered with one of the wrong
answers the lesson source records (a *mutant*), or given any source text (an attack). The expected outcome is
known, so a batch of these tests the gradebook end to end (``tests/test_grading.py``, ``benchmarks/grading.py``).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlmc_course.grading.lesson import read_lesson, solution_source
from mlmc_course.grading.regions import canonical_statements, regions


@dataclass(frozen=True)
class Planned:
    """A written submission and what each of its questions should get."""

    path: Path
    stem: str
    expect: dict[str, str]  # question -> "solution" | "stub" | "wrong" | "custom"


def student_notebook(root: Path, stem: str) -> nbformat.NotebookNode:
    return nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)


def fill(root: Path, stem: str, answers: dict[str, str], extra_after_setup: list[str] = ()) -> nbformat.NotebookNode:
    """The student notebook of ``stem`` with the answer cell of each question in ``answers`` replaced by its
    source, and ``extra_after_setup`` inserted as new cells right after the setup cell (outside any exercise)."""
    nb = copy.deepcopy(student_notebook(root, stem))
    questions = list(nb.metadata["otter"]["tests"])
    found = regions(nb, canonical_statements(nb, questions))
    for q, source in answers.items():
        nb.cells[found[q].answers[0]].source = source
    if extra_after_setup:
        setup = next(i for i, c in enumerate(nb.cells) if "setup" in c.metadata.get("tags", []))
        for k, source in enumerate(extra_after_setup):
            nb.cells.insert(setup + 1 + k, nbformat.v4.new_code_cell(source))
    return nb


def answers_of(root: Path, stem: str) -> dict[str, dict[str, list[str] | str]]:
    """``{question: {"solution": source, "wrong": [sources]}}`` from the lesson source."""
    lesson = read_lesson(root / "lessons" / f"{stem}.py")
    return {
        q.name: {"solution": "\n\n".join(solution_source(s) for s in q.solution), "wrong": [w.source for w in q.wrong]}
        for q in lesson.questions
    }


def batch(root: Path, dest: Path, stems: list[str], n: int, seed: int = 0) -> list[Planned]:
    """Write ``n`` submissions under ``dest/student_XX/``: the first of each lesson all solutions, the second all
    stubs, the rest a seeded mix of solutions, stubs and recorded wrong answers."""
    rng = random.Random(seed)
    known = {stem: answers_of(root, stem) for stem in stems}
    out = []
    for i in range(n):
        stem = stems[i % len(stems)]
        round_ = i // len(stems)
        expect, answers = {}, {}
        for q, options in known[stem].items():
            kind = "solution" if round_ == 0 else "stub" if round_ == 1 else rng.choice(["solution", "stub", "wrong"])
            expect[q] = kind
            if kind == "solution":
                answers[q] = options["solution"]
            elif kind == "wrong":
                answers[q] = rng.choice(options["wrong"])
        path = dest / f"student_{i:02d}" / f"{stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(fill(root, stem, answers), path)
        out.append(Planned(path, stem, expect))
    return out

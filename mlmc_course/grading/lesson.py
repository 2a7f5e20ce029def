"""Read a lesson source (a jupytext percent ``.py`` file) and find its questions.

A lesson source marks its cells with tags (see ``lessons/README.md``):

``parameters``
    the one cell that sets ``MODE``; the build puts the grader's set-up cell after it.
``setup``
    imports that the exercises use; the check-rejection tests run these cells before an answer.
``question`` (a markdown cell with ``name="..."`` and ``points=N`` in its header)
    opens an exercise; the cells up to its last ``check`` cell belong to it.
``solution``
    the answer; the part between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` is removed from the student
    notebook and replaced by ``raise NotImplementedError(<hint>)`` built from the ``# HINT:`` comment after it
    (a hint may run on over further comment lines at the same indent; all of them are kept).
``wrong``
    a recorded wrong answer: first line ``# WRONG: what is wrong``, then one or more lines
    ``# EXPECT: <part of the message>`` with the distinctive part of the message the student must see (each
    must occur in the failure message of the question's public checks); never shipped, but the tests prove
    that the checks reject it with a :class:`~mlmc_course.checks.core.CheckFailed` carrying that message.
``check`` (optionally with ``hidden``)
    one test of the question, run by ``grader.check``; hidden tests only run when grading.
``mutants``
    inside a question: lines ``# EQUIVALENT <id pattern>: <reason>`` naming the mutants of the solution that are
    still correct answers (:mod:`mlmc_course.grading.mutate`); never shipped.
``claim``
    a cell that checks a quantitative sentence of the text against the run (:func:`mlmc_course.claims.claim`);
    kept in the solution notebook, where nbval runs it, and left out of the student notebook.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

HINT_RE = re.compile(r"^(?P<indent>\s*)# HINT: (?P<text>.+)$")
WRONG_RE = re.compile(r"^# WRONG: (?P<text>.+)$")
EXPECT_RE = re.compile(r"^# EXPECT: (?P<text>.*\S.*)$")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class LessonFormatError(ValueError):
    """A lesson source breaks the conventions in ``lessons/README.md``."""


@dataclass
class WrongAnswer:
    """A recorded wrong answer: what is wrong with it, its code, and the parts of the failure message that the
    student must see (the ``# EXPECT:`` lines right under ``# WRONG:``; empty when none is recorded)."""

    description: str
    source: str
    expect: list[str] = field(default_factory=list)


@dataclass
class Question:
    """One graded exercise."""

    name: str
    points: float
    solution: list[str] = field(default_factory=list)
    wrong: list[WrongAnswer] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)


@dataclass
class Lesson:
    """A parsed lesson source."""

    path: Path
    notebook: nbformat.NotebookNode
    questions: list[Question]

    @property
    def stem(self) -> str:
        """The file name without suffix, e.g. ``01_regression``; the notebooks carry this name."""
        return self.path.stem

    def tagged(self, tag: str) -> list[str]:
        """Sources of the code cells that carry ``tag``."""
        return [c.source for c in self.notebook.cells if tag in c.metadata.get("tags", [])]


def tags_of(cell) -> list[str]:
    return list(cell.metadata.get("tags", []))


def read_lesson(path: str | Path) -> Lesson:
    """Parse a lesson source and validate its structure."""
    import jupytext

    path = Path(path)
    if path.suffix != ".py":
        raise LessonFormatError(f"{path}: lesson sources are jupytext percent .py files")
    nb = jupytext.read(path)
    questions: list[Question] = []
    current: Question | None = None
    n_params = 0
    for i, cell in enumerate(nb.cells):
        tags = tags_of(cell)
        where = f"{path.name}, cell {i}"
        if "parameters" in tags:
            n_params += 1
        if "question" in tags:
            if cell.cell_type != "markdown":
                raise LessonFormatError(f"{where}: a 'question' cell must be markdown")
            name, points = cell.metadata.get("name"), cell.metadata.get("points")
            if not isinstance(name, str) or not NAME_RE.match(name):
                raise LessonFormatError(f'{where}: a question needs name="lower_snake_case", got {name!r}')
            if not isinstance(points, int | float) or points <= 0:
                raise LessonFormatError(f"{where}: question {name} needs points=N (N > 0), got {points!r}")
            if any(q.name == name for q in questions):
                raise LessonFormatError(f"{where}: question name {name!r} is used twice")
            current = Question(name=name, points=points)
            questions.append(current)
            continue
        if not ({"solution", "wrong", "check"} & set(tags)):
            continue
        if current is None:
            raise LessonFormatError(f"{where}: a {tags} cell outside a question")
        if cell.cell_type != "code":
            raise LessonFormatError(f"{where}: {tags} cells must be code")
        if "solution" in tags:
            if current.checks or current.hidden:
                raise LessonFormatError(f"{where}: solution after the checks of {current.name}")
            if "# BEGIN SOLUTION" not in cell.source or "# END SOLUTION" not in cell.source:
                raise LessonFormatError(f"{where}: a solution cell needs # BEGIN SOLUTION / # END SOLUTION")
            if not any(HINT_RE.match(line) for line in cell.source.splitlines()):
                raise LessonFormatError(f"{where}: a solution cell needs a '# HINT: ...' line after its solution")
            current.solution.append(cell.source)
        elif "wrong" in tags:
            first = cell.source.splitlines()[0] if cell.source else ""
            m = WRONG_RE.match(first)
            if not m:
                raise LessonFormatError(f"{where}: a wrong answer must start with '# WRONG: <what is wrong>'")
            current.wrong.append(WrongAnswer(m["text"], cell.source, _expected(cell.source, where)))
        elif "hidden" in tags:
            current.hidden.append(cell.source)
        else:
            current.checks.append(cell.source)
    if n_params != 1:
        raise LessonFormatError(f"{path.name}: needs exactly one 'parameters' cell, found {n_params}")
    for q in questions:
        if not q.solution:
            raise LessonFormatError(f"{path.name}: question {q.name} has no solution cell")
        if not q.checks:
            raise LessonFormatError(f"{path.name}: question {q.name} has no public check")
        if not q.wrong:
            raise LessonFormatError(f"{path.name}: question {q.name} records no wrong answer")
    return Lesson(path=path, notebook=nb, questions=questions)


def _expected(source: str, where: str) -> list[str]:
    """The ``# EXPECT:`` lines that follow the ``# WRONG:`` line of a wrong cell (an ``EXPECT`` elsewhere is an
    error, so that a misplaced one is not silently ignored)."""
    lines = source.splitlines()[1:]
    out = []
    for line in lines:
        m = EXPECT_RE.match(line)
        if not m:
            break
        out.append(m["text"].strip())
    if any(line.lstrip().startswith("# EXPECT") for line in lines[len(out) :]):
        raise LessonFormatError(f"{where}: '# EXPECT: <message>' lines belong right under the '# WRONG:' line")
    return out


@dataclass
class Hint:
    """A ``# HINT:`` comment of a solution cell: its lines ``[start, stop)`` in the cell, indent and text lines."""

    start: int
    stop: int
    indent: str
    lines: list[str]

    @property
    def text(self) -> str:
        """The whole hint as one sentence."""
        return " ".join(self.lines)


def find_hints(solution: str) -> list[Hint]:
    """Every hint in a solution cell, each with all its lines: the ``# HINT:`` line and the comment lines that
    follow it at the same indent (a long hint wraps like any comment)."""
    lines = solution.splitlines()
    hints, i = [], 0
    while i < len(lines):
        m = HINT_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, parts, stop = m["indent"], [m["text"].strip()], i + 1
        more = re.compile(rf"^{re.escape(indent)}# (?!HINT:|BEGIN |END )(?P<text>\S.*)$")
        while stop < len(lines) and (c := more.match(lines[stop])):
            parts.append(c["text"].strip())
            stop += 1
        hints.append(Hint(i, stop, indent, parts))
        i = stop
    return hints


def _raise_lines(hint: Hint) -> list[str]:
    """``raise NotImplementedError("Hint: ...")``: on one line for a one-line hint; otherwise one string piece
    per comment line, broken where the author broke it."""
    indent = hint.indent
    if len(hint.lines) == 1:
        return [f"{indent}raise NotImplementedError({'Hint: ' + hint.text!r})"]
    pieces = ["Hint: " + hint.lines[0]] + hint.lines[1:]
    pieces = [p + " " for p in pieces[:-1]] + pieces[-1:]
    return [f"{indent}raise NotImplementedError(", *(f"{indent}    {p!r}" for p in pieces), f"{indent})"]


def student_source(solution: str) -> str:
    """The solution cell as otter's master format wants it: solution block without prompt, then the stub.

    The stub raises ``NotImplementedError`` with the whole hint, however many comment lines it takes.
    """
    lines = solution.splitlines()
    hints = {h.start: h for h in find_hints(solution)}
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "# BEGIN SOLUTION":
            out.append(line.replace("# BEGIN SOLUTION", "# BEGIN SOLUTION NO PROMPT"))
        elif i in hints:
            h = hints[i]
            out += [f'{h.indent}""" # BEGIN PROMPT', *_raise_lines(h), f'{h.indent}""" # END PROMPT']
            i = h.stop
            continue
        else:
            out.append(line)
        i += 1
    return "\n".join(out)


def solution_source(solution: str) -> str:
    """The solution cell as published: markers and hint removed."""
    hinted = {j for h in find_hints(solution) for j in range(h.start, h.stop)}
    keep = []
    for j, line in enumerate(solution.splitlines()):
        if line.strip() in ("# BEGIN SOLUTION", "# END SOLUTION") or j in hinted:
            continue
        keep.append(line)
    return "\n".join(keep)

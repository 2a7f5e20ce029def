"""Where the exercises are in a generated notebook: each question's statement, answer cells and check cell.

A question in a generated notebook (student, solution or autograder) is a locked markdown statement
(``**Exercise N.** ... _Points:_ N``), the answer cell(s), and a locked check cell ``grader.check("name")``.
The grader takes from a submission only the code cells between a question's statement and its check cell.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

import nbformat

CHECK_CALL = re.compile(r'^grader\.check\("(?P<name>[a-z0-9_]+)"\)$')


@dataclass
class Region:
    """One question's cells in a notebook (indices into ``nb.cells``)."""

    name: str
    statement: int | None  # the locked markdown cell, None when it was removed or edited
    check: int | None  # the grader.check cell, None when it is missing
    answers: list[int]  # the code cells between the two


def check_cells(nb: nbformat.NotebookNode) -> dict[str, int]:
    """``{question: index}`` of the ``grader.check("question")`` cells (the first one of each)."""
    out: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            code = [ln.strip() for ln in cell.source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
            m = CHECK_CALL.match(code[0]) if len(code) == 1 else None
            if m and m["name"] not in out:
                out[m["name"]] = i
    return out


def canonical_statements(nb: nbformat.NotebookNode, questions: list[str]) -> dict[str, str]:
    """The statement (markdown source) of each question in a generated notebook: the last locked markdown
    cell before its check cell."""
    checks = check_cells(nb)
    out = {}
    for q in questions:
        i = checks[q]
        j = next(
            k
            for k in range(i - 1, -1, -1)
            if nb.cells[k].cell_type == "markdown" and nb.cells[k].metadata.get("editable") is False
        )
        out[q] = nb.cells[j].source
    return out


def regions(nb: nbformat.NotebookNode, statements: dict[str, str]) -> dict[str, Region]:
    """Each question's region in ``nb`` (a submission), found by the canonical statement text and the check cell.

    When the statement cell is missing or was edited, the region is only the code cell right above the check.
    """
    checks = check_cells(nb)
    out = {}
    for q, statement in statements.items():
        check = checks.get(q)
        if check is None:
            out[q] = Region(q, None, None, [])
            continue
        start = next(
            (
                k
                for k in range(check - 1, -1, -1)
                if nb.cells[k].cell_type == "markdown" and nb.cells[k].source == statement
            ),
            None,
        )
        if start is None:
            above = [check - 1] if check > 0 and nb.cells[check - 1].cell_type == "code" else []
            out[q] = Region(q, None, check, above)
        else:
            answers = [k for k in range(start + 1, check) if nb.cells[k].cell_type == "code"]
            out[q] = Region(q, start, check, answers)
    return out


def defined_names(source: str) -> list[str]:
    """Top-level functions and classes a cell defines (an answer cell's exercise functions)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]

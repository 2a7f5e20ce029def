"""One source, three products: student notebook, solution notebook and autograder notebook.

``build_lesson`` turns a lesson source into otter-grader's master format and runs ``otter assign`` on it:

* ``notebooks/NAME.ipynb``: the student version: no outputs, each solution replaced by a stub that raises
  ``NotImplementedError`` with the hint, public checks only;
* ``solutions/NAME.ipynb``: the full version; its check cells carry ``# NBVAL_CHECK_OUTPUT`` and the output a
  passing check prints, so ``pytest --nbval-lax`` fails when a solution stops passing its own checks;
* ``autograder/NAME.ipynb``: otter's autograder notebook, whose metadata hold every test, hidden ones too.

Generated files are never edited by hand; ``tests/test_build_sync.py`` proves they match their sources.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import re
import tempfile
from pathlib import Path

import nbformat

from mlmc_course.grading.lesson import Lesson, read_lesson, student_source, tags_of
from mlmc_course.slides.structure import explicit_type, notebook_slide_type, split_at_headings

PRODUCTS = ("notebooks", "solutions", "autograder")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# Live slides (jupyterlab-rise): long cells scroll instead of being cut at the bottom edge of the slide;
RISE = {"scroll": True, "theme": "white"}  # white: fonts embedded, nothing fetched from the network
ASSIGNMENT_CONFIG = """# ASSIGNMENT CONFIG
init_cell: false
check_all_cell: false
export_cell: false
run_tests: false
generate: false
solutions_pdf: false
template_pdf: false
requirements: null
show_question_points: true"""
NBVAL_MARK = "# NBVAL_CHECK_OUTPUT"
CLAIM_TAG = "claim"  # cells that check the lesson's prose against its run (mlmc_course.claims)
CHECK_CALL = re.compile(r'^grader\.check\("(?P<name>[a-z0-9_]+)"\)$')


def passing_output(question: str, count: int) -> dict:
    """What ``grader.check(question)`` shows when every test passes (the HTML part ends in a random emoji,
    which ``nbval-sanitize.cfg`` masks before comparison)."""
    return nbformat.v4.new_output(
        "execute_result",
        data={
            "text/plain": f"{question} results: All test cases passed!",
            "text/html": f"<p><strong><pre style='display: inline;'>{question}</pre></strong> passed! EMOJI</p>",
        },
        execution_count=count,
    )


def grader_cell(stem: str) -> str:
    """The cell after the parameters: otter's grader, whose failed checks show their message first
    (:mod:`mlmc_course.grading.feedback`); ``mlmc-course grade`` finds the lesson from its ``otter.Notebook`` call."""
    return (
        "import otter\n\nfrom mlmc_course.grading.feedback import readable\n\n"
        f'grader = readable(otter.Notebook("{stem}.ipynb"))'
    )


def _raw(text: str):
    return nbformat.v4.new_raw_cell(text)


def _mark_slide(new: nbformat.NotebookNode, source_cell) -> nbformat.NotebookNode:
    """Carry the cell's slide type (:func:`mlmc_course.slides.structure.notebook_slide_type`) into the notebook,
    where jupyterlab-rise reads it; "-" (continue the slide) is the default and is not written."""
    slide_type = notebook_slide_type(source_cell)
    if slide_type != "-":
        new.metadata["slideshow"] = {"slide_type": slide_type}
    return new


def master_notebook(lesson: Lesson) -> nbformat.NotebookNode:
    """The lesson in otter-grader's master format (raw-cell delimiters, a grader cell after the parameters)."""
    by_name = {q.name: q for q in lesson.questions}
    cells = [_raw(ASSIGNMENT_CONFIG)]
    open_q = None
    in_tests = False
    remaining_checks: dict[str, int] = {}
    for cell in lesson.notebook.cells:
        tags = tags_of(cell)
        if "wrong" in tags or "mutants" in tags:  # recorded wrong answers and equivalent mutants are for the tests
            continue
        if "question" in tags:
            q = by_name[cell.metadata["name"]]
            open_q = q
            remaining_checks[q.name] = len(q.checks) + len(q.hidden)
            cells.append(_raw(f"# BEGIN QUESTION\nname: {q.name}\npoints: {q.points}"))
            cells.append(_mark_slide(nbformat.v4.new_markdown_cell(cell.source), cell))
            continue
        if "solution" in tags:
            cells += [_raw("# BEGIN SOLUTION"), nbformat.v4.new_code_cell(student_source(cell.source))]
            cells.append(_raw("# END SOLUTION"))
            continue
        if "check" in tags:
            if not in_tests:
                cells.append(_raw("# BEGIN TESTS"))
                in_tests = True
            src = cell.source
            if "hidden" in tags:
                src = '""" # BEGIN TEST CONFIG\nhidden: true\n""" # END TEST CONFIG\n' + src
            cells.append(nbformat.v4.new_code_cell(src))
            remaining_checks[open_q.name] -= 1
            if remaining_checks[open_q.name] == 0:
                cells += [_raw("# END TESTS"), _raw("# END QUESTION")]
                in_tests, open_q = False, None
            continue
        pieces = [cell.source]
        if cell.cell_type == "markdown" and explicit_type(cell) is None:
            pieces = split_at_headings(cell.source)  # a section per cell: a live slide per section
        for piece in pieces:
            new = copy.deepcopy(cell)
            new.source = piece
            new.metadata = {"tags": tags} if tags else {}
            cells.append(_mark_slide(new, new if len(pieces) > 1 else cell))
        if "parameters" in tags:
            cells.append(nbformat.v4.new_code_cell(grader_cell(lesson.stem)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    return nb


def _is_notes(cell) -> bool:
    return (cell.metadata.get("slideshow") or {}).get("slide_type") == "notes"


def _normalise(nb: nbformat.NotebookNode, stem: str) -> nbformat.NotebookNode:
    """Stable cell ids and metadata, so that two builds of one source give the same bytes."""
    keep_meta = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}, "rise": RISE}
    if "otter" in nb.metadata:
        keep_meta["otter"] = nb.metadata["otter"]
    nb.metadata = keep_meta
    for i, cell in enumerate(nb.cells):
        cell.id = f"{stem[:2]}-{i:03d}"
        meta = {}
        tags = [t for t in cell.metadata.get("tags", []) if t in ("parameters", "setup")]
        if tags:
            meta["tags"] = tags
        if cell.metadata.get("deletable") is False:
            meta["deletable"] = False
        if cell.metadata.get("editable") is False:
            meta["editable"] = False
        if "slideshow" in cell.metadata:
            meta["slideshow"] = {"slide_type": cell.metadata["slideshow"]["slide_type"]}
        cell.metadata = meta
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    return nb


def _without_prompt(lines: list[str]) -> list[str]:
    """A solution cell's lines without otter's markers and the stub (``BEGIN PROMPT`` ... ``END PROMPT``)."""
    kept, in_prompt = [], False
    for line in lines:
        s = line.strip()
        if s == '""" # BEGIN PROMPT':
            in_prompt = True
        elif s == '""" # END PROMPT':
            in_prompt = False
        elif not in_prompt and s not in ("# BEGIN SOLUTION NO PROMPT", "# END SOLUTION"):
            kept.append(line)
    return kept


def _solution_notebook(autograder: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = copy.deepcopy(autograder)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        lines = cell.source.splitlines()
        if any(line.strip().startswith("# BEGIN SOLUTION") for line in lines):
            cell.source = "\n".join(_without_prompt(lines))
        m = CHECK_CALL.match(cell.source.strip())
        if m:
            cell.source = f"{NBVAL_MARK}\n{cell.source.strip()}"
            # nbval skips reference cells that were never run, so the check cell gets an execution count.
            cell.execution_count = i
            cell.outputs = [passing_output(m["name"], i)]
    return nb


def _dumps(nb: nbformat.NotebookNode) -> bytes:
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def build_lesson(lesson: Lesson | str | Path) -> dict[str, bytes]:
    """Build one lesson; returns ``{"notebooks/NAME.ipynb": bytes, ...}`` for the three products."""
    from otter.assign import main as otter_assign

    if not isinstance(lesson, Lesson):
        lesson = read_lesson(lesson)
    stem = lesson.stem
    with tempfile.TemporaryDirectory(prefix="mlmc-build-") as tmp:
        master = Path(tmp) / f"{stem}.ipynb"
        nbformat.write(master_notebook(lesson), master)
        out = Path(tmp) / "dist"
        sink = io.StringIO()
        logging.getLogger("otter").setLevel(logging.WARNING)
        with contextlib.redirect_stdout(sink):
            otter_assign(str(master), str(out), no_pdfs=True, no_run_tests=True)
        student = nbformat.read(out / "student" / f"{stem}.ipynb", as_version=4)
        autograder = nbformat.read(out / "autograder" / f"{stem}.ipynb", as_version=4)
    # claims and speaker notes live in the solutions (which a lecturer presents), not in the student notebook
    student.cells = [c for c in student.cells if CLAIM_TAG not in tags_of(c) and not _is_notes(c)]
    student = _normalise(student, stem)
    autograder = _normalise(autograder, stem)
    solution = _solution_notebook(autograder)
    for cell in student.cells:
        if "BEGIN SOLUTION" in cell.source or "END SOLUTION" in cell.source:
            raise RuntimeError(f"{stem}: a solution marker survived into the student notebook; check the source")
    return {
        f"notebooks/{stem}.ipynb": _dumps(student),
        f"solutions/{stem}.ipynb": _dumps(solution),
        f"autograder/{stem}.ipynb": _dumps(autograder),
    }


def lesson_sources(root: Path) -> list[Path]:
    """The lesson sources under ``root/lessons``, in course order."""
    return sorted(p for p in (root / "lessons").glob("[0-9][0-9]_*.py"))


def build_all(root: Path, *, check: bool = False, only: list[str] | None = None, progress: bool = True) -> list[str]:
    """Build every lesson under ``root``.

    Args:
        root: the repository root (holds ``lessons/``).
        check: write nothing; return the generated paths that differ from (or are missing in) ``root``.
        only: lesson stems or number prefixes to build (e.g. ``["01"]``); all when ``None``.

    Returns:
        With ``check``: the stale paths. Otherwise: the written paths.
    """
    from tqdm.auto import tqdm

    sources = lesson_sources(root)
    if only:
        sources = [p for p in sources if any(p.stem == o or p.stem.startswith(o + "_") for o in only)]
        if not sources:
            raise ValueError(f"no lesson matches {only}; lessons are {[p.stem for p in lesson_sources(root)]}")
    result = []
    for src in tqdm(sources, desc="building lessons", disable=not progress):
        for rel, content in build_lesson(src).items():
            target = root / rel
            if check:
                if not target.exists() or target.read_bytes() != content:
                    result.append(rel)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
                result.append(rel)
    if not only:
        built = {f"{d}/{p.stem}.ipynb" for p in sources for d in PRODUCTS}
        for d in PRODUCTS:
            for nb in sorted((root / d).glob("*.ipynb")):
                rel = f"{d}/{nb.name}"
                if rel not in built:
                    if check:
                        result.append(rel + " (no source)")
                    else:
                        nb.unlink()
    return result

"""``mlmc-course release DIR``: what students get for a graded course, and what a release cannot hide.

The repository is public by design: ``solutions/`` for self-study, the hidden tests in ``autograder/``, the
lesson sources (which hold the solutions and the recorded wrong answers) in ``lessons/``. For a graded run a
lecturer gives students a release instead: the student notebooks, the shipped data, the package and what it
needs to install, and a README on how grading works; never ``solutions/``, ``autograder/``, ``lessons/``,
``tests/`` (which read the sources), reports or the git history.

What a release cannot hide is listed by :func:`twins`: the graded exercises whose function has a namesake in
the package (the package's own implementation, which later lessons import), and, for every exercise, the check
module itself (public checks run in the student's notebook, and a check computes what it expects).
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlmc_course.grading.regions import canonical_statements, check_cells, defined_names, regions

SHIPPED = ("notebooks", "data", "mlmc_course", "requirements", "binder", "pyproject.toml", "environment.yml")
SHIPPED_SCRIPTS = ("scripts/course.sh",)
NOT_SHIPPED = ("solutions", "autograder", "lessons", "tests", "benchmarks", "reports", "_build", ".git")
PRIVATE_PACKAGES = ("checks", "grading")  # package folders that are the grader, not reference implementations
LEAK_MARKERS = ("# BEGIN SOLUTION", "# END SOLUTION", "# WRONG:", '""" # BEGIN PROMPT')
TWINS_START, TWINS_END = "<!-- twins:start (mlmc-course release) -->", "<!-- twins:end -->"


@dataclass(frozen=True)
class Twin:
    """A graded exercise whose function has a namesake in the package."""

    lesson: str
    question: str
    function: str
    locations: tuple[str, ...]  # e.g. ("mlmc_course.metrics.invariant_mass",)


def package_dir() -> Path:
    import mlmc_course

    return Path(mlmc_course.__file__).resolve().parent


def public_names(package: Path) -> dict[str, list[str]]:
    """``{name: ["mlmc_course.module.name", ...]}`` for every public top-level function, class or constant of
    the package, except the grader's own folders (``checks/``, ``grading/``)."""
    out: dict[str, list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] in PRIVATE_PACKAGES:
            continue
        module = ".".join([package.name, *rel.with_suffix("").parts]).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            for name in names:
                if not name.startswith("_"):
                    out.setdefault(name, []).append(f"{module}.{name}")
    return out


def exercise_functions(autograder: nbformat.NotebookNode) -> dict[str, list[str]]:
    """``{question: [functions its answer cell defines]}`` from a lesson's autograder notebook."""
    questions = list(autograder.metadata["otter"]["tests"])
    found = regions(autograder, canonical_statements(autograder, questions))
    return {q: [n for i in r.answers for n in defined_names(autograder.cells[i].source)] for q, r in found.items()}


def twins(root: Path, package: Path | None = None) -> list[Twin]:
    """The graded exercises whose function name is also a public name of the package, lesson by lesson."""
    names = public_names(package or package_dir())
    out = []
    for path in sorted((root / "autograder").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for question, functions in exercise_functions(nb).items():
            for function in functions:
                if function in names:
                    out.append(Twin(path.stem, question, function, tuple(names[function])))
    return out


def twins_markdown(found: list[Twin]) -> str:
    """The README's table of exercises with a twin in the package."""
    rows = ["| lesson | exercise | the package's version |", "|---|---|---|"]
    rows += [f"| {t.lesson} | `{t.function}` | {', '.join(f'`{loc}`' for loc in t.locations)} |" for t in found]
    if not found:
        rows.append("| - | none | - |")
    return "\n".join(rows)


def readme_twins(readme: str) -> str:
    """The twins table as it stands between the markers of a README."""
    start, end = readme.index(TWINS_START) + len(TWINS_START), readme.index(TWINS_END)
    return readme[start:end].strip()


STUDENT_README = """# {title}: your course materials

Start with `bash scripts/course.sh lab` (Python 3.11 and pip are all you need), which installs the course's
environment and opens `notebooks/00_start.ipynb`. Work in the notebooks; every exercise has a check cell,
`grader.check("...")`, that tells you what is wrong.

## How your work is graded

Your lecturer grades a copy of your notebook with the checks you see and further hidden tests. The grader runs
the lesson's setup cell and then **only the code cells between an exercise's statement and its check cell**:

- an answer must work on its own with what the setup cell imports (put any helper function in the same cell);
- cells elsewhere in the notebook, your outputs and anything you print are not part of the grade;
- an answer that imports the grader (`otter`, `mlmc_course.checks`), reaches into Python's internals, patches
  modules, reads or writes files or uses the network is not scored but shown to the lecturer for review;
- each question has limits on CPU time and memory; an answer that runs past them scores 0 for that question.
"""


@dataclass
class Release:
    """What :func:`release` wrote."""

    dest: Path
    files: list[str]
    twins: list[Twin]


def release(root: Path, dest: Path, *, force: bool = False) -> Release:
    """Write the students' copy of the course under ``dest``; refuses a non-empty ``dest`` unless ``force``.

    Raises:
        FileExistsError: ``dest`` exists and is not empty (and ``force`` is not set).
        RuntimeError: a written file holds a solution marker or a hidden test (the release is then removed).
    """
    dest = Path(dest).resolve()
    root = Path(root).resolve()
    if dest == root or root in dest.parents:
        raise ValueError(f"{dest} lies inside the course folder {root}; write the release somewhere else")
    if dest.exists() and any(dest.iterdir()):
        if not force:
            raise FileExistsError(f"{dest} is not empty; choose an empty folder or pass --force to replace it")
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in (*SHIPPED, *SHIPPED_SCRIPTS):
        source = root / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore)
        elif source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / "README.md").write_text(STUDENT_README.format(title="mlmc-course"))
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    try:
        _verify(root, dest, files)
    except RuntimeError:
        shutil.rmtree(dest)
        raise
    return Release(dest=dest, files=files, twins=twins(root))


def _hidden_tests(root: Path) -> list[str]:
    out = []
    for path in sorted((root / "autograder").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for test in nb.metadata["otter"]["tests"].values():
            out += [
                c["code"].strip().removeprefix(">>>").strip()
                for s in test["suites"]
                for c in s["cases"]
                if c.get("hidden")
            ]
    return out


def _verify(root: Path, dest: Path, files: list[str]) -> None:
    """No shipped file may hold a solution marker, a recorded wrong answer or a hidden test's code."""
    for name in NOT_SHIPPED:
        if (dest / name).exists():
            raise RuntimeError(f"the release holds {name}/")
    hidden = _hidden_tests(root)
    for rel in files:
        try:
            text = (dest / rel).read_text()
        except UnicodeDecodeError:
            continue  # data files
        # the grader and the deck builder read lesson sources, so they name the markers to find them
        grader_code = rel.startswith(("mlmc_course/grading/", "mlmc_course/slides/"))
        for marker in hidden if grader_code else [*LEAK_MARKERS, *hidden]:
            if marker in text:
                raise RuntimeError(f"{rel} holds {marker!r}: it must not be in a students' release")
    for path in sorted((dest / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if not check_cells(nb):
            raise RuntimeError(f"{path.name} has no check cells: is it a student notebook?")


def update_readme(readme: Path, root: Path) -> bool:
    """Rewrite the twins table between the markers of ``readme``; returns whether it changed."""
    text = readme.read_text()
    start, end = text.index(TWINS_START) + len(TWINS_START), text.index(TWINS_END)
    new = text[:start] + "\n" + twins_markdown(twins(root)) + "\n" + text[end:]
    readme.write_text(new)
    return new != text


if __name__ == "__main__":  # python -m mlmc_course.grading.release: refresh README.md's table of twins
    from mlmc_course.course import find_root

    course = find_root()
    print("README.md updated" if update_readme(course / "README.md", course) else "README.md already up to date")

"""``mlmc-course slides``: lesson sources (and their lecture-mode figures) -> ``slides/``; optional PDFs.

The decks are committed, like the notebooks: ``slides/`` opens on any machine that ran the set-up, without a
kernel, and ``tests/test_slides.py`` proves the committed decks equal a fresh build (``build_decks(check=True)``).
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

from mlmc_course.grading.build import lesson_sources
from mlmc_course.grading.lesson import read_lesson
from mlmc_course.slides.figures import FigureStore
from mlmc_course.slides.render import deck_html, index_html
from mlmc_course.slides.structure import Deck, lesson_deck

SLIDES = "slides"
PDF_DIR = Path("_build") / "slides"


def select(root: Path, only: list[str] | None) -> list[Path]:
    """The lesson sources named by number or stem (all when ``only`` is empty)."""
    sources = lesson_sources(root)
    if only:
        sources = [p for p in sources if any(p.stem == o or p.stem.startswith(o + "_") for o in only)]
        if not sources:
            raise ValueError(f"no lesson matches {only}; lessons are {[p.stem for p in lesson_sources(root)]}")
    return sources


def decks(root: Path, only: list[str] | None = None) -> list[Deck]:
    """The decks of the selected lessons, with their committed figures."""
    store = FigureStore(root)
    out = []
    for src in select(root, only):
        lesson = read_lesson(src)
        out.append(lesson_deck(lesson, store.lookup(lesson)))
    return out


def build_decks(root: Path, *, only: list[str] | None = None, check: bool = False) -> list[str]:
    """Write ``slides/NN_name.html`` for the selected lessons and ``slides/index.html`` (always over all).

    With ``check``, write nothing and return the paths that differ from a fresh build (or are missing).
    """
    folder = root / SLIDES
    wanted = {f"{SLIDES}/{d.stem}.html": deck_html(d, folder) for d in decks(root, only)}
    # the index lists every lesson by its title, so that building one deck needs no other lesson's figures
    wanted[f"{SLIDES}/index.html"] = index_html([lesson_deck(read_lesson(p)) for p in lesson_sources(root)])
    result = []
    for rel, text in wanted.items():
        target = root / rel
        if check:
            if not target.exists() or target.read_text() != text:
                result.append(rel)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            result.append(rel)
    if not only:
        known = set(wanted)
        for path in sorted(folder.glob("*.html")):
            rel = f"{SLIDES}/{path.name}"
            if rel not in known:
                if check:
                    result.append(rel + " (no lesson)")
                else:
                    path.unlink()
    return result


def make_figures(root: Path, only: list[str] | None, *, from_dir: Path | None = None, timeout: int = 1800) -> None:
    """Refresh ``slides/figures/`` from executed lecture-mode solution notebooks: those in ``from_dir`` (made by
    ``mlmc-course run --mode lecture --keep DIR``), or a fresh run of each selected lesson."""
    from mlmc_course.runner import run_notebook

    store = FigureStore(root)
    for src in select(root, only):
        lesson = read_lesson(src)
        if from_dir is not None:
            executed = Path(from_dir) / f"{lesson.stem}.ipynb"
            if not executed.exists():
                raise FileNotFoundError(f"{executed} does not exist (run `mlmc-course run --mode lecture --keep DIR`)")
            made_by = "mlmc-course run --mode lecture --keep DIR; mlmc-course slides --figures-from DIR"
            store.extract(lesson, executed, made_by)
        else:
            with tempfile.TemporaryDirectory(prefix="mlmc-slides-") as tmp:
                run = run_notebook(root / "solutions" / f"{lesson.stem}.ipynb", "lecture", timeout, Path(tmp))
                if not run.ok:
                    raise ValueError(f"{lesson.stem} failed in lecture mode: {run.error.splitlines()[0]}")
                made_by = f"mlmc-course slides {shlex.quote(lesson.stem[:2])} --run"
                store.extract(lesson, Path(tmp) / f"{lesson.stem}.ipynb", made_by)
        print(f"figures of {lesson.stem} refreshed")


def print_decks(root: Path, only: list[str] | None, out: Path = PDF_DIR, browser=None) -> list[Path]:
    """PDFs of the selected decks under ``_build/slides/`` (headless Chromium's print-to-PDF); ``browser``: a
    running one to use (default: start one)."""
    from mlmc_course.slides.browser import chromium, print_pdf

    if browser is None:
        with chromium() as b:
            return print_decks(root, only, out, b)
    folder = out if out.is_absolute() else root / out
    return [print_pdf(root / SLIDES / f"{s.stem}.html", folder / f"{s.stem}.pdf", browser) for s in select(root, only)]

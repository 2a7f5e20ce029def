"""The decks in slides/ are built from the lesson sources and never show a graded solution (no browser needed;
tests/test_browser.py opens them in Chromium)."""

from __future__ import annotations

import html
import json
import re

import nbformat
import pytest

from mlmc_course.grading.build import lesson_sources
from mlmc_course.grading.lesson import read_lesson
from mlmc_course.slides.build import build_decks
from mlmc_course.slides.figures import FigureStore, StaleFigures
from mlmc_course.slides.structure import cell_key, lesson_deck, notebook_slide_type, segments, sentences
from tests.conftest import ROOT

SOURCES = lesson_sources(ROOT)


def test_committed_decks_match_a_fresh_build():
    stale = build_decks(ROOT, check=True)
    assert stale == [], f"out of date, run `mlmc-course slides`: {stale}"


def test_every_lesson_has_a_deck_listed_in_the_index():
    index = (ROOT / "slides" / "index.html").read_text()
    assert len(SOURCES) == 17
    for src in SOURCES:
        assert (ROOT / "slides" / f"{src.stem}.html").exists(), src.stem
        assert f'href="{src.stem}.html"' in index, src.stem


def test_every_lesson_declares_its_slide_count_and_its_deck_has_figures():
    for src in SOURCES:
        lesson = read_lesson(src)
        deck = lesson_deck(lesson, FigureStore(ROOT).lookup(lesson))
        assert deck.declared is not None, f"{src.name}: declare slides=[lo, hi] on the title cell"
        lo, hi = deck.declared
        assert lo <= len(deck.slides) <= hi, f"{src.stem}: {len(deck.slides)} slides, declared {deck.declared}"
        kinds = [s.kind for s in deck.slides]
        assert kinds[:2] == ["title", "goals"] and kinds[-2:] == ["summary", "references"], (src.stem, kinds)
        assert kinds.count("exercise") == len(lesson.questions), src.stem
        assert "figure" in kinds, f"{src.stem}: no lecture-mode figure on any slide"


def solution_lines(lesson) -> list[str]:
    """Distinctive lines of the graded answers, the recorded wrong answers and the checks (20+ characters)."""
    out = []
    for q in lesson.questions:
        for src in q.solution:
            inside = src.split("# BEGIN SOLUTION", 1)[1].split("# END SOLUTION", 1)[0]
            out += inside.splitlines()
        for wrong in q.wrong:
            out += [ln for ln in wrong.source.splitlines() if not ln.lstrip().startswith("def ")]
        out += q.checks + q.hidden
    out += lesson.tagged("claim")
    lines = [ln.strip() for ln in out if len(ln.strip()) >= 20 and not ln.strip().startswith("#")]
    return list(dict.fromkeys(lines))


def leaked(deck_text: str, lines: list[str]) -> list[str]:
    text = html.unescape(deck_text)
    return [ln for ln in lines if ln in text]


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_no_solution_reaches_a_deck(src):
    lesson = read_lesson(src)
    lines = solution_lines(lesson)
    assert lines, "nothing to look for: the test would pass vacuously"
    deck = (ROOT / "slides" / f"{src.stem}.html").read_text()
    assert leaked(deck, lines) == []
    # negative control: the same search finds a solution line that is put into the deck
    assert leaked(deck + html.escape(lines[0]), lines) == [lines[0]]


def _lesson(tmp_path, body: str):
    header = (
        "# %% [markdown] slides=[1, 30]\n# # 99 · Toy\n#\n# A toy. Second sentence.\n#\n# **You will**\n# - learn\n\n"
    )
    params = '# %% tags=["parameters"]\nMODE = "lecture"\n\n'
    path = tmp_path / "99_toy.py"
    path.write_text(header + params + body)
    return read_lesson(path)


def test_inferred_structure_and_explicit_metadata(tmp_path):
    lesson = _lesson(
        tmp_path,
        "# %% [markdown]\n# ## Maths\n#\n# The loss is simple. It reads\n# $$ L = x^2 $$\n\n"
        "# %%\ny = 2 * x\n\n"
        '# %% [markdown] slideshow={"slide_type": "notes"}\n# Say this aloud.\n\n'
        '# %% [markdown] slideshow={"slide_type": "skip"}\n# ## Hidden section\n\n'
        '# %% slideshow={"slide_type": "slide"}\nprint("shown")\n\n'
        "# %%\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n\n"
        "# %% [markdown]\n# The line goes up. It goes up a lot.\n#\n# ## Summary\n#\n# - one\n\n"
        "# %% [markdown]\n# ## Further reading\n#\n# - a paper\n",
    )
    plot = next(c for c in lesson.notebook.cells if "plt.show()" in c.source)
    deck = lesson_deck(lesson, {cell_key(plot.source): ["figures/99_toy/x-1.png"]})
    kinds = [(s.kind, s.title) for s in deck.slides]
    assert kinds == [
        ("title", "Toy"),
        ("goals", "You will"),
        ("section", "Maths"),
        ("section", "Maths"),
        ("figure", "Maths"),
        ("summary", "Summary"),
        ("references", "Further reading"),
    ]
    maths, code, figure = deck.slides[2], deck.slides[3], deck.slides[4]
    assert [i.content for i in maths.items] == ["The loss is simple.", "$$ L = x^2 $$", "y = 2 * x"]
    assert "Say this aloud." in maths.notes
    assert code.items[0].kind == "code" and code.items[0].content == 'print("shown")'
    assert [i.kind for i in figure.items] == ["figure", "markdown"] and figure.items[1].content == "The line goes up."
    assert deck.declared == (1, 30)
    assert "Hidden" not in json.dumps([s.title for s in deck.slides])


def test_sentences_keep_maths_and_abbreviations_whole():
    text = "Take $p(x|S). B$ e.g. a Gaussian. Then stop. More."
    assert sentences(text) == "Take $p(x|S). B$ e.g. a Gaussian."
    assert sentences(text, 2) == "Take $p(x|S). B$ e.g. a Gaussian. Then stop."
    assert sentences("Between distributions, $$ D = 1. $$ And more.") == "Between distributions:"


def test_a_hash_inside_display_maths_is_not_a_heading():
    segs = segments("## A\n$$\n# not a heading\n$$\n## B\ntext")
    assert [(lvl, title) for lvl, title, _ in segs] == [(2, "A"), (2, "B")]


def test_notebooks_carry_the_slide_markers_for_live_slides():
    for src in SOURCES:
        nb = nbformat.read(ROOT / "notebooks" / f"{src.stem}.ipynb", as_version=4)
        assert nb.metadata["rise"] == {"scroll": True, "theme": "white"}
        slides = [c for c in nb.cells if c.metadata.get("slideshow", {}).get("slide_type") == "slide"]
        assert len(slides) >= 6, f"{src.stem}: only {len(slides)} live slides"
        assert slides[0] is nb.cells[0], "the title cell opens the slideshow"
        notes = [c for c in nb.cells if c.metadata.get("slideshow", {}).get("slide_type") == "notes"]
        assert not notes, f"{src.stem}: speaker notes in the student notebook"


def test_rise_slide_types(tmp_path):
    lesson = _lesson(tmp_path, "# %% [markdown]\n# ## A\n\n# %% [markdown]\n# more text\n\n# %%\nx = 1\n")
    types = [notebook_slide_type(c) for c in lesson.notebook.cells]
    assert types == ["slide", "-", "slide", "-", "-"]


def test_a_changed_plotting_cell_makes_the_figures_stale(tmp_path):
    lesson = _lesson(tmp_path, "# %%\nimport matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\n\n# %%\nz = 3\n")
    store = FigureStore(tmp_path)
    with pytest.raises(StaleFigures, match="has no figures yet"):
        store.lookup(lesson)
    executed = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c.source) for c in lesson.notebook.cells if c.cell_type == "code"]
    )
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    executed.cells[-2].outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    executed.metadata["papermill"] = {"parameters": {"MODE": "ci"}}
    path = tmp_path / "run.ipynb"
    nbformat.write(executed, path)
    with pytest.raises(ValueError, match="lecture-mode run"):
        store.extract(lesson, path, "test")
    executed.metadata["papermill"] = {"parameters": {"MODE": "lecture"}}
    nbformat.write(executed, path)
    assert store.extract(lesson, path, "test") == [f"figures/99_toy/{cell_key(executed.cells[-2].source)}-1.png"]
    assert list(store.lookup(lesson).values()) == [[f"figures/99_toy/{cell_key(executed.cells[-2].source)}-1.png"]]
    changed = tmp_path / "99_toy.py"
    changed.write_text(changed.read_text().replace("plt.plot([1])", "plt.plot([2])").replace("z = 3", "z = 4"))
    with pytest.raises(StaleFigures, match="1 plotting cell"):  # z = 4 changed too, but it draws nothing
        store.lookup(read_lesson(changed))


def test_decks_load_vendor_files_only_from_node_modules():
    for src in SOURCES:
        text = (ROOT / "slides" / f"{src.stem}.html").read_text()
        urls = re.findall(r'(?:src|href)="([^"#]+)"', text)
        external = [u for u in urls if u.startswith(("http:", "https:", "//")) and "arxiv.org" not in u]
        assert not external, f"{src.stem} loads {external}"
        assert '<script src="../node_modules/reveal.js/dist/reveal.js">' in text


def test_cli_slides_check_passes_on_the_committed_decks(capsys):
    from mlmc_course.cli import main

    assert main(["--root", str(ROOT), "slides", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out

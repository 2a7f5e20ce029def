"""The decks and the lecture room in a real browser: headless Chromium (Debian's), driven by Playwright.

Every deck opens from the file system with every request that would leave the machine blocked, logs no console
error, has as many slides as its lesson declares, renders all its maths with KaTeX and shows its figures; one
deck prints to PDF with a page per slide; and in JupyterLab a failed check's first visible line is its message.
Screenshots go to ``_build/screenshots/`` (CI keeps them as artefacts).

Without Chromium these tests skip and say how to run them; under ``CI=true`` a missing browser fails them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from mlmc_course.grading.build import lesson_sources
from mlmc_course.grading.lesson import read_lesson
from mlmc_course.slides.browser import chromium, missing, wait_for_deck
from mlmc_course.slides.build import print_decks
from mlmc_course.slides.figures import FigureStore
from mlmc_course.slides.structure import lesson_deck
from tests.conftest import ROOT

SOURCES = lesson_sources(ROOT)
SHOTS = ROOT / "_build" / "screenshots"
VENDOR = ROOT / "node_modules" / "reveal.js" / "dist" / "reveal.js"
UPSIDE_DOWN = "the ratio is upside down"


def _unavailable() -> str | None:
    why = missing()
    if why is None and not VENDOR.exists():
        why = "node_modules/ has no reveal.js: run `npm ci` (bash scripts/course.sh setup does)"
    return why


@pytest.fixture(scope="module")
def browser():
    why = _unavailable()
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs the browser tests to run, but {why}")
        pytest.skip(f"browser tests skipped: {why}; then run `python -m pytest tests/test_browser.py`")
    with chromium() as b:
        yield b


class Watched:
    """A page that records console errors, page errors and every request that is not a local file."""

    def __init__(self, browser, **kwargs):
        self.page = browser.new_page(**kwargs)
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        local = url.startswith(("file:", "data:", "blob:")) or re.match(
            r"^(https?|wss?)://(127\.0\.0\.1|localhost)", url
        )
        if local:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_deck_opens_offline_with_its_slides_maths_and_figures(browser, src):
    lesson = read_lesson(src)
    deck = lesson_deck(lesson, FigureStore(ROOT).lookup(lesson))
    w = Watched(browser, viewport={"width": 1280, "height": 800})
    try:
        w.page.goto((ROOT / "slides" / f"{src.stem}.html").as_uri())
        wait_for_deck(w.page)
        assert w.page.evaluate("() => document.getElementById('missing').hidden"), "reveal.js or KaTeX did not load"
        state = w.page.evaluate(
            """() => {
            const slides = document.querySelector('.reveal .slides');
            const shown = [...slides.querySelectorAll('.tex')].filter(e => !e.closest('aside.notes'));
            const imgs = [...slides.querySelectorAll('img')];
            return {
                total: Reveal.getTotalSlides(),
                tex: shown.length,
                rendered: shown.filter(e => e.querySelector('.katex')).length,
                errors: slides.querySelectorAll('.katex-error').length,
                imgs: imgs.length,
                loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
                text: [...slides.children].map(s => s.innerText).join('\\n'),
            };
        }"""
        )
    finally:
        w.page.close()
    assert w.errors == [], f"console errors: {w.errors}"
    assert w.outside == [], f"requests leaving the machine: {w.outside}"
    lo, hi = deck.declared
    assert lo <= state["total"] <= hi, f"{state['total']} slides, the lesson declares {deck.declared}"
    assert state["tex"] > 0 and state["rendered"] == state["tex"] and state["errors"] == 0, state
    raw = re.findall(r"\$[^$\n]{1,80}\$", state["text"])
    assert raw == [], f"maths left unrendered: {raw[:3]}"
    figures = sum(1 for s in deck.slides for i in s.items if i.kind == "figure")
    assert state["imgs"] == figures > 0 and state["loaded"] == figures, state


def test_the_index_opens_offline_and_links_every_deck(browser):
    w = Watched(browser)
    try:
        w.page.goto((ROOT / "slides" / "index.html").as_uri())
        links = w.page.eval_on_selector_all("a[href$='.html']", "els => els.map(e => e.getAttribute('href'))")
    finally:
        w.page.close()
    assert links == [f"{p.stem}.html" for p in SOURCES]
    assert w.errors == [] and w.outside == []


def test_screenshots_of_a_title_and_a_figure_slide(browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    w = Watched(browser, viewport={"width": 1280, "height": 800})
    deck = (ROOT / "slides" / "02_classification.html").as_uri()
    try:
        w.page.goto(deck)
        wait_for_deck(w.page)
        w.page.screenshot(path=str(SHOTS / "slides-title.png"))
        kinds = w.page.evaluate("() => [...document.querySelectorAll('.slides > section')].map(s => s.dataset.kind)")
        w.page.evaluate(f"() => Reveal.slide({kinds.index('figure')})")
        w.page.wait_for_function("() => Reveal.getCurrentSlide().dataset.kind === 'figure'")
        w.page.screenshot(path=str(SHOTS / "slides-figure.png"))
        assert w.page.evaluate("() => Reveal.getCurrentSlide().querySelector('img').naturalWidth") > 100
    finally:
        w.page.close()
    for name in ("slides-title.png", "slides-figure.png"):
        assert (SHOTS / name).stat().st_size > 10_000, f"{name} looks empty"


def test_a_deck_prints_to_pdf_with_a_page_per_slide(browser, tmp_path):
    (pdf,) = print_decks(ROOT, ["00"], out=tmp_path, browser=browser)
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))
    deck = lesson_deck(read_lesson(SOURCES[0]), FigureStore(ROOT).lookup(read_lesson(SOURCES[0])))
    assert pages == len(deck.slides), f"{pages} PDF pages for {len(deck.slides)} slides"


# --- JupyterLab: a failed check as the student sees it --------------------------------------------------------------


def _failed_check_notebook(folder: Path) -> Path:
    """Lesson 02's student notebook cut down to its grader, the checks module, a recorded wrong answer and the
    check, executed, so that JupyterLab shows the saved output."""
    from nbclient import NotebookClient

    name = "02_classification.ipynb"
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    grader = next(c for c in nb.cells if "otter.Notebook(" in c.source)
    check = next(c for c in nb.cells if c.source.strip() == 'grader.check("likelihood_ratio")')
    wrong = nbformat.v4.new_code_cell(
        "from mlmc_course.checks import l02_classification as checks\n\n\n"
        "def likelihood_ratio(s, n_sig, n_bkg):\n    return (1.0 - s) / s * (n_sig / n_bkg)"
    )
    nb.cells = [grader, wrong, check]
    nbformat.write(nb, folder / name)  # otter reads the tests from the notebook file
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    nbformat.write(nb, folder / name)
    return folder / name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """A JupyterLab server on a free local port, serving a folder with the failed-check notebook and, in
    ``live/``, lesson 02's solution notebook; yields its URL. The server and its kernels are ended afterwards."""
    tmp = tmp_path_factory.mktemp("lab")
    work = tmp / "work"
    (work / "live").mkdir(parents=True)
    _failed_check_notebook(work)
    shutil.copy(ROOT / "solutions" / "02_classification.ipynb", work / "live")
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp / "config"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime")}
    args = [
        *("--no-browser", "--allow-root", f"--port={port}", "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token="),
        *(f"--ServerApp.root_dir={work}", f"--LabApp.user_settings_dir={tmp / 'settings'}"),
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
    ]
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        yield url
    finally:  # the server and the kernels it started share a new session: end that process group only
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


def test_jupyterlab_shows_a_failed_checks_message_first(browser, lab):
    w = Watched(browser, viewport={"width": 1280, "height": 900})
    try:
        w.page.goto(f"{lab}/lab/tree/02_classification.ipynb?reset")
        output = w.page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".jp-OutputArea-output").first
        output.wait_for(state="visible", timeout=120_000)
        output.scroll_into_view_if_needed()
        text = output.inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        w.page.screenshot(path=str(SHOTS / "lab-failed-check.png"))
    finally:
        w.page.close()
    first_line = text.strip().splitlines()[0]
    assert first_line.startswith(UPSIDE_DOWN), f"the first visible line is {first_line!r}"
    for noise in ("Trying:", "Expecting nothing", "Traceback", "doctest"):
        assert noise not in text, f"the failed check shows {noise!r}"


def test_jupyterlab_presents_a_notebook_as_live_slides(browser, lab):
    """jupyterlab-rise (Alt+R) turns the notebook's slide markers into a reveal.js slideshow inside JupyterLab."""
    nb = nbformat.read(ROOT / "solutions" / "02_classification.ipynb", as_version=4)
    marked = sum(1 for c in nb.cells if c.metadata.get("slideshow", {}).get("slide_type") == "slide")
    w = Watched(browser, viewport={"width": 1400, "height": 900})
    try:
        w.page.goto(f"{lab}/lab/tree/live/02_classification.ipynb?reset")  # a fresh workspace: only this notebook
        first = w.page.locator(".jp-Notebook .jp-Cell").first
        first.wait_for(timeout=120_000)
        first.click()
        w.page.keyboard.press("Escape")
        w.page.keyboard.press("Alt+r")
        count, deadline = None, time.monotonic() + 240
        while count != marked and time.monotonic() < deadline:  # the RISE frame may reload while it builds
            w.page.wait_for_timeout(1000)
            for frame in w.page.frames:
                if "/rise/live/02_classification.ipynb" in frame.url:
                    with contextlib.suppress(Exception):
                        count = frame.evaluate("() => document.querySelectorAll('.reveal .slides > section').length")
        w.page.wait_for_timeout(3000)  # let the slideshow paint before the screenshot
        SHOTS.mkdir(parents=True, exist_ok=True)
        w.page.screenshot(path=str(SHOTS / "lab-live-slides.png"))
    finally:
        w.page.close()
    assert marked >= 10
    assert count == marked, f"RISE shows {count} slides; the notebook marks {marked}"
    assert w.outside == [], f"the live slides fetched {w.outside}"

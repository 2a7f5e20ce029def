"""Headless Chromium for the slides: PDF export, and the browser tests' launcher.

The browser is the system's Chromium (Debian's ``chromium`` package, ``apt-get install chromium``), driven by
Playwright's Python client with ``executable_path``; Playwright's own browser download is never used (it needs a
host other than the package registries, and a second browser to keep up to date). Every launch gets a fresh
profile (Playwright makes a temporary ``--user-data-dir``) and the flags below, which keep Chromium from calling
home: no background networking, component updates, sync or QUIC.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

ENV_CHROMIUM = "MLMC_COURSE_CHROMIUM"  # path of the Chromium binary, when it is not on PATH as chromium
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
HOW_TO_GET = (
    "install Chromium (Debian/Ubuntu: `sudo apt-get install chromium`; or set MLMC_COURSE_CHROMIUM to a Chrome or "
    "Chromium binary) and the dev extra (`pip install -c requirements/lock.txt -e '.[dev]'`, for playwright)"
)


class NoBrowser(RuntimeError):
    """No Chromium binary, or no Playwright, on this machine."""


def find_chromium() -> str | None:
    """The Chromium binary: ``$MLMC_COURSE_CHROMIUM``, else the first of :data:`CANDIDATES` on ``PATH``."""
    env = os.environ.get(ENV_CHROMIUM)
    if env:
        return env if Path(env).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> str | None:
    """Why the browser cannot run here (``None`` when it can)."""
    if find_chromium() is None:
        return f"no Chromium found: {HOW_TO_GET}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return f"the playwright package is not installed: {HOW_TO_GET}"
    return None


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium (a Playwright ``Browser``), closed on exit; raises :class:`NoBrowser` if there is none."""
    why = missing()
    if why:
        raise NoBrowser(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def wait_for_deck(page, timeout_ms: int = 30_000) -> None:
    """Wait until reveal.js has laid out the deck (or the page shows its "not installed" message)."""
    page.wait_for_function(
        "() => (window.Reveal && Reveal.isReady && Reveal.isReady()) || !document.getElementById('missing').hidden",
        timeout=timeout_ms,
    )


def print_pdf(deck: Path, pdf: Path, browser=None) -> Path:
    """Print a deck to PDF, one page per slide, with reveal.js's print layout (``?print-pdf``)."""
    if browser is None:
        with chromium() as b:
            return print_pdf(deck, pdf, b)
    page = browser.new_page()
    try:
        page.goto(deck.resolve().as_uri() + "?print-pdf")
        wait_for_deck(page)
        if page.evaluate("() => !document.getElementById('missing').hidden"):
            raise NoBrowser(f"{deck} cannot load reveal.js: run `bash scripts/course.sh setup` (npm ci) first")
        page.wait_for_function("() => document.querySelectorAll('.pdf-page').length > 0", timeout=30_000)
        pdf.parent.mkdir(parents=True, exist_ok=True)
        tmp = pdf.with_suffix(".pdf.part")
        page.pdf(path=str(tmp), prefer_css_page_size=True, print_background=True)
        tmp.replace(pdf)
    finally:
        page.close()
    return pdf

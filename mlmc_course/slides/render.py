"""Decks to HTML: ``slides/NN_name.html`` (reveal.js) and ``slides/index.html``.

A deck loads reveal.js (with its notes and highlight plugins and its theme, whose fonts are embedded in the CSS)
and KaTeX (with its fonts) from ``../node_modules/``, where ``npm ci`` installs the versions pinned by the
committed ``package-lock.json``. Nothing comes from a CDN and nothing is copied into the repository, so a deck
opens offline from the file system. Maths stays TeX in the HTML (``<span class="tex">``) and KaTeX renders it
when the deck opens; speaker notes get MathML, which the speaker view shows without KaTeX's style sheet.

The output depends only on the lesson source and the committed figures: no dates, no absolute paths, so a
build-sync test can compare committed decks with a fresh build.
"""

from __future__ import annotations

import html
import re
from importlib import resources
from pathlib import Path
from string import Template

from markdown_it import MarkdownIt

from mlmc_course.slides.structure import Deck, Item, Slide

VENDOR = "../node_modules"  # relative to slides/
DENSE_CHARS = 600  # a slide with more text than this is set in a smaller font


MD = MarkdownIt("commonmark", {"html": False}).enable("table")
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.DOTALL)
MATH = re.compile(r"\$\$(?P<display>.+?)\$\$|\$(?P<inline>[^$\n]+(?:\n[^$\n]+)*?)\$", re.DOTALL)


def _protect(text: str) -> tuple[str, list[str]]:
    """Take the maths out of markdown before it is parsed, as Jupyter does: a display equation whose lines start
    with "- " or "+ " must not become a list. Returns the text with placeholders and the HTML that replaces them."""
    codes: list[str] = []
    text = CODE.sub(lambda m: codes.append(m.group(0)) or f"\x01{len(codes) - 1}\x01", text)
    spans: list[str] = []

    def keep(m: re.Match) -> str:
        tex, cls = (m["display"], "tex display") if m["display"] is not None else (m["inline"], "tex")
        spans.append(f'<span class="{cls}">{html.escape(" ".join(tex.split()))}</span>')
        return f"MATHSPAN{len(spans) - 1}X"

    text = MATH.sub(keep, text)
    text = re.sub(r"\x01(\d+)\x01", lambda m: codes[int(m[1])], text)
    return text, spans


def _restore(rendered: str, spans: list[str]) -> str:
    return re.sub(r"MATHSPAN(\d+)X", lambda m: spans[int(m[1])], rendered)


def markdown_html(text: str) -> str:
    """Markdown (with ``$...$`` and ``$$...$$`` maths) to HTML; links open in a new tab."""
    masked, spans = _protect(text)
    out = _restore(MD.render(masked).strip(), spans)
    return out.replace('<a href="http', '<a target="_blank" rel="noopener" href="http')


def inline_html(text: str) -> str:
    """One line of markdown (a heading) to HTML without a block around it: "5. Results" stays a heading."""
    masked, spans = _protect(text)
    return _restore(MD.renderInline(masked).strip(), spans)


def _template(name: str) -> Template:
    return Template(resources.files("mlmc_course.slides").joinpath("templates", name).read_text())


def _item(item: Item, slides_dir: Path, title: str) -> str:
    if item.kind == "markdown":
        return f'<div class="md">{markdown_html(item.content)}</div>'
    if item.kind == "code":
        return f'<pre class="excerpt"><code class="language-python">{html.escape(item.content)}</code></pre>'
    if item.kind == "figure":
        alt = html.escape(f"figure: {title}", quote=True)
        return f'<figure><img src="{html.escape(item.content)}" alt="{alt}"></figure>'
    # a markdown table the lesson displayed
    return f'<div class="md table">{markdown_html((slides_dir / item.content).read_text())}</div>'


def slide_html(slide: Slide, slides_dir: Path) -> str:
    """One ``<section>``; ``data-kind`` tells the tests (and the CSS) what it is."""
    head = f'<p class="kicker">{inline_html(slide.kicker)}</p>' if slide.kicker else ""
    tag = "h1" if slide.kind == "title" else "h2"
    body = "\n".join(_item(i, slides_dir, slide.title) for i in slide.items)
    notes = "\n".join(markdown_html(n) for n in slide.notes)
    notes_html = f'\n<aside class="notes">{notes}</aside>' if notes else ""
    text = sum(len(i.content) for i in slide.items if i.kind != "figure")
    dense = ' class="dense"' if text > DENSE_CHARS else ""
    title = inline_html(slide.title)
    return f'<section data-kind="{slide.kind}"{dense}>\n{head}<{tag}>{title}</{tag}>\n{body}{notes_html}\n</section>'


def deck_html(deck: Deck, slides_dir: Path) -> str:
    """The whole deck as one HTML page."""
    sections = "\n".join(slide_html(s, slides_dir) for s in deck.slides)
    plain_title = html.escape(f"{deck.stem[:2]} · {deck.title}".replace("$", ""))
    return _template("deck.html").substitute(
        title=plain_title, stem=deck.stem, vendor=VENDOR, slides=sections, count=len(deck.slides)
    )


def index_html(decks: list[Deck]) -> str:
    """``slides/index.html``: every deck by its lesson's title, and how to present and print."""
    rows = "\n".join(
        f'<li><a href="{d.stem}.html"><span class="num">{d.stem[:2]}</span> {html.escape(d.title)}</a></li>'
        for d in decks
    )
    return _template("index.html").substitute(rows=rows)

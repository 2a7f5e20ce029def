"""The slides of a lesson, read from its source: mostly inferred from the markdown, explicit where it must be.

Why inference: the lessons are written as notebooks, with a ``##`` heading per idea, display equations for the
maths, lists for summaries, and a plot cell after the text it illustrates. Reading that structure gives a deck
without touching the sources, and keeps one source for notebook and slides. What a slide shows (a lecture slide
carries the point, the speaker says the rest):

* **title** (the ``#`` heading, the first sentence, time and prerequisites; the sources go into the notes) and
  **goals** (the "You will" list);
* a **section** slide per ``##`` or ``###`` heading: the first sentence (two if the section has no equation,
  list or table), every display equation ``$$...$$``, its lists and tables, and at most one short code excerpt
  (a plain code cell of at most six lines that is not only imports); the section's full text is the slide's
  speaker notes;
* a **figure** slide per image a plain code cell drew in an executed lecture-mode run
  (:mod:`mlmc_course.slides.figures`), and a **table** slide per markdown table it displayed; the first sentence
  of the text after the plot is the caption, the text the notes;
* an **exercise** slide per graded question: the task and the function's signature as the student's stub has
  it; never the solution, the recorded wrong answers, the checks or the claims;
* the ``Summary`` and ``Further reading`` sections as **summary** and **references** slides.

Explicit jupytext cell metadata, ``slideshow={"slide_type": ...}`` as in Jupyter and RISE, overrides the
inference for one cell: ``"skip"`` leaves the cell out; ``"notes"`` makes a markdown cell speaker notes of the
current slide (and leaves it out of the student notebook); ``"slide"``/``"subslide"`` start a new slide that
shows the whole cell (markdown text, or code as an excerpt); ``"fragment"`` or ``"-"`` add the whole cell to the
current slide. The title cell declares how many slides its deck should have, ``slides=[lo, hi]``; the browser
tests hold the deck to it.

:func:`notebook_slide_type` gives the same reading to the generated notebooks (the build cuts markdown cells at
their headings with :func:`split_at_headings`; a slide starts at each heading and each question), so
jupyterlab-rise presents them live with the markers the static deck uses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Literal

from mlmc_course.grading.lesson import Lesson, tags_of

SlideKind = Literal["title", "goals", "section", "figure", "table", "exercise", "summary", "references"]
ItemKind = Literal["markdown", "code", "figure", "table"]
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.+?)\s*$")
DISPLAY_MATH = re.compile(r"\$\$(?P<tex>.+?)\$\$", re.DOTALL)
LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d+[.)])\s+")
EXERCISE = re.compile(r"^\*\*Exercise (?P<n>\d+)\.\*\*\s*")
ABBREVIATIONS = ("e.g.", "i.e.", "cf.", "et al.", "vs.", "Fig.", "Eq.", "approx.", "resp.")
SKIPPED_TAGS = {"parameters", "setup", "solution", "wrong", "check", "hidden", "claim", "mutants"}
SUMMARY_TITLES = ("summary",)
REFERENCE_TITLES = ("further reading", "references", "reading")
MAX_EXCERPT_LINES = 6


@dataclass
class Item:
    """One thing on a slide: markdown (with maths), a code excerpt, or a figure/table key (see ``figures``)."""

    kind: ItemKind
    content: str


@dataclass
class Slide:
    """One slide: what it shows (``items``) and what the speaker says (``notes``, markdown)."""

    kind: SlideKind
    title: str
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kicker: str = ""  # the enclosing ``##`` section of a ``###`` slide, or the lesson number on the title slide

    def has(self, kind: ItemKind) -> bool:
        return any(i.kind == kind for i in self.items)


@dataclass
class Deck:
    """A lesson's slides, with the slide count range its source declares (``None`` when it declares none)."""

    stem: str
    title: str
    slides: list[Slide]
    declared: tuple[int, int] | None


def cell_key(source: str) -> str:
    """A code cell's identity for its figures: a short hash of its source (trailing blanks ignored)."""
    text = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def explicit_type(cell) -> str | None:
    """The ``slideshow.slide_type`` a lesson author set on a cell, if any."""
    return (cell.metadata.get("slideshow") or {}).get("slide_type")


def notebook_slide_type(cell) -> str:
    """The RISE slide type of a lesson cell in the generated notebooks: explicit metadata wins; otherwise a
    markdown cell that opens with a heading, and every question, starts a slide; everything else continues it."""
    explicit = explicit_type(cell)
    if explicit:
        return explicit
    if cell.cell_type == "markdown":
        first = next((line for line in cell.source.splitlines() if line.strip()), "")
        if "question" in tags_of(cell) or HEADING.match(first):
            return "slide"
    return "-"


# --- reading markdown -------------------------------------------------------------------------------------------


def split_at_headings(markdown: str, max_level: int = 3) -> list[str]:
    """A markdown cell cut before each heading of level 1 to ``max_level`` (none inside display maths), so that
    every section starts a cell, and so a live slide, of its own; the pieces join back to the cell."""
    pieces: list[list[str]] = [[]]
    in_math = False
    for line in markdown.splitlines():
        m = None if in_math else HEADING.match(line)
        if m and len(m["hashes"]) <= max_level and any(ln.strip() for ln in pieces[-1]):
            pieces.append([])
        pieces[-1].append(line)
        in_math ^= line.count("$$") % 2 == 1
    return ["\n".join(p).strip("\n") for p in pieces if any(ln.strip() for ln in p)]


def segments(markdown: str) -> list[tuple[int, str, str]]:
    """Split markdown at its headings: ``(level, title, body)``; text before the first heading has level 0."""
    out: list[tuple[int, str, list[str]]] = [(0, "", [])]
    in_math = False
    for line in markdown.splitlines():
        m = None if in_math else HEADING.match(line)
        if m:
            out.append((len(m["hashes"]), m["title"], []))
        else:
            out[-1][2].append(line)
        in_math ^= line.count("$$") % 2 == 1
    return [(lvl, title, "\n".join(body).strip()) for lvl, title, body in out if title or "\n".join(body).strip()]


@dataclass
class Parts:
    """The pieces of a markdown body a slide can use."""

    paragraphs: list[str]
    equations: list[str]
    lists: list[str]
    tables: list[str]


def parts(body: str) -> Parts:
    """Paragraphs, display equations, lists and tables of a markdown body, in order of appearance."""
    equations = [m["tex"].strip() for m in DISPLAY_MATH.finditer(body)]
    # a display equation's continuation lines ("   - x", "| y") are maths, not lists or tables
    flat = DISPLAY_MATH.sub(lambda m: "$$ " + " ".join(m["tex"].split()) + " $$", body)
    blocks: list[tuple[str, list[str]]] = []
    for line in flat.splitlines():
        kind = "blank" if not line.strip() else "table" if line.lstrip().startswith("|") else None
        if kind is None:
            if LIST_ITEM.match(line):
                kind = "list"
            elif blocks and blocks[-1][0] == "list" and line.startswith((" ", "\t")):
                kind = "list"  # an indented continuation of a list item
            else:
                kind = "text"
        if blocks and blocks[-1][0] == kind:
            blocks[-1][1].append(line)
        else:
            blocks.append((kind, [line]))
    text = lambda kind: ["\n".join(lines) for k, lines in blocks if k == kind]  # noqa: E731
    return Parts(text("text"), equations, text("list"), text("table"))


def _mask_math(text: str) -> tuple[str, list[str]]:
    found: list[str] = []

    def keep(m: re.Match) -> str:
        found.append(m.group(0))
        return f"\x00{len(found) - 1}\x00"

    return re.sub(r"\$\$.+?\$\$|\$[^$]+\$|`[^`]+`", keep, text, flags=re.DOTALL), found


def _unmask(text: str, found: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: found[int(m[1])], text)


def sentences(paragraph: str, n: int = 1) -> str:
    """The first ``n`` sentences of a paragraph (maths and code spans kept whole; a display equation ends it)."""
    masked, found = _mask_math(" ".join(paragraph.split()))
    display = next((f"\x00{i}\x00" for i, f in enumerate(found) if f.startswith("$$")), None)
    if display is not None:  # "... between distributions, $$ D = ... $$" -> "... between distributions:"
        masked = masked.split(display, 1)[0].rstrip(" ,;:") + ":"
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s+[A-Z(*\x00\[])", masked)]
    ends = [e for e in ends if not any(masked[:e].endswith(a) for a in ABBREVIATIONS)]
    cut = ends[n - 1] if len(ends) >= n else len(masked)
    return _unmask(masked[:cut].strip(), found)


def excerpt_worthy(source: str) -> bool:
    """A plain code cell short enough to show: at most six code lines, not only imports or displays."""
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines or len(lines) > MAX_EXCERPT_LINES:
        return False
    plain = [ln for ln in lines if not ln.startswith(("import ", "from ", "Markdown(", "display(", "print("))]
    return bool(plain)


def stub_signature(solution: str) -> str:
    """What the student's stub shows above the hint: the lines of a solution cell before ``# BEGIN SOLUTION``."""
    lines = []
    for line in solution.splitlines():
        if line.strip().startswith("# BEGIN SOLUTION"):
            break
        lines.append(line)
    return "\n".join(lines).strip()


# --- building the deck ------------------------------------------------------------------------------------------


class _Builder:
    """Walks a lesson's cells in order and appends slides."""

    def __init__(self, lesson: Lesson, figures: dict[str, list[str]]):
        self.lesson, self.figures = lesson, figures
        self.slides: list[Slide] = []
        self.section = ""  # the current ``##`` title
        self.subsection = ""  # the current ``###`` title
        self.excerpted: set[int] = set()  # slides that already show an inferred excerpt

    @property
    def current(self) -> Slide | None:
        return self.slides[-1] if self.slides else None

    def title_of_context(self) -> str:
        return self.subsection or self.section or self.lesson.stem

    def add(self, slide: Slide) -> Slide:
        self.slides.append(slide)
        return slide

    def add_notes(self, text: str) -> None:
        if text.strip() and self.current is not None:
            self.current.notes.append(text.strip())

    # markdown
    def title_cell(self, source: str) -> None:
        segs = segments(source)
        at = next((i for i, (lv, _, _) in enumerate(segs) if lv == 1), None)
        if at is None:
            raise ValueError(f"{self.lesson.path.name}: the first markdown cell needs the '# NN · Title' heading")
        _, title, body = segs[at]
        number, _, name = title.partition(" · ")
        p = parts(body)
        goals_at = next((i for i, para in enumerate(p.paragraphs) if para.strip().startswith("**You will")), None)
        lead = sentences(p.paragraphs[0], 1) if p.paragraphs and goals_at != 0 else ""
        meta = [
            ln.strip()
            for para in p.paragraphs
            for ln in para.splitlines()
            if ln.strip().startswith(("**Prerequisites", "**Time"))
        ]
        slide = Slide("title", name or title, [Item("markdown", lead)] if lead else [], kicker=number if name else "")
        if meta:
            slide.items.append(Item("markdown", "  \n".join(meta)))
        slide.notes.append(body)
        self.add(slide)
        if p.lists:
            self.add(Slide("goals", "You will", [Item("markdown", p.lists[0])]))
        for lv, t, b in segs[at + 1 :]:
            self.segment(lv, t, b)

    def segment(self, level: int, title: str, body: str) -> None:
        if level == 0:  # text that continues the previous slide, e.g. the reading of a plot
            self.continuation(body)
            return
        if level <= 2:
            self.section, self.subsection = title, ""
        else:
            self.subsection = title
        p = parts(body)
        lowered = title.lower().strip()
        if lowered in SUMMARY_TITLES or lowered in REFERENCE_TITLES:
            kind: SlideKind = "summary" if lowered in SUMMARY_TITLES else "references"
            items = [Item("markdown", block) for block in p.lists] or [Item("markdown", body)]
            self.add(Slide(kind, title, items, notes=[body]))
            return
        items = []
        if p.paragraphs:
            rich = p.equations or p.lists or p.tables
            items.append(Item("markdown", sentences(p.paragraphs[0], 1 if rich else 2)))
        items += [Item("markdown", f"$$ {tex} $$") for tex in p.equations]
        items += [Item("markdown", block) for block in p.lists + p.tables]
        kicker = self.section if level > 2 else ""
        self.add(Slide("section", title, items, notes=[body], kicker=kicker))

    def continuation(self, body: str) -> None:
        slide, p = self.current, parts(body)
        if slide is not None and slide.kind in ("figure", "table") and not slide.has("markdown") and p.paragraphs:
            slide.items.append(Item("markdown", sentences(p.paragraphs[0], 1)))  # the caption
        if p.equations or p.tables:  # key equations in running text get a slide of their own
            items = [Item("markdown", f"$$ {tex} $$") for tex in p.equations] + [Item("markdown", t) for t in p.tables]
            if p.paragraphs:
                items.insert(0, Item("markdown", sentences(p.paragraphs[0], 1)))
            self.add(Slide("section", self.title_of_context(), items, notes=[body], kicker=self._kicker()))
            return
        self.add_notes(body)

    def _kicker(self) -> str:
        return self.section if self.subsection else ""

    def question(self, cell, number: int) -> None:
        text = cell.source.strip()
        m = EXERCISE.match(text)
        title = f"Exercise {m['n']}" if m else f"Exercise {number}"
        task = text[m.end() :] if m else text
        q = next(q for q in self.lesson.questions if q.name == cell.metadata["name"])
        items = [Item("markdown", task)]
        signature = stub_signature(q.solution[0])
        if signature:
            items.append(Item("code", signature))
        self.add(Slide("exercise", title, items, notes=[f"Check: `grader.check({q.name!r})`, {q.points} points."]))

    # code
    def code(self, cell, explicit: str | None) -> None:
        key = cell_key(cell.source)
        outputs = self.figures.get(key, [])
        for ref in outputs:
            kind: SlideKind = "table" if ref.endswith(".md") else "figure"
            self.add(Slide(kind, self.title_of_context(), [Item(kind, ref)], kicker=self._kicker()))
        if explicit in ("slide", "subslide"):
            self.add(Slide("section", self.title_of_context(), [Item("code", cell.source.strip())]))
        elif explicit in ("fragment", "-") and self.current is not None:
            self.current.items.append(Item("code", cell.source.strip()))
        elif not outputs and excerpt_worthy(cell.source):
            slide = self.current
            if slide is not None and slide.kind == "section" and id(slide) not in self.excerpted:
                slide.items.append(Item("code", cell.source.strip()))
                self.excerpted.add(id(slide))


def lesson_deck(lesson: Lesson, figures: dict[str, list[str]] | None = None) -> Deck:
    """The deck of a lesson. ``figures`` maps :func:`cell_key` of a code cell to its figure and table files
    (relative to ``slides/``), as :class:`mlmc_course.slides.figures.FigureStore` gives them."""
    b = _Builder(lesson, figures or {})
    n_questions = 0
    first_markdown = True
    for cell in lesson.notebook.cells:
        tags = set(tags_of(cell))
        explicit = explicit_type(cell)
        if explicit == "skip":
            continue
        if "question" in tags:
            n_questions += 1
            b.question(cell, n_questions)
            continue
        if tags & SKIPPED_TAGS:
            continue
        if cell.cell_type == "markdown":
            if explicit == "notes":
                b.add_notes(cell.source)
            elif first_markdown:
                b.title_cell(cell.source)
            elif explicit in ("slide", "subslide"):
                b.add(Slide("section", b.title_of_context(), [Item("markdown", cell.source)], kicker=b._kicker()))
            elif explicit in ("fragment", "-") and b.current is not None:
                b.current.items.append(Item("markdown", cell.source))
            else:
                for level, title, body in segments(cell.source):
                    b.segment(level, title, body)
            first_markdown = False
        elif cell.cell_type == "code":
            b.code(cell, explicit)
    title_cell = next((c for c in lesson.notebook.cells if c.cell_type == "markdown"), None)
    declared = title_cell.metadata.get("slides") if title_cell is not None else None
    if declared is not None:
        if not (isinstance(declared, list) and len(declared) == 2 and 0 < declared[0] <= declared[1]):
            raise ValueError(f"{lesson.path.name}: the title cell's slides=[lo, hi] is malformed: {declared!r}")
        declared = (int(declared[0]), int(declared[1]))
    title = b.slides[0].title if b.slides else lesson.stem
    return Deck(lesson.stem, title, b.slides, declared)

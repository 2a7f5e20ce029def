"""The lecture-mode figures of the decks: taken from executed solution notebooks, stored next to the decks.

A deck shows what the lesson's plain code cells drew when its solution ran in lecture mode. Running a lesson takes
a minute or two, so the figures are not made on every build: ``mlmc-course slides NN --run`` (or
``--figures-from DIR`` with the notebooks of ``mlmc-course run --mode lecture --keep DIR``) copies each image and
each displayed markdown table into ``slides/figures/NN_name/``, named by the hash of the cell's source
(:func:`~mlmc_course.slides.structure.cell_key`), with a ``figures.json`` manifest that lists every plain code
cell of the run. A deck build then needs no kernel, and a lesson whose code changed since its figures were made is
caught: a plotting cell the manifest does not know is *stale*, and building its deck fails with the command that
makes fresh figures, as the build-sync test does for notebooks.

Figures are committed (about 60 kB a PNG) so that ``slides/`` opens without running anything; the manifest
records the mode and the command, and nothing in it changes between two extractions of the same run.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlmc_course.grading.lesson import Lesson, tags_of
from mlmc_course.slides.structure import SKIPPED_TAGS, cell_key

FIGURE_MODES = ("lecture", "full")
DRAWS = re.compile(r"plt\.|plot|\bfig\b|\bax\b|imshow|Markdown\(|display\(")


class StaleFigures(ValueError):
    """A lesson's plotting cells changed since its figures were made (or it has none yet)."""


def plain_code_cells(lesson: Lesson) -> list:
    """The lesson's code cells that a deck may show outputs of: not setup, exercise, check or claim cells."""
    return [
        c
        for c in lesson.notebook.cells
        if c.cell_type == "code"
        and not set(tags_of(c)) & SKIPPED_TAGS
        and (c.metadata.get("slideshow") or {}).get("slide_type") != "skip"
    ]


@dataclass
class FigureStore:
    """``slides/figures/`` of a course checkout."""

    root: Path

    @property
    def folder(self) -> Path:
        return self.root / "slides" / "figures"

    def manifest_path(self, stem: str) -> Path:
        return self.folder / stem / "figures.json"

    def manifest(self, stem: str) -> dict | None:
        path = self.manifest_path(stem)
        return json.loads(path.read_text()) if path.exists() else None

    def lookup(self, lesson: Lesson) -> dict[str, list[str]]:
        """``cell_key -> [file relative to slides/, ...]`` for the lesson's figures; raises :class:`StaleFigures`
        when a plotting cell of the source is not in the manifest."""
        manifest = self.manifest(lesson.stem)
        fix = f"run `mlmc-course slides {lesson.stem[:2]} --run` (a lecture-mode run of the lesson, a minute or two)"
        if manifest is None:
            raise StaleFigures(f"{lesson.stem} has no figures yet: {fix}")
        cells = manifest["cells"]
        stale = [c for c in plain_code_cells(lesson) if cell_key(c.source) not in cells and DRAWS.search(c.source)]
        if stale:
            first = stale[0].source.strip().splitlines()[-1][:70]
            raise StaleFigures(
                f"{lesson.stem}: {len(stale)} plotting cell(s) changed since the figures were made "
                f"(e.g. the cell ending {first!r}): {fix}"
            )
        return {key: entry["outputs"] for key, entry in cells.items() if entry["outputs"]}

    def extract(self, lesson: Lesson, executed: Path, made_by: str) -> list[str]:
        """Copy the figures and markdown tables of an executed solution notebook into ``slides/figures/NAME/``.

        The executed notebook must come from a lecture- or full-mode run of this lesson (papermill records the
        mode). The folder is replaced as a whole, so figures of cells that no longer exist go away. Returns the
        files written, relative to ``slides/``.
        """
        nb = nbformat.read(executed, as_version=4)
        mode = (nb.metadata.get("papermill") or {}).get("parameters", {}).get("MODE")
        if mode not in FIGURE_MODES:
            raise ValueError(
                f"{executed} was run in mode {mode!r}; slides show the figures of a lecture-mode run "
                "(mlmc-course run --mode lecture --keep DIR)"
            )
        wanted = {cell_key(c.source): c for c in plain_code_cells(lesson)}
        ran = {cell_key(c.source): c for c in nb.cells if c.cell_type == "code"}
        missing = [k for k in wanted if k not in ran]
        if missing:
            raise StaleFigures(
                f"{executed} is not a run of the current lessons/{lesson.stem}.py ({len(missing)} code cells "
                "differ): rebuild the notebooks and run again"
            )
        cells, written = {}, []
        with tempfile.TemporaryDirectory(dir=self.folder.parent if self.folder.parent.exists() else None) as tmp:
            out = Path(tmp) / lesson.stem
            out.mkdir()
            for key, cell in wanted.items():
                refs = []
                for output in ran[key].get("outputs", []):
                    data = output.get("data", {})
                    n = len(refs) + 1
                    if "image/png" in data:
                        name = f"{key}-{n}.png"
                        (out / name).write_bytes(base64.b64decode(data["image/png"]))
                    elif "text/markdown" in data and "|" in data["text/markdown"]:
                        name = f"{key}-{n}.md"
                        (out / name).write_text("".join(data["text/markdown"]).strip() + "\n")
                    else:
                        continue
                    refs.append(f"figures/{lesson.stem}/{name}")
                cells[key] = {"cell": cell.source.strip().splitlines()[0][:80], "outputs": refs}
                written += refs
            manifest = {"lesson": lesson.stem, "mode": mode, "made_by": made_by, "cells": cells}
            (out / "figures.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
            target = self.folder / lesson.stem
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                shutil.rmtree(target)
            shutil.move(str(out), target)
        return written

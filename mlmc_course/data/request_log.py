"""The log of cached sample requests that ``mlmc-course data prepare --record`` reads: the Pythia generator notes each
request here before it looks in the cache (kept apart from :mod:`mlmc_course.data.prepare`, which calls the
generator, so that the two do not import each other)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

ENV_LOG = "MLMC_COURSE_SAMPLE_LOG"
"""When set to a file name, every cached generator request is appended to that file as one JSON line."""


def note_request(info: Mapping, path: Path, n_events: int) -> None:
    """Log one cached sample request (called by the generator before it looks in the cache) if :data:`ENV_LOG` is set.

    The line records whether the sample was already in the cache (``cached``): a run from a prepared cache logs
    only ``cached: true`` lines.
    """
    log = os.environ.get(ENV_LOG)
    if not log:
        return
    line = {"info": dict(info), "file": Path(path).name, "cached": Path(path).exists(), "events": int(n_events)}
    with open(log, "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")


def read_log(path: str | Path) -> list[dict]:
    """The requests logged in ``path`` (an empty list when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

"""Shared fixtures: the repository root and the ci run mode for everything the tests execute."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlmc_course.config import ENV_MODE, apply_threads

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault(ENV_MODE, "ci")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tensorflow-probability needs Keras 2 (tf-keras)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


# Tests train many tiny networks, often side by side (pytest -n): the ci mode's one intra-op thread each avoids
# oversubscription (MLMC_COURSE_THREADS overrides, as for the lessons).
apply_threads("ci")

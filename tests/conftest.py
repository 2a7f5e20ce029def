"""Shared fixtures: the repository root and the ci run mode for everything the tests execute."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MLMC_COURSE_MODE", "ci")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tensorflow-probability needs Keras 2 (tf-keras)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


# Tests train many tiny networks, often side by side (pytest -n): one intra-op thread each avoids oversubscription.
torch.set_num_threads(1)

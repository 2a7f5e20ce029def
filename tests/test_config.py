from __future__ import annotations

import numpy as np
import pytest
import torch

import mlmc_course
from mlmc_course.config import RunConfig, check_mode, default_mode, seed_everything, setup


def test_modes_and_env(monkeypatch):
    monkeypatch.setenv("MLMC_COURSE_MODE", "full")
    assert default_mode() == "full"
    assert setup(None, quiet=True).mode == "full"
    monkeypatch.setenv("MLMC_COURSE_MODE", "fast")
    with pytest.raises(ValueError, match="unknown run mode 'fast'"):
        default_mode()


def test_environment_wins_over_the_cell(monkeypatch):
    monkeypatch.setenv("MLMC_COURSE_MODE", "ci")
    assert setup("lecture", quiet=True).mode == "ci"
    monkeypatch.delenv("MLMC_COURSE_MODE")
    assert setup("lecture", quiet=True).mode == "lecture"


def test_pick_changes_sizes_only():
    cfg = RunConfig("ci", 1, torch.device("cpu"))
    assert cfg.pick(ci=1, lecture=2, full=3) == 1
    assert RunConfig("full", 1, torch.device("cpu")).pick(ci=1, lecture=2, full=3) == 3


def test_seed_everything_reproduces_numpy_and_torch():
    seed_everything(7)
    a = (np.random.rand(3), torch.rand(3))  # noqa: NPY002
    seed_everything(7)
    b = (np.random.rand(3), torch.rand(3))  # noqa: NPY002
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(-1)


def test_device_is_cpu_without_gpu():
    dev = mlmc_course.device()
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError):
        mlmc_course.device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no GPU"):
            mlmc_course.device("cuda")


def test_check_mode_message():
    with pytest.raises(ValueError, match="ci, lecture, full"):
        check_mode("quick")


def test_torch_threads_default_to_one_and_follow_the_environment(monkeypatch):
    from mlmc_course.config import torch_threads

    monkeypatch.delenv("MLMC_COURSE_THREADS", raising=False)
    assert torch_threads("lecture") == 1
    assert torch_threads("ci") == 1
    assert torch_threads("full") is None
    previous = torch.get_num_threads()
    try:
        monkeypatch.setenv("MLMC_COURSE_THREADS", "2")
        setup("lecture", quiet=True)
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("MLMC_COURSE_THREADS", "zero")
        with pytest.raises(ValueError, match="MLMC_COURSE_THREADS must be a positive integer"):
            setup("lecture", quiet=True)
    finally:
        torch.set_num_threads(previous)

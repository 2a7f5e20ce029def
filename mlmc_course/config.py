"""Run modes, seeds and the compute device.

Every lesson has one parameters cell that sets ``MODE``; :func:`setup` turns it into a :class:`RunConfig`.
Modes change sizes (events, epochs), never the code path.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

Mode = Literal["ci", "lecture", "full"]
MODES: tuple[str, ...] = ("ci", "lecture", "full")
ENV_MODE = "MLMC_COURSE_MODE"
ENV_THREADS = "MLMC_COURSE_THREADS"
ENV_SCHEDULER = "MLMC_COURSE_SCHEDULER"
DEFAULT_SEED = 1234

T = TypeVar("T")


def check_mode(mode: str) -> Mode:
    """Return ``mode`` if it is a known run mode, else raise a ValueError that lists them."""
    if mode not in MODES:
        raise ValueError(
            f"unknown run mode {mode!r}: use one of {', '.join(MODES)} "
            f"(set MODE in the parameters cell or the environment variable {ENV_MODE})"
        )
    return mode  # type: ignore[return-value]


def default_mode() -> Mode:
    """The mode from the environment variable ``MLMC_COURSE_MODE``, or ``"lecture"`` when it is unset."""
    return check_mode(os.environ.get(ENV_MODE, "lecture"))


def device(prefer: str | None = None):
    """Return the torch device to compute on: CUDA when present, else the CPU.

    Args:
        prefer: force ``"cpu"`` or ``"cuda"``; ``None`` picks CUDA when available.
    """
    import torch

    if prefer is not None:
        if prefer not in ("cpu", "cuda"):
            raise ValueError(f"prefer must be 'cpu', 'cuda' or None, got {prefer!r}")
        if prefer == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("CUDA was asked for but torch sees no GPU; use prefer=None or 'cpu'")
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA) and return a fresh NumPy generator.

    Seeding makes a lesson reproducible on one machine; results can still differ between CPU and GPU.
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)  # noqa: NPY002  (legacy global state, for code that still uses it)
    try:
        import torch
    except ImportError:  # torch is a core dependency; this only guards odd installs
        pass
    else:
        torch.manual_seed(int(seed))
    return np.random.default_rng(int(seed))


@dataclass(frozen=True)
class RunConfig:
    """What a lesson needs to know about how it is run.

    Attributes:
        mode: ``"ci"`` (smallest, for tests), ``"lecture"`` (default, ~2 minutes on 2 CPU cores)
            or ``"full"`` (a GPU and the full-size data).
        seed: the lesson's master seed.
        device: the torch device lessons train on.
    """

    mode: Mode
    seed: int
    device: object

    def pick(self, *, ci: T, lecture: T, full: T) -> T:
        """Return the value for the current mode, e.g. ``cfg.pick(ci=500, lecture=5000, full=10**6)``."""
        return {"ci": ci, "lecture": lecture, "full": full}[self.mode]

    def describe(self) -> str:
        """One line for the top of a lesson: mode, device, seed and thread count."""
        import torch

        return f"mode={self.mode}  device={self.device}  seed={self.seed}  torch threads={torch.get_num_threads()}"


def torch_threads(mode: Mode) -> int | None:
    """CPU threads for torch: ``$MLMC_COURSE_THREADS`` if set, else 1 in the ci and lecture modes, else torch's choice.

    The course's networks are small: a second thread gains little on them, and on shared CPUs (Binder, CI, a laptop
    running other work) torch's threads wait for each other and a run can become many times slower. One thread is
    the robust default; ``full`` mode (a dedicated machine) keeps torch's own choice.
    """
    env = os.environ.get(ENV_THREADS)
    if env is not None:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"{ENV_THREADS} must be a positive integer, got {env!r}")
        return int(env)
    return None if mode == "full" else 1


def apply_threads(mode: Mode) -> int:
    """Set torch's intra-op thread count for ``mode`` (see :func:`torch_threads`) and return the count in force.

    The one place in the course that sets torch's threads; lessons get it through :func:`setup`.
    """
    import torch

    wanted = torch_threads(mode)
    if wanted is not None:
        torch.set_num_threads(wanted)
    return torch.get_num_threads()


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Run torch on ``n`` intra-op threads inside the block and restore the previous count afterwards.

    For code whose result depends on the thread count, such as a timing table measured on one thread.
    """
    import torch

    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the thread count must be a positive integer, got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def setup(mode: str | None = None, seed: int = DEFAULT_SEED, *, quiet: bool = False) -> RunConfig:
    """Prepare a lesson: check the mode, seed everything, pick the device and torch's threads, apply the plot style.

    Args:
        mode: the value of ``MODE`` from the parameters cell. The environment variable ``MLMC_COURSE_MODE``, when
            set, wins over it; with neither, the mode is ``"lecture"``.
        seed: master seed for the lesson.
        quiet: do not print the one-line summary.
    """
    from mlmc_course.plotting import use_style

    env = os.environ.get(ENV_MODE)
    if env is not None:  # the environment wins, so that CI, Binder or a lecturer can set every notebook at once
        chosen = check_mode(env)
    else:
        chosen = check_mode(mode) if mode is not None else "lecture"
    cfg = RunConfig(mode=chosen, seed=seed, device=device())
    apply_threads(chosen)
    seed_everything(seed)
    use_style()
    if not quiet:
        print(cfg.describe())
    return cfg

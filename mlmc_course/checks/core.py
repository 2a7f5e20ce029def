"""What every check uses: the failure type, seeded randomness, and calling the student's code safely."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import numpy as np

_OFFSET: ContextVar[int] = ContextVar("mlmc_check_seed_offset", default=0)


class CheckFailed(AssertionError):
    """A graded check found a problem; the message is written for the student."""


@contextlib.contextmanager
def seed_offset(offset: int) -> Iterator[None]:
    """Shift every check's seed by ``offset`` (the tests run each check under several seeds)."""
    token = _OFFSET.set(offset)
    try:
        yield
    finally:
        _OFFSET.reset(token)


def check_seed(seed: int) -> int:
    """The seed a check actually uses: its own seed plus the current offset."""
    return int(seed) + _OFFSET.get()


def check_rng(seed: int) -> np.random.Generator:
    """A NumPy generator for a check, seeded with :func:`check_seed`."""
    return np.random.default_rng(check_seed(seed))


def require(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def call(answer: Callable[..., Any], *args, what: str, **kwargs) -> Any:
    """Call the student's function and turn its crashes into readable check failures.

    ``NotImplementedError`` (the stub) becomes "not answered yet"; other exceptions name the error.
    """
    if not callable(answer):
        raise CheckFailed(f"{what} should be a function, got {type(answer).__name__}")
    try:
        return answer(*args, **kwargs)
    except NotImplementedError as err:
        raise CheckFailed(f"{what} is not written yet (it still raises NotImplementedError: {err})") from None
    except CheckFailed:
        raise
    except Exception as err:  # the student's code may fail in any way; report it plainly
        raise CheckFailed(f"{what} raised {type(err).__name__}: {err}") from err


def _array(value: Any, what: str) -> np.ndarray:
    """``value`` (a number, list, NumPy array or torch tensor) as a float array, or a :class:`CheckFailed` that
    names what came back instead (None, a string, a ragged list...)."""
    if value is None:
        raise CheckFailed(f"{what} is None: did the function forget to return its result?")
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        kind = type(value).__name__
        raise CheckFailed(f"{what} should be a number or an array of numbers, got {kind} ({err})") from None


def as_float(value: Any, what: str, *, finite: bool = True) -> float:
    """Convert a scalar answer (a float, 0-d array or 0-d tensor) to float, or fail with a clear message;
    ``finite=False`` lets NaN and infinity through, for a check that explains them itself."""
    arr = _array(value, what)
    if arr.size != 1:
        kind = "a tensor" if hasattr(value, "detach") else "an array"
        raise CheckFailed(f"{what} should be a single number, got {kind} of shape {arr.shape}")
    out = float(arr.reshape(()))
    if finite and not np.isfinite(out):
        raise CheckFailed(f"{what} is {out}; it should be a finite number")
    return out


def as_numpy(value: Any, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Convert an array answer to a float NumPy array, checking its shape and finiteness."""
    arr = _array(value, what)
    if shape is not None and arr.shape != shape:
        raise CheckFailed(f"{what} should have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise CheckFailed(f"{what} contains NaN or infinity")
    return arr

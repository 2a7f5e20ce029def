"""Input checks for the package boundary, with messages that say how to fix the input."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_array(
    x,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    shape: Sequence[int | None] | None = None,
    dtype: str = "float",
    finite: bool = True,
) -> np.ndarray:
    """Convert ``x`` to a NumPy array and check it.

    Args:
        x: array-like (NumPy array, list, or a torch tensor, which is detached and moved to the CPU).
        name: the argument's name, used in error messages.
        ndim: required number of dimensions (or a tuple of allowed ones).
        shape: required shape; ``None`` entries match any length.
        dtype: ``"float"`` (converted to float64), ``"int"``, ``"bool"`` or ``"any"``.
        finite: reject NaN and infinity.

    Raises:
        TypeError: for a non-numeric input or wrong dtype.
        ValueError: for a wrong shape or non-finite values.
    """
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except ValueError as err:
        raise ValueError(f"{name} could not be made into an array ({err}); ragged lists? pad them first") from err
    except TypeError as err:
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from err
    if arr.dtype == object:
        raise TypeError(f"{name} must hold numbers, got an object array (ragged lists?); pad it first")
    if dtype == "float":
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        arr = arr.astype(np.float64, copy=False)
    elif dtype == "int":
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}; convert with .astype(int)")
    elif dtype == "bool":
        if arr.dtype.kind != "b":
            raise TypeError(f"{name} must be boolean, got dtype {arr.dtype}")
    elif dtype != "any":
        raise ValueError(f"unknown dtype requirement {dtype!r}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name} must have {want} dimension(s), got shape {arr.shape}")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape, strict=False))
        if not ok:
            want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if finite and arr.dtype.kind == "f" and arr.size and not np.all(np.isfinite(arr)):
        n_bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} holds {n_bad} NaN or infinite value(s); remove or fix them first")
    return arr


def same_length(**arrays: np.ndarray) -> int:
    """Check that all arrays have the same first dimension and return it."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        raise ValueError(f"inputs must have the same length, got {desc}")
    return next(iter(lengths.values()))


def binary_labels(y, name: str = "labels") -> np.ndarray:
    """Return ``y`` as an int array of 0 and 1, or raise if it holds other values."""
    arr = as_array(y, name, ndim=1, dtype="any")
    if arr.dtype.kind == "f" and np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must be 0 or 1, got non-integer values such as {arr[arr != np.round(arr)][0]}")
    values = set(np.unique(arr).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"{name} must be 0 (background) or 1 (signal), got values {sorted(values)[:5]}")
    return arr.astype(np.int64)


def in_range(x: np.ndarray, name: str, low: float, high: float, *, inclusive: bool = True) -> np.ndarray:
    """Check that all values lie in [low, high] (or (low, high) when ``inclusive`` is False)."""
    bad = (x < low) | (x > high) if inclusive else (x <= low) | (x >= high)
    if np.any(bad):
        br = "[]" if inclusive else "()"
        raise ValueError(
            f"{name} must lie in {br[0]}{low}, {high}{br[1]}; {int(bad.sum())} value(s) do not, "
            f"e.g. {x[bad].ravel()[0]:.4g}"
        )
    return x


def positive_int(n, name: str) -> int:
    """Return ``n`` as an int if it is a positive integer."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)

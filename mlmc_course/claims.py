"""Claims: the numbers in a lesson's prose, checked by the lesson's own run.

A quantitative sentence in a lesson ("the fit lands within 2 sigma of the truth", "about three times faster") is
never typed from memory. Either a cell right above it prints the number, or a *claim cell* below it evaluates
the sentence on the run's own results::

    claim("the fit lands within 2 sigma of the truth", abs(pull) < 2, pull=pull)

A claim that holds prints one line; one that does not raises :class:`ClaimFailed` with the sentence and the
numbers, so the executed notebook (and nbval in CI) fails where the text and the output disagree. A statement
that is only made for some run modes says so with ``when=``, e.g. ``when=cfg.mode != "ci"``; the cell then
prints that it was not checked. Claim cells carry the ``claim`` tag in the lesson source; the build keeps them
in the solution notebook and drops them from the student's.
"""

from __future__ import annotations

import numbers

import numpy as np


class ClaimFailed(AssertionError):
    """A lesson's text says something that its own run does not show."""


def _as_bool(holds: object, statement: str) -> bool:
    if hasattr(holds, "detach"):  # a 0-d torch tensor
        holds = holds.detach().cpu().numpy()
    arr = np.asarray(holds)
    if arr.shape != () or arr.dtype != bool:
        raise TypeError(
            f"claim({statement!r}, ...): the condition must be one True/False value, got {type(holds).__name__} "
            f"with shape {arr.shape}; use .all() or .any() to say which you mean"
        )
    return bool(arr)


def _format(values: dict[str, object]) -> str:
    parts = []
    for key, value in values.items():
        if isinstance(value, numbers.Real) or (isinstance(value, np.ndarray) and value.shape == ()):
            parts.append(f"{key} = {float(value):.4g}")
        else:
            parts.append(f"{key} = {value}")
    return ", ".join(parts)


def claim(statement: str, holds: object, *, when: bool = True, **values: object) -> None:
    """Check a sentence of the lesson's text against this run.

    Args:
        statement: the sentence as the text says it (it is printed, and quoted when the claim fails).
        holds: the sentence evaluated on the run's numbers: one boolean (a Python, NumPy or 0-d torch bool).
        when: ``False`` when the text makes the statement only for other run modes; nothing is checked then.
        **values: the numbers behind the statement, printed with it (``pull=0.8, ratio=3.1``).

    Returns nothing (so that a cell ending in a claim displays only its printed line).

    Raises:
        ClaimFailed: the run contradicts the statement.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError("claim needs the statement as a non-empty string, as the text says it")
    numbers_text = f" ({_format(values)})" if values else ""
    if not when:
        print(f"claim not checked in this run mode: {statement}{numbers_text}")
        return
    if not _as_bool(holds, statement):
        raise ClaimFailed(
            f"the lesson says {statement!r}, but this run does not show it{numbers_text}. "
            "Fix the text or the code so that they agree."
        )
    print(f"claim holds: {statement}{numbers_text}")


__all__ = ["ClaimFailed", "claim"]

"""Event weights from a classifier's probabilities, their effective sample size, normalisation and clipping.

A classifier trained to separate data (label 1) from simulation (label 0) with the loss minimised by
s(x) = n_1 p_data(x) / (n_1 p_data(x) + n_0 p_sim(x)) gives the density ratio

    w(x) = p_data(x) / p_sim(x) = s / (1 - s) * n_0 / n_1,

where n_0, n_1 are the (weighted) sizes of the two training classes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlmc_course.validation import as_array, in_range

Classifier = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]
"""``train(x0, x1, w0, w1) -> predict``: trains on class 0 (``x0``, weights ``w0``) against class 1 and returns a
function giving P(class 1 | x) for new events. The two classes are weighted to equal totals."""


def _weights(w, name: str = "weights", n: int | None = None) -> np.ndarray:
    arr = as_array(w, name, ndim=1)
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} must have one entry per event ({n}), got {len(arr)}")
    return arr


def weights_from_probabilities(s, *, prior_ratio: float = 1.0) -> np.ndarray:
    """The density ratio p_data / p_sim from a classifier output s = P(data | x).

    Args:
        s: classifier probabilities for simulated events, ``(n,)``, strictly between 0 and 1 (a probability of
            exactly 0 or 1 means the classifier is sure, and the ratio would be 0 or infinite).
        prior_ratio: n_sim / n_data, the ratio of the two classes' (weighted) sizes in training; 1 when they were
            balanced.

    Returns:
        w = s / (1 - s) * prior_ratio, ``(n,)``.
    """
    p = as_array(s, "s", ndim=1)
    in_range(p, "classifier probabilities s", 0.0, 1.0, inclusive=False)
    if not (np.isfinite(prior_ratio) and prior_ratio > 0):
        raise ValueError(f"prior_ratio must be a positive number (n_sim / n_data), got {prior_ratio}")
    return p / (1.0 - p) * prior_ratio


def effective_sample_size(w) -> float:
    """Kish's effective number of events, (sum w)^2 / sum w^2, ``w`` of shape ``(n,)``.

    It equals n for equal weights and falls as the weights spread; negative weights lower it further, because
    they cancel in the sum but not in the sum of squares.
    """
    arr = _weights(w)
    total_sq = float(np.sum(arr**2))
    if total_sq == 0.0:
        raise ValueError("all weights are zero: the effective sample size is undefined")
    return float(np.sum(arr)) ** 2 / total_sq


def normalise(w, total: float | None = None) -> np.ndarray:
    """Scale weights ``(n,)`` to sum to ``total`` (default: the number of events)."""
    arr = _weights(w)
    s = arr.sum()
    if s <= 0:
        raise ValueError(f"the weights sum to {s:.4g}; they must sum to a positive number to be normalised")
    return arr * ((len(arr) if total is None else total) / s)


def clip_weights(w, max_weight: float, *, keep_sum: bool = True) -> np.ndarray:
    """Cap weights at ``max_weight`` and, by default, rescale all of them so their sum is unchanged.

    Clipping trades variance (a few huge weights dominate every histogram) for bias (the regions that needed those
    weights stay under-populated).

    Args:
        w: weights, ``(n,)``, non-negative.
        max_weight: the cap (positive).
        keep_sum: rescale after clipping so that the total weight, i.e. the normalisation, is kept.
    """
    arr = _weights(w)
    if np.any(arr < 0):
        raise ValueError("clip_weights caps large positive weights; handle negative weights first")
    if not (np.isfinite(max_weight) and max_weight > 0):
        raise ValueError(f"max_weight must be a positive number, got {max_weight}")
    out = np.minimum(arr, max_weight)
    if keep_sum and out.sum() > 0:
        out = out * (arr.sum() / out.sum())
    return out

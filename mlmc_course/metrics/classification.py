"""Classifier metrics as the top-tagging literature quotes them.

Conventions: label 1 is signal, 0 is background; a higher score means more signal-like.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlmc_course.validation import as_array, binary_labels, positive_int, same_length


def _scores_labels(scores, labels, weights=None):
    s = as_array(scores, "scores", ndim=1)
    y = binary_labels(labels)
    same_length(scores=s, labels=y)
    if y.min() == y.max():
        raise ValueError("labels hold only one class; ROC metrics need both signal (1) and background (0)")
    w = None
    if weights is not None:
        w = as_array(weights, "weights", ndim=1)
        same_length(scores=s, weights=w)
    return s, y, w


def roc_curve(scores, labels, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal and background efficiencies for every threshold.

    Args:
        scores: classifier outputs, shape ``(n,)``.
        labels: 1 for signal, 0 for background, shape ``(n,)``.
        weights: optional event weights, shape ``(n,)``.

    Returns:
        ``eff_s``, ``eff_b`` and the thresholds, each of shape ``(n_thresholds,)``, from the strictest cut
        (nothing passes) to the loosest (everything passes).
    """
    from sklearn.metrics import roc_curve as sk_roc

    s, y, w = _scores_labels(scores, labels, weights)
    eff_b, eff_s, thr = sk_roc(y, s, sample_weight=w, drop_intermediate=False)
    return eff_s, eff_b, thr


def auc(scores, labels, weights=None) -> float:
    """Area under the ROC curve: the probability that a random signal event scores above a random background one."""
    from sklearn.metrics import roc_auc_score

    s, y, w = _scores_labels(scores, labels, weights)
    return float(roc_auc_score(y, s, sample_weight=w))


def rejection_at(scores, labels, eff_s: float = 0.3, weights=None) -> float:
    """Background rejection 1/eps_B at the cut that keeps a fraction ``eff_s`` of signal (R30 for 0.3).

    The efficiency is interpolated linearly between the two nearest thresholds; the result is ``inf`` when no
    background passes.
    """
    if not 0 < eff_s < 1:
        raise ValueError(f"eff_s must lie in (0, 1), got {eff_s}")
    es, eb, _ = roc_curve(scores, labels, weights)
    b = float(np.interp(eff_s, es, eb))
    return float("inf") if b <= 0 else 1.0 / b


@dataclass(frozen=True)
class Estimate:
    """A value with its spread, e.g. from a bootstrap: ``value ± error``."""

    value: float
    error: float

    def __str__(self) -> str:
        return f"{self.value:.4g} ± {self.error:.2g}"


def bootstrap(metric: Callable[..., float], scores, labels, *, n_boot: int = 100, seed: int = 0, **kwargs) -> Estimate:
    """The metric on the full sample and its standard deviation over ``n_boot`` bootstrap resamples.

    Example: ``bootstrap(rejection_at, scores, labels, eff_s=0.3)``.
    """
    n_boot = positive_int(n_boot, "n_boot")
    s, y, _ = _scores_labels(scores, labels)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(s), len(s))
        if y[idx].min() == y[idx].max():
            continue
        values.append(metric(s[idx], y[idx], **kwargs))
    return Estimate(float(metric(s, y, **kwargs)), float(np.std(values, ddof=1)))

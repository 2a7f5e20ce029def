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


LANDSCAPE_RESULTS: dict[str, tuple[float, float, int]] = {
    "CNN (landscape)": (0.9814, 914.0, 610_000),
    "PFN (landscape)": (0.9819, 891.0, 82_000),
    "ParticleNet (landscape)": (0.9848, 1298.0, 498_000),
    "EFP (landscape)": (0.9803, 384.0, 1_000),
}
"""Published numbers on the public (Delphes-level) data, arXiv:1902.09914: name -> (AUC, R30, parameters)."""


@dataclass(frozen=True)
class TaggerScore:
    """One row of a results table: AUC and R30 with bootstrap errors, and the number of trainable parameters.

    ``r30.value`` is infinite when no background jet passes the cut; ``n_background`` then bounds it from below.
    """

    name: str
    auc: Estimate
    r30: Estimate
    n_params: int | None = None
    n_background: int = 0


def score_tagger(
    name: str, scores, labels, *, n_params: int | None = None, n_boot: int = 50, seed: int = 0
) -> TaggerScore:
    """AUC and R30 (background rejection at 30% signal efficiency) of a tagger, each with a bootstrap error.

    Args:
        name: the tagger's name in the table.
        scores: tagger outputs on the test set, shape ``(n,)`` (higher = more top-like).
        labels: 1 for signal, 0 for background, shape ``(n,)``.
        n_params: trainable parameters (``None`` for cut-based taggers).
        n_boot: bootstrap resamples for the errors. The R30 error is the spread of the resamples in which some
            background passes (``nan`` if fewer than two do).
    """
    s, y, _ = _scores_labels(scores, labels)
    n_boot = positive_int(n_boot, "n_boot")
    auc_est = bootstrap(auc, s, y, n_boot=n_boot, seed=seed)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(s), len(s))
        if y[idx].min() != y[idx].max():
            values.append(rejection_at(s[idx], y[idx], 0.3))
    finite = np.array([v for v in values if np.isfinite(v)])
    error = float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan")
    r30_est = Estimate(rejection_at(s, y, 0.3), error)
    return TaggerScore(name, auc_est, r30_est, n_params, int((y == 0).sum()))


def format_r30(estimate: Estimate, n_background: int) -> str:
    """R30 as a table entry: "value ± error", or a lower bound when no background jet passes."""
    if not np.isfinite(estimate.value):
        return f"> {n_background} (no background passes)"
    error = "?" if not np.isfinite(estimate.error) else f"{estimate.error:.0f}"
    return f"{estimate.value:.0f} ± {error}"


def _params(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2g}M" if n >= 1e6 else f"{n / 1e3:.3g}k" if n >= 1e3 else str(n)


def results_table(rows: list[TaggerScore], reference: dict[str, tuple[float, float, int]] | None = None) -> str:
    """A markdown table in the landscape paper's format: tagger, AUC, R30 (1/eps_B at eps_S = 0.3), parameters.

    Args:
        rows: our taggers, e.g. from :func:`score_tagger`.
        reference: published rows to append, name -> (AUC, R30, parameters), e.g. :data:`LANDSCAPE_RESULTS`.
    """
    lines = ["| tagger | AUC | R30 | parameters |", "|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row.name} | {row.auc.value:.4f} ± {row.auc.error:.4f} | {format_r30(row.r30, row.n_background)} "
            f"| {_params(row.n_params)} |"
        )
    for name, (a, r, n) in (reference or {}).items():
        lines.append(f"| {name} | {a:.4f} | {r:.0f} | {_params(n)} |")
    return "\n".join(lines)

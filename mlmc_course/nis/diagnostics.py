"""Diagnostics of a weighted sample: is the quoted error to be trusted?

The error of an importance-sampling estimate comes from the sample variance of the weights. When the weights have a
heavy right tail, that variance is itself dominated by a few points and is usually *under*-estimated: the estimate
can be many quoted sigmas off while every number looks fine (issue 14). Four numbers tell it:

* ``max_weight_ratio``: the largest weight over the mean weight;
* ``ess``: the effective sample size ``(sum w)^2 / sum w^2`` (Kong 1992), and ``ess / n``;
* ``efficiency``: the unweighting efficiency at 0.1% overweight (:func:`~mlmc_course.nis.unweighting.overweight_max`);
* ``pareto_k``: the shape of a generalised Pareto distribution fitted to the largest weights, as in
  Pareto-smoothed importance sampling (Vehtari, Simpson, Gelman, Yao, Gabry, arXiv:1507.02646). For k < 1/2 the
  weights have a finite variance and the central limit theorem applies; above about 0.7 the estimate converges too
  slowly for the quoted error to mean anything at practical sample sizes.

:func:`weight_diagnostics` computes them, and flags the sample as untrustworthy when ``pareto_k > 0.7`` with an ESS
below half the sample, or when the largest weight exceeds ``10^3`` times the mean: then one event carries at least
``1000 / N`` of the integral and the error rests on a handful of points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PARETO_K_LIMIT = 0.7
MAX_WEIGHT_LIMIT = 1e3


class HeavyTailWarning(UserWarning):
    """The weights are heavy-tailed: the quoted error of the integral cannot be trusted."""


def gpd_shape(excess: np.ndarray) -> float:
    """Shape ``k`` of a generalised Pareto fit to positive exceedances (Zhang and Stephens 2009, with the weak
    prior of arXiv:1507.02646, appendix); NaN for fewer than 5 points."""
    x = np.sort(np.asarray(excess, dtype=float))
    n = len(x)
    if n < 5 or not x[-1] > 0:
        return math.nan
    m = 30 + int(math.sqrt(n))
    b = 1.0 / x[-1] + (1.0 - np.sqrt(m / (np.arange(1, m + 1) - 0.5))) / (3.0 * x[int(n / 4 + 0.5) - 1])
    k = np.log1p(-b[:, None] * x).mean(axis=1)
    log_lik = n * (np.log(-b / k) - k - 1.0)
    with np.errstate(over="ignore"):
        w = 1.0 / np.exp(log_lik - log_lik[:, None]).sum(axis=1)
    b_hat = float(np.sum(b * w / w.sum()))
    k_hat = float(np.mean(np.log1p(-b_hat * x)))
    return (k_hat * n + 10 * 0.5) / (n + 10)


def pareto_k(weights: np.ndarray) -> float:
    """Pareto-k of the right tail of ``weights``: the GPD shape of the ``min(n / 5, 3 sqrt(n))`` largest weights
    above the next one (the tail size of arXiv:1507.02646)."""
    w = np.sort(np.asarray(weights, dtype=float))
    n = len(w)
    m = int(min(0.2 * n, 3 * math.sqrt(n)))
    if m < 5:
        return math.nan
    tail = w[-m:] - w[-m - 1]
    return gpd_shape(tail[tail > 0]) if np.count_nonzero(tail > 0) >= 5 else math.nan


@dataclass(frozen=True)
class WeightDiagnostics:
    """Tail diagnostics of one weighted sample (see the module docstring)."""

    n: int
    max_weight_ratio: float
    ess: float
    efficiency: float
    pareto_k: float

    @property
    def ess_fraction(self) -> float:
        """``ess / n``: 1 for constant weights."""
        return self.ess / self.n if self.n else math.nan

    @property
    def trustworthy(self) -> bool:
        """False when the largest weight is above ``10^3`` times the mean, or when ``pareto_k > 0.7`` while the
        ESS is below half the sample (a k just above 0.7 in a sample with ESS 80% of n and largest weight 30x the
        mean was a false alarm in lesson 09: such a tail dominates nothing at this size)."""
        heavy = self.pareto_k > PARETO_K_LIMIT and self.ess_fraction < 0.5
        return not heavy and not (self.max_weight_ratio > MAX_WEIGHT_LIMIT)

    def warning(self) -> str:
        """The warning text ('' when the sample looks well behaved)."""
        if self.trustworthy:
            return ""
        return (
            f"heavy-tailed weights: largest weight {self.max_weight_ratio:.3g} x the mean, Pareto k "
            f"{self.pareto_k:.2f} (limit {PARETO_K_LIMIT}), ESS {self.ess_fraction:.2%} of {self.n:,}; the quoted "
            "error is not trustworthy (train longer, keep the VEGAS defaults, or add calls)"
        )

    def __str__(self) -> str:
        return (
            f"max w/<w> {self.max_weight_ratio:.3g}, ESS {self.ess_fraction:.3g}, unw. eff. {self.efficiency:.3g}, "
            f"Pareto k {self.pareto_k:.2f}"
        )


def weight_diagnostics(weights) -> WeightDiagnostics:
    """Diagnostics of event weights ``>= 0`` (shape ``(n,)``; a tensor or an array)."""
    from mlmc_course.nis.unweighting import overweight_max

    w = np.asarray(weights.detach().cpu().numpy() if hasattr(weights, "detach") else weights, dtype=float)
    n = len(w)
    total = float(w.sum())
    if n == 0 or not total > 0:
        return WeightDiagnostics(n, math.nan, 0.0, math.nan, math.nan)
    mean = total / n
    t = overweight_max(w, 1e-3)
    return WeightDiagnostics(
        n=n,
        max_weight_ratio=float(w.max()) / mean,
        ess=total**2 / float(np.sum(w**2)),
        efficiency=float(np.minimum(w, t).mean() / t),
        pareto_k=pareto_k(w) if bool(np.any(w < 0)) is False else math.nan,
    )

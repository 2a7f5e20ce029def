"""Unweighting: turning weighted events into events of weight one, and how efficient that is.

An event of weight ``w`` is kept with probability ``w / w_max``; the kept events follow f. The fraction kept, the
unweighting efficiency ``eps = <w> / w_max``, measures how far the sampler is from f (eps = 1 for g = f/I). The
sample maximum depends on a handful of the largest weights and grows with the sample size, so two robust variants
are quoted side by side:

* **bootstrap maximum**: the median of the maximum over bootstrap resamples (of the same size as the sample), with
  its 16-84% band. It is computed exactly from the order statistics: ``P(max* <= w_(k)) = (k/N)^N``.
* **overweight quantile**: the ``w_max`` above which the overweights carry a fraction ``overweight_fraction`` of the
  cross section (as Sherpa and MadNIS do); those events are kept with weight ``w / w_max > 1``, which keeps the
  result unbiased. The efficiency is then ``<min(w, w_max)> / w_max``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlmc_course.validation import as_array


@dataclass(frozen=True)
class UnweightingReport:
    """Unweighting efficiencies of one weighted sample (weights >= 0).

    Attributes:
        n: number of weights.
        mean_weight: <w>, the integral estimate.
        w_max_boot: median of the bootstrap maxima; ``w_max_boot_band`` its 16% and 84% quantiles.
        efficiency_boot: ``<w> / w_max_boot``; ``efficiency_boot_band`` from the band (high, low).
        w_max_quantile: the maximum at which overweights carry ``overweight_fraction`` of ``sum w``.
        efficiency_quantile: ``<min(w, w_max_quantile)> / w_max_quantile``.
        overweight_fraction: the fraction used for ``w_max_quantile``.
    """

    n: int
    mean_weight: float
    w_max_boot: float
    w_max_boot_band: tuple[float, float]
    efficiency_boot: float
    efficiency_boot_band: tuple[float, float]
    w_max_quantile: float
    efficiency_quantile: float
    overweight_fraction: float


def _weights(weights) -> np.ndarray:
    w = as_array(weights, "weights", ndim=1)
    if w.size == 0:
        raise ValueError("weights is empty; pass the weights of at least one event")
    if np.any(w < 0):
        raise ValueError(
            f"weights must be >= 0 for unweighting, got {int(np.sum(w < 0))} negative one(s), e.g. {w[w < 0][0]:.3g}"
        )
    if not np.any(w > 0):
        raise ValueError("all weights are zero: there is nothing to unweight")
    return w


def bootstrap_max(weights, quantiles: tuple[float, ...] = (0.16, 0.5, 0.84)) -> tuple[float, ...]:
    """Quantiles of the maximum of a bootstrap resample of the weights (same size), exactly.

    With sorted weights ``w_(1) <= ... <= w_(N)``, ``P(max* <= w_(k)) = (k / N)^N``; the q-quantile is ``w_(k)`` for
    the smallest k with ``(k/N)^N >= q``.
    """
    w = np.sort(_weights(weights))
    n = len(w)
    out = []
    for q in quantiles:
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantiles must lie in (0, 1), got {q}")
        k = min(n, max(1, math.ceil(n * q ** (1.0 / n) - 1e-9)))
        out.append(float(w[k - 1]))
    return tuple(out)


def overweight_max(weights, overweight_fraction: float = 1e-3) -> float:
    """The ``w_max`` for which ``sum max(0, w - w_max) = overweight_fraction * sum w``."""
    if not 0.0 <= overweight_fraction < 1.0:
        raise ValueError(f"overweight_fraction must lie in [0, 1), got {overweight_fraction}")
    w = np.sort(_weights(weights))[::-1]
    total = w.sum()
    if overweight_fraction == 0:
        return float(w[0])
    # With the j largest weights above t: excess(t) = S_j - j t, so t_j = (S_j - eps S) / j, valid in [w_(j+1), w_(j)].
    cum = np.cumsum(w)
    j = np.arange(1, len(w) + 1)
    t = (cum - overweight_fraction * total) / j
    nxt = np.append(w[1:], 0.0)
    ok = (t <= w) & (t >= nxt)
    return float(t[np.argmax(ok)])


def unweighting_efficiency(weights, *, overweight_fraction: float = 1e-3) -> UnweightingReport:
    """Both unweighting efficiencies of a weighted sample (see the module docstring)."""
    w = _weights(weights)
    mean = float(w.mean())
    low, mid, high = bootstrap_max(w)
    t = overweight_max(w, overweight_fraction)
    return UnweightingReport(
        n=len(w),
        mean_weight=mean,
        w_max_boot=mid,
        w_max_boot_band=(low, high),
        efficiency_boot=mean / mid,
        efficiency_boot_band=(mean / high, mean / low),
        w_max_quantile=t,
        efficiency_quantile=float(np.minimum(w, t).mean() / t),
        overweight_fraction=overweight_fraction,
    )


def unweight(weights, rng: np.random.Generator, w_max: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hit-or-miss unweighting: keep event k with probability ``min(1, w_k / w_max)``.

    Args:
        weights: event weights >= 0, shape ``(n,)``.
        rng: NumPy generator for the accept/reject decisions.
        w_max: the reference maximum (default: the largest weight, so every kept event has weight ``w_max``).

    Returns:
        Indices of the kept events and their new weights ``max(w_k, w_max)`` (``w_max`` unless an overweight), so
        that ``new_weights.sum() / n`` is an unbiased estimate of the integral, as ``weights.mean()`` was.
    """
    w = _weights(weights)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    t = float(w.max()) if w_max is None else float(w_max)
    if not t > 0 or not math.isfinite(t):
        raise ValueError(f"w_max must be a positive finite number, got {w_max}")
    keep = np.flatnonzero(rng.random(len(w)) < w / t)
    return keep, np.maximum(w[keep], t)

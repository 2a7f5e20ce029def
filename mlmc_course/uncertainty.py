"""Uncertainties of regression networks: Gaussian likelihoods, ensembles, coverage and calibration.

Conventions: a Gaussian prediction is a pair ``(mean, variance)`` (or ``(mean, log_variance)`` where a network
outputs it), each of shape ``(n,)``. An ensemble, or a set of Bayesian-network weight samples, stacks its members'
predictions along a first axis: ``(n_members, n)``.

Everything here is NumPy, so that TensorFlow and torch lessons share it; :func:`gaussian_nll_keras` is the one
Keras loss, and it imports TensorFlow only when called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from mlmc_course.validation import as_array, positive_int, same_length

Region = Literal["train", "gap", "outside", "all"]


def gaussian_nll(y, mean, log_var) -> float:
    """Mean Gaussian negative log-likelihood per point,
    ``0.5 * (ln 2 pi + log_var + (y - mean)^2 / exp(log_var))``, for arrays of shape ``(n,)``."""
    y = as_array(y, "y", ndim=1)
    mean = as_array(mean, "mean", shape=y.shape)
    log_var = as_array(log_var, "log_var", shape=y.shape)
    return float(np.mean(0.5 * (math.log(2 * math.pi) + log_var + (y - mean) ** 2 * np.exp(-log_var))))


def gaussian_nll_keras(y_true, y_pred):
    """The same negative log-likelihood as a Keras loss: ``y_pred[:, 0]`` is the mean, ``y_pred[:, 1]`` the log
    variance, ``y_true`` has shape ``(batch,)`` or ``(batch, 1)``. Returns a scalar tensor."""
    import tensorflow as tf

    y = tf.reshape(tf.cast(y_true, y_pred.dtype), [-1])
    mean, log_var = y_pred[:, 0], y_pred[:, 1]
    return tf.reduce_mean(0.5 * (math.log(2 * math.pi) + log_var + tf.square(y - mean) * tf.exp(-log_var)))


@dataclass(frozen=True)
class EnsemblePrediction:
    """The moments of an ensemble of Gaussian predictions (a mixture), each of shape ``(n,)``.

    ``aleatoric`` is the mean of the members' variances (noise in the data), ``epistemic`` the variance of their
    means (what the model does not know); by the law of total variance the mixture's variance is their sum.
    """

    mean: np.ndarray
    aleatoric: np.ndarray
    epistemic: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """Total predictive variance, ``aleatoric + epistemic``."""
        return self.aleatoric + self.epistemic

    @property
    def std(self) -> np.ndarray:
        """Total predictive standard deviation."""
        return np.sqrt(self.total)


def ensemble_moments(means, variances) -> EnsemblePrediction:
    """Combine member predictions of shape ``(n_members, n)`` into the mixture's mean and variances.

    ``mean = <mu_m>``, ``aleatoric = <sigma_m^2>``, ``epistemic = <mu_m^2> - <mu_m>^2`` (averages over members,
    no Bessel correction: this is the variance of the equally weighted mixture). Works the same for weight samples
    of a Bayesian network.
    """
    mu = as_array(means, "means", ndim=2)
    var = as_array(variances, "variances", shape=mu.shape)
    if np.any(var < 0):
        raise ValueError("variances must be non-negative; pass sigma^2 (or exp(log_var)), not log-variances")
    return EnsemblePrediction(mean=mu.mean(axis=0), aleatoric=var.mean(axis=0), epistemic=mu.var(axis=0))


def ensemble_predict(members: Sequence[Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]], x) -> EnsemblePrediction:
    """Evaluate trained members, each ``predict(x) -> (mean, variance)`` of shapes ``(n,)``, and combine them."""
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
    outs = [member(x) for member in members]
    return ensemble_moments(np.stack([o[0] for o in outs]), np.stack([o[1] for o in outs]))


def central_interval(mean, std, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The central interval of probability ``level`` of Gaussians ``N(mean, std^2)``: ``mean -+ z std`` with
    ``z = Phi^-1((1 + level) / 2)`` (z = 1.00 for 68.3%, 1.96 for 95%)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), e.g. 0.68, got {level}")
    mean = as_array(mean, "mean")
    std = as_array(std, "std", shape=mean.shape)
    if np.any(std < 0):
        raise ValueError("std must be non-negative (pass standard deviations, not variances or log-variances)")
    z = stats.norm.ppf(0.5 + level / 2)
    return mean - z * std, mean + z * std


@dataclass(frozen=True)
class Coverage:
    """The fraction of true values inside the predicted intervals, with its binomial error."""

    level: float
    fraction: float
    error: float
    n: int

    def __str__(self) -> str:
        return f"{self.fraction:.3f} ± {self.error:.3f} (nominal {self.level:.2f}, {self.n} points)"


def coverage(y, mean, std, level: float = 0.68) -> Coverage:
    """How often ``y`` falls inside the central ``level`` interval of ``N(mean, std^2)``; all arrays ``(n,)``.

    A calibrated model covers a fraction ``level`` of held-out points; less means its errors are too small.
    """
    y = as_array(y, "y", ndim=1)
    lo, hi = central_interval(mean, std, level)
    same_length(y=y, mean=lo)
    inside = (y >= lo) & (y <= hi)
    p, n = float(inside.mean()), len(y)
    return Coverage(level=level, fraction=p, error=math.sqrt(max(p * (1 - p), 1.0 / n) / n), n=n)


def calibration_curve(y, mean, std, levels=None) -> tuple[np.ndarray, np.ndarray]:
    """Observed coverage against nominal level, for a calibration plot (the diagonal is perfect calibration).

    Args:
        y, mean, std: truths and Gaussian predictions, each of shape ``(n,)``.
        levels: nominal levels in (0, 1); 19 levels from 0.05 to 0.95 when ``None``.

    Returns:
        ``levels`` and the observed fractions, each of shape ``(n_levels,)``.
    """
    levels = np.linspace(0.05, 0.95, 19) if levels is None else as_array(levels, "levels", ndim=1)
    observed = np.array([coverage(y, mean, std, float(lv)).fraction for lv in levels])
    return levels, observed


@dataclass(frozen=True)
class GapToy:
    """A one-dimensional regression with known truth, heteroscedastic noise and a gap in the training range.

    ``y = sin(2.5 x) + 0.3 x + eps`` with ``eps ~ N(0, (0.05 + 0.075 |x|)^2)``. Training points fill
    ``[low, high]`` except the open ``gap``; held-out points can come from the training range, the gap, or outside.
    """

    low: float = -2.0
    high: float = 2.0
    gap: tuple[float, float] = (0.2, 1.0)

    def __post_init__(self) -> None:
        if not self.low < self.gap[0] < self.gap[1] < self.high:
            raise ValueError(f"need low < gap[0] < gap[1] < high, got {self.low}, {self.gap}, {self.high}")

    def truth(self, x) -> np.ndarray:
        """The true function, shape like ``x``."""
        x = as_array(x, "x")
        return np.sin(2.5 * x) + 0.3 * x

    def noise(self, x) -> np.ndarray:
        """The true noise standard deviation, shape like ``x``."""
        x = as_array(x, "x")
        return 0.05 + 0.075 * np.abs(x)

    def region(self, x) -> np.ndarray:
        """Where each point lies: ``"train"``, ``"gap"`` or ``"outside"`` (array of strings, shape like ``x``)."""
        x = as_array(x, "x")
        out = np.full(x.shape, "train", dtype=object)
        out[(x > self.gap[0]) & (x < self.gap[1])] = "gap"
        out[(x < self.low) | (x > self.high)] = "outside"
        return out.astype(str)

    def sample(self, n: int, seed: int, where: Region = "train", span: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points ``(x, y)``, each of shape ``(n,)``, with x uniform over ``where``.

        ``"outside"`` draws from the two bands of width ``span`` beyond the training range; ``"all"`` from
        ``[low - span, high + span]``.
        """
        n = positive_int(n, "n")
        if where not in ("train", "gap", "outside", "all"):
            raise ValueError(f"where must be 'train', 'gap', 'outside' or 'all', got {where!r}")
        rng = np.random.default_rng(seed)
        if where == "gap":
            x = rng.uniform(*self.gap, n)
        elif where == "all":
            x = rng.uniform(self.low - span, self.high + span, n)
        elif where == "outside":
            u = rng.uniform(0.0, span, n)
            x = np.where(rng.random(n) < 0.5, self.low - u, self.high + u)
        else:
            width = (self.high - self.low) - (self.gap[1] - self.gap[0])
            u = rng.uniform(0.0, width, n)
            left = self.gap[0] - self.low
            x = np.where(u < left, self.low + u, self.gap[1] + (u - left))
        return x, self.truth(x) + self.noise(x) * rng.standard_normal(n)


def band_plot(ax, x, mean, std, *, label: str, color=None, n_sigma: float = 1.0, alpha: float = 0.3):
    """Draw ``mean`` as a line and ``mean -+ n_sigma * std`` as a shaded band on ``ax``; arrays ``(n,)``, sorted
    along x. Returns ``ax``."""
    x = as_array(x, "x", ndim=1)
    mean = as_array(mean, "mean", shape=x.shape)
    std = as_array(std, "std", shape=x.shape)
    if np.any(np.diff(x) < 0):
        raise ValueError("x must be sorted for a band plot; sort x and the predictions with np.argsort(x)")
    (line,) = ax.plot(x, mean, color=color, label=label)
    ax.fill_between(x, mean - n_sigma * std, mean + n_sigma * std, color=line.get_color(), alpha=alpha, lw=0)
    return ax

"""Reweighting simulation to data with a classifier, and iterative unfolding the OmniFold way.

A classifier trained to separate data (label 1) from simulation (label 0) with the loss minimised by
s(x) = n_1 p_data(x) / (n_1 p_data(x) + n_0 p_sim(x)) gives the density ratio

    w(x) = p_data(x) / p_sim(x) = s / (1 - s) * n_0 / n_1,

where n_0, n_1 are the (weighted) sizes of the two training classes. Weighting simulated events by w makes
every distribution of the simulation match the data, in all variables the classifier saw at once.

This module holds the numerical pieces (weights from probabilities, effective sample size, clipping, weighted
histograms and their comparison), a small Keras classifier (lesson 13 teaches reweighting in TensorFlow, as the HSF
lecture it draws on does; TensorFlow is imported only when that classifier is used), the toys with known answers,
and OmniFold (arXiv:1911.09107), which takes any classifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from mlmc_course.validation import as_array, in_range, positive_int, same_length

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


def weighted_histogram(x, bins, weights=None, *, density: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Bin contents and their statistical errors sqrt(sum w^2) per bin.

    Args:
        x: values, ``(n,)``.
        bins: bin edges ``(n_bins + 1,)``.
        weights: event weights ``(n,)`` (default 1).
        density: divide by the total weight and the bin widths (errors scaled the same way).

    Returns:
        contents and errors, each ``(n_bins,)``.
    """
    x = as_array(x, "x", ndim=1)
    edges = as_array(bins, "bins", ndim=1)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be at least two increasing bin edges")
    w = np.ones_like(x) if weights is None else _weights(weights, "weights", len(x))
    counts, _ = np.histogram(x, edges, weights=w)
    sumw2, _ = np.histogram(x, edges, weights=w**2)
    errors = np.sqrt(sumw2)
    if density:
        scale = 1.0 / (w.sum() * np.diff(edges))
        counts, errors = counts * scale, errors * scale
    return counts, errors


@dataclass(frozen=True)
class Comparison:
    """How well two weighted histograms agree: chi2 over the filled bins, its degrees of freedom and p-value."""

    chi2: float
    ndf: int
    pvalue: float
    pulls: np.ndarray

    def __str__(self) -> str:
        return f"chi2/ndf = {self.chi2:.1f}/{self.ndf} (p = {self.pvalue:.2g})"


def compare_histograms(x_a, x_b, bins, weights_a=None, weights_b=None) -> Comparison:
    """Compare the shapes of two (weighted) samples bin by bin.

    Both histograms are normalised to unit area; chi2 = sum (h_a - h_b)^2 / (sigma_a^2 + sigma_b^2) over bins that
    hold entries, with ndf = (filled bins) - 1 for the normalisation. Bins with few entries make the chi2
    approximate; choose bins with at least ~10 events.
    """
    ha, ea = weighted_histogram(x_a, bins, weights_a, density=True)
    hb, eb = weighted_histogram(x_b, bins, weights_b, density=True)
    var = ea**2 + eb**2
    filled = var > 0
    pulls = np.zeros_like(ha)
    pulls[filled] = (ha - hb)[filled] / np.sqrt(var[filled])
    chi2 = float(np.sum(pulls**2))
    ndf = max(int(filled.sum()) - 1, 1)
    return Comparison(chi2, ndf, float(stats.chi2.sf(chi2, ndf)), pulls)


def comparison_plot(samples: dict, bins, *, xlabel: str, ax=None, reference: str | None = None):
    """Normalised histograms of several (weighted) samples with statistical error bands, and a ratio panel.

    Args:
        samples: label -> ``x`` ``(n,)`` or ``(x, weights)``.
        bins: bin edges.
        xlabel: axis label with unit.
        ax: a pair of axes (histogram, ratio); new ones when ``None``.
        reference: the label the ratio panel divides by (default: the first sample).

    Returns:
        The two axes.
    """
    import matplotlib.pyplot as plt

    if not samples:
        raise ValueError("samples is empty")
    if ax is None:
        _, ax = plt.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    edges = as_array(bins, "bins", ndim=1)
    hists = {}
    for label, value in samples.items():
        x, w = value if isinstance(value, tuple) else (value, None)
        hists[label] = weighted_histogram(x, edges, w, density=True)
    ref_label = reference if reference is not None else next(iter(samples))
    if ref_label not in hists:
        raise KeyError(f"reference {ref_label!r} is not one of the samples {list(samples)}")
    ref = hists[ref_label][0]
    for label, (h, e) in hists.items():
        line = ax[0].stairs(h, edges, label=label)
        color = line.get_edgecolor()
        ax[0].stairs(h + e, edges, baseline=h - e, fill=True, alpha=0.25, color=color)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio, err = np.where(ref > 0, h / ref, np.nan), np.where(ref > 0, e / ref, np.nan)
        ax[1].stairs(ratio, edges, color=color)
        ax[1].stairs(ratio + err, edges, baseline=ratio - err, fill=True, alpha=0.25, color=color)
    ax[0].set_ylabel("normalised density")
    ax[0].legend()
    ax[1].set_ylabel(f"ratio to\n{ref_label}")
    ax[1].set_ylim(0.5, 1.5)
    ax[1].set_xlabel(xlabel)
    return ax


# ----------------------------------------------------------------------------------------------------------------
# Toys with known density ratios


@dataclass(frozen=True)
class KinematicToy:
    """Simulation and "data" in two variables, (pT in GeV, eta), with densities known in closed form.

    pT follows a Gamma distribution (shape ``k``, scale ``scale_sim`` or ``scale_data``); given pT, eta is Gaussian
    with a width that falls linearly with pT (slopes differ), so the two differ in both variables and their
    correlation. An optional ``eta_max`` cuts the *simulation* to |eta| < eta_max: a hole in its coverage.
    """

    k: float = 2.0
    scale_sim: float = 20.0
    scale_data: float = 24.0
    eta_width: float = 1.5
    slope_sim: float = 0.004
    slope_data: float = 0.008
    eta_max: float | None = None

    def _eta_sigma(self, pt: np.ndarray, slope: float) -> np.ndarray:
        return np.maximum(self.eta_width - slope * pt, 0.5)

    def _trunc(self, sigma: np.ndarray) -> np.ndarray:
        if self.eta_max is None:
            return np.ones_like(sigma)
        return 2 * stats.norm.cdf(self.eta_max / sigma) - 1

    def density(self, x, which: str) -> np.ndarray:
        """p(x | sim) or p(x | data) for ``x`` of shape ``(n, 2)``."""
        x = as_array(x, "x", shape=(None, 2))
        pt, eta = x[:, 0], x[:, 1]
        if which == "sim":
            sigma = self._eta_sigma(pt, self.slope_sim)
            p = stats.gamma.pdf(pt, self.k, scale=self.scale_sim) * stats.norm.pdf(eta, 0, sigma) / self._trunc(sigma)
            if self.eta_max is not None:
                p = np.where(np.abs(eta) < self.eta_max, p, 0.0)
            return p
        if which == "data":
            sigma = self._eta_sigma(pt, self.slope_data)
            return stats.gamma.pdf(pt, self.k, scale=self.scale_data) * stats.norm.pdf(eta, 0, sigma)
        raise ValueError(f"which must be 'sim' or 'data', got {which!r}")

    def ratio(self, x) -> np.ndarray:
        """The exact weight p_data / p_sim, ``(n,)`` (infinite where the simulation has a hole)."""
        with np.errstate(divide="ignore"):
            return self.density(x, "data") / self.density(x, "sim")

    def sample(self, n: int, which: str, *, seed: int = 0) -> np.ndarray:
        """``n`` events ``(n, 2)`` = (pT [GeV], eta), float32."""
        n = positive_int(n, "n")
        if which not in ("sim", "data"):
            raise ValueError(f"which must be 'sim' or 'data', got {which!r}")
        rng = np.random.default_rng(seed)
        scale, slope = (self.scale_sim, self.slope_sim) if which == "sim" else (self.scale_data, self.slope_data)
        pt = rng.gamma(self.k, scale, n)
        sigma = self._eta_sigma(pt, slope)
        if which == "sim" and self.eta_max is not None:
            lo, hi = -self.eta_max / sigma, self.eta_max / sigma
            eta = stats.truncnorm.rvs(lo, hi, loc=0, scale=sigma, random_state=rng)
        else:
            eta = rng.normal(0, sigma)
        return np.column_stack([pt, eta]).astype(np.float32)


@dataclass(frozen=True)
class DetectorToy:
    """A particle-level variable t ~ N(mu, sigma) seen through a Gaussian detector, r = t + N(0, resolution)."""

    resolution: float = 0.5

    def sample(self, n: int, mu: float, sigma: float, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs: particle level ``(n, 1)`` and detector level ``(n, 1)``, float32."""
        n = positive_int(n, "n")
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        rng = np.random.default_rng(seed)
        truth = rng.normal(mu, sigma, n)
        reco = truth + rng.normal(0, self.resolution, n)
        return truth[:, None].astype(np.float32), reco[:, None].astype(np.float32)


# ----------------------------------------------------------------------------------------------------------------
# A Keras classifier for reweighting


@dataclass
class KerasClassifier:
    """A trained Keras network with its input standardisation; call ``predict(x)`` for P(class 1 | x)."""

    model: object
    mean: np.ndarray
    std: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)

    def predict(self, x, batch_size: int = 65_536) -> np.ndarray:
        """P(class 1 | x) for ``x`` of shape ``(n, n_features)``, clipped into (1e-6, 1 - 1e-6).

        Calls the model eagerly in large batches: ``model.predict`` would compile a new graph for every model.
        """
        x = as_array(x, "x", shape=(None, len(self.mean)))
        z = ((x - self.mean) / self.std).astype(np.float32)
        parts = [np.asarray(self.model(z[i : i + batch_size], training=False)) for i in range(0, len(z), batch_size)]
        p = np.concatenate(parts).reshape(-1) if parts else np.zeros(0)
        return np.clip(p.astype(np.float64), 1e-6, 1 - 1e-6)


def train_keras_classifier(
    x0,
    x1,
    w0=None,
    w1=None,
    *,
    hidden: Sequence[int] = (64, 64),
    l2: float = 0.0,
    epochs: int = 20,
    batch_size: int = 1024,
    lr: float = 2e-3,
    val_fraction: float = 0.2,
    patience: int | None = 3,
    seed: int = 0,
) -> KerasClassifier:
    """Train a dense Keras network to separate class 0 (``x0``) from class 1 (``x1``) with binary cross entropy.

    The class weights are scaled so that both classes carry the same total weight, so s / (1 - s) estimates
    p_1 / p_0 directly (prior ratio 1). Inputs are standardised with the mean and spread of the training set.

    Args:
        x0, x1: events of each class, ``(n0, n_features)`` and ``(n1, n_features)``.
        w0, w1: event weights (default 1); negative weights are allowed.
        hidden: widths of the hidden layers (ReLU).
        l2: L2 penalty on the kernels (regularisation against over-fitting).
        epochs, batch_size, lr: the usual knobs (Adam).
        val_fraction: share kept for validation; with ``patience``, training stops when the validation loss has
            not improved for that many epochs and the best weights are restored.
        seed: seeds Keras, TensorFlow and the split.
    """
    import tf_keras as keras

    x0 = as_array(x0, "x0", ndim=2)
    x1 = as_array(x1, "x1", shape=(None, x0.shape[1]))
    w0 = np.ones(len(x0)) if w0 is None else _weights(w0, "w0", len(x0))
    w1 = np.ones(len(x1)) if w1 is None else _weights(w1, "w1", len(x1))
    if w0.sum() <= 0 or w1.sum() <= 0:
        raise ValueError("each class's weights must sum to a positive number")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    x = np.concatenate([x0, x1])
    y = np.concatenate([np.zeros(len(x0)), np.ones(len(x1))]).astype(np.float32)
    w = np.concatenate([w0 / w0.sum(), w1 / w1.sum()]) * (len(x) / 2)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    x, y, w = x[order], y[order], w[order]
    n_val = int(val_fraction * len(x))
    mean, std = x[n_val:].mean(0), x[n_val:].std(0) + 1e-8
    z = ((x - mean) / std).astype(np.float32)
    keras.utils.set_random_seed(seed)
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    model = keras.Sequential([keras.Input(shape=(x.shape[1],))])
    for width in hidden:
        model.add(keras.layers.Dense(positive_int(width, "hidden width"), activation="relu", kernel_regularizer=reg))
    model.add(keras.layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="binary_crossentropy", weighted_metrics=[])
    callbacks = []
    if n_val and patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True))
    fit = model.fit(
        z[n_val:],
        y[n_val:],
        sample_weight=w[n_val:],
        validation_data=(z[:n_val], y[:n_val], w[:n_val]) if n_val else None,
        epochs=positive_int(epochs, "epochs"),
        batch_size=positive_int(batch_size, "batch_size"),
        verbose=0,
        callbacks=callbacks,
    )
    history = {"train": list(fit.history["loss"])}
    if n_val:
        history["validation"] = list(fit.history["val_loss"])
    return KerasClassifier(model, mean, std, history)


def keras_classifier(**options) -> Classifier:
    """A :data:`Classifier` (for :func:`omnifold`) that trains :func:`train_keras_classifier` with ``options``."""

    def train(x0, x1, w0, w1):
        return train_keras_classifier(x0, x1, w0, w1, **options).predict

    return train


# ----------------------------------------------------------------------------------------------------------------
# OmniFold


@dataclass
class OmniFoldResult:
    """Weights after each iteration: ``pull`` (step 1, on simulated events at detector level) and ``push``
    (step 2, particle-level weights, the unfolded result), each ``(iterations, n_sim)``."""

    pull: np.ndarray
    push: np.ndarray


def omnifold(
    sim_truth,
    sim_reco,
    data_reco,
    classifier: Classifier,
    *,
    iterations: int = 2,
    sim_weights=None,
    data_weights=None,
) -> OmniFoldResult:
    """Unfold ``data_reco`` by iteratively reweighting the simulation (OmniFold, arXiv:1911.09107).

    Each iteration n does two steps, starting from nu_0 = ``sim_weights``:

    1. detector level: train data (class 1) against simulation weighted by nu_{n-1} (class 0); the pulled weights
       are omega_n = nu_{n-1} * s / (1 - s) at each simulated event's detector-level values;
    2. particle level: train simulation weighted by omega_n (class 1) against the same events weighted by nu_{n-1}
       (class 0), on their particle-level values; the pushed weights are nu_n = nu_{n-1} * s / (1 - s).

    Step 2 turns per-event detector-level weights into a function of the particle-level values alone, which is
    what an unfolded result must be.

    Args:
        sim_truth, sim_reco: the simulated events at particle and detector level, ``(n_sim, d_truth)`` and
            ``(n_sim, d_reco)``, row i being the same event.
        data_reco: the measured events ``(n_data, d_reco)``.
        classifier: a :data:`Classifier`, e.g. ``keras_classifier(hidden=(32, 32))``.
        iterations: number of iterations (each trains two classifiers).
        sim_weights, data_weights: initial weights (default 1).
    """
    truth = as_array(sim_truth, "sim_truth", ndim=2)
    reco = as_array(sim_reco, "sim_reco", ndim=2)
    same_length(sim_truth=truth, sim_reco=reco)
    data = as_array(data_reco, "data_reco", shape=(None, reco.shape[1]))
    iterations = positive_int(iterations, "iterations")
    nu = np.ones(len(truth)) if sim_weights is None else _weights(sim_weights, "sim_weights", len(truth))
    wd = np.ones(len(data)) if data_weights is None else _weights(data_weights, "data_weights", len(data))
    pulls, pushes = [], []
    for _ in range(iterations):
        step1 = classifier(reco, data, nu, wd)
        omega = nu * weights_from_probabilities(step1(reco))
        step2 = classifier(truth, truth, nu, omega)
        nu = nu * weights_from_probabilities(step2(truth))
        pulls.append(omega)
        pushes.append(nu)
    return OmniFoldResult(np.array(pulls), np.array(pushes))


__all__ = [
    "Classifier",
    "Comparison",
    "DetectorToy",
    "KerasClassifier",
    "KinematicToy",
    "OmniFoldResult",
    "clip_weights",
    "compare_histograms",
    "comparison_plot",
    "effective_sample_size",
    "keras_classifier",
    "normalise",
    "omnifold",
    "train_keras_classifier",
    "weighted_histogram",
    "weights_from_probabilities",
]

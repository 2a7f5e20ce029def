"""Weighted histograms with their statistical errors, and the comparison of two (weighted) samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from mlmc_course.reweight.weights import _weights
from mlmc_course.validation import as_array


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

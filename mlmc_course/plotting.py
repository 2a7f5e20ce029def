"""One plotting style and the few plots that several lessons share."""

from __future__ import annotations

from importlib import resources

import numpy as np

from mlmc_course.validation import as_array


def use_style() -> None:
    """Apply the course's matplotlib style (colour-blind-safe colours, grids, tight layout)."""
    import matplotlib.pyplot as plt

    with resources.as_file(resources.files("mlmc_course") / "course.mplstyle") as path:
        plt.style.use(str(path))


def roc_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], ax=None, *, rejection: bool = True):
    """Plot ROC curves the way the top-tagging literature does.

    Args:
        curves: label -> (signal efficiency, background efficiency), each of shape ``(n_points,)``.
        ax: matplotlib axes; a new figure when ``None``.
        rejection: plot background rejection 1/eps_B on a log axis (True) or eps_B against eps_S (False).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    for label, (eff_s, eff_b) in curves.items():
        eff_s = as_array(eff_s, f"curves[{label!r}][0]", ndim=1)
        eff_b = as_array(eff_b, f"curves[{label!r}][1]", ndim=1)
        if rejection:
            keep = eff_b > 0
            ax.plot(eff_s[keep], 1.0 / eff_b[keep], label=label)
        else:
            ax.plot(eff_s, eff_b, label=label)
    ax.set_xlabel(r"signal efficiency $\epsilon_S$")
    if rejection:
        ax.set_yscale("log")
        ax.set_ylabel(r"background rejection $1/\epsilon_B$")
    else:
        ax.plot([0, 1], [0, 1], ls=":", color="grey", label="random guess")
        ax.set_ylabel(r"background efficiency $\epsilon_B$")
    ax.legend()
    return ax


def loss_plot(history: dict[str, list[float]], ax=None, *, log: bool = True, ylabel: str = "loss"):
    """Plot training curves, one line per key of ``history`` (e.g. ``{"train": [...], "val": [...]}``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    for label, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend()
    return ax


def binned(
    values, bins, *, weights=None, density: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """A histogram with its statistical errors.

    Args:
        values: shape ``(n,)``.
        bins: bin edges, shape ``(n_bins + 1,)``, increasing.
        weights: event weights, shape ``(n,)``; ``None`` for unit weights.
        density: normalise to unit area over the bins (the outside share is reported, not hidden).

    Returns:
        ``(edges, content, error, outside)``: content and error (sqrt of the summed squared weights, normalised like
        the content) of shape ``(n_bins,)``, and the weighted shares of events below and above the range.
    """
    edges = as_array(bins, "bins", ndim=1)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be at least two increasing edges, e.g. np.linspace(0, 1, 41)")
    x = as_array(values, "values", ndim=1)
    w = np.ones_like(x) if weights is None else as_array(weights, "weights", shape=(len(x),))
    content, _ = np.histogram(x, edges, weights=w)
    sumw2, _ = np.histogram(x, edges, weights=w**2)
    total = w.sum()
    if total == 0:
        raise ValueError("the weights sum to zero: nothing to histogram")
    outside = {"below": float(w[x < edges[0]].sum() / total), "above": float(w[x > edges[-1]].sum() / total)}
    error = np.sqrt(sumw2)
    if density:
        norm = total * np.diff(edges)  # events outside the range still count, so the shares stay honest
        content, error = content / norm, error / norm
    return edges, content, error, outside


def _share(x: float) -> str:
    return "<0.1%" if x < 1e-3 else f"{x:.1%}"


def compare_hist(
    samples: dict[str, object],
    bins,
    *,
    reference: str | None = None,
    weights: dict[str, object] | None = None,
    density: bool = True,
    ratio: bool = True,
    xlabel: str = "",
    ylabel: str | None = None,
    ratio_label: str | None = None,
    ratio_range: tuple[float, float] | None = (0.5, 1.5),
    logy: bool = False,
    axes=None,
):
    """Histograms of several samples against a reference, with statistical errors and a ratio panel.

    The reference is drawn as a filled step with its +-1 sigma band; every other sample as a line with error bars;
    the lower panel shows sample / reference with the sample's errors and the reference's band around 1 (the HEP
    convention, as in mplhep). Shares of events outside the bins are printed in the legend when non-zero.

    Args:
        samples: label -> values of shape ``(n,)``.
        bins: bin edges.
        reference: the label to compare with (default: the first).
        weights: label -> event weights, for the samples that have them.
        density: normalise each histogram to unit area.
        ratio: draw the ratio panel.
        xlabel, ylabel, ratio_label: axis labels (give units in the x label).
        ratio_range: y range of the ratio panel, or None to let matplotlib choose.
        logy: logarithmic y axis in the upper panel.
        axes: ``(main, ratio)`` axes to draw into (``ratio`` may be None); a new figure when ``None``.

    Returns:
        ``(main_axes, ratio_axes)``; ``ratio_axes`` is None without the ratio panel.
    """
    import matplotlib.pyplot as plt

    if not samples:
        raise ValueError("samples is empty: give at least the reference, e.g. {'Pythia': x}")
    labels = list(samples)
    reference = labels[0] if reference is None else reference
    if reference not in samples:
        raise ValueError(f"reference {reference!r} is not one of the samples {labels}")
    weights = weights or {}
    unknown = set(weights) - set(samples)
    if unknown:
        raise ValueError(f"weights given for unknown samples {sorted(unknown)}; samples are {labels}")
    if axes is None:
        if ratio:
            _, (ax, rax) = plt.subplots(
                2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}, figsize=(6.4, 5.2)
            )
        else:
            _, ax = plt.subplots()
            rax = None
    else:
        ax, rax = axes
    hists = {k: binned(samples[k], bins, weights=weights.get(k), density=density) for k in labels}
    edges, ref, ref_err, _ = hists[reference]
    centres = 0.5 * (edges[1:] + edges[:-1])
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, label in enumerate([reference] + [k for k in labels if k != reference]):
        _, content, error, outside = hists[label]
        shares = [_share(outside[s]) + f" {s}" for s in ("below", "above") if outside[s] > 0]
        text = label + (f" ({', '.join(shares)} the range)" if shares else "")
        colour = colours[i % len(colours)]
        if label == reference:
            ax.stairs(content, edges, color=colour, fill=True, alpha=0.25, label=text)
            ax.stairs(content + error, edges, baseline=content - error, color=colour, fill=True, alpha=0.35)
            if rax is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    rel = np.where(ref > 0, ref_err / ref, np.nan)
                rax.stairs(1 + rel, edges, baseline=1 - rel, color=colour, fill=True, alpha=0.35)
                rax.axhline(1.0, color=colour, lw=1)
        else:
            ax.stairs(content, edges, color=colour, label=text)
            ax.errorbar(centres, content, yerr=error, fmt="none", ecolor=colour, elinewidth=1)
            if rax is not None:
                with np.errstate(divide="ignore", invalid="ignore"):
                    r = np.where(ref > 0, content / ref, np.nan)
                    r_err = np.where(ref > 0, error / ref, np.nan)
                rax.errorbar(centres, r, yerr=r_err, fmt="o", ms=3, color=colour, elinewidth=1)
    ax.set_ylabel(ylabel or ("normalised events per unit" if density else "events"))
    if logy:
        ax.set_yscale("log")
    ax.legend()
    if rax is not None:
        rax.set_xlabel(xlabel)
        rax.set_ylabel(ratio_label or f"ratio to {reference}")
        if ratio_range is not None:
            rax.set_ylim(*ratio_range)
    else:
        ax.set_xlabel(xlabel)
    return ax, rax

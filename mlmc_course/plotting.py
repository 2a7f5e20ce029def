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


def roc_plot(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    ax=None,
    *,
    rejection: bool = True,
    styles: dict[str, dict] | None = None,
    min_eff_s: float = 0.0,
    ratio_to: str | None = None,
    n_background: int | None = None,
):
    """Plot ROC curves the way the top-tagging literature does.

    Args:
        curves: label -> (signal efficiency, background efficiency), each of shape ``(n_points,)``.
        ax: matplotlib axes; a new figure when ``None``. With ``ratio_to``, a pair ``(main, ratio)`` of axes.
        rejection: plot background rejection 1/eps_B on a log axis (True) or eps_B against eps_S (False).
        styles: label -> keyword arguments for ``ax.plot`` (e.g. ``{"ls": "--"}``), so that curves lying on top
            of each other stay distinguishable.
        min_eff_s: start the curves at this signal efficiency (interpolating to it), leaving out the range where a
            few background events make the rejection jump, so that the axis range shows the curves.
        ratio_to: the label of a reference curve; adds a lower panel with each curve's rejection (or eps_B)
            divided by the reference's at the same signal efficiency.
        n_background: number of background events behind the reference curve; with ``ratio_to``, the ratio panel
            shows the reference's binomial +-1 sigma band on eps_B.

    Returns:
        The axes, or ``(main, ratio)`` axes with ``ratio_to``.
    """
    import matplotlib.pyplot as plt

    styles = styles or {}
    unknown = set(styles) - set(curves)
    if unknown:
        raise ValueError(f"styles given for unknown curves {sorted(unknown)}; curves are {list(curves)}")
    if ratio_to is not None and ratio_to not in curves:
        raise ValueError(f"ratio_to {ratio_to!r} is not one of the curves {list(curves)}")
    if ratio_to is None:
        rax = None
        if ax is None:
            _, ax = plt.subplots()
    elif ax is None:
        _, (ax, rax) = plt.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}, figsize=(6.4, 5.2)
        )
    else:
        ax, rax = ax
    checked = {}
    for label, (eff_s, eff_b) in curves.items():
        eff_s = as_array(eff_s, f"curves[{label!r}][0]", ndim=1)
        eff_b = as_array(eff_b, f"curves[{label!r}][1]", shape=eff_s.shape)
        if min_eff_s > 0:  # start the curve at min_eff_s, interpolated, so that a coarse ROC keeps its first segment
            order = np.argsort(eff_s, kind="stable")
            start = np.interp(min_eff_s, eff_s[order], eff_b[order])
            keep = eff_s > min_eff_s
            eff_s, eff_b = np.concatenate([[min_eff_s], eff_s[keep]]), np.concatenate([[start], eff_b[keep]])
        if rejection:
            keep = eff_b > 0
            eff_s, eff_b = eff_s[keep], eff_b[keep]
        checked[label] = (eff_s, eff_b)
    for label, (eff_s, eff_b) in checked.items():
        ax.plot(eff_s, 1.0 / eff_b if rejection else eff_b, label=label, **styles.get(label, {}))
    if rax is not None:
        ref_s, ref_b = checked[ratio_to]
        order = np.argsort(ref_s, kind="stable")
        ref_s, ref_b = ref_s[order], ref_b[order]
        if n_background is not None:
            rel = np.sqrt(np.clip(1 - ref_b, 0, None) / (ref_b * n_background))
            rax.fill_between(ref_s, 1 - rel, 1 + rel, color="grey", alpha=0.3, lw=0, label="binomial error")
        rax.axhline(1.0, color="grey", lw=1)
        for label, (eff_s, eff_b) in checked.items():
            if label == ratio_to:
                continue
            ref_at = np.interp(eff_s, ref_s, ref_b)
            ratio = ref_at / eff_b if rejection else eff_b / ref_at
            rax.plot(eff_s, ratio, **{"label": label, **styles.get(label, {})})
        rax.set_ylabel(f"ratio to\n{ratio_to.split(':')[0]}")
        rax.set_xlabel(r"signal efficiency $\epsilon_S$")
    else:
        ax.set_xlabel(r"signal efficiency $\epsilon_S$")
    if rejection:
        ax.set_yscale("log")
        ax.set_ylabel(r"background rejection $1/\epsilon_B$")
    else:
        ax.plot([0, 1], [0, 1], ls=":", color="grey", label="random guess")
        ax.set_ylabel(r"background efficiency $\epsilon_B$")
    ax.legend()
    return ax if rax is None else (ax, rax)


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
    ax.set_ylabel(("normalised events per unit" if density else "events") if ylabel is None else ylabel)
    if logy:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0.0, top=1.3 * ax.get_ylim()[1])  # headroom, so that the legend sits above the curves
    ax.legend()
    if rax is not None:
        rax.set_xlabel(xlabel)
        rax.set_ylabel(ratio_label or f"ratio to {reference}")
        if ratio_range is not None:
            rax.set_ylim(*ratio_range)
    else:
        ax.set_xlabel(xlabel)
    return ax, rax


def density_in_bins(density, bins, *, n_nodes: int = 8) -> np.ndarray:
    """The mean of a density over each bin, shape ``(n_bins,)``: what a normalised histogram should show.

    Args:
        density: a vectorised function of ``x`` (shape ``(m,)`` -> ``(m,)``), normalised to unit area.
        bins: bin edges, shape ``(n_bins + 1,)``, increasing.
        n_nodes: Gauss-Legendre nodes per bin (exact for polynomials of degree ``2 n_nodes - 1``).
    """
    edges = as_array(bins, "bins", ndim=1)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be at least two increasing edges, e.g. np.linspace(0, 1, 41)")
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    lo, width = edges[:-1, None], np.diff(edges)[:, None]
    x = lo + 0.5 * width * (nodes[None, :] + 1)
    values = np.asarray(density(x.ravel()), dtype=float).reshape(x.shape)
    if not np.all(np.isfinite(values)):
        raise ValueError("the density returned NaN or inf inside the bins; check its domain against the bins")
    return 0.5 * (values * weights[None, :]).sum(axis=1)


def chi2_to_density(values, density, bins, *, weights=None) -> tuple[float, int]:
    """chi^2 of a normalised histogram against a density, and its number of bins with entries.

    Each bin contributes ((content - expected) / error)^2, with the histogram's statistical error (bins without
    entries are left out; merge bins until each has a few entries for the chi^2 distribution to apply).
    """
    edges, content, error, _ = binned(values, bins, weights=weights)
    expected = density_in_bins(density, edges)
    used = error > 0
    return float(np.sum(((content[used] - expected[used]) / error[used]) ** 2)), int(used.sum())


def compare_density(
    values,
    density,
    bins,
    *,
    weights=None,
    label: str = "sample",
    density_label: str = "density",
    xlabel: str = "",
    ylabel: str | None = None,
    ratio: bool = True,
    ratio_range: tuple[float, float] | None = (0.8, 1.2),
    logy: bool = False,
    color: str | None = None,
    axes=None,
):
    """A sample's normalised histogram, with statistical errors, against the density it should follow.

    The sample is drawn as points with error bars, the density as a line; the lower panel shows the histogram
    divided by the density's mean in each bin, with the sample's errors (empty bins are left out of it). The share of
    the sample outside the bins is given in the legend when it is not zero (the histogram keeps the normalisation of
    the whole sample).

    Args:
        values: the sample, shape ``(n,)``.
        density: vectorised normalised density of ``x``.
        bins: bin edges.
        weights: event weights, shape ``(n,)``.
        label, density_label: legend entries.
        xlabel, ylabel: axis labels (give units).
        ratio: draw the ratio panel.
        ratio_range: y range of the ratio panel, or None to let matplotlib choose.
        logy: logarithmic y axis in the upper panel.
        color: the colour of the sample and its density (default: the first of the style's cycle).
        axes: ``(main, ratio)`` axes to draw into (``ratio`` may be None); a new figure when ``None``.

    Returns:
        ``(main_axes, ratio_axes)``; ``ratio_axes`` is None without the ratio panel.
    """
    import matplotlib.pyplot as plt

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
    edges, content, error, outside = binned(values, bins, weights=weights)
    expected = density_in_bins(density, edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    colour = color or plt.rcParams["axes.prop_cycle"].by_key()["color"][0]
    grid = edges[0] + (np.arange(400) + 0.5) / 400 * (edges[-1] - edges[0])  # inside, off a density's edges
    ax.plot(grid, density(grid), color=colour, lw=1.2, ls="--", label=density_label)
    shares = [_share(outside[s]) + f" {s}" for s in ("below", "above") if outside[s] > 0]
    text = label + (f" ({', '.join(shares)} the range)" if shares else "")
    ax.errorbar(centres, content, yerr=error, fmt="o", ms=3, color=colour, elinewidth=1, label=text)
    ax.set_ylabel("probability density" if ylabel is None else ylabel)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    if rax is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            shown = (expected > 0) & (content > 0)  # an empty bin has no error bar to show: leave it out
            r = np.where(shown, content / expected, np.nan)
            r_err = np.where(shown, error / expected, np.nan)
        rax.axhline(1.0, color=colour, lw=1, ls="--")
        rax.errorbar(centres, r, yerr=r_err, fmt="o", ms=3, color=colour, elinewidth=1)
        rax.set_xlabel(xlabel)
        rax.set_ylabel("sample / density")
        if ratio_range is not None:
            rax.set_ylim(*ratio_range)
    else:
        ax.set_xlabel(xlabel)
    return ax, rax

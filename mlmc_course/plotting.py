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

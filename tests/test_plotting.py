"""The shared plots: histograms with errors and the ratio panel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mlmc_course.plotting import binned, compare_hist  # noqa: E402


def test_binned_errors_are_poisson_for_unit_weights_and_sumw2_for_weights():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=10_000)
    edges = np.linspace(0, 1, 11)
    _, content, error, outside = binned(x, edges, density=False)
    assert np.allclose(error, np.sqrt(content)) and outside == {"below": 0.0, "above": 0.0}
    w = rng.uniform(0.5, 2.0, size=x.size)
    _, content_w, error_w, _ = binned(x, edges, weights=w, density=False)
    assert np.allclose(error_w**2, np.histogram(x, edges, weights=w**2)[0])
    _, dens, dens_err, _ = binned(x, edges, weights=w)
    assert np.sum(dens * np.diff(edges)) == pytest.approx(1.0)
    assert np.allclose(dens_err / dens, error_w / content_w)


def test_binned_reports_what_falls_outside_the_range():
    x = np.array([-1.0, 0.1, 0.2, 0.3, 2.0, 3.0])
    _, content, _, outside = binned(x, np.linspace(0, 1, 3))
    assert outside == {"below": pytest.approx(1 / 6), "above": pytest.approx(2 / 6)}
    assert np.sum(content * 0.5) == pytest.approx(0.5)  # the area inside is the share inside, not 1


def test_binned_rejects_bad_edges_and_weights():
    with pytest.raises(ValueError, match="increasing"):
        binned([1.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="shape"):
        binned([1.0, 2.0], [0.0, 3.0], weights=[1.0])


def test_compare_hist_draws_a_ratio_panel_with_error_bars():
    rng = np.random.default_rng(1)
    ax, rax = compare_hist(
        {"Pythia": rng.normal(size=5000), "flow": rng.normal(size=2000)}, np.linspace(-3, 3, 13), xlabel="x [GeV]"
    )
    assert rax is not None and rax.get_xlabel() == "x [GeV]" and "ratio to Pythia" in rax.get_ylabel()
    assert len(ax.containers) == 1 and len(rax.containers) == 1  # the flow's error bars, in both panels
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("Pythia") and "above the range" in labels[0]
    plt.close("all")
    with pytest.raises(ValueError, match="reference 'data' is not one of the samples"):
        compare_hist({"Pythia": [1.0]}, [0.0, 2.0], reference="data")

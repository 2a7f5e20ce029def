"""The shared plots: histograms with errors, the ratio panel, densities against samples, ROC curves."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mlmc_course.plotting import (  # noqa: E402
    binned,
    chi2_to_density,
    compare_density,
    compare_hist,
    density_in_bins,
    roc_plot,
)


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


def test_density_in_bins_integrates_a_density_and_chi2_tells_a_right_sample_from_a_wrong_one():
    edges = np.linspace(0, 6, 25)
    mean = density_in_bins(lambda t: np.exp(-t), edges)
    exact = (np.exp(-edges[:-1]) - np.exp(-edges[1:])) / np.diff(edges)
    assert np.allclose(mean, exact, rtol=1e-10)
    with pytest.raises(ValueError, match="NaN or inf"), np.errstate(invalid="ignore"):
        density_in_bins(np.log, np.linspace(-1, 1, 3))  # log of negative x
    rng = np.random.default_rng(3)
    chi2, ndf = chi2_to_density(rng.exponential(1.0, 20_000), lambda t: np.exp(-t), edges)
    assert ndf == 24 and chi2 < 24 + 5 * np.sqrt(2 * 24)  # the right density: chi2 ~ ndf
    chi2_wrong, _ = chi2_to_density(rng.exponential(1.1, 20_000), lambda t: np.exp(-t), edges)
    assert chi2_wrong > 4 * ndf  # negative control: a 10% longer lifetime is seen


def test_compare_density_draws_points_the_density_and_a_ratio_panel_and_reports_the_tail():
    rng = np.random.default_rng(2)
    ax, rax = compare_density(
        rng.exponential(1.5, 5000), lambda t: np.exp(-t / 1.5) / 1.5, np.linspace(0, 4, 21), xlabel="t [ns]"
    )
    assert rax.get_xlabel() == "t [ns]" and len(ax.containers) == 1 and len(rax.containers) == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("above the range" in label for label in labels)  # e^{-4/1.5} = 7% is beyond 4 ns
    plt.close("all")
    ax, rax = compare_density([0.5], lambda t: np.ones_like(t), [0.0, 1.0], ratio=False)
    assert rax is None and ax.get_legend() is not None
    plt.close("all")


def test_roc_plot_keeps_its_api_and_adds_styles_and_a_ratio_panel():
    eff_s = np.linspace(0.01, 1, 50)
    curves = {"exact: AUC 0.9": (eff_s, eff_s**2), "network": (eff_s, 1.1 * eff_s**2)}
    ax = roc_plot(curves)
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    plt.close("all")
    ax, rax = roc_plot(curves, styles={"network": {"ls": "--"}}, min_eff_s=0.1, ratio_to="exact: AUC 0.9",
                       n_background=1000)  # fmt: skip
    assert ax.lines[1].get_linestyle() == "--" and ax.lines[0].get_xdata().min() >= 0.1
    ratio = rax.lines[-1].get_ydata()
    assert np.allclose(ratio, 1 / 1.1) and "exact" in rax.get_ylabel()  # rejection of the network / the exact's
    plt.close("all")
    ax = roc_plot({"coarse tree": (np.array([0.0, 0.6, 1.0]), np.array([0.0, 0.02, 1.0]))}, min_eff_s=0.1)
    x, y = ax.lines[0].get_data()
    assert x[0] == pytest.approx(0.1) and y[0] == pytest.approx(1 / (0.02 * 0.1 / 0.6))  # the first segment is kept
    plt.close("all")
    with pytest.raises(ValueError, match="ratio_to 'bdt' is not one of the curves"):
        roc_plot(curves, ratio_to="bdt")
    with pytest.raises(ValueError, match="styles given for unknown curves"):
        roc_plot(curves, styles={"cnn": {}})

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[19, 29]
# # 10 · Matrix-element surrogates
#
# Exact matrix elements at one loop, or with many legs, cost milliseconds to seconds per phase-space point, and an
# event generator needs millions of points. A network evaluates in microseconds. This lesson builds such a
# *surrogate* for a matrix element small enough to check everything against: $e^+e^- \to q\bar q g$ at tree level.
#
# **You will**
# - derive the resolved three-jet region of $e^+e^- \to q\bar q g$ and the soft (eikonal) limit of its matrix
#   element;
# - train surrogates three ways: directly, with a weighted loss, and as a smooth ratio to the eikonal approximation
#   (the k-factor trick), and judge their relative errors over phase space;
# - attach an uncertainty to a surrogate with an ensemble, and test it;
# - export a surrogate to ONNX and time it with ONNX Runtime against PyTorch and the exact formula;
# - generate unweighted events with a surrogate and correct them with exact/surrogate weights, so that the cross
#   section stays exact while only the efficiency depends on the network.
#
# **Prerequisites:** lesson 00 (Monte Carlo integration), lesson 05 (ensembles, coverage); lesson 09 helps with
# unweighting efficiency.
# **Time:** about 75 minutes.
# **Sources:** seed lecture 000 (ML for matrix elements: surrogates, a k-factor parameterisation, weighted losses,
# ensembles, ONNX) and seed 002 (ML that costs only efficiency versus ML that adds an error). Papers:
# [arXiv:2302.04005](https://arxiv.org/abs/2302.04005) and [arXiv:2107.06625](https://arxiv.org/abs/2107.06625)
# (factorisation-aware emulators), [arXiv:2109.11964](https://arxiv.org/abs/2109.11964) (surrogate unweighting),
# [arXiv:2002.07516](https://arxiv.org/abs/2002.07516) (networks for high-multiplicity amplitudes).
#
# The networks are PyTorch; the physics, the training and the unweighting live in `mlmc_course.surrogates`.

# %% [markdown]
# ## The rule for surrogates
#
# In the generator working-group discussion of seed 002, the useful line is drawn between ML that only costs
# *efficiency* (a learned sampler: a poor one makes the generator slower, never wrong) and ML that adds an *error*
# (a learned amplitude used in place of the exact one). A surrogate amplitude becomes harmless once its error is
# either corrected by an exact reweighting or carried as an uncertainty. This lesson does both.

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np
import torch
import matplotlib.pyplot as plt

import mlmc_course
from mlmc_course import surrogates
from mlmc_course.checks import l10_surrogates as checks

cfg = mlmc_course.setup(MODE)

# %%
n_train = cfg.pick(ci=2_000, lecture=10_000, full=100_000)  # training points per surrogate
epochs = cfg.pick(ci=20, lecture=40, full=200)
n_members = cfg.pick(ci=2, lecture=5, full=10)  # ensemble members
n_test = cfg.pick(ci=20_000, lecture=200_000, full=1_000_000)
n_unweight = cfg.pick(ci=200_000, lecture=4_000_000, full=40_000_000)  # points tried in the unweighting
batch_sizes = cfg.pick(ci=[1, 100, 10_000], lecture=[1, 100, 10_000], full=[1, 100, 10_000, 1_000_000])
rng = np.random.default_rng(cfg.seed)

# %% [markdown]
# ## Three partons in the final state
#
# In $e^+e^- \to \gamma^*/Z \to q(p_1)\,\bar q(p_2)\,g(p_3)$ at centre-of-mass energy $\sqrt s$, the energy
# fractions $x_i = 2E_i/\sqrt s$ add up to $x_1 + x_2 + x_3 = 2$, so two of them fix the event (up to its
# orientation). Each lies between 0 and 1: the allowed region, the *Dalitz triangle*, is
# $0 \le x_1, x_2 \le 1 \le x_1 + x_2$. The pair invariants, in units of $s$, are
# $$ y_{12} = \frac{(p_1 + p_2)^2}{s} = 1 - x_3 = x_1 + x_2 - 1, \qquad y_{13} = 1 - x_2, \qquad y_{23} = 1 - x_1 . $$
# At tree level, averaged over orientations and normalised to the two-parton cross section $\sigma_0$,
# $$ \frac{1}{\sigma_0}\frac{d^2\sigma}{dx_1\,dx_2} = \frac{\alpha_s C_F}{2\pi}\,
#    \frac{x_1^2 + x_2^2}{(1 - x_1)(1 - x_2)}, \qquad C_F = \tfrac43 . $$
# It diverges when the gluon is collinear to the quark ($y_{13} \to 0$, i.e. $x_2 \to 1$) or to the antiquark
# ($x_1 \to 1$), and doubly when it is soft (both). A *resolution cut* removes those regions: the event counts as
# three jets only if every pair is resolved, $y_{ij} > y_\text{cut}$ (the JADE criterion). Its integral, the
# three-jet fraction, is known in closed form,
# $$ R_3 = \frac{C_F\alpha_s}{2\pi}\Big[(3 - 6y)\ln\frac{y}{1 - 2y} + 2\ln^2\frac{y}{1 - y} + \frac52 - 6y
#    - \frac92 y^2 + 4\,\mathrm{Li}_2\frac{y}{1 - y} - \frac{\pi^2}{3}\Big]_{y = y_\text{cut}} , $$
# which gives us an exact cross section to test every Monte Carlo estimate below against.

# %% [markdown] tags=["question"] name="resolved" points=1
# **Exercise 1.** Write `resolved(x, y_cut)`: `x` has shape `(n, 2)` holding $(x_1, x_2)$ inside the Dalitz
# triangle; return a boolean array of shape `(n,)`, True where all three pairs are resolved ($y_{ij} > y_\text{cut}$).


# %% tags=["solution"]
def resolved(x: np.ndarray, y_cut: float) -> np.ndarray:
    """True where y12, y13 and y23 all exceed y_cut; x has shape (n, 2) = (x1, x2)."""
    # BEGIN SOLUTION
    x1, x2 = x[:, 0], x[:, 1]
    return (x1 + x2 - 1 > y_cut) & (1 - x2 > y_cut) & (1 - x1 > y_cut)
    # END SOLUTION
    # HINT: y12 = x1 + x2 - 1, y13 = 1 - x2, y23 = 1 - x1; combine the three comparisons with &.


# %% tags=["wrong"]
# WRONG: cuts only the two gluon-emission invariants and lets q-qbar collinear events through
# EXPECT: passed your cut; all three pairs must be resolved
def resolved(x, y_cut):
    return (1 - x[:, 0] > y_cut) & (1 - x[:, 1] > y_cut)


# %% tags=["wrong"]
# WRONG: the comparisons are the wrong way round
# EXPECT: your mask is inverted
def resolved(x, y_cut):
    return (x[:, 0] + x[:, 1] - 1 < y_cut) | (1 - x[:, 1] < y_cut) | (1 - x[:, 0] < y_cut)


# %% tags=["mutants"]
# EQUIVALENT L2:* Gt->GtE: y_ij = y_cut exactly has probability zero for continuous (x1, x2); > and >= are the same
#   cut

# %% tags=["check"]
checks.resolved(resolved)

# %% tags=["check", "hidden"]
checks.resolved(resolved, seed=110)

# %% [markdown]
# The matrix element over the resolved region ($y_\text{cut} = 0.01$). On linear axes in $x_1, x_2$ the singular
# edges are thin slivers, so we plot against $y_{23} = 1 - x_1$ and $y_{13} = 1 - x_2$ on logarithmic axes: the
# soft corner is the bottom left, the two collinear edges are the left and bottom sides, and the diagonal edge on
# the top right is the $q\bar q$-collinear cut $y_{12} > y_\text{cut}$.

# %%
y_cut = surrogates.Y_CUT
grid = np.geomspace(y_cut, 1.0, 300)
y23, y13 = np.meshgrid(grid, grid)
pts = np.column_stack([1 - y23.ravel(), 1 - y13.ravel()])
me_map = np.full(len(pts), np.nan)
inside = (pts.sum(axis=1) > 1.0) & (pts.max(axis=1) < 1.0)
inside[inside] = surrogates.resolved(pts[inside], y_cut)
me_map[inside] = surrogates.me_qqg(pts[inside])

fig, ax = plt.subplots(figsize=(5.5, 4.5))
image = ax.pcolormesh(y23, y13, np.log10(me_map).reshape(y23.shape), shading="auto", cmap="viridis")
ax.grid(False)
fig.colorbar(image, label=r"$\log_{10}\,(1/\sigma_0)\,d^2\sigma/dx_1dx_2$")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel(r"$y_{23} = 1 - x_1$ (gluon-antiquark invariant / $s$)")
ax.set_ylabel(r"$y_{13} = 1 - x_2$ (gluon-quark invariant / $s$)")
ax.set_title(rf"resolved region, $y_{{cut}} = {y_cut}$")
print(f"R3(y_cut = {y_cut}) = {surrogates.three_jet_rate(y_cut):.5f} (alpha_s = {surrogates.ALPHA_S})")
plt.show()

# %% [markdown]
# ## The soft limit and the k-factor trick
#
# When the gluon becomes soft, both quarks take half the energy each, $x_1, x_2 \to 1$: the numerator
# $x_1^2 + x_2^2$ tends to a constant and only the denominator still varies. What is left is the *eikonal*
# approximation $|M|^2_\text{eik}$, the emission of a soft gluon from the $q\bar q$ dipole. It carries every
# singularity of the exact expression and is cheap, and the ratio exact/eikonal is smooth and bounded (between
# about 1/4 and 1) on the whole resolved region.

# %% tags=["claim"]
from mlmc_course.claims import claim

soft_ratio = (pts[inside] ** 2).sum(axis=1) / 2  # exact / eikonal = (x1^2 + x2^2) / 2 on the plotted grid
claim(
    "the ratio exact/eikonal lies between about 1/4 and 1 on the whole resolved region",
    (soft_ratio.min() > 0.24) & (soft_ratio.max() < 1),
    smallest=soft_ratio.min(),
    largest=soft_ratio.max(),
)

# %% [markdown] tags=["question"] name="eikonal_me" points=1
# **Exercise 2.** Derive the eikonal approximation and write `eikonal_me(x, alpha_s)`: the soft limit of the
# matrix element above, with the same normalisation $\alpha_s C_F/2\pi$, for points `x` of shape `(n, 2)`; return
# shape `(n,)`. Its ratio to the exact matrix element must tend to 1 as $x_1, x_2 \to 1$.


# %% tags=["solution"]
def eikonal_me(x: np.ndarray, alpha_s: float) -> np.ndarray:
    """The soft-gluon limit of the q qbar g matrix element at points x of shape (n, 2); returns shape (n,)."""
    # BEGIN SOLUTION
    c_f = 4.0 / 3.0
    return alpha_s * c_f / (2 * np.pi) * 2.0 / ((1 - x[:, 0]) * (1 - x[:, 1]))
    # END SOLUTION
    # HINT: take the exact expression and set the numerator x1^2 + x2^2 to its value at x1 = x2 = 1.


# %% tags=["wrong"]
# WRONG: drops the factor 2 from the numerator's soft limit
# EXPECT: your approximation is half the soft limit
def eikonal_me(x, alpha_s):
    return alpha_s * 4 / 3 / (2 * np.pi) / ((1 - x[:, 0]) * (1 - x[:, 1]))


# %% tags=["wrong"]
# WRONG: a sum of collinear poles instead of their product
# EXPECT: misses the soft (double) singularity
def eikonal_me(x, alpha_s):
    return alpha_s * 4 / 3 / (2 * np.pi) * (1 / (1 - x[:, 0]) + 1 / (1 - x[:, 1]))


# %% tags=["check"]
checks.eikonal_me(eikonal_me)

# %% tags=["check", "hidden"]
checks.eikonal_me(eikonal_me, seed=210)

# %% [markdown]
# So $|M|^2_\text{eik} = \frac{\alpha_s C_F}{2\pi}\,\frac{2}{(1 - x_1)(1 - x_2)}$, and the exact matrix element
# is $|M|^2_\text{eik}$ times $(x_1^2 + x_2^2)/2$. Seed 000 describes the same idea for one-loop amplitudes
# ([arXiv:2302.04005](https://arxiv.org/abs/2302.04005)): write the expensive quantity as a cheap function that
# knows the singular structure times a smooth factor (a k-factor, there built from antenna functions), and let the
# network learn only the smooth factor.
#
# ## Three surrogates
#
# We sample training points uniformly over the resolved region and fit three networks of the same size (two
# hidden layers of 64 units, inputs $\ln(1 - x_1)$ and $\ln(1 - x_2)$, standardised), with the shared training
# loop. They differ only in what they learn and how errors are weighted:
#
# | surrogate | output | loss per point |
# |---|---|---|
# | direct | $s = c\cdot \mathrm{NN}$ | $(s - f)^2/c^2$ (MSE; $c$ = spread of $f$) |
# | weighted | $s = c\cdot \mathrm{NN}$ | $(s - f)^2/f^2$ (weights $1/f^2$: relative errors) |
# | ratio | $s = f_\text{eik}\, e^{\mathrm{NN}}$ | $\big(\mathrm{NN} - \ln(f/f_\text{eik})\big)^2$ |
#
# With plain MSE the few huge values near the singular edges dominate the loss; weighting by $1/f^2$ asks for the
# same *relative* precision everywhere (seed 000's weighted losses give rarer regions more importance in the same
# spirit). The ratio surrogate is positive by construction and only has to learn a number between $\ln\frac14$ and 0.

# %%
from mlmc_course.plotting import binned, loss_plot

x_train = surrogates.sample_resolved(n_train, rng)
me_train = surrogates.me_qqg(x_train)
models, histories = {}, {}
for kind in ("direct", "weighted", "ratio"):
    models[kind], histories[kind] = surrogates.train_surrogate(x_train, me_train, kind, epochs=epochs, seed=cfg.seed)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
for ax, (kind, history) in zip(axes, histories.items(), strict=True):
    loss_plot(history.as_dict(), ax=ax)
    ax.set_title(f"{kind} surrogate")
plt.show()

# %% [markdown]
# ## Where the errors are
#
# On fresh points, the relative error $s/f - 1$ of each surrogate, first as a distribution and then against the
# distance to the singular edges, measured by the smallest invariant $y_\text{min} = \min(y_{12}, y_{13}, y_{23})$.

# %%
x_test = surrogates.sample_resolved(n_test, rng)
me_test = surrogates.me_qqg(x_test)
rel_err = {kind: surrogates.relative_error(model.predict(x_test), me_test) for kind, model in models.items()}
y_min = surrogates.pair_invariants(x_test).min(axis=1)

fig, (ax_hist, ax_map) = plt.subplots(1, 2, figsize=(11, 4))
bins = np.geomspace(1e-6, 1e3, 73)
for kind, err in rel_err.items():
    edges, counts, _, outside = binned(np.abs(err), bins, density=False)
    out = outside["below"] + outside["above"]
    share = "" if out == 0 else f" ({out:.1%} outside)" if out >= 1e-3 else " (<0.1% outside)"
    ax_hist.stairs(counts / len(err), edges, label=kind + share)
ax_hist.set_xscale("log")
ax_hist.set_xlabel(r"relative error $|s/f - 1|$")
ax_hist.set_ylabel("fraction of test points per bin")
ax_hist.legend()
edges = np.geomspace(y_cut, y_min.max(), 13)
centres = np.sqrt(edges[1:] * edges[:-1])
which = np.digitize(y_min, edges) - 1
q90 = {}
for kind, err in rel_err.items():
    q90[kind] = np.array(
        [np.quantile(np.abs(err[which == b]), 0.9) if np.any(which == b) else np.nan for b in range(len(centres))]
    )
    ax_map.plot(centres, q90[kind], "o-", label=kind)
ax_map.set_xscale("log")
ax_map.set_yscale("log")
ax_map.set_xlabel(r"distance to the singular edges, $y_{min} = \min_{ij} y_{ij}$")
ax_map.set_ylabel(r"90% quantile of $|s/f - 1|$")
ax_map.legend()
plt.show()
rows = ["| surrogate | median rel. error | 99% quantile | worst | sigma(surrogate) / R3 - 1 |", "|---|---|---|---|---|"]
exact_mean = me_test.mean()
bias = {}
for kind, err in rel_err.items():
    bias[kind] = np.mean(me_test * (1 + err)) / exact_mean - 1
    rows.append(
        f"| {kind} | {np.median(np.abs(err)):.2%} | {np.quantile(np.abs(err), 0.99):.2%} "
        f"| {np.abs(err).max():.2%} | {bias[kind]:+.2%} |"
    )
from IPython.display import Markdown

Markdown("\n".join(rows))

# %% [markdown]
# The direct surrogate is worst in the singular corners (small $y_\text{min}$), where the matrix element is large
# and changes fastest; its errors elsewhere are large too, because the loss barely notices the bulk. The weighted
# loss is more precise everywhere, but its error still grows several-fold towards the edges: a network has to
# build a $1/y$ rise out of smooth pieces. The ratio surrogate, which never sees the singularity, is the most
# precise everywhere. The last column is the bias of the cross section the surrogate alone would predict: a
# median error of a few per cent does not make a small bias, because the cross section sits where the errors are
# largest.

# %% tags=["claim"]
claim(
    "the direct surrogate is worst near the singular edges, and its errors elsewhere are large too",
    (q90["direct"][0] > q90["direct"][-1]) & (np.median(np.abs(rel_err["direct"])) > 0.1),
    q90_edge=q90["direct"][0],
    q90_bulk=q90["direct"][-1],
)
claim(
    "the weighted loss is more precise everywhere, but its error grows several-fold towards the edges",
    np.all(q90["weighted"] < q90["direct"]) & (q90["weighted"][0] > 3 * q90["weighted"][-1]),
    q90_edge=q90["weighted"][0],
    q90_bulk=q90["weighted"][-1],
)
claim("the ratio surrogate is the most precise everywhere", np.all(q90["ratio"] < q90["weighted"]))
claim(
    "the weighted surrogate's cross section is biased by far more than its median error",
    abs(bias["weighted"]) > 3 * np.median(np.abs(rel_err["weighted"])),
    bias=bias["weighted"],
    median_error=np.median(np.abs(rel_err["weighted"])),
)

# %% [markdown]
# ## An uncertainty for the surrogate
#
# As in lesson 05, an ensemble of ratio surrogates from different seeds gives a spread, an estimate of the
# surrogate's own (epistemic) error. The exact value has no noise, so there is no aleatoric part: a calibrated
# spread $\sigma_\text{ens}$ should contain the true error $|\bar s - f|$ in about 68% of the points.

# %%
from mlmc_course.uncertainty import coverage

ensemble = [models["ratio"]] + [
    surrogates.train_surrogate(x_train, me_train, "ratio", epochs=epochs, seed=cfg.seed + m)[0]
    for m in range(1, n_members)
]
member_preds = np.stack([model.predict(x_test) for model in ensemble])
ens_mean, ens_std = member_preds.mean(axis=0), member_preds.std(axis=0)
cov68 = coverage(me_test, ens_mean, ens_std, 0.68)
cov95 = coverage(me_test, ens_mean, ens_std, 0.95)
print(f"ensemble of {n_members}: the exact value lies inside mean -+ 1 sigma_ens for {cov68}")
print(f"                          and inside the 95% band for {cov95}")

from matplotlib.colors import LogNorm

spread, true_error = ens_std / ens_mean, np.abs(ens_mean / me_test - 1)
fig, ax = plt.subplots()
log_bins = np.geomspace(1e-7, 1.0, 71)
*_, image = ax.hist2d(spread, true_error, bins=[log_bins, log_bins], norm=LogNorm(), cmap="viridis")
ax.grid(False)
fig.colorbar(image, label="test points per bin")
ax.plot(log_bins, log_bins, "k--", label="true error = ensemble spread")
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlim(np.quantile(spread, 1e-3) / 3, spread.max() * 3)
ax.set_ylim(np.quantile(true_error, 1e-3) / 3, true_error.max() * 3)
ax.set_xlabel(r"ensemble spread $\sigma_{ens}/\bar s$")
ax.set_ylabel(r"true error $|\bar s/f - 1|$")
ax.legend()
plt.show()

# %% [markdown]
# Points above the diagonal are where the ensemble understates its error. An ensemble measures how much its
# members disagree. Ours share the architecture, the training points and the loss, and differ only in their
# random start; what they have in common (how a smooth network bends between the same training points) is
# invisible to their spread. Compare the coverage printed above with the nominal 68% and 95% before quoting an
# ensemble spread as a systematic uncertainty: here it falls far short. Training each member on a different
# bootstrap sample of the points, or with different architectures, widens the spread; the next section removes the
# need to trust it at all.

# %% tags=["claim"]
claim(
    "the ensemble's coverage falls far short of the nominal 68% and 95%",
    (cov68.fraction < 0.68 - 0.2) & (cov95.fraction < 0.95 - 0.2),
    coverage68=cov68.fraction,
    coverage95=cov95.fraction,
)

# %% [markdown]
# ## Exporting to ONNX
#
# Seed 000 notes that the one-loop emulator of [arXiv:2302.04005](https://arxiv.org/abs/2302.04005) became faster
# once it ran in ONNX, a framework-neutral format that C++ event generators can load through ONNX Runtime without
# Python. `surrogates.export_onnx` calls `torch.onnx.export` (the `torch.export`-based exporter) with a dynamic
# batch dimension; the whole surrogate, the feature transformation and the eikonal factor included, goes into the
# file.

# %%
import tempfile
from pathlib import Path

import onnxruntime as ort

onnx_path = surrogates.export_onnx(models["ratio"], Path(tempfile.mkdtemp()) / "ratio_surrogate.onnx")
session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
x_check = x_test[:1000].astype(np.float32)
onnx_out = session.run(None, {"x": x_check})[0]
with torch.no_grad():
    torch_out = models["ratio"](torch.as_tensor(x_check)).numpy()
print(
    f"{onnx_path.name}: {onnx_path.stat().st_size / 1024:.0f} kB; largest relative difference ONNX vs PyTorch "
    f"on 1000 points: {np.max(np.abs(onnx_out / torch_out - 1)):.1e}"
)

# %% [markdown]
# Now the timing, at equal batch sizes and on one thread each: the exact formula (NumPy), the PyTorch surrogate and
# the ONNX Runtime surrogate. `benchmarks/onnx_surrogate.py` runs the same measurement with more batch sizes;
# its committed result is in `benchmarks/results/onnx_surrogate.md`.

# %%
timings = surrogates.timing_table(models["ratio"], onnx_path, batch_sizes)
Markdown(surrogates.timing_markdown(timings))

# %% [markdown]
# Read the table honestly. ONNX Runtime beats PyTorch at every batch size, by a factor of several at batch size 1,
# where PyTorch's per-call overhead (Python and operator dispatch) dominates. At batch size 1 every engine pays a
# fixed cost per call, and ONNX Runtime is about as fast as the exact formula (within a factor of two). For large
# batches the **exact formula is cheaper than either network**, by more than an order of magnitude at 10,000
# points: this tree-level matrix element is one line of algebra, chosen so that we can check everything. A
# surrogate pays off only when the exact evaluation is expensive (a one-loop amplitude at milliseconds per point,
# say), which is exactly when we cannot afford to check it everywhere.

# %% tags=["claim"]
per_point = {r["batch"]: {k: r[k] / r["batch"] for k in ("exact", "torch", "onnxruntime")} for r in timings}
small, large = per_point[min(per_point)], per_point[max(per_point)]
claim(
    "ONNX Runtime beats PyTorch at every batch size, by a factor of several at batch size 1",
    all(t["torch"] > t["onnxruntime"] for t in per_point.values()) & (small["torch"] > 2 * small["onnxruntime"]),
    ratio_batch_1=small["torch"] / small["onnxruntime"],
)
claim(
    "at batch size 1 ONNX Runtime is about as fast as the exact formula (within a factor of two)",
    0.5 < small["onnxruntime"] / small["exact"] < 2,
    onnx_us=1e6 * small["onnxruntime"],
    exact_us=1e6 * small["exact"],
)
claim(
    "the exact formula is cheaper than either network by more than an order of magnitude at 10,000 points",
    10 * large["exact"] < min(large["torch"], large["onnxruntime"]),
    exact_us=1e6 * large["exact"],
    onnx_us=1e6 * large["onnxruntime"],
)

# %% [markdown]
# ## Unweighting with a surrogate, and correcting it
#
# An event generator turns weighted points into unweighted events by accepting each with probability
# $f(x)/f_\text{max}$; the efficiency $\langle f\rangle/f_\text{max}$ can be tiny, so most exact evaluations are
# thrown away. With a surrogate $s$ (following [arXiv:2109.11964](https://arxiv.org/abs/2109.11964)):
#
# 1. accept a point with probability $s(x)/s_\text{max}$, using only the cheap surrogate;
# 2. for accepted events only, evaluate the exact $f$ and attach the weight $w = f(x)/s(x)$.
#
# For points drawn uniformly over a region of area $V$, the estimate
# $$ \hat\sigma = \frac{V s_\text{max}}{N}\sum_{i\,\in\,\text{accepted}} \frac{f(x_i)}{s(x_i)} $$
# is unbiased for *any* surrogate with $s > 0$ wherever $f > 0$:
# $\mathbb E\big[\mathbb 1_\text{acc}\, f/s\big] = \mathbb E\big[(s/s_\text{max})(f/s)\big]
# = \mathbb E[f]/s_\text{max}$.
# The surrogate's quality changes only the variance and the efficiencies. Dropping $w$ gives the surrogate's own
# cross section $V\langle s\rangle$, biased by its errors. A second unweighting step on $w$ (accept with
# probability $w/w_\text{max}$) would turn the weighted events into unit-weight events of the exact distribution.

# %% [markdown] tags=["question"] name="unweight_and_correct" points=3
# **Exercise 3.** Write `unweight_and_correct(x, surrogate, exact, volume, rng)`. `x` holds $N$ points `(N, 2)`
# drawn uniformly over a region of area `volume`; `surrogate` and `exact` map points `(m, 2)` to values `(m,)`.
# Accept each point with probability $s/s_\text{max}$ ($s_\text{max}$ the largest surrogate value on `x`), using
# `rng.uniform`; evaluate `exact` **only on the accepted points**; return `(sigma, error)`, the corrected cross
# section and its standard error (the standard deviation over all $N$ points of each point's contribution,
# $V s_\text{max} w$ if accepted and 0 if not, divided by $\sqrt N$).


# %% tags=["solution"]
def unweight_and_correct(x: np.ndarray, surrogate, exact, volume: float, rng: np.random.Generator):
    """Corrected cross section and its error from surrogate unweighting of uniform points x (N, 2)."""
    # BEGIN SOLUTION
    s = surrogate(x)
    s_max = s.max()
    accepted = rng.uniform(size=len(x)) < s / s_max
    contributions = np.zeros(len(x))
    contributions[accepted] = volume * s_max * exact(x[accepted]) / s[accepted]
    return float(contributions.mean()), float(contributions.std(ddof=1) / np.sqrt(len(x)))
    # END SOLUTION
    # HINT: accepted = rng.uniform(size=N) < s / s_max; contribution = volume * s_max * exact / s where accepted.


# %% tags=["wrong"]
# WRONG: counts accepted events without the exact/surrogate weight: the surrogate's own, biased, cross section
# EXPECT: weight each accepted event by exact / surrogate
def unweight_and_correct(x, surrogate, exact, volume, rng):
    s = surrogate(x)
    accepted = rng.uniform(size=len(x)) < s / s.max()
    contributions = volume * s.max() * accepted
    return float(contributions.mean()), float(contributions.std(ddof=1) / np.sqrt(len(x)))


# %% tags=["wrong"]
# WRONG: the right estimate, but the expensive exact matrix element is evaluated at every point
# EXPECT: call the expensive exact one only for accepted events
def unweight_and_correct(x, surrogate, exact, volume, rng):
    s, f = surrogate(x), exact(x)
    accepted = rng.uniform(size=len(x)) < s / s.max()
    contributions = volume * s.max() * accepted * f / s
    return float(contributions.mean()), float(contributions.std(ddof=1) / np.sqrt(len(x)))


# %% tags=["mutants"]
# EQUIVALENT L3:15 Lt->LtE: u = s / s_max exactly has probability zero
# EQUIVALENT L6:69 Constant 1->*: ddof=0 or 2 instead of 1 changes the error by a few parts in 10^6 at the check's
#   N; each is a correct standard error

# %% tags=["check"]
checks.unweight_and_correct(unweight_and_correct)

# %% tags=["check", "hidden"]
checks.unweight_and_correct(unweight_and_correct, seed=310)

# %% [markdown]
# Now with our networks: the weighted-loss surrogate (whose cross section has the large bias in the last column of
# the table above) and the ratio surrogate, against the exact $R_3$. For comparison, unweighting with the exact
# matrix element itself has the efficiency $\langle f\rangle/f_\text{max}$ on the same points, and needs $f$ at
# every point.

# %%
x_gen = surrogates.sample_resolved(n_unweight, rng)
volume = surrogates.resolved_area(y_cut)
r3 = surrogates.three_jet_rate(y_cut)
f_gen = surrogates.me_qqg(x_gen)
print(
    f"exact R3 = {r3:.5f}; unweighting with the exact matrix element: efficiency {f_gen.mean() / f_gen.max():.3%}, "
    f"{n_unweight:,} exact evaluations"
)
results = {
    kind: surrogates.unweight_and_correct(x_gen, models[kind].predict, surrogates.me_qqg, volume, rng)
    for kind in ("weighted", "ratio")
}
rows = [
    "| surrogate | uncorrected sigma | pull | corrected sigma | pull | 1st-stage eff. | 2nd-stage eff. | exact calls |",
    "|---|---|---|---|---|---|---|---|",
]
for kind, res in results.items():
    rows.append(
        f"| {kind} | {res.sigma_surrogate:.4f} ± {res.error_surrogate:.4f} "
        f"| {(res.sigma_surrogate - r3) / res.error_surrogate:+.1f} | {res.sigma:.4f} ± {res.error:.4f} "
        f"| {(res.sigma - r3) / res.error:+.1f} | {res.efficiency:.3%} | {res.correction_efficiency:.1%} "
        f"| {res.n_exact_calls:,} |"
    )
Markdown("\n".join(rows))

# %% [markdown]
# The pulls are (estimate − exact)/error. What the table shows:
#
# - the **corrected** cross sections agree with the exact $R_3$ within about two standard errors for both
#   surrogates, however biased the surrogate: the correction weight removes the bias exactly, what is left is
#   statistics;
# - the **uncorrected** weighted-loss surrogate is off by many standard errors, by about the bias of the table
#   above; the ratio surrogate's own cross section is much closer, because its errors are smaller, but nothing
#   guarantees that without the correction;
# - the surrogate shows up in the **efficiencies** and the **cost**: the weighted surrogate underestimates the
#   peaks, so its $s_\text{max}$ is lower and more points pass the first stage (each of them needs the exact
#   matrix element), and its correction weights spread widely (a low second-stage efficiency
#   $\langle w\rangle/w_\text{max}$); the ratio surrogate keeps the weights much closer to 1;
# - either way, the exact matrix element was evaluated only for accepted events, a fraction of the points equal to
#   the first-stage efficiency.
#
# The first-stage efficiency is low because we sample uniformly across a singular integrand; a better sampler
# (VEGAS or a normalising flow, lesson 09) raises it, and the correction works the same on top of it.

# %% tags=["claim"]
pull = {kind: (res.sigma - r3) / res.error for kind, res in results.items()}
raw_pull = {kind: (res.sigma_surrogate - r3) / res.error_surrogate for kind, res in results.items()}
weighted, ratio = results["weighted"], results["ratio"]
claim(
    "the corrected cross sections agree with the exact R3 within about two standard errors for both surrogates",
    max(abs(p) for p in pull.values()) < 2.5,
    **{f"pull_{k}": v for k, v in pull.items()},
)
claim(
    "the uncorrected weighted-loss surrogate is off by many standard errors, by about the bias of the table above",
    (abs(raw_pull["weighted"]) > 10) & (abs(weighted.sigma_surrogate / r3 - 1 - bias["weighted"]) < 0.05),
    pull=raw_pull["weighted"],
    bias=weighted.sigma_surrogate / r3 - 1,
    bias_table=bias["weighted"],
)
claim(
    "the ratio surrogate's own cross section is much closer",
    abs(raw_pull["ratio"]) < abs(raw_pull["weighted"]) / 5,
    pull_ratio=raw_pull["ratio"],
)
claim(
    "more points pass the weighted surrogate's first stage, and its correction weights spread more widely",
    (weighted.efficiency > ratio.efficiency)
    & (weighted.correction_efficiency < ratio.correction_efficiency)
    & (np.std(np.log(weighted.weights)) > 3 * np.std(np.log(ratio.weights))),
    spread_weighted=np.std(np.log(weighted.weights)),
    spread_ratio=np.std(np.log(ratio.weights)),
)
claim(
    "the exact matrix element was evaluated only for accepted events, a fraction equal to the first-stage efficiency",
    all(res.n_exact_calls == round(res.efficiency * res.n_tried) < res.n_tried / 4 for res in results.values()),
    exact_calls_weighted=weighted.n_exact_calls,
    tried=weighted.n_tried,
)

# %%
all_weights = np.concatenate([res.weights for res in results.values()])
w_bins = np.geomspace(all_weights.min() / 1.1, all_weights.max() * 1.1, 61)
fig, ax = plt.subplots()
for kind, res in results.items():
    label = f"{kind} surrogate, {len(res.weights):,} events"
    ax.hist(res.weights, bins=w_bins, histtype="step", density=True, label=label)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel(r"correction weight $w = f/s$ of accepted events")
ax.set_ylabel("probability density")
ax.legend()
plt.show()

# %% [markdown]
# ## Summary
#
# - $e^+e^- \to q\bar q g$ lives on the Dalitz triangle; its matrix element is singular on the edges
#   $x_1, x_2 \to 1$, and a resolution cut on all three $y_{ij}$ keeps the three-jet rate finite.
# - Learning the singular function directly gives large errors near the singular corners; a weighted loss helps;
#   factoring out the eikonal limit (the k-factor trick) leaves a smooth ratio that a small network learns to
#   a fraction of a per cent (median error, lecture mode; the `ci` run trains for a few epochs only).
# - An ensemble gives the surrogate an uncertainty; its coverage has to be measured, not assumed.
# - ONNX export makes a surrogate portable and cheaper per call for small batches; it is only worth having when
#   the exact calculation is expensive.
# - Unweighting with the surrogate and correcting accepted events by exact/surrogate weights keeps the cross
#   section exact: a surrogate then costs efficiency, never correctness.

# %% tags=["claim"]
claim(
    "the ratio surrogate learns the smooth ratio to a fraction of a per cent (median error, lecture mode)",
    np.median(np.abs(rel_err["ratio"])) < 0.01,
    when=cfg.mode != "ci",
    median_error=np.median(np.abs(rel_err["ratio"])),
)

# %% [markdown]
# ## Further reading
#
# - D. Maître, H. Truong, *One-loop matrix element emulation with factorisation awareness*,
#   [arXiv:2302.04005](https://arxiv.org/abs/2302.04005), and *A factorisation-aware matrix element emulator*,
#   [arXiv:2107.06625](https://arxiv.org/abs/2107.06625).
# - K. Danziger, T. Janßen, S. Schumann, F. Siegert, *Accelerating Monte Carlo event generation — rejection
#   sampling using neural network event-weight estimates*, [arXiv:2109.11964](https://arxiv.org/abs/2109.11964).
# - S. Badger, J. Bullock, *Using neural networks for efficient evaluation of high multiplicity scattering
#   amplitudes*, [arXiv:2002.07516](https://arxiv.org/abs/2002.07516).
# - A. Butter, T. Plehn, S. Schumann et al., *Machine learning and LHC event generation*,
#   [arXiv:2203.07460](https://arxiv.org/abs/2203.07460).
# - R. K. Ellis, W. J. Stirling, B. R. Webber, *QCD and collider physics* (Cambridge, 1996), chapter 3, for the
#   $e^+e^- \to q\bar q g$ matrix element and jet rates.

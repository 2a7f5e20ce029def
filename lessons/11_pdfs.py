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
# # 11 · PDFs the NNPDF way
#
# Every hadron-collider event generator starts from parton distribution functions, and the most widely used ones
# (NNPDF) are neural networks fitted to data. This lesson runs a small version of their method end to end, as a
# **closure test**: we pick the "true" PDFs ourselves, make pseudo-data from them, fit, and check whether the fitted
# uncertainty band contains the truth as often as it claims.
#
# **You will**
# - write a PDF as a network times a preprocessing factor, $x f(x) = A\,x^{1-\alpha}(1-x)^\beta\,\mathrm{NN}(x)$,
#   and impose the valence sum rules through $A$, computed by quadrature on a logarithmic grid;
# - connect PDFs to data through a fixed linear map (an FK table) and fit by minimising a correlated $\chi^2$;
# - propagate data uncertainties by fitting Monte Carlo replicas of the data, one network each;
# - judge the fit with closure-test pulls, and see the band grow where there are no data;
# - read the small-$x$ extrapolation off effective exponents, and see that the preprocessing decides it.
#
# **Prerequisites:** lesson 05 (ensembles, coverage); deep-inelastic scattering at the level of
# $F_2 = \sum_q e_q^2\, x q(x)$.
# **Time:** about 75 minutes.
# **Sources:** seed lecture 000 (ML for PDFs: the NNPDF parameterisation, sum rules, positivity, the $\chi^2$ loss,
# replicas, FK tables, extrapolation). Papers: NNPDF4.0, [arXiv:2109.02653](https://arxiv.org/abs/2109.02653);
# the NNPDF3.0 methodology and closure tests, [arXiv:1410.8849](https://arxiv.org/abs/1410.8849); closure-test
# estimators, [arXiv:2111.05787](https://arxiv.org/abs/2111.05787).
#
# The networks are PyTorch; the parameterisation, the toy FK table, the replicas and the fit live in
# `mlmc_course.pdf`.

# %% [markdown]
# ## What a PDF fit needs
#
# Collinear factorisation writes a structure function or cross section at scale $Q$ as coefficient functions
# convolved with PDFs evolved from a fitting scale $Q_0$ by the DGLAP equations. Both steps are linear in the PDFs
# at $Q_0$, so they can be computed once and stored as a table on an $x$-grid $\{x_g\}$, the **FK table**:
# $$ T_i = \sum_{a}\sum_{g} \mathrm{FK}_{i,a,g}\; x_g f_a(x_g, Q_0^2) . $$
# Seed 000 calls this what "makes all of this possible": a fast, differentiable map from PDFs to data, through
# which the loss can be back-propagated. The loss is the $\chi^2$ with the experimental covariance $C$,
# $$ \chi^2 = \sum_{ij} (T_i - D_i)\,(C^{-1})_{ij}\,(T_j - D_j) , $$
# and the PDFs must obey physical constraints: **sum rules** (here the valence ones, counting two up and one down
# valence quark in the proton, $\int_0^1 u_v\,dx = 2$ and $\int_0^1 d_v\,dx = 1$), **positivity**, and
# integrability.

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np
import matplotlib.pyplot as plt

import mlmc_course
from mlmc_course import pdf
from mlmc_course.checks import l11_pdfs as checks

cfg = mlmc_course.setup(MODE)

# %%
n_replicas = cfg.pick(ci=4, lecture=25, full=100)
epochs = cfg.pick(ci=150, lecture=1500, full=5000)
x_plot = np.geomspace(1e-5, 0.95, 200)

# %% [markdown]
# ## The truth
#
# A closure test starts from PDFs we choose. `pdf.ValenceTruth` holds valence shapes of the kind global fits find,
# $x q(x) = A\,x^{a}(1-x)^{b}(1 + c\,x)$, with $x u_v \sim x^{0.6}$ at small $x$ and $(1-x)^{3.3}$ at large $x$
# (and $x^{0.7}$, $(1-x)^{4.2}$ for $d_v$). The normalisations $A$ follow exactly from the sum rules through Beta
# functions, $\int_0^1 x^{a-1}(1-x)^b\,dx = B(a, b + 1)$.

# %%
truth = pdf.ValenceTruth()
xf_true = truth.xf(x_plot)
fig, ax = plt.subplots()
for k, name in enumerate(pdf.FLAVOURS):
    ax.plot(x_plot, xf_true[:, k], label=f"$x {name[0]}_v(x)$")
ax.set_xscale("log")
ax.set_xlabel("momentum fraction $x$")
ax.set_ylabel("$x f(x)$ at the fitting scale")
ax.legend()
plt.show()

# %% [markdown]
# ## Sum rules need the small-$x$ region
#
# A valence distribution rises like $x^{-\alpha}$ with $\alpha \approx 0.3$ to $0.5$ at small $x$. It is integrable,
# but a large part of its integral sits at small $x$: for $f \sim x^{-0.4}$, the region $x < 10^{-3}$ alone holds
# $\int_0^{10^{-3}} x^{-0.4}dx = (10^{-3})^{0.6}/0.6 \approx 0.03$, a per-cent-level share of a sum rule. A linear
# grid cannot resolve it; a grid uniform in $\ln x$ can, with the change of variables
# $$ \int_{x_\text{min}}^1 f(x)\,dx = \int_{\ln x_\text{min}}^{0} x f(x)\; d\ln x , $$
# whose integrand $x f \sim x^{1-\alpha}$ vanishes smoothly at small $x$.

# %% tags=["claim"]
from mlmc_course.claims import claim

small_x_share = (1e-3) ** 0.6 / 0.6
claim("the region x < 1e-3 holds about 0.03 of int x^-0.4 dx", abs(small_x_share - 0.03) < 0.005, share=small_x_share)

# %% [markdown] tags=["question"] name="valence_integral" points=2
# **Exercise 1.** Write `valence_integral(xf, x_min)`: `xf` is a function that takes an array of $x$ values and
# returns $x f(x)$; return $\int_{x_\text{min}}^1 f(x)\,dx$ as a float, with the trapezoid rule (`np.trapezoid`) on
# a grid of a few thousand points.


# %% tags=["solution"]
def valence_integral(xf, x_min: float) -> float:
    """int_{x_min}^1 f(x) dx from a function returning x f(x), by the trapezoid rule in ln x."""
    # BEGIN SOLUTION
    x = np.geomspace(x_min, 1.0, 4000)
    return float(np.trapezoid(xf(x), np.log(x)))
    # END SOLUTION
    # HINT: use x = np.geomspace(x_min, 1, n) and integrate x f(x) against ln x: np.trapezoid(xf(x), np.log(x)).


# %% tags=["wrong"]
# WRONG: a linear grid from x_min, integrating f = xf / x against x: the first interval is dominated by f(x_min)
# EXPECT: integrate x f(x) over ln x
def valence_integral(xf, x_min):
    x = np.linspace(x_min, 1.0, 4000)
    return float(np.trapezoid(xf(x) / x, x))


# %% tags=["wrong"]
# WRONG: a linear grid that starts at 1e-3 misses the small-x region
# EXPECT: use a grid that is uniform in ln x
def valence_integral(xf, x_min):
    x = np.linspace(1e-3, 1.0, 4000)
    return float(np.trapezoid(xf(x) / x, x))


# %% tags=["mutants"]
# EQUIVALENT L1:33 Constant 4000->*: the number of grid points is a free choice; 3999 or 4001 points in ln x
#   integrate to the same precision

# %% tags=["check"]
checks.valence_integral(valence_integral)

# %% tags=["check", "hidden"]
checks.valence_integral(valence_integral, seed=111)

# %% [markdown]
# The package's `pdf.sum_rule_integral` does the same on tabulated values (for many replicas at once) and adds
# the analytic tail below the grid, $\int_0^{x_\text{min}} f\,dx \approx x_\text{min} f(x_\text{min})/(1 - \alpha)$.
# On the truth it returns the sum rules:

# %%
x_int = pdf.integration_grid()
print("int u_v dx, int d_v dx =", pdf.sum_rule_integral(truth.xf(x_int), x_int, 1 - np.array(truth.a)))

# %% [markdown]
# ## Pseudo-data through an FK table
#
# Our data are structure-function-like observables on proton and neutron targets at 24 values of $x$ between
# $2\times10^{-3}$ and $0.75$, each at two scales: 96 points. At leading order a valence-only $F_2$ is
# $\frac49 x u_v + \frac19 x d_v$ on protons and, by isospin, $\frac19 x u_v + \frac49 x d_v$ on neutrons, so the
# two targets separate $u_v$ from $d_v$. `pdf.toy_fk_table` adds a smearing in $\ln x$ for each scale, wider and
# shifted to smaller $x$ at the higher scale, a stand-in for evolution. It is a toy: real FK tables come from DGLAP
# evolution and coefficient functions (APFEL, EKO); what matters for the method is that the map is **linear and
# fixed**.
#
# The pseudo-data: level 0 is the FK table applied to the truth; level 1 adds one draw of noise from the
# covariance, a 3% uncorrelated error per point and a 2% normalisation error fully correlated within each target.

# %%
x_data = np.unique(np.concatenate([np.geomspace(2e-3, 0.1, 12), np.linspace(0.12, 0.75, 12)]))
fk = pdf.toy_fk_table(x_data)
data = pdf.closure_data(fk, truth, stat=0.03, norm=0.02, seed=cfg.seed)
errors = np.sqrt(np.diag(data.cov))
print(f"{fk.n_data} data points; FK table of shape {fk.table.shape} (data, grid points, flavours)")

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, target in zip(axes, ("p", "n"), strict=True):
    for scale in np.unique(fk.scale):
        sel = (fk.target == target) & (fk.scale == scale)
        ax.errorbar(fk.x[sel], data.level1[sel], errors[sel], fmt="o", ms=3, label=f"level-1 data, scale {scale}")
        ax.plot(fk.x[sel], data.level0[sel], "k-", lw=0.8, label="level 0 (truth)" if scale == 0 else None)
    ax.set_xscale("log")
    ax.set_xlabel("Bjorken $x$")
    ax.set_title({"p": "proton target", "n": "neutron target"}[target])
axes[0].set_ylabel("structure-function-like observable")
axes[0].legend()
plt.show()

# %% [markdown]
# ## Monte Carlo replicas
#
# NNPDF propagates the data uncertainty into the PDFs by fitting not the data but $N_\text{rep}$ **replicas** of
# them, each drawn from the data's own distribution, $D^{(r)} = D + L\,z^{(r)}$ with $L L^T = C$ (the Cholesky
# factor) and $z^{(r)} \sim \mathcal N(0, 1)$. Each replica gets its own fit; the spread of the fitted PDFs is their
# uncertainty, a "probability distribution over functions", as seed 000 puts it. The correlations matter: a
# normalisation error moves all points of a target together.

# %% [markdown] tags=["question"] name="mc_replicas" points=2
# **Exercise 2.** Write `mc_replicas(data, cov, n_replicas, rng)`: `data` has shape `(n,)`, `cov` `(n, n)`;
# return `n_replicas` replicas, shape `(n_replicas, n)`, drawn from $\mathcal N(\text{data}, \text{cov})$ with
# standard normal numbers from `rng`.


# %% tags=["solution"]
def mc_replicas(data: np.ndarray, cov: np.ndarray, n_replicas: int, rng: np.random.Generator) -> np.ndarray:
    """Replicas (n_replicas, n) of the data with the full covariance, via its Cholesky factor."""
    # BEGIN SOLUTION
    chol = np.linalg.cholesky(cov)
    z = rng.standard_normal((n_replicas, len(data)))
    return data + z @ chol.T
    # END SOLUTION
    # HINT: L = np.linalg.cholesky(cov); z = rng.standard_normal((n_replicas, n)); replicas = data + z @ L.T.


# %% tags=["wrong"]
# WRONG: independent errors sqrt(diag(cov)) lose the correlations
# EXPECT: not sqrt(diag(cov)) z
def mc_replicas(data, cov, n_replicas, rng):
    return data + rng.standard_normal((n_replicas, len(data))) * np.sqrt(np.diag(cov))


# %% tags=["wrong"]
# WRONG: one fluctuation shared by all replicas
# EXPECT: all replicas are identical
def mc_replicas(data, cov, n_replicas, rng):
    shift = np.linalg.cholesky(cov) @ rng.standard_normal(len(data))
    return np.tile(data + shift, (n_replicas, 1))


# %% tags=["mutants"]
# EQUIVALENT L3:11 Add->Sub: z and -z have the same Gaussian distribution, so data - z L^T is an equally correct
#   set of replicas

# %% tags=["check"]
checks.mc_replicas(mc_replicas)

# %% tags=["check", "hidden"]
checks.mc_replicas(mc_replicas, seed=211)

# %% [markdown]
# ## The parameterisation and the fit
#
# Seed 000 quotes NNPDF's parameterisation,
# $$ x f_k(x, Q_0) = A_k\, x^{1-\alpha_k}(1-x)^{\beta_k}\,\mathrm{NN}_k(x;\theta) , $$
# a network (inputs $x$ and $\ln x$, here two hidden tanh layers of 20 units) times a **preprocessing** factor that
# builds in the expected power-law behaviour at the ends, where there are few data. `pdf.ValencePDF` implements it
# for many replicas at once:
#
# - $A_k$ is recomputed at every step so that the sum rule holds exactly (up to quadrature error): NNPDF imposes
#   sum rules this way, through the normalisation;
# - positivity: NNPDF adds Lagrange-multiplier penalties for negative PDFs and observables; here we build it in,
#   $\mathrm{NN}_k = \mathrm{softplus}(\text{network})$, which also keeps the normalisation integral away from zero;
# - $\alpha_k$ and $\beta_k$ are drawn per replica from ranges (here $\alpha_u \in [0.3, 0.5]$,
#   $\alpha_d \in [0.2, 0.4]$, $\beta_u \in [2.5, 4]$, $\beta_d \in [3.5, 5]$) and kept fixed during the fit, as
#   in NNPDF3.x ([arXiv:1410.8849](https://arxiv.org/abs/1410.8849)), so that the uncertainty on the unconstrained
#   ends includes the preprocessing choice. NNPDF4.0 goes one step further: each replica's exponents start at a
#   random value in such a range and are then fitted with the network, confined to the range.
#
# `pdf.fit_replicas` minimises each replica's $\chi^2/N_\text{data}$ with the shared training loop. The replicas'
# networks are independent, stacked along a batch dimension, so they train in one go. NNPDF also stops each
# replica by cross-validation; we use a fixed number of steps, which the closure test below has to vindicate.

# %%
from mlmc_course.plotting import loss_plot

rng = np.random.default_rng(cfg.seed)
replicas = pdf.mc_replicas(data.level1, data.cov, n_replicas, rng)
model, history = pdf.fit_replicas(fk, replicas, data.cov, epochs=epochs, seed=cfg.seed)
loss_plot({"mean chi2 / N_data over replicas": history.train}, ylabel=r"$\chi^2/N_{data}$")

theory = fk(model.xf(fk.x_grid))  # (n_replicas, n_data)
central = theory.mean(axis=0)
chi2_replica = np.mean([pdf.chi2(theory[r], replicas[r], data.cov) for r in range(n_replicas)]) / fk.n_data
chi2_level1 = pdf.chi2(central, data.level1, data.cov) / fk.n_data
chi2_level0 = pdf.chi2(central, data.level0, data.cov) / fk.n_data
print(
    f"chi2/N: each replica against its own data {chi2_replica:.2f}; mean fit against the level-1 data "
    f"{chi2_level1:.2f}; against the truth (level 0) {chi2_level0:.2f}"
)
print(
    "sum rules of the first three replicas:\n", pdf.sum_rule_integral(model.xf(x_int), x_int, model.alpha.numpy())[:3]
)
plt.show()

# %% [markdown]
# For level-2 replicas (noise on top of noisy data) a perfect fit has $\chi^2/N \approx 2$ against its own replica
# and about 1 against the level-1 data; in lecture mode ours comes close to both (printed above). The mean fit is
# closer to the truth than to the data it was fitted to, because the average over replicas smooths the noise away.

# %% tags=["claim"]
claim(
    "in lecture mode the fit comes close to chi2/N = 2 against its own replica and 1 against the level-1 data",
    (abs(chi2_replica - 2) < 0.3) & (abs(chi2_level1 - 1) < 0.3),
    when=cfg.mode != "ci",
    chi2_replica=chi2_replica,
    chi2_level1=chi2_level1,
)
claim(
    "the mean fit is closer to the truth than to the data it was fitted to",
    chi2_level0 < chi2_level1,
    chi2_truth=chi2_level0,
    chi2_data=chi2_level1,
)

# %% [markdown]
# ## The PDFs with their band

# %%
from mlmc_course.uncertainty import band_plot

xf_fit = model.xf(x_plot)  # (n_replicas, n_x, 2)
fig, axes = plt.subplots(2, 2, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
for k, name in enumerate(pdf.FLAVOURS):
    mean, std = xf_fit[:, :, k].mean(axis=0), xf_fit[:, :, k].std(axis=0, ddof=1)
    ax, ax_ratio = axes[0, k], axes[1, k]
    for ax_ in (ax, ax_ratio):
        ax_.axvspan(x_plot[0], x_data.min(), color="grey", alpha=0.15, lw=0)
        ax_.axvspan(x_data.max(), x_plot[-1], color="grey", alpha=0.15, lw=0)
    band_plot(ax, x_plot, mean, std, label=rf"fit, {n_replicas} replicas, mean $\pm 1\sigma$")
    ax.plot(x_plot, xf_true[:, k], "k--", label="truth")
    ax.set_ylabel(f"$x {name[0]}_v(x)$")
    ax.set_title(f"${name[0]}_v$ (grey: no data)")
    ax_ratio.fill_between(x_plot, 1 - std / mean, 1 + std / mean, alpha=0.3)
    ax_ratio.plot(x_plot, xf_true[:, k] / mean, "k--")
    ax_ratio.set_ylim(0.5, 1.5)
    ax_ratio.set_xscale("log")
    ax_ratio.set_xlabel("momentum fraction $x$")
    ax_ratio.set_ylabel("truth / fit")
axes[0, 0].legend()
plt.show()

# %% [markdown]
# The band is narrow where the data are and opens up at small $x$ (below the first data point) and at large
# $x$: that is the epistemic uncertainty of lesson 05 at work, with replicas in the role of ensemble members.

# %% tags=["claim"]
rel_band = xf_fit.std(axis=0, ddof=1) / xf_fit.mean(axis=0)  # (n_x, 2)
in_data = (x_plot > x_data.min()) & (x_plot < x_data.max())
claim(
    "the band is narrow where the data are and opens up at small and at large x",
    np.all(rel_band[0] > 3 * np.median(rel_band[in_data], axis=0))
    & np.all(rel_band[-1] > 3 * np.median(rel_band[in_data], axis=0)),
    in_data_u=np.median(rel_band[in_data, 0]),
    smallest_x_u=rel_band[0, 0],
    largest_x_u=rel_band[-1, 0],
)

# %% [markdown]
# ## The closure test
#
# Because we know the truth, we can ask the question that matters: does the band contain it as often as it
# should? At each $x$ the **pull** is (mean of the replicas − truth) / (standard deviation of the replicas). If the
# replicas are a faithful distribution, pulls follow a unit Gaussian.

# %% [markdown] tags=["question"] name="closure_pulls" points=1
# **Exercise 3.** Write `closure_pulls(replicas, truth)`: `replicas` has shape `(n_replicas, n)` (fitted values at
# `n` points), `truth` shape `(n,)`; return the pulls, shape `(n,)`.


# %% tags=["solution"]
def closure_pulls(replicas: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(mean over replicas - truth) / standard deviation over replicas, at each point."""
    # BEGIN SOLUTION
    return (replicas.mean(axis=0) - truth) / replicas.std(axis=0, ddof=1)
    # END SOLUTION
    # HINT: mean and standard deviation along axis 0 (the replicas).


# %% tags=["wrong"]
# WRONG: divides by the standard error of the mean, std / sqrt(N_rep), instead of the spread of the replicas
# EXPECT: you divided by the standard error of the replica mean
def closure_pulls(replicas, truth):
    return (replicas.mean(axis=0) - truth) / (replicas.std(axis=0, ddof=1) / np.sqrt(len(replicas)))


# %% tags=["mutants"]
# EQUIVALENT L1:71 Constant 1->0: ddof=0 instead of ddof=1 shrinks the spread by 1/(2 N_rep), 1% for 50 replicas,
#   far below the 10% statistical uncertainty of a 50-replica standard deviation; both estimate the spread

# %% tags=["check"]
checks.closure_pulls(closure_pulls)

# %% tags=["check", "hidden"]
checks.closure_pulls(closure_pulls, seed=311)

# %% [markdown]
# The pulls at 20 points per flavour, spaced evenly in $\ln x$ across the data range, with the package's
# `pdf.pulls`. Neighbouring points are strongly correlated (the PDFs are smooth), so 40 pulls are worth far fewer
# independent numbers: read the summary statistics with generous error bars.

# %%
x_pull = np.geomspace(x_data.min(), x_data.max(), 20)
xf_pull, xf_pull_true = model.xf(x_pull), truth.xf(x_pull)
all_pulls = np.concatenate([pdf.pulls(xf_pull[:, :, k], xf_pull_true[:, k]) for k in range(2)])
within = np.mean(np.abs(all_pulls) < 1)
print(
    f"pulls in the data range: mean {all_pulls.mean():+.2f}, standard deviation {all_pulls.std():.2f}, "
    f"|pull| < 1 for {within:.0%} of the points (unit Gaussian: 0, 1, 68%)"
)

# NNPDF's data-space estimator (arXiv:2111.05787): bias over variance, both in units of the covariance.
bias = pdf.chi2(central, data.level0, data.cov) / fk.n_data
variance = np.mean(pdf.chi2(theory, central, data.cov)) / fk.n_data
print(f"bias/variance ratio R_bv = sqrt(bias / variance) = {np.sqrt(bias / variance):.2f} (faithful: about 1)")

from mlmc_course.plotting import binned

pull_edges, pull_density, pull_error, pull_outside = binned(all_pulls, np.linspace(-4, 4, 17))
outside = pull_outside["below"] + pull_outside["above"]
fig, ax = plt.subplots()
ax.stairs(pull_density, pull_edges, label=f"closure-test pulls ({outside:.0%} outside the range)")
centres = 0.5 * (pull_edges[1:] + pull_edges[:-1])
ax.errorbar(centres, pull_density, pull_error, fmt="none", color="C0", label="Poisson errors (pulls are correlated)")
z = np.linspace(-4, 4, 200)
ax.plot(z, np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi), "k--", label="unit Gaussian")
ax.set_xlabel("pull = (fit - truth) / replica spread")
ax.set_ylabel("density")
ax.legend()
plt.show()

# %% [markdown]
# A mean far from 0 would signal a bias the replicas do not cover (an inflexible parameterisation, say), a spread
# well above 1 an over-confident fit (replicas stopped too early or too similar), a spread well below 1 an
# over-cautious one. $R_\text{bv}$ asks the same question in data space, over all 96 points at once: the distance
# of the mean fit from the truth against the spread of the replicas around it; below 1, the band is wider than
# the actual error (conservative), above 1 it is too narrow. In ci mode the few replicas and short training make
# these numbers meaningless; in lecture mode they test the whole method, and both say that the band is faithful or
# somewhat conservative: a pull spread and an $R_\text{bv}$ at or a little below 1, and a mean pull well inside
# the spread.

# %% tags=["claim"]
claim(
    "in lecture mode the pulls and R_bv say that the band is faithful or somewhat conservative",
    (0.6 < all_pulls.std() < 1.15) & (abs(all_pulls.mean()) < 0.5) & (0.5 < np.sqrt(bias / variance) < 1.15),
    when=cfg.mode != "ci",
    pull_mean=all_pulls.mean(),
    pull_std=all_pulls.std(),
    r_bv=np.sqrt(bias / variance),
)

# %% [markdown]
# ## The preprocessing decides the extrapolation
#
# Below the first data point nothing constrains the network, so its shape there comes from the factor
# $x^{1-\alpha}$. NNPDF checks this with **effective exponents**,
# $$ \alpha_\text{eff}(x) = \frac{\ln f(x)}{\ln(1/x)}, \qquad \beta_\text{eff}(x) = \frac{\ln f(x)}{\ln(1 - x)} , $$
# which tend to the true small- and large-$x$ powers of $f \sim x^{-\alpha}(1-x)^\beta$. If the fitted effective
# exponents of the replicas pile up at the edge of the sampled range, the range was too narrow and the fit is
# repeated with a wider one.

# %% [markdown] tags=["question"] name="effective_exponents" points=1
# **Exercise 4.** Write `effective_exponents(x, xf)`: `x` of shape `(n,)` in $(0, 1)$ and `xf` the values of
# $x f(x)$ there; return the tuple `(alpha_eff, beta_eff)`, each of shape `(n,)`.


# %% tags=["solution"]
def effective_exponents(x: np.ndarray, xf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """alpha_eff = ln f / ln(1/x) and beta_eff = ln f / ln(1 - x), with f = xf / x."""
    # BEGIN SOLUTION
    log_f = np.log(xf / x)
    return log_f / np.log(1 / x), log_f / np.log(1 - x)
    # END SOLUTION
    # HINT: first f = xf / x; then divide ln f by ln(1/x) and by ln(1 - x).


# %% tags=["wrong"]
# WRONG: uses ln(x f) instead of ln f, so alpha_eff comes out smaller by one
# EXPECT: you used ln(x f) instead of ln f
def effective_exponents(x, xf):
    return np.log(xf) / np.log(1 / x), np.log(xf) / np.log(1 - x)


# %% tags=["check"]
checks.effective_exponents(effective_exponents)

# %% tags=["check", "hidden"]
checks.effective_exponents(effective_exponents, seed=411)

# %% [markdown]
# The effective exponents of every replica, with the range their $\alpha$ was drawn from and the truth's values:

# %%
x_small = np.geomspace(1e-9, 0.1, 80)
alpha_eff, alpha_eff_true = {}, {}
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for k, (ax, name) in enumerate(zip(axes, pdf.FLAVOURS, strict=True)):
    a_eff, _ = pdf.effective_exponents(x_small, model.xf(x_small)[:, :, k])
    a_true, _ = pdf.effective_exponents(x_small, truth.xf(x_small)[:, k])
    alpha_eff[k], alpha_eff_true[k] = a_eff, a_true
    ax.plot(x_small, a_eff.T, color="C0", lw=0.6, alpha=0.5)
    ax.plot([], [], color="C0", lw=0.6, label=f"{n_replicas} replicas")
    ax.plot(x_small, a_true, "k--", label="truth")
    ax.axhspan(*pdf.ALPHA_RANGE[k], color="C1", alpha=0.2, label=r"sampled range of $\alpha$")
    ax.axhline(1 - truth.a[k], color="k", lw=0.8, ls=":", label=r"true $\alpha$ (the $x \to 0$ limit)")
    ax.axvline(x_data.min(), color="grey", ls="-.", label="first data point")
    ax.set_xscale("log")
    ax.set_xlabel("momentum fraction $x$")
    ax.set_ylabel(rf"$\alpha_{{eff}}(x)$ of ${name[0]}_v$")
axes[0].legend(fontsize="small")
plt.show()

# %% [markdown]
# The approach is slow: $\alpha_\text{eff}(x) = \alpha + \ln\big(A\,\mathrm{NN}(x)(1-x)^\beta\big)/\ln(1/x)$, so
# the correction falls only like $1/\ln(1/x)$. Inside the data range the replicas agree with each other and with
# the truth. Below the first data point each replica bends towards its own preprocessing exponent: far enough
# beyond the data, the band's spread comes from the spread of the sampled $\alpha$ values (each replica's
# $\alpha_\text{eff}$ tracks its own $\alpha$), a modelling choice and not a measurement. This is seed 000's warning
# about extrapolation made concrete, and the reason NNPDF iterates the preprocessing ranges until the fitted
# effective exponents sit comfortably inside them. The same analysis at large $x$, with $\beta_\text{eff}$, needs
# $x$ much closer to 1 than our data reach.

# %% tags=["claim"]
in_range = x_small >= x_data.min()
alpha_replicas = model.alpha.numpy()  # (n_replicas, 2)
for k, name in enumerate(pdf.FLAVOURS):
    claim(
        f"{name}: inside the data range the replicas agree with each other and with the truth",
        (alpha_eff[k][:, in_range].std(axis=0).max() < 0.02)
        & (np.abs(alpha_eff[k][:, in_range].mean(axis=0) - alpha_eff_true[k][in_range]).max() < 0.02),
        largest_spread=alpha_eff[k][:, in_range].std(axis=0).max(),
    )
    far = alpha_eff[k][:, 0]  # x = 1e-9
    claim(
        f"{name}: far beyond the data each replica's effective exponent tracks its own sampled alpha",
        np.corrcoef(far, alpha_replicas[:, k])[0, 1] > 0.8,
        correlation=np.corrcoef(far, alpha_replicas[:, k])[0, 1],
        spread_ratio=far.std() / alpha_replicas[:, k].std(),
    )

# %% [markdown]
# ## Summary
#
# - PDFs enter observables linearly through FK tables, so a fit is a $\chi^2$ minimisation through a fixed matrix,
#   with correlated uncertainties in the covariance.
# - The NNPDF parameterisation, network times $x^{1-\alpha}(1-x)^\beta$, fixes the sum rules through its
#   normalisation; the integrals need a logarithmic grid because valence PDFs rise at small $x$.
# - Monte Carlo replicas of the data, one fit each, turn data uncertainties into a PDF band.
# - A closure test on pseudo-data from known PDFs checks that band: pulls should look like a unit Gaussian in the
#   data region.
# - Beyond the data the band reflects the preprocessing ranges, which effective exponents make visible.
#
# ## Further reading
#
# - NNPDF Collaboration, *The path to proton structure at 1% accuracy* (NNPDF4.0),
#   [arXiv:2109.02653](https://arxiv.org/abs/2109.02653).
# - NNPDF Collaboration, *Parton distributions for the LHC Run II* (NNPDF3.0: methodology, closure tests),
#   [arXiv:1410.8849](https://arxiv.org/abs/1410.8849).
# - L. Del Debbio et al., *Bayesian approach to inverse problems: an application to NNPDF closure testing*,
#   [arXiv:2111.05787](https://arxiv.org/abs/2111.05787).
# - S. Carrazza, J. Cruz-Martinez, *Towards a new generation of parton densities with deep learning models*,
#   [arXiv:1907.05075](https://arxiv.org/abs/1907.05075).
# - V. Bertone, S. Carrazza, N. P. Hartland, *APFELgrid: a high performance tool for parton density
#   determinations* (FK tables), [arXiv:1605.02070](https://arxiv.org/abs/1605.02070).

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[17, 27]
# # 14 · DCTR: tuning a generator with a classifier
#
# A generator's tune is a set of parameters fitted to data: the strong coupling in the parton shower, the
# shape of the fragmentation function, the suppression of strange quarks in string breaks. Tuning usually
# compares histograms of a few observables. **DCTR** (Deep neural networks using Classification for Tuning and
# Reweighting) uses the whole event instead: a classifier that knows the parameters, $f(x, \theta)$, learns the
# likelihood ratio between any parameter point and the nominal one. That ratio reweights nominal events to any
# tune without running the generator again, and it is a likelihood we can maximise to fit the parameters. Here we
# do both on events that Pythia 8 generates live: $e^+e^- \to Z \to$ hadrons at LEP energy.
#
# **You will**
# - explain how `TimeShower:alphaSvalue`, `StringZ:aLund` and `StringFlav:probStoUD` change hadronic $Z$ decays,
#   and generate events at any setting;
# - derive why a classifier conditioned on $\theta$ learns $p(x\mid\theta)/p(x\mid\theta_0)$, and build its
#   training set;
# - train a particle-flow DCTR network, reweight the default tune to another one and validate on observables;
# - fit the parameters of a blinded target by gradient descent and by a likelihood scan, then check the fit by
#   running Pythia at the fitted values.
#
# **Prerequisites:** lessons 02 (the likelihood-ratio trick), 04 (particle-flow networks) and 13 (reweighting).
# **Time:** about 90 minutes. **First run:** the Pythia samples are generated once per machine and cached (about
# 240 000 events in lecture mode). On the course's reference machine (two cores, one of them busy with another job)
# the first run of the whole notebook took 455 s, a run from the cache 39 s.
# **Sources:** the MCnet-school lecture "Machine Learning and MC generators" (DCTR: a classifier trained to
# reweight between parameter values, and the fitted Pythia parameters). Papers: Andreassen and Nachman, *Neural
# networks for full phase-space reweighting and parameter tuning*,
# [arXiv:1907.08209](https://arxiv.org/abs/1907.08209); Komiske, Metodiev and Thaler, *Energy flow networks*,
# [arXiv:1810.05165](https://arxiv.org/abs/1810.05165); Skands, Carrazza and Rojo, *Tuning PYTHIA 8.1: the
# Monash 2013 tune*, [arXiv:1404.5630](https://arxiv.org/abs/1404.5630); Bierlich et al., *A comprehensive guide
# to the physics and usage of PYTHIA 8.3*, [arXiv:2203.11601](https://arxiv.org/abs/2203.11601).

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np

import mlmc_course
from mlmc_course.checks import l14_dctr as checks

cfg = mlmc_course.setup(MODE)

# %% [markdown]
# ## The generator and its knobs
#
# `mlmc_course.data.pythia` runs Pythia 8 for $e^+e^- \to \gamma^*/Z \to q\bar q$ at $\sqrt s = 91.2$ GeV (the $Z$
# decays to $u, d, s, c, b$), starting from the default Monash 2013 tune, and keeps the stable visible particles.
# Three parameters, given in Python by short names:
#
# | name | Pythia setting | Monash | what it does |
# |---|---|---|---|
# | `alpha_s` | `TimeShower:alphaSvalue` | 0.1365 | $\alpha_s(m_Z)$ in the final-state shower |
# | `a_lund` | `StringZ:aLund` | 0.68 | $a$ in the Lund fragmentation function |
# | `prob_s_to_ud` | `StringFlav:probStoUD` | 0.217 | $s\bar s$ versus $u\bar u$, $d\bar d$ in string breaks |
#
# A larger $\alpha_s$ means more gluon emissions: more particles and broader events. The Lund function,
# $f(z) \propto z^{-1}(1-z)^a e^{-b m_T^2/z}$, gives the fraction $z$ of the string's light-cone momentum that each
# new hadron takes; a larger $a$ favours small $z$: softer hadrons, and more of them. `probStoUD` is the probability
# to pop an $s\bar s$ pair relative to a $u\bar u$ or $d\bar d$ one when the string breaks: it sets the number
# of kaons.
#
# Each event is stored as its particles (four-momenta in GeV, particle ids, charges) and a few observables:
# charged multiplicity, charged kaons, thrust $T = \max_{\hat n} \sum_i |\vec p_i\cdot\hat n| / \sum_i
# |\vec p_i|$ (1 for two back-to-back jets, lower for rounder events) and the masses of the two hemispheres
# separated by the plane normal to the thrust axis. Generation runs in parallel processes; every sample is cached
# under a key made of its settings and seed.

# %%
import matplotlib.pyplot as plt

from mlmc_course import dctr
from mlmc_course import reweight as rw
from mlmc_course.data import pythia

n_train = cfg.pick(ci=2_000, lecture=40_000, full=250_000)  # per class
n_eval = cfg.pick(ci=1_000, lecture=20_000, full=100_000)
epochs = cfg.pick(ci=2, lecture=6, full=20)
net = cfg.pick(
    ci=dict(phi=(16,), latent=8, head=(32,)),
    lecture=dict(phi=(32, 32), latent=16, head=(64, 64)),
    full=dict(phi=(64, 64, 64), latent=64, head=(128, 128)),
)

monash = pythia.generate(None, n_eval, seed=cfg.seed)
knobs = {
    r"$\alpha_s$ = 0.18": {"alpha_s": 0.18},
    r"$a_\mathrm{Lund}$ = 0.90": {"a_lund": 0.90},
    "probStoUD = 0.30": {"prob_s_to_ud": 0.30},
}
variations = {label: pythia.generate(point, n_eval, seed=cfg.seed) for label, point in knobs.items()}

# %%
observables = {
    "n_charged": (np.arange(3, 50, 2.0), "charged multiplicity"),
    "n_kaons": (np.arange(-0.5, 10.5, 1.0), r"charged kaons $K^\pm$"),
    "thrust": (np.linspace(0.7, 1.0, 31), "thrust $T$"),
    "heavy_jet_mass": (np.linspace(0, 40, 41), "heavy hemisphere mass [GeV]"),
}
fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
for ax, (obs, (bins, label)) in zip(axes, observables.items(), strict=True):
    ax.hist(monash.observables[obs], bins, density=True, histtype="step", color="k", label="Monash")
    for name, sample in variations.items():
        ax.hist(sample.observables[obs], bins, density=True, histtype="step", label=name)
    ax.set_xlabel(label)
axes[0].set_ylabel("density")
axes[0].legend(fontsize="x-small")
plt.show()
# %% [markdown]
# A larger $\alpha_s$ adds particles and lowers the thrust; a larger $a$ adds particles but leaves the event shape
# almost unchanged; `probStoUD` moves only the kaon count. The last two differ from Monash by little in any single
# observable: this is where using the full event helps.
#
# ## Events as particle clouds
#
# The classifier reads each event as a set of particles. `sample.cloud()` gives, for up to 64 particles ordered by
# energy, eight features: $\log z$ with $z = E/E_\text{visible}$, the absolute rapidity and $\log p_T$ with respect
# to the thrust axis (the event's own axis, so that the random orientation of the $q\bar q$ pair drops out), the
# charge, and flags for photons, kaons, baryons and leptons. A particle-flow network, $F\big(\sum_i
# \Phi(x_i)\big)$, is invariant under the order of the particles, as a set of particles should be.

# %%
x_monash, mask_monash = monash.cloud()
print(
    f"clouds: {x_monash.shape} (events, slots, features); "
    f"{mask_monash.sum(1).mean():.1f} particles per event on average, features {pythia.CLOUD_FEATURES}"
)

# %% [markdown]
# ## The parameterised classifier
#
# Generate nominal events $x \sim p(x\mid\theta_0)$ (label 0) and events at parameters drawn from a prior,
# $\theta \sim \pi(\theta)$, $x \sim p(x\mid\theta)$ (label 1). Give the classifier each event together with a
# parameter vector: the varied events their own $\theta$; the nominal events a $\theta$ **drawn from the same
# prior**, so that $\theta$ alone says nothing about the label. At each $\theta$ the two classes then have equal
# weight and, as in lesson 13, the cross entropy is minimised by
# $$ f(x, \theta) = \frac{p(x\mid\theta)}{p(x\mid\theta) + p(x\mid\theta_0)}
#    \quad\Longrightarrow\quad
#    w(x, \theta) = \frac{f}{1 - f} = e^{\,\mathrm{logit}\, f(x,\theta)} = \frac{p(x\mid\theta)}{p(x\mid\theta_0)} . $$
# One network now gives the weights for *every* $\theta$ in the prior's range: the parameters are an input, not a
# label. (Had we given the nominal events $\theta_0$ itself, the network would learn to read the label off
# $\theta$ and nothing about the events.)

# %% [markdown] tags=["question"] name="dctr_training_set" points=2
# **Exercise 1.** Write `dctr_training_set(x_nominal, x_varied, theta_varied, theta_nominal, rng)`. The events are
# arrays `(n0, ...)` and `(n1, ...)`, `theta_varied` is `(n1, k)` (the parameters each varied event was generated
# with) and `theta_nominal` `(k,)`. Return a tuple `(x, theta, y)`: all `n0 + n1` events, one parameter vector
# per event (`(n0 + n1, k)`) and labels (`(n0 + n1,)`, 0 nominal, 1 varied), with the nominal events' parameters
# drawn at random, with the generator `rng`, from the rows of `theta_varied`.


# %% tags=["solution"]
def dctr_training_set(x_nominal, x_varied, theta_varied, theta_nominal, rng):
    """DCTR training set: events (n0 + n1, ...), parameters (n0 + n1, k), labels (n0 + n1,)."""
    # BEGIN SOLUTION
    n0 = len(x_nominal)
    theta_for_nominal = theta_varied[rng.integers(0, len(theta_varied), n0)]
    x = np.concatenate([x_nominal, x_varied])
    theta = np.concatenate([theta_for_nominal, theta_varied])
    y = np.concatenate([np.zeros(n0), np.ones(len(x_varied))])
    return x, theta, y
    # END SOLUTION
    # HINT: pick n0 random rows of theta_varied with rng.integers for the nominal events; theta_nominal is a trap.


# %% tags=["wrong"]
# WRONG: gives the nominal events theta_0, so theta alone reveals the label
def dctr_training_set(x_nominal, x_varied, theta_varied, theta_nominal, rng):
    theta0 = np.tile(theta_nominal, (len(x_nominal), 1))
    return (
        np.concatenate([x_nominal, x_varied]),
        np.concatenate([theta0, theta_varied]),
        np.concatenate([np.zeros(len(x_nominal)), np.ones(len(x_varied))]),
    )


# %% tags=["wrong"]
# WRONG: draws the nominal events' parameters uniformly between the extremes, not from the varied events' values
def dctr_training_set(x_nominal, x_varied, theta_varied, theta_nominal, rng):
    t0 = rng.uniform(theta_varied.min(0), theta_varied.max(0), (len(x_nominal), theta_varied.shape[1]))
    return (
        np.concatenate([x_nominal, x_varied]),
        np.concatenate([t0, theta_varied]),
        np.concatenate([np.zeros(len(x_nominal)), np.ones(len(x_varied))]),
    )


# %% tags=["wrong"]
# WRONG: labels swapped (then f/(1-f) is the inverse ratio)
def dctr_training_set(x_nominal, x_varied, theta_varied, theta_nominal, rng):
    t0 = theta_varied[rng.integers(0, len(theta_varied), len(x_nominal))]
    return (
        np.concatenate([x_nominal, x_varied]),
        np.concatenate([t0, theta_varied]),
        np.concatenate([np.ones(len(x_nominal)), np.zeros(len(x_varied))]),
    )


# %% tags=["check"]
checks.dctr_training_set(dctr_training_set)

# %% tags=["check", "hidden"]
checks.dctr_training_set(dctr_training_set, seed=114)

# %% [markdown]
# ## Training on live Pythia events
#
# The varied sample is a scan: a new parameter point, drawn uniformly in the ranges below, every 500 events
# (`pythia.generate_scan`). `dctr.train` builds the training set as above (with
# `dctr.assign_nominal_parameters`), standardises the features, and trains with the course's loop, keeping the
# epoch with the best validation loss.

# %%
names = pythia.PARAMETERS
theta0 = np.array([pythia.MONASH[k] for k in names])
low, high = (np.array([pythia.RANGES[k][i] for k in names]) for i in (0, 1))
for k, lo, hi, t in zip(names, low, high, theta0, strict=True):
    print(f"{k:>24}: Monash {t:.4f}, trained over [{lo}, {hi}]")

nominal_train = pythia.generate(None, n_train, seed=cfg.seed + 1)
scan_train = pythia.generate_scan(n_train, seed=cfg.seed + 1)
x0, m0 = nominal_train.cloud()
x1, m1 = scan_train.cloud()
model = dctr.train(
    x0,
    m0,
    x1,
    m1,
    scan_train.params,
    names=names,
    nominal_theta=theta0,
    low=low,
    high=high,
    epochs=epochs,
    seed=cfg.seed,
    **net,
)
del x0, m0, x1, m1
fig, ax = plt.subplots()
ax.plot(range(1, epochs + 1), model.history.train, "o-", label="training")
ax.plot(range(1, epochs + 1), model.history.val, "o-", label="validation")
ax.set_xlabel("epoch")
ax.set_ylabel("binary cross entropy")
ax.legend()
plt.show()
# %% [markdown]
# The loss stays close to $\log 2 \approx 0.693$: most parameter points are hard to tell from Monash event by
# event. What matters is that the small differences add up, correctly, over many events.
#
# ## Reweighting Monash to another tune
#
# The weights $w(x, \theta)$ turn Monash events into events at $\theta$. We test them against a sample that
# Pythia generates at that $\theta$: the reweighted Monash histograms should agree with it within statistical
# errors, in observables the network was never shown.

# %%
theta_rw = {"alpha_s": 0.16, "a_lund": 0.80, "prob_s_to_ud": 0.275}
target_rw = pythia.generate(theta_rw, n_eval, seed=cfg.seed + 2)
w = model.weights(x_monash, mask_monash, [theta_rw[k] for k in pythia.SHORT_NAMES])
print(f"N_eff / N = {rw.effective_sample_size(w) / len(w):.2f}")
fig, axes = plt.subplots(2, 4, figsize=(14, 4.8), sharex="col", height_ratios=(3, 1))
for k, (obs, (bins, label)) in enumerate(observables.items()):
    samples = {
        "Pythia at theta": target_rw.observables[obs],
        "Monash": monash.observables[obs],
        "Monash, DCTR-reweighted": (monash.observables[obs], w),
    }
    rw.comparison_plot(samples, bins, xlabel=label, ax=axes[:, k])
    before = rw.compare_histograms(monash.observables[obs], target_rw.observables[obs], bins)
    after = rw.compare_histograms(monash.observables[obs], target_rw.observables[obs], bins, weights_a=w)
    print(f"{obs:>15}: Monash {before}; reweighted {after}")
for ax in axes[0, 1:]:
    ax.get_legend().remove()

# %% [markdown]
# ## Fitting the parameters
#
# For target events $x_1 \dots x_N$, the log-likelihood at $\theta$ is $\sum_i \log p(x_i\mid\theta) = \sum_i
# \log w(x_i, \theta) + \text{const}$: the classifier's logit *is* the log-likelihood up to a constant, and a fit
# maximises it over $\theta$ with the network frozen. A real classifier is not perfect; the part of its error that
# only rescales $w$ (its average over nominal events, which should be exactly one for every $\theta$) would bias
# the fit. Normalising on an independent nominal sample $x^0_j$ removes it:
# $$ -\frac{\log L(\theta)}{N} = -\frac1N \sum_{i=1}^N \log w(x_i, \theta)
#    + \log\Big(\frac1M\sum_{j=1}^M w(x^0_j, \theta)\Big) . $$
# (The DCTR paper fits differently: it trains a second classifier between the target and the reweighted nominal
# sample and moves $\theta$ by gradient until that classifier fails, the reweighting network frozen throughout.
# Both reach the same $\theta$ when $w$ is exact; the likelihood needs no second network.)

# %% [markdown] tags=["question"] name="normalised_nll" points=2
# **Exercise 2.** Write `normalised_nll(log_w_target, log_w_nominal)`: NumPy arrays `(N,)` and `(M,)` of
# $\log w$ on the target and nominal events; return the normalised negative log-likelihood above as a float.


# %% tags=["solution"]
def normalised_nll(log_w_target: np.ndarray, log_w_nominal: np.ndarray) -> float:
    """-mean(log w on the target) + log(mean(w on the nominal sample))."""
    # BEGIN SOLUTION
    m = np.max(log_w_nominal)  # log-sum-exp: stable when the log-weights are large
    log_mean_w = m + np.log(np.mean(np.exp(log_w_nominal - m)))
    return float(-np.mean(log_w_target) + log_mean_w)
    # END SOLUTION
    # HINT: the first term is minus the mean of log_w_target; the second is log(mean(exp(log_w_nominal))).


# %% tags=["wrong"]
# WRONG: without the normalisation term
def normalised_nll(log_w_target, log_w_nominal):
    return float(-np.mean(log_w_target))


# %% tags=["wrong"]
# WRONG: averages the logs of the nominal weights instead of the weights
def normalised_nll(log_w_target, log_w_nominal):
    return float(-np.mean(log_w_target) + np.mean(log_w_nominal))


# %% tags=["check"]
checks.normalised_nll(normalised_nll)

# %% tags=["check", "hidden"]
checks.normalised_nll(normalised_nll, seed=214)

# %% [markdown]
# ### A blinded fit
#
# The next cell draws a hidden parameter point, generates a target sample there, and does not print it. The fit
# then runs as it would on data: gradient descent (Adam) on the normalised NLL, with the event summaries
# $\sum_i\Phi(x_i)$ computed once because $\theta$ enters only after the sum. Its errors come from the curvature of
# the NLL at the minimum: they are statistical, for $N$ target events, and take the classifier as exact.

# %%
hidden_rng = np.random.default_rng(cfg.seed + 99)
hidden = {
    k: float(hidden_rng.uniform(lo + 0.2 * (hi - lo), hi - 0.2 * (hi - lo)))
    for k, lo, hi in zip(names, low, high, strict=True)
}
target = pythia.generate(hidden, n_eval, seed=cfg.seed + 3, progress=False)
nominal_fit = pythia.generate(None, n_eval, seed=cfg.seed + 4, progress=False)
xt, mt = target.cloud()
xn, mn = nominal_fit.cloud()
fit = dctr.fit_parameters(model, xt, mt, xn, mn)
print("fit:", fit)

fig, ax = plt.subplots()
for k, name in enumerate(names):
    ax.plot((fit.path[:, k] - low[k]) / (high[k] - low[k]), label=name)
ax.set_xlabel("Adam step")
ax.set_ylabel("parameter, scaled to its range")
ax.legend()
plt.show()

# %% [markdown]
# The cross-check is a scan: the NLL along one parameter, the others at their fitted values. Near its minimum the
# total NLL is a parabola, $N \cdot \mathrm{NLL} \approx \text{const} + \frac{(\theta - \hat\theta)^2}{2\sigma^2}$,
# so its minimum is the fit and the points where it rises by $\frac12$ bound the $1\sigma$ interval.

# %% [markdown] tags=["question"] name="parabola_minimum" points=2
# **Exercise 3.** Write `parabola_minimum(values, nll)`: `values` `(n,)` are the scanned parameter values and `nll`
# `(n,)` the total NLL there. Fit a parabola $a\theta^2 + b\theta + c$ and return the tuple `(best, error)`: its
# minimum and the $1\sigma$ error from $\Delta\mathrm{NLL} = \frac12$.


# %% tags=["solution"]
def parabola_minimum(values: np.ndarray, nll: np.ndarray) -> tuple[float, float]:
    """Minimum and 1-sigma error (Delta NLL = 1/2) of a parabola fitted to a likelihood scan."""
    # BEGIN SOLUTION
    a, b, _ = np.polyfit(values, nll, 2)
    return float(-b / (2 * a)), float(1 / np.sqrt(2 * a))
    # END SOLUTION
    # HINT: np.polyfit(values, nll, 2) gives a, b, c; the minimum is at -b / (2a); solve a * sigma^2 = 1/2 for sigma.


# %% tags=["wrong"]
# WRONG: the best grid point instead of the parabola's minimum
def parabola_minimum(values, nll):
    a, b, _ = np.polyfit(values, nll, 2)
    return float(values[np.argmin(nll)]), float(1 / np.sqrt(2 * a))


# %% tags=["wrong"]
# WRONG: the error from Delta NLL = 1 (the chi^2 rule applied to -log L)
def parabola_minimum(values, nll):
    a, b, _ = np.polyfit(values, nll, 2)
    return float(-b / (2 * a)), float(1 / np.sqrt(a))


# %% tags=["check"]
checks.parabola_minimum(parabola_minimum)

# %% tags=["check", "hidden"]
checks.parabola_minimum(parabola_minimum, seed=314)

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
for k, (name, ax) in enumerate(zip(names, axes, strict=True)):
    span = high[k] - low[k]
    width = max(3 * fit.errors[k], 0.005 * span) if np.isfinite(fit.errors[k]) else 0.05 * span
    grid = np.linspace(fit.values[k] - width, fit.values[k] + width, 9)
    nll = dctr.scan(model, xt, mt, xn, mn, name, grid, at=fit.values)
    try:
        best, err = dctr.parabola_minimum(grid, nll)
    except ValueError as problem:  # a flat or concave scan: the classifier has not learned this parameter
        ax.plot(grid, nll - nll.min(), "o")
        ax.set_title(f"no minimum: {problem}"[:60], fontsize="small")
        ax.set_xlabel(name)
        continue
    offset = np.mean(nll - (grid - best) ** 2 / (2 * err**2))  # the parabola's minimum value
    fine = np.linspace(grid[0], grid[-1], 100)
    ax.plot(grid, nll - offset, "o", label="scan")
    ax.plot(fine, (fine - best) ** 2 / (2 * err**2), "-", label="parabola")
    ax.axhline(0.5, color="grey", ls=":")
    ax.set_xlabel(name)
    ax.set_title(
        f"scan {best:.4f} ± {err:.4f}\ngradient fit {fit.values[k]:.4f} ± {fit.errors[k]:.4f}", fontsize="small"
    )
axes[0].set_ylabel(r"$\Delta$NLL")
axes[0].legend()
plt.show()
# %% [markdown]
# ### Unblinding
#
# Time to look at the hidden values, and then at the real test of a tune: run Pythia at the fitted values and
# compare with the target.

# %%
for k, name in enumerate(names):
    pull = (fit.values[k] - hidden[name]) / fit.errors[k]
    print(
        f"{name:>24}: hidden {hidden[name]:.4f}, fitted {fit.values[k]:.4f} ± {fit.errors[k]:.4f} "
        f"(stat.), pull {pull:+.1f}"
    )
fitted_sample = pythia.generate(dict(zip(names, fit.values, strict=True)), n_eval, seed=cfg.seed + 5, progress=False)
fig, axes = plt.subplots(2, 4, figsize=(14, 4.8), sharex="col", height_ratios=(3, 1))
for k, (obs, (bins, label)) in enumerate(observables.items()):
    samples = {
        "target": target.observables[obs],
        "Pythia at the fit": fitted_sample.observables[obs],
        "Monash": monash.observables[obs],
    }
    rw.comparison_plot(samples, bins, xlabel=label, ax=axes[:, k])
    agreement = rw.compare_histograms(fitted_sample.observables[obs], target.observables[obs], bins)
    print(f"{obs:>15}: fit vs target {agreement}")
for ax in axes[0, 1:]:
    ax.get_legend().remove()

# %% [markdown]
# Pulls of a few units are expected here: the quoted errors are only statistical, while the classifier, trained
# briefly on a modest sample, has errors of its own that do not shrink with more target events. They are measured
# by repeating the whole procedure with independently trained classifiers, which is what the course's benchmark
# does (`benchmarks/dctr.py`, results in `benchmarks/results/dctr.md`, next to the DCTR paper's numbers); the
# DCTR paper quotes the spread over 20 trainings as its uncertainty. The validation histograms are the honest
# summary: where the fitted sample agrees with the target within statistical errors, the tune is as good as the
# data can tell.
#
# ## Summary
#
# - A classifier $f(x,\theta)$ trained on nominal events (with parameters drawn from the prior) against events
#   generated across the prior learns $w = f/(1-f) = p(x\mid\theta)/p(x\mid\theta_0)$ for every $\theta$.
# - Those weights reweight nominal events to any tune, without running the generator again; check them on
#   observables the network never saw.
# - The same weights are a likelihood: maximise $\sum_i \log w(x_i, \theta)$, normalised on nominal events, by
#   gradient with the classifier frozen, and cross-check with a scan.
# - Statistical errors from the curvature are only part of the story; repeat the training to see the rest, and
#   validate a fit by generating at the fitted values.
#
# ## Further reading
#
# - A. Andreassen and B. Nachman, *Neural networks for full phase-space reweighting and parameter tuning*,
#   [arXiv:1907.08209](https://arxiv.org/abs/1907.08209).
# - A. Andreassen, S.-C. Hsu, B. Nachman, N. Suaysom and A. Suresh, *Parameter estimation using neural networks
#   in the presence of detector effects*, [arXiv:2010.03569](https://arxiv.org/abs/2010.03569).
# - P. Komiske, E. Metodiev and J. Thaler, *Energy flow networks: deep sets for particle jets*,
#   [arXiv:1810.05165](https://arxiv.org/abs/1810.05165).
# - P. Skands, S. Carrazza and J. Rojo, *Tuning PYTHIA 8.1: the Monash 2013 tune*,
#   [arXiv:1404.5630](https://arxiv.org/abs/1404.5630).
# - C. Bierlich et al., *A comprehensive guide to the physics and usage of PYTHIA 8.3*,
#   [arXiv:2203.11601](https://arxiv.org/abs/2203.11601).

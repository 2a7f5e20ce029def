# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[21, 31]
# # 13 · Reweighting simulation to data
#
# Simulation never describes data perfectly: a generator's tune, a detector's response or a missing higher
# order leaves differences in the distributions an analysis uses. The cheapest fix keeps the simulated events
# and changes their **weights**, so that every distribution of the weighted simulation matches the data. A
# classifier trained to tell data from simulation learns exactly the weights that do this, in all variables at
# once. This lesson builds such a reweighting with TensorFlow/Keras, measures what it costs, shows where it
# fails, and ends with OmniFold, which unfolds detector effects by reweighting twice per iteration.
#
# **You will**
# - derive why a classifier's odds $s/(1-s)$ give the density ratio, also for classes of unequal size;
# - reweight a simulated sample to pseudo-data with a Keras network and judge the weights by the effective
#   sample size;
# - see what clipping, over- and under-fitting and holes in the simulation's coverage do to the weights;
# - carry weights from a control region into a signal region and test them by closure;
# - unfold a detector-smeared distribution with two iterations of OmniFold.
#
# **Prerequisites:** lesson 02 (classification and the likelihood ratio); histograms with weights.
# **Time:** about 75 minutes.
# **Sources:** the HSF training lecture "Machine learning: simulation and data" (event weights, negative
# weights, classifier-based reweighting, control and signal regions, over- and under-fitting) and the generator
# working-group discussion of ML for event generation (holes in the coverage make weights unstable). Papers:
# Cranmer, Pavez and Louppe, *Approximating likelihood ratios with calibrated discriminative classifiers*,
# [arXiv:1506.02169](https://arxiv.org/abs/1506.02169); Rogozhnikov, *Reweighting with boosted decision trees*,
# [arXiv:1608.05806](https://arxiv.org/abs/1608.05806); Andreassen and Nachman, *Neural networks for full
# phase-space reweighting and parameter tuning* (DCTR), [arXiv:1907.08209](https://arxiv.org/abs/1907.08209);
# Andreassen, Komiske, Metodiev, Nachman and Thaler, *OmniFold*,
# [arXiv:1911.09107](https://arxiv.org/abs/1911.09107).

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np

import mlmc_course
from mlmc_course.checks import l13_reweighting as checks

cfg = mlmc_course.setup(MODE)

# %%
n_events = cfg.pick(ci=6_000, lecture=20_000, full=400_000)  # events per sample
epochs = cfg.pick(ci=4, lecture=20, full=60)  # at most; early stopping ends most trainings sooner

# %% [markdown]
# The networks in this lesson are Keras models (the Keras 2 API of the `tf_keras` package, which
# TensorFlow-Probability also uses). The torch lessons use `mlmc_course.training.fit`; here
# `mlmc_course.reweight.train_keras_classifier` wraps `model.fit` with the same habits: standardised inputs, a
# validation split and early stopping. Importing TensorFlow takes a few seconds.

# %%
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
import matplotlib.pyplot as plt
import tensorflow as tf

from mlmc_course import reweight as rw
from mlmc_course.data import toys
from mlmc_course.plotting import binned, compare_hist

print(f"TensorFlow {tf.__version__}; {n_events:,} events per sample, up to {epochs} epochs")

# %% [markdown]
# ## Events with weights
#
# A histogram of simulated events estimates a probability density: with event weights $w_i$, the fraction in
# bin $I$ is
# $$ p(x \in I) \approx \frac{\sum_{i \in I} w_i}{\sum_i w_i}, $$
# and its statistical error is $\sqrt{\sum_{i\in I} w_i^2}$ (divided by the same total). Generators produce
# weights for several reasons: importance sampling ($w \propto d\sigma/dz$ divided by the sampling density),
# and at next-to-leading order the subtraction of infrared divergences and the matching to the parton shower,
# which give **negative weights** to some events. Interference between amplitudes, $|A_1 + A_2|^2 = |A_1|^2 +
# |A_2|^2 + 2\,\mathrm{Re}(A_1 A_2^*)$, also has a term of either sign. Reweighting multiplies these weights
# by one more factor, $w(x) = p_\text{data}(x) / p_\text{sim}(x)$.
#
# ## A classifier learns the density ratio
#
# Train a classifier $s(x)$ on $n_1$ data events (label 1) and $n_0$ simulated events (label 0) with the binary
# cross entropy. Its expectation,
# $$ L[s] = -\int dx\, \big[n_1\, p_\text{data}(x) \log s(x) + n_0\, p_\text{sim}(x) \log(1 - s(x))\big], $$
# is minimised point by point: setting $\partial L / \partial s(x) = 0$ gives
# $n_1 p_\text{data}/s = n_0 p_\text{sim}/(1-s)$, so
# $$ s(x) = \frac{n_1 p_\text{data}(x)}{n_1 p_\text{data}(x) + n_0 p_\text{sim}(x)}
#    \qquad\Longrightarrow\qquad
#    \frac{p_\text{data}(x)}{p_\text{sim}(x)} = \frac{s(x)}{1 - s(x)} \cdot \frac{n_0}{n_1} . $$
# For balanced classes the prior factor $n_0/n_1$ is one. With event weights, $n_0$ and $n_1$ are the summed
# weights of each class.

# %% [markdown] tags=["question"] name="classifier_weights" points=2
# **Exercise 1.** Write `classifier_weights(s, n_sim, n_data)`: `s` is a NumPy array `(n,)` of classifier
# outputs $s = P(\text{data} \mid x)$ for simulated events, with values in $(0, 1)$; `n_sim` and `n_data` are
# the numbers of simulated and data events the classifier was trained on. Return the weights
# $p_\text{data}/p_\text{sim}$ of those events, shape `(n,)`.


# %% tags=["solution"]
def classifier_weights(s: np.ndarray, n_sim: int, n_data: int) -> np.ndarray:
    """Density ratio p_data / p_sim from classifier outputs s = P(data | x), shape (n,)."""
    # BEGIN SOLUTION
    s = np.asarray(s, dtype=float)
    return s / (1.0 - s) * (n_sim / n_data)
    # END SOLUTION
    # HINT: the odds s / (1 - s), times the prior factor that undoes the class sizes (which class is on top?).


# %% tags=["wrong"]
# WRONG: inverted odds (1 - s) / s: the weights that would turn data into simulation
# EXPECT: your weights are inverted
def classifier_weights(s, n_sim, n_data):
    return (1 - s) / s * n_sim / n_data


# %% tags=["wrong"]
# WRONG: forgets the prior factor for unbalanced classes
# EXPECT: multiply by the prior ratio n_sim / n_data
def classifier_weights(s, n_sim, n_data):
    return s / (1 - s)


# %% tags=["wrong"]
# WRONG: the prior factor upside down
# EXPECT: the prior ratio is upside down
def classifier_weights(s, n_sim, n_data):
    return s / (1 - s) * n_data / n_sim


# %% tags=["check"]
checks.classifier_weights(classifier_weights)

# %% tags=["check", "hidden"]
checks.classifier_weights(classifier_weights, seed=113)

# %% [markdown]
# From now on the lesson uses the package's `rw.weights_from_probabilities(s, prior_ratio=n_sim / n_data)`, which
# also refuses probabilities of exactly 0 or 1 (where the ratio is 0 or infinite) and NaN.
#
# ## A toy with a known answer
#
# Our "events" have a transverse momentum $p_T$ (GeV) and a pseudorapidity $\eta$. In the simulation $p_T$
# follows a Gamma distribution with scale 20 GeV, in the "data" one with scale 24 GeV; given $p_T$, $\eta$ is
# Gaussian with a width that falls with $p_T$, faster in data. Both densities are known in closed form
# (`toys.KinematicToy`), so we can compare the learned weights with the exact ratio. Real data have no such
# answer: there, the checks are closure tests like the one later in this lesson.

# %%
toy = toys.KinematicToy()
sim = toy.sample(n_events, "sim", seed=cfg.seed)
data = toy.sample(n_events, "data", seed=cfg.seed + 1)
pt_bins, eta_bins = np.linspace(0, 200, 41), np.linspace(-4, 4, 33)

fig, axes = plt.subplots(2, 2, sharex="col", height_ratios=(3, 1), figsize=(11, 4.8))
for k, (bins, label) in enumerate([(pt_bins, "$p_T$ [GeV]"), (eta_bins, r"$\eta$")]):
    compare_hist(
        {"data": data[:, k], "simulation": sim[:, k]},
        bins,
        xlabel=label,
        ylabel="probability density",
        axes=(axes[0, k], axes[1, k]),
    )
plt.show()

# %% [markdown]
# The classifier sees both variables together. `train_keras_classifier(x0, x1)` trains on class 0 (simulation)
# against class 1 (data), weighting the classes to equal totals, so the prior factor is one.

# %%
clf = rw.train_keras_classifier(sim, data, hidden=(64, 64), epochs=epochs, seed=cfg.seed)
sim_test = toy.sample(n_events, "sim", seed=cfg.seed + 2)  # fresh events, not used in training
w = rw.weights_from_probabilities(clf.predict(sim_test))
w_exact = toy.ratio(sim_test)
log_error = np.abs(np.log(w) - np.log(w_exact))
low_pt, high_pt = sim_test[:, 0] < 40, sim_test[:, 0] > 80
print(
    f"trained for {len(clf.history['train'])} epochs; median |log w - log w_exact| = {np.median(log_error):.3f} "
    f"(p_T < 40 GeV: {np.median(log_error[low_pt]):.3f}, p_T > 80 GeV: {np.median(log_error[high_pt]):.3f})"
)

from matplotlib.colors import LogNorm

fig, ax = plt.subplots(1, 2, figsize=(11, 4))
lo, hi = np.quantile(np.concatenate([np.log(w_exact), np.log(w)]), [0.0005, 0.9995])
*_, image = ax[0].hist2d(
    np.log(w_exact), np.log(w), bins=60, range=[[lo, hi], [lo, hi]], norm=LogNorm(), cmap="viridis"
)
ax[0].grid(False)
fig.colorbar(image, ax=ax[0], label="simulated events per bin")
ax[0].plot([lo, hi], [lo, hi], "k--", lw=1, label="learned = exact")
ax[0].legend(loc="upper left")
ax[0].set_xlabel(r"exact $\log\, p_\mathrm{data}/p_\mathrm{sim}$")
ax[0].set_ylabel(r"learned $\log\, s/(1-s)$")
ax[1].plot(clf.history["train"], label="training")
ax[1].plot(clf.history["validation"], label="validation")
ax[1].set_xlabel("epoch")
ax[1].set_ylabel("binary cross entropy")
ax[1].legend()
plt.show()
# %% [markdown]
# The learned weights follow the diagonal; the spread is the classifier's error, largest where events are rare
# (high $p_T$; the two medians printed above).

# %% tags=["claim"]
from mlmc_course.claims import claim

claim(
    "the classifier's error is largest where events are rare (high pT)",
    np.median(log_error[high_pt]) > 1.5 * np.median(log_error[low_pt]),
    low_pt=np.median(log_error[low_pt]),
    high_pt=np.median(log_error[high_pt]),
)

# %% [markdown]
# Now the test that matters: the reweighted simulation against the data, in each variable, with
# a $\chi^2$ over bins that includes the statistical errors of both histograms.

# %%
data_test = toy.sample(n_events, "data", seed=cfg.seed + 3)
fig, axes = plt.subplots(2, 2, sharex="col", height_ratios=(3, 1), figsize=(11, 4.8))
agreement = {}
for k, (bins, label) in enumerate([(pt_bins, "$p_T$ [GeV]"), (eta_bins, r"$\eta$")]):
    samples = {"data": data_test[:, k], "simulation": sim_test[:, k], "reweighted simulation": sim_test[:, k]}
    compare_hist(
        samples,
        bins,
        weights={"reweighted simulation": w},
        xlabel=label,
        ylabel="probability density",
        axes=(axes[0, k], axes[1, k]),
    )
    axes[0, k].set_ylim(top=1.3 * axes[0, k].get_ylim()[1])
    before = rw.compare_histograms(sim_test[:, k], data_test[:, k], bins)
    after = rw.compare_histograms(sim_test[:, k], data_test[:, k], bins, weights_a=w)
    agreement[label] = (before, after)
    print(f"{label:>12}: before {before}; after {after}")
plt.show()

# %% [markdown]
# Before reweighting the simulation is far off in both variables; after it, the $\chi^2$ per degree of freedom
# is within a factor of two of one (read the $p$-values above: they need not be good). Where it stays above one
# (in $p_T$ here: look at both ends of its ratio panel), the classifier has not learned the ratio well enough, for
# lack of events in the tail or of training in the bulk: its error is now the largest one in the reweighted
# histograms, and it is not in their error bars.

# %% tags=["claim"]
before_ndf = {label: b.chi2 / b.ndf for label, (b, _) in agreement.items()}
after_ndf = {label: a.chi2 / a.ndf for label, (_, a) in agreement.items()}
claim(
    "before reweighting the simulation is far off in both variables; after it, chi2/ndf is within a factor two of 1",
    (min(before_ndf.values()) > 4) & (max(after_ndf.values()) < 2),
    **{f"before {k}": v for k, v in before_ndf.items()},
    **{f"after {k}": v for k, v in after_ndf.items()},
)

# %% [markdown]
# ## The price of weights: the effective sample size
#
# Weighted events carry less information than the same number of unweighted ones. The variance of a weighted
# sum $\sum_i w_i$ is $\sum_i w_i^2$; an unweighted sample with the same relative error has
# $$ N_\text{eff} = \frac{\left(\sum_i w_i\right)^2}{\sum_i w_i^2} $$
# events (Kish's effective sample size). It equals $N$ for equal weights and falls as the weights spread.
# Negative weights cancel in $\sum w_i$ but not in $\sum w_i^2$: a sample with a fraction $f$ of weights
# $-1$ and the rest $+1$ has $N_\text{eff} = (1 - 2f)^2 N$, so 25% negative weights cost three quarters of
# the statistics.

# %% [markdown] tags=["question"] name="effective_sample_size" points=2
# **Exercise 2.** Write `effective_sample_size(w)`: `w` is a NumPy array `(n,)` of event weights, some of which
# may be negative. Return $N_\text{eff}$ as a float.


# %% tags=["solution"]
def effective_sample_size(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of weights of shape (n,)."""
    # BEGIN SOLUTION
    w = np.asarray(w, dtype=float)
    return float(w.sum() ** 2 / np.sum(w**2))
    # END SOLUTION
    # HINT: square the sum of the weights and divide by the sum of the squared weights; keep the signs.


# %% tags=["wrong"]
# WRONG: the inverse, sum w^2 / (sum w)^2
# EXPECT: the inverse of the effective sample size
def effective_sample_size(w):
    return float(np.sum(w**2) / np.sum(w) ** 2)


# %% tags=["wrong"]
# WRONG: takes |w|, so negative weights look free
# EXPECT: you used |w| in the sum
def effective_sample_size(w):
    return float(np.abs(w).sum() ** 2 / np.sum(w**2))


# %% tags=["wrong"]
# WRONG: drops the negative weights
# EXPECT: you dropped the negative weights
def effective_sample_size(w):
    w = w[w > 0]
    return float(w.sum() ** 2 / np.sum(w**2))


# %% tags=["check"]
checks.effective_sample_size(effective_sample_size)

# %% tags=["check", "hidden"]
checks.effective_sample_size(effective_sample_size, seed=213)

# %% [markdown]
# How much did the reweighting cost here, and what would negative weights add on top?

# %%
print(f"reweighted toy: N_eff / N = {rw.effective_sample_size(w) / len(w):.3f}")
fractions = np.linspace(0, 0.45, 10)
rng = np.random.default_rng(cfg.seed)
ess = [rw.effective_sample_size(np.where(rng.random(len(w)) < f, -w, w)) / len(w) for f in fractions]
fig, ax = plt.subplots()
ax.plot(fractions, ess, "o", label="toy weights with random signs")
ax.plot(fractions, (1 - 2 * fractions) ** 2 * ess[0], "--", label=r"$(1-2f)^2 \times N_\mathrm{eff}(f=0)$")
ax.set_xlabel("fraction $f$ of negative weights")
ax.set_ylabel(r"$N_\mathrm{eff} / N$")
ax.legend()
plt.show()

# %% tags=["claim"]
claim(
    "negative weights cost (1 - 2f)^2 of the effective sample size: 25% negative weights cost three quarters",
    (np.max(np.abs(np.array(ess) - (1 - 2 * fractions) ** 2 * ess[0])) < 0.03) & ((1 - 2 * 0.25) ** 2 == 0.25),
    largest_deviation=np.max(np.abs(np.array(ess) - (1 - 2 * fractions) ** 2 * ess[0])),
)

# %% [markdown]
# ## Clipping: less variance, more bias
#
# A few very large weights dominate every histogram they fall into. A common remedy caps them at a maximum and
# rescales all weights so that the total (the normalisation) is unchanged. The statistical error falls, but
# the regions that needed the large weights stay under-populated: a bias that the error bars do not show.

# %% [markdown] tags=["question"] name="clip_weights" points=2
# **Exercise 3.** Write `clip_weights(w, max_weight)`: `w` is a NumPy array `(n,)` of non-negative weights.
# Cap every weight at `max_weight`, then multiply all weights by one factor so that their sum equals the sum of
# the original weights. Return the new weights, shape `(n,)`.


# %% tags=["solution"]
def clip_weights(w: np.ndarray, max_weight: float) -> np.ndarray:
    """Weights (n,) capped at max_weight and rescaled to keep their sum."""
    # BEGIN SOLUTION
    w = np.asarray(w, dtype=float)
    capped = np.minimum(w, max_weight)
    return capped * (w.sum() / capped.sum())
    # END SOLUTION
    # HINT: np.minimum(w, max_weight) caps; then scale by (original sum) / (capped sum).


# %% tags=["wrong"]
# WRONG: caps but does not restore the normalisation
# EXPECT: rescale them so that the total (the normalisation) is kept
def clip_weights(w, max_weight):
    return np.minimum(w, max_weight)


# %% tags=["wrong"]
# WRONG: throws away the events above the cap
# EXPECT: you dropped the events above the cap
def clip_weights(w, max_weight):
    kept = w[w <= max_weight]
    return kept * w.sum() / kept.sum()


# %% tags=["mutants"]
# EQUIVALENT L2:13 swap arguments 1,2: np.minimum is symmetric

# %% tags=["check"]
checks.clip_weights(clip_weights)

# %% tags=["check", "hidden"]
checks.clip_weights(clip_weights, seed=313)

# %% [markdown]
# Clip the exact weights at a range of quantiles and watch the two effects: $N_\text{eff}$ grows while the
# agreement in the high-$p_T$ tail, where the large weights live, gets worse.

# %%
tail = np.linspace(60, 200, 15)
rows = []
for q in [1.0, 0.999, 0.99, 0.95, 0.9, 0.8]:
    wc = rw.clip_weights(w_exact, np.quantile(w_exact, q)) if q < 1 else w_exact
    chi = rw.compare_histograms(sim_test[:, 0], data_test[:, 0], tail, weights_a=wc)
    rows.append((q, rw.effective_sample_size(wc) / len(wc), chi.chi2 / chi.ndf))
    print(f"clip at the {q:6.1%} quantile: N_eff/N = {rows[-1][1]:.3f}, tail chi2/ndf = {rows[-1][2]:.2f}")
fig, ax = plt.subplots()
ax.plot([r[1] for r in rows], [r[2] for r in rows], "o-")
for k, (q, e, c) in enumerate(rows):  # label each point with its clipping quantile, alternately above and below
    text = "no clipping" if q == 1 else f"{q:.1%}"
    ax.annotate(text, (e, c), textcoords="offset points", xytext=(4, 6 if k % 2 else -12), fontsize="small")
ax.set_xlabel(r"$N_\mathrm{eff} / N$ (higher: smaller errors)")
ax.set_ylabel(r"$\chi^2/\mathrm{ndf}$ for $p_T > 60$ GeV (higher: more bias)")
plt.show()

# %% tags=["claim"]
n_eff_clipped, tail_chi2 = np.array([r[1] for r in rows]), np.array([r[2] for r in rows])
claim(
    "clipping harder raises N_eff while the agreement in the high-pT tail gets worse",
    np.all(np.diff(n_eff_clipped) > 0) & np.all(np.diff(tail_chi2) > -0.1) & (tail_chi2[-1] > 3 * tail_chi2[0]),
    tail_chi2_unclipped=tail_chi2[0],
    tail_chi2_hardest=tail_chi2[-1],
)

# %% [markdown]
# ## Over- and under-fitting
#
# The weights are only as good as the classifier. Two ways to get them wrong:
#
# - **Over-fitting**: a large network trained long on few events learns their fluctuations. Its training loss
#   falls below its validation loss, and its weights scatter around the truth: noise that no error bar accounts
#   for.
# - **Under-fitting**: a network that is too simple cannot represent the ratio. A single linear layer (logistic
#   regression) gives $\log w$ linear in $p_T$ and $\eta$, but the true log-ratio has $\eta^2/\sigma(p_T)^2$
#   terms: the $\eta$ shape stays wrong however long it trains.
#
# We train a large network on a tenth of the events without early stopping, and a linear one on all of them,
# and compare both with the network above on the same fresh events.

# %%
small = n_events // 10
overfit = rw.train_keras_classifier(
    sim[:small], data[:small], hidden=(256, 256, 256), patience=None, epochs=5 * epochs, seed=cfg.seed
)
underfit = rw.train_keras_classifier(sim, data, hidden=(), epochs=epochs, seed=cfg.seed)
variants = {
    "over-fitted (3x256, 1/10 of the events, no stopping)": overfit,
    "under-fitted (linear)": underfit,
    "the network above (2x64, early stopping)": clf,
}
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
scatter, eta_chi2 = {}, {}
diff_bins = np.linspace(-1.5, 1.5, 61)
for name, c in variants.items():
    wv = rw.weights_from_probabilities(c.predict(sim_test))
    diff = np.log(wv) - np.log(w_exact)
    q16, q50, q84 = np.quantile(diff, [0.16, 0.5, 0.84])
    scatter[name] = (q84 - q16) / 2
    chi = rw.compare_histograms(sim_test[:, 1], data_test[:, 1], eta_bins, weights_a=wv)
    eta_chi2[name] = chi.chi2 / chi.ndf
    print(
        f"{name}: log w - log w_exact has median {q50:+.3f} and central 68% half-width {scatter[name]:.3f}; "
        f"N_eff/N = {rw.effective_sample_size(wv) / len(wv):.3f}"
    )
    print(f"    eta after reweighting: {chi}")
    line = ax[0].plot(c.history["validation"], label=f"{name}: validation")[0]
    if c is overfit:
        ax[0].plot(c.history["train"], ls="--", color=line.get_color(), label="the same, training")
    edges, density, _, outside = binned(diff, diff_bins)
    share = outside["below"] + outside["above"]
    ax[1].stairs(density, edges, color=line.get_color(), label=f"{name} ({share:.1%} outside)")
ax[0].set_xlabel("epoch")
ax[0].set_ylabel("binary cross entropy")
ax[0].legend(fontsize="x-small")
ax[1].set_xlabel(r"$\log w - \log w_\mathrm{exact}$")
ax[1].set_ylabel("density")
ax[1].legend(fontsize="x-small")
plt.show()

# %% tags=["claim"]
over, under, good = variants
claim(
    "the over-fitted network's training loss falls below its validation loss",
    overfit.history["train"][-1] < min(overfit.history["validation"]) - 0.005,
    train=overfit.history["train"][-1],
    best_validation=min(overfit.history["validation"]),
)
claim(
    "the over-fitted network's weights scatter around the truth more than those of the network above",
    scatter[over] > 1.5 * scatter[good],
    over=scatter[over],
    good=scatter[good],
)
claim(
    "the linear network leaves the eta shape wrong",
    (eta_chi2[under] > 3) & (eta_chi2[under] > 2 * eta_chi2[good]),
    linear=eta_chi2[under],
    good=eta_chi2[good],
)

# %% [markdown]
# ## Holes in the coverage
#
# A weight can only move probability between events that exist. If the simulation has no events where the data
# have some (a generator cut, a detector region left out, a generative model that misses a corner), the ratio
# there is infinite and no finite weight repairs it. Here the simulation stops at $|\eta| = 1.5$ while about a
# fifth of the data lie beyond. Two symptoms show it: the weights rise towards the edge (the classifier smears the
# step it cannot fill), and they no longer average to one, because
# $E_\text{sim}[w] = \int_\text{covered} p_\text{data} = 1 - (\text{data fraction in the hole})$.
# A histogram normalised to unit area hides the second symptom by scaling everything up; one normalised to the
# number of events shows the missing tails. The opposite defect is as bad: where a simulation (a generative network,
# say) puts events where the data have none, the weights go to zero, and reweighting the data to the simulation
# would need infinite ones: the instability the generator-group discussion warns about.

# %%
holed = toys.KinematicToy(eta_max=1.5)
sim_h = holed.sample(n_events, "sim", seed=cfg.seed + 4)
clf_h = rw.train_keras_classifier(sim_h, data, hidden=(64, 64), epochs=epochs, seed=cfg.seed)
w_h = rw.weights_from_probabilities(clf_h.predict(sim_h))
in_hole = np.mean(np.abs(data_test[:, 1]) > 1.5)
print(f"data fraction in the hole {in_hole:.3f}; mean weight {w_h.mean():.3f} (1 - fraction = {1 - in_hole:.3f})")
print(f"N_eff/N = {rw.effective_sample_size(w_h) / len(w_h):.3f}; largest weight {w_h.max():.3g}")

fig = plt.figure(figsize=(11, 4.4))
grid_spec = fig.add_gridspec(2, 2, height_ratios=(3, 1), hspace=0.05)
ax_w = fig.add_subplot(grid_spec[:, 0])
ax_w.scatter(sim_h[:, 1], w_h, s=1, alpha=0.3)
ax_w.set_yscale("log")
ax_w.set_xlabel(r"$\eta$ of the simulated event")
ax_w.set_ylabel("learned weight")
ax_h = fig.add_subplot(grid_spec[0, 1])
ax_r = fig.add_subplot(grid_spec[1, 1], sharex=ax_h)
ax_h.tick_params(labelbottom=False)
hole_label = "reweighted simulation with a hole"
compare_hist(
    {"data": data_test[:, 1], hole_label: sim_h[:, 1]},
    eta_bins,
    weights={hole_label: w_h},
    density=False,
    xlabel=r"$\eta$",
    ylabel=f"events per bin (width {eta_bins[1] - eta_bins[0]:.2f})",
    ratio_range=(0, 2),
    axes=(ax_h, ax_r),
)
plt.show()

# %% [markdown]
# Both symptoms are there: the weights rise towards the edge of the simulation, and (in lecture mode; the short
# `ci` training has not got that far) their mean has dropped from one to about the covered fraction of the data.

# %% tags=["claim"]
central, edge = np.abs(sim_h[:, 1]) < 0.5, np.abs(sim_h[:, 1]) > 1.45
claim("about a fifth of the data lie beyond |eta| = 1.5", 0.15 < in_hole < 0.25, fraction=in_hole)
claim(
    "the weights rise towards the edge of the simulation",
    np.median(w_h[edge]) > 1.2 * np.median(w_h[central]),
    median_edge=np.median(w_h[edge]),
    median_centre=np.median(w_h[central]),
)
claim(
    "in lecture mode the mean weight has dropped from one to about the covered fraction of the data",
    (w_h.mean() < 0.95) & (abs(w_h.mean() - (1 - in_hole)) < 0.06),
    when=cfg.mode != "ci",
    mean_weight=w_h.mean(),
    covered=1 - in_hole,
)

# %% [markdown]
# Before reweighting, check the coverage: the simulation must populate every region the data do. Lesson 15
# shows the alternative, transporting events instead of reweighting them, which has no such requirement.
#
# ## Control and signal regions
#
# In a search the signal region (SR) is blinded: we cannot train on data there. The usual strategy, in binned
# form, is the transfer
# $$ \mathrm{SR}_\text{data} \approx \frac{\mathrm{CR}_\text{data}}{\mathrm{CR}_\text{sim}} \times
#    \mathrm{SR}_\text{sim}, $$
# and its unbinned version trains the classifier in a control region (CR) and applies its weights to the
# simulation in the SR. That assumes the mis-modelling is the same in both regions, which must be tested. We
# add a "mass" $m$ to each event, the same falling spectrum in simulation and data, define the SR as
# $115 < m < 135$ GeV with a small signal in the data, train in $m > 150$ GeV, and hold the sideband
# $100 < m < 115$ GeV back as a validation region (VR) for a closure test.


# %%
def with_mass(x: np.ndarray, seed: int) -> np.ndarray:
    """Append a background-like mass m = 100 + Exp(40 GeV), independent of (pT, eta)."""
    m = 100 + np.random.default_rng(seed).exponential(40.0, len(x))
    return np.column_stack([x, m])


sim_m = with_mass(toy.sample(2 * n_events, "sim", seed=cfg.seed + 5), cfg.seed + 6)
bkg_m = with_mass(toy.sample(2 * n_events, "data", seed=cfg.seed + 7), cfg.seed + 8)
n_sig = n_events // 40
signal = np.column_stack(
    [toy.sample(n_sig, "data", seed=cfg.seed + 9), np.random.default_rng(cfg.seed).normal(125, 2, n_sig)]
)
data_m = np.concatenate([bkg_m, signal])

regions = {"CR": lambda m: m > 150, "VR": lambda m: (m > 100) & (m < 115), "SR": lambda m: (m > 115) & (m < 135)}
sel = {r: (f(sim_m[:, 2]), f(data_m[:, 2])) for r, f in regions.items()}
clf_cr = rw.train_keras_classifier(sim_m[sel["CR"][0], :2], data_m[sel["CR"][1], :2], epochs=epochs, seed=cfg.seed)
# Normalisation from the CR: data events per simulated event.
norm = sel["CR"][1].sum() / sel["CR"][0].sum()
closure = {}
for region in ("VR", "SR"):
    s_sel, d_sel = sel[region]
    w_r = norm * rw.weights_from_probabilities(clf_cr.predict(sim_m[s_sel, :2]))
    chi = rw.compare_histograms(sim_m[s_sel, 1], data_m[d_sel, 1], eta_bins, weights_a=w_r)
    excess, error = d_sel.sum() - w_r.sum(), np.sqrt(d_sel.sum() + np.sum(w_r**2))
    closure[region] = (excess, error, chi)
    print(
        f"{region}: data {d_sel.sum():6d} events, predicted background {w_r.sum():8.1f} "
        f"± {np.sqrt(np.sum(w_r**2)):.1f} (stat.); data - prediction {excess:+.0f} ± {error:.0f}; eta shape {chi}"
    )
print(f"injected signal: {n_sig} events, all of them in the SR")

# %% [markdown]
# In the VR the predicted number of events should agree with the data within the two statistical errors, and
# the $\eta$ shape within its $\chi^2$: that is the closure test. A failure here (a poor $\chi^2$, or a normalisation
# off by more than its error) means the CR classifier does not describe the VR, either because it is not good
# enough or because the mis-modelling changes with $m$; it calls for a systematic uncertainty, or a better model,
# before the SR is looked at. Here the VR closes: the normalisation within its error, the $\eta$ shape with a
# $\chi^2/\text{ndf}$ below 2 (whose $p$-value, printed above, counts only the histograms' statistical errors, not the
# error of a classifier trained on the CR's fewer events). In the SR, the data exceed the predicted background by
# about the injected signal, which shows up as a peak in $m$:

# %% tags=["claim"]
vr_excess, vr_error, vr_chi = closure["VR"]
sr_excess, sr_error, _ = closure["SR"]
claim(
    "the VR closes: the normalisation within its error, the eta shape with chi2/ndf below 2",
    (abs(vr_excess) < 2 * vr_error) & (vr_chi.chi2 / vr_chi.ndf < 2),
    pull=vr_excess / vr_error,
    chi2_per_ndf=vr_chi.chi2 / vr_chi.ndf,
)
claim(
    "in the SR the data exceed the predicted background by about the injected signal",
    abs(sr_excess - n_sig) < 2 * sr_error,
    excess=sr_excess,
    injected=n_sig,
    error=sr_error,
)

# %%
s_sel, d_sel = sel["SR"]
w_sr = norm * rw.weights_from_probabilities(clf_cr.predict(sim_m[s_sel, :2]))
m_bins = np.linspace(115, 135, 21)
h_data, _ = np.histogram(data_m[d_sel, 2], m_bins)
h_bkg, e_bkg = rw.weighted_histogram(sim_m[s_sel, 2], m_bins, w_sr)
from scipy import stats

injected = n_sig * np.diff(stats.norm.cdf(m_bins, 125, 2))  # what the signal puts in each bin
fig, ax = plt.subplots()
ax.errorbar(
    0.5 * (m_bins[1:] + m_bins[:-1]),
    h_data - h_bkg,
    yerr=np.sqrt(h_data + e_bkg**2),
    fmt="o",
    label="data - reweighted simulation",
)
ax.stairs(injected, m_bins, color="C1", label=f"injected signal ({n_sig} events, m = 125 GeV)")
ax.axhline(0, color="grey", lw=1)
ax.set_xlabel("$m$ [GeV]")
ax.set_ylabel("events per GeV bin")
ax.legend()
plt.show()
# %% [markdown]
# The transfer worked because, in this toy, the mis-modelling of $(p_T, \eta)$ does not depend on $m$. When it
# does, the VR closure fails, and that failure is the warning to heed before unblinding.
#
# ## Unfolding by reweighting: OmniFold
#
# Detectors smear what the generator produced. Unfolding estimates the particle-level distribution of the data
# from the detector-level measurement. OmniFold does it by reweighting the simulation, whose events exist at
# both levels, twice per iteration:
#
# 1. **pull**: at detector level, reweight the simulation to the data: $\omega_n = \nu_{n-1} \cdot
#    \frac{s_1}{1-s_1}(x_\text{reco})$;
# 2. **push**: at particle level, learn a function of the particle-level values alone that reproduces those
#    weights: $\nu_n = \nu_{n-1} \cdot \frac{s_2}{1-s_2}(x_\text{truth})$, with $s_2$ trained on the simulation
#    weighted by $\omega_n$ against itself weighted by $\nu_{n-1}$.
#
# The push step is what makes the result an unfolded one: $\omega_n$ depends on how each event happened to be
# smeared, $\nu_n$ only on its particle-level values. Iterating removes the prior's influence step by step.
# Our toy: particle level $t \sim \mathcal N(0, 1)$ in simulation and $\mathcal N(0.6, 0.8^2)$ in the data, a
# Gaussian detector with resolution 0.5. `rw.omnifold` takes any classifier; here the Keras one.

# %%
detector = toys.DetectorToy(resolution=0.5)
mc_truth, mc_reco = detector.sample(n_events, 0.0, 1.0, seed=cfg.seed + 10)
true_truth, data_reco = detector.sample(n_events, 0.6, 0.8, seed=cfg.seed + 11)
unfold = rw.omnifold(
    mc_truth, mc_reco, data_reco, rw.keras_classifier(hidden=(32, 32), epochs=epochs, seed=cfg.seed), iterations=2
)
t_bins = np.linspace(-5, 5, 41)
fig, axes = plt.subplots(2, 2, sharex=True, height_ratios=(3, 1), figsize=(11, 4.8))
pulled = "pulled simulation, iteration 2"
compare_hist(
    {"data": data_reco[:, 0], "simulation": mc_reco[:, 0], pulled: mc_reco[:, 0]},
    t_bins,
    weights={pulled: unfold.pull[1]},
    xlabel="detector level $r$",
    ylabel="probability density",
    ratio_label="ratio to data",
    axes=(axes[0, 0], axes[1, 0]),
)
truth_label = "truth of the data (unknown in real life)"
compare_hist(
    {
        truth_label: true_truth[:, 0],
        "simulation": mc_truth[:, 0],
        "unfolded, iteration 1": mc_truth[:, 0],
        "unfolded, iteration 2": mc_truth[:, 0],
    },
    t_bins,
    weights={"unfolded, iteration 1": unfold.push[0], "unfolded, iteration 2": unfold.push[1]},
    xlabel="particle level $t$",
    ylabel="probability density",
    ratio_label="ratio to truth",
    axes=(axes[0, 1], axes[1, 1]),
)
for ax in axes[0]:
    ax.set_ylim(top=1.5 * ax.get_ylim()[1])
    ax.legend(fontsize="x-small")
plt.show()
moments = []
for it in range(2):
    nu = unfold.push[it]
    mean = np.average(mc_truth[:, 0], weights=nu)
    std = np.sqrt(np.average((mc_truth[:, 0] - mean) ** 2, weights=nu))
    moments.append((mean, std))
    print(f"iteration {it + 1}: unfolded mean {mean:.3f} (truth 0.6), width {std:.3f} (truth 0.8)")

# %% [markdown]
# The first iteration moves the mean most of the way from the simulation's 0 to the truth's 0.6; the second moves
# both the mean and the width closer still. With more iterations the result converges to the unfolded
# distribution that, smeared, matches the data; the statistical errors (from bootstrapping the data) grow with
# every iteration, so the number of iterations is a regularisation choice, as in iterative Bayesian (D'Agostini)
# unfolding, which OmniFold reduces to for binned inputs.

# %% tags=["claim"]
(mean1, std1), (mean2, std2) = moments
claim(
    "the first iteration moves the mean most of the way; the second moves both the mean and the width closer",
    (abs(mean1 - 0.6) < 0.3 * 0.6) & (abs(mean2 - 0.6) < abs(mean1 - 0.6)) & (abs(std2 - 0.8) < abs(std1 - 0.8)),
    mean1=mean1,
    mean2=mean2,
    width1=std1,
    width2=std2,
)

# %% [markdown]
# ## Summary
#
# - A classifier between data and simulation gives the weights $w = \frac{s}{1-s}\cdot\frac{n_0}{n_1}$; they
#   correct all the variables it saw, with their correlations, at once.
# - Weights cost statistics: $N_\text{eff} = (\sum w)^2/\sum w^2$; negative weights cost more.
# - Clipping trades variance for an unseen bias; over-fitting adds noise to the weights, under-fitting leaves
#   mis-modelling behind; check both on a validation set.
# - Reweighting cannot fill holes in the simulation's coverage: look before you reweight.
# - Weights learned in a control region carry into a signal region only if the mis-modelling is the same
#   there; a validation region tests it.
# - OmniFold unfolds by alternating a detector-level pull and a particle-level push.
#
# ## Further reading
#
# - K. Cranmer, J. Pavez and G. Louppe, *Approximating likelihood ratios with calibrated discriminative
#   classifiers*, [arXiv:1506.02169](https://arxiv.org/abs/1506.02169).
# - A. Rogozhnikov, *Reweighting with boosted decision trees*,
#   [arXiv:1608.05806](https://arxiv.org/abs/1608.05806).
# - A. Andreassen and B. Nachman, *Neural networks for full phase-space reweighting and parameter tuning*,
#   [arXiv:1907.08209](https://arxiv.org/abs/1907.08209) (lesson 14).
# - A. Andreassen, P. Komiske, E. Metodiev, B. Nachman and J. Thaler, *OmniFold: a method to simultaneously
#   unfold all observables*, [arXiv:1911.09107](https://arxiv.org/abs/1911.09107).
# - L. Kish, *Survey sampling* (Wiley, 1965), for the effective sample size.

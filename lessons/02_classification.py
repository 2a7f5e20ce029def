# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[15, 25]
# # 02 · Classification and the likelihood ratio
#
# Telling signal from background is the oldest machine-learning task in particle physics. This lesson shows
# that a classifier trained with the binary cross-entropy learns something precise, the **likelihood ratio**,
# the quantity that the Neyman-Pearson lemma says is the best possible test statistic. We check it on a toy
# whose exact likelihood ratio we know.
#
# **You will**
# - derive the binary cross-entropy from the Kullback-Leibler divergence;
# - turn a classifier output $s(x)$ into the likelihood ratio $p(x|S)/p(x|B)$, with unequal class sizes too;
# - compare a trained network's $s/(1-s)$ with the exact ratio, in a plot and a check;
# - draw ROC curves, compute the AUC, and judge whether a classifier is calibrated.
#
# **Prerequisites:** lesson 01 (losses, the training loop).
# **Time:** about 75 minutes.
# **Sources:** the ML4HEP lecture "Modern ML methods in HEP" (classification loss from KL, Neyman-Pearson, top
# tagging) and the HSF lecture "Machine learning: simulation and data" (the minimum of the weighted BCE).
# Papers: J. Neyman and E. S. Pearson, Phil. Trans. R. Soc. A 231 (1933) 289; K. Cranmer, J. Pavez, G. Louppe,
# *Approximating likelihood ratios with calibrated discriminative classifiers*,
# [arXiv:1506.02169](https://arxiv.org/abs/1506.02169).

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np
import torch

import mlmc_course
from mlmc_course.checks import l02_classification as checks
from mlmc_course.training import fit, mlp, to_tensors

cfg = mlmc_course.setup(MODE)

# %%
n_per_class = cfg.pick(ci=3_000, lecture=20_000, full=200_000)  # training events per class; the test set has half
epochs = cfg.pick(ci=15, lecture=40, full=100)  # of the lesson's own classifier
n_boot = cfg.pick(ci=30, lecture=50, full=100)  # bootstrap resamples for the AUC difference
print(f"{n_per_class:,} training events per class, {epochs} epochs")

# %% [markdown]
# ## The loss: binary cross-entropy from KL
#
# A classifier outputs $p_\omega(j|x)$, the probability that event $x$ belongs to class $j \in \{S, B\}$. We want
# it close to the true class probabilities $p(j|x)$. The Kullback-Leibler divergence measures the distance
# between distributions,
# $$ D_\mathrm{KL}(p\,\|\,p_\omega) = \sum_j p(j|x) \log\frac{p(j|x)}{p_\omega(j|x)}
#    = -\sum_j p(j|x)\log p_\omega(j|x) + \text{const}. $$
# We do not know $p(S|x)$, only training events with labels $y \in \{0, 1\}$. Each label is one *draw* from
# $p(S|x)$: at a given $x$, $y = 1$ with probability $p(S|x)$, so that its expectation is
# $\mathbb E[y \mid x] = p(S|x)$. With $s = p_\omega(S|x)$ and $p_\omega(B|x) = 1 - s$, the average over the
# training events
# $$ \mathcal L_\mathrm{BCE} = -\frac1N\sum_{i=1}^N \left[y_i \log s_i + (1 - y_i)\log(1 - s_i)\right] $$
# is the **binary cross-entropy**. A single event's term is not the KL divergence at its $x$ (its label is 0 or 1,
# not a probability); but its expectation over the label is $-[p(S|x)\log s + p(B|x)\log(1-s)]$, so for many
# events $\mathcal L_\mathrm{BCE}$ estimates the KL divergence averaged over $x$, plus a constant that does not
# depend on $\omega$. Minimising one minimises the other.
# The network itself outputs an unbounded number, the *logit* $z$; $s = \sigma(z) = 1/(1 + e^{-z})$.

# %% [markdown] tags=["question"] name="bce_loss" points=2
# **Exercise 1.** Write `bce_loss(logits, labels)`: torch tensors of shape `(n,)` (labels 0 or 1). Return the
# mean binary cross-entropy as a scalar tensor, with $s = \sigma(z)$. (For numerical stability you may use
# `torch.nn.functional.logsigmoid`, since $\log(1 - \sigma(z)) = \log\sigma(-z)$.)


# %% tags=["solution"]
def bce_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of logits (n,) against labels (n,) in {0, 1}."""
    # BEGIN SOLUTION
    log_s = torch.nn.functional.logsigmoid(logits)
    log_one_minus_s = torch.nn.functional.logsigmoid(-logits)
    return -torch.mean(labels * log_s + (1 - labels) * log_one_minus_s)
    # END SOLUTION
    # HINT: s = sigmoid(logits); the loss is -mean(y log s + (1 - y) log(1 - s)).


# %% tags=["wrong"]
# WRONG: forgets the sigmoid and takes the log of the raw logits
# EXPECT: did you take the log of the raw logits?
def bce_loss(logits, labels):
    return -torch.mean(labels * torch.log(logits) + (1 - labels) * torch.log(1 - logits))


# %% tags=["wrong"]
# WRONG: sign error, returns the log-likelihood instead of its negative
# EXPECT: the sign is wrong
def bce_loss(logits, labels):
    s = torch.sigmoid(logits)
    return torch.mean(labels * torch.log(s) + (1 - labels) * torch.log(1 - s))


# %% tags=["check"]
checks.bce_loss(bce_loss)

# %% tags=["check", "hidden"]
checks.bce_loss(bce_loss, seed=101)

# %% [markdown]
# ## A toy with a known answer
#
# `mlmc_course.data.toys.ResonanceToy` mimics a resonance search: signal is a Gaussian peak in an invariant
# mass $m$ (91 GeV, width 8 GeV) with the $1 + \cos^2\theta$ angular distribution of a spin-1 boson decaying to
# fermions; background falls exponentially in $m$ and is flat in $\cos\theta$; both live in
# $60 < m < 140$ GeV. Both densities are known, so the exact likelihood ratio $r(x) = p(x|S)/p(x|B)$ is
# `toy.likelihood_ratio(x)`. The points with error bars are the sampled events, the dashed lines the densities
# they are drawn from.

# %%
import matplotlib.pyplot as plt

from mlmc_course.data.toys import ResonanceToy

from mlmc_course.plotting import compare_density

toy = ResonanceToy()
x, y = toy.sample(n_per_class, n_per_class, seed=cfg.seed)

fig, (ax_m, ax_c) = plt.subplots(1, 2, figsize=(11, 4))
for label, name, colour in ((1, "signal", "C0"), (0, "background", "C1")):
    compare_density(
        x[y == label, 0], lambda m, k=label: toy.mass_density(m, k), np.linspace(60, 140, 41), axes=(ax_m, None),
        color=colour, label=f"{name}, sampled", density_label=f"{name}, density", xlabel="invariant mass $m$ [GeV]",
        ylabel="probability density [1/GeV]",
    )  # fmt: skip
    compare_density(
        x[y == label, 1], lambda c, k=label: toy.cos_density(c, k), np.linspace(-1, 1, 21), axes=(ax_c, None),
        color=colour, label=f"{name}, sampled", density_label=f"{name}, density", xlabel=r"$\cos\theta$",
    )  # fmt: skip
ax_c.set_ylim(0, None)
plt.show()

# %% [markdown]
# ## Neyman-Pearson, and what the classifier learns
#
# To separate two simple hypotheses, the **Neyman-Pearson lemma** says that no test has more power at a given
# false-positive rate than a cut on the likelihood ratio $r(x)$. Any monotonic function of $r$ is equally good.
#
# What does minimising the BCE give? With $N_S$ signal and $N_B$ background training events, the loss at a point
# $x$ is $-[N_S p(x|S)\log s + N_B p(x|B)\log(1-s)]$, minimised by
# $$ s^*(x) = \frac{N_S\,p(x|S)}{N_S\,p(x|S) + N_B\,p(x|B)}
#    \quad\Longrightarrow\quad \frac{s^*}{1 - s^*} = \frac{N_S}{N_B}\,\frac{p(x|S)}{p(x|B)} . $$
# A well-trained classifier is a monotonic function of the likelihood ratio (so it is optimal), and
# $s/(1-s)$, corrected for the class sizes, *is* the likelihood ratio. This is the basis of classifier-based
# reweighting (lesson 13), DCTR (lesson 14) and simulation-based inference (lesson 16).

# %% [markdown] tags=["question"] name="likelihood_ratio" points=2
# **Exercise 2.** Write `likelihood_ratio(s, n_sig, n_bkg)`: `s` is an array of classifier outputs from a
# classifier trained on `n_sig` signal and `n_bkg` background events; return the estimate of $p(x|S)/p(x|B)$.


# %% tags=["solution"]
def likelihood_ratio(s: np.ndarray, n_sig: int, n_bkg: int) -> np.ndarray:
    """p(x|S)/p(x|B) from classifier outputs s in (0, 1)."""
    # BEGIN SOLUTION
    return s / (1.0 - s) * (n_bkg / n_sig)
    # END SOLUTION
    # HINT: s/(1 - s) equals (n_sig/n_bkg) times the likelihood ratio.


# %% tags=["wrong"]
# WRONG: upside down, (1 - s)/s is the background-over-signal ratio
# EXPECT: the ratio is upside down
def likelihood_ratio(s, n_sig, n_bkg):
    return (1.0 - s) / s * (n_sig / n_bkg)


# %% tags=["wrong"]
# WRONG: ignores the class sizes, correct only for balanced training sets
# EXPECT: divide out n_sig/n_bkg
def likelihood_ratio(s, n_sig, n_bkg):
    return s / (1.0 - s)


# %% tags=["check"]
checks.likelihood_ratio(likelihood_ratio)

# %% tags=["check", "hidden"]
checks.likelihood_ratio(likelihood_ratio, seed=202)

# %% [markdown]
# ## Training a classifier and checking its ratio
#
# A small network on the two features, trained with the BCE (PyTorch's
# `binary_cross_entropy_with_logits`, the stable form of your Exercise 1). Inputs are standardised with the
# training set's statistics, as in lesson 01.

# %% [markdown] tags=["question"] name="train_ratio_classifier" points=3
# **Exercise 3.** Write `train_ratio_classifier(x, y, seed)`: `x` of shape `(n, 2)` (mass in GeV, $\cos\theta$),
# `y` labels of shape `(n,)`. Train a classifier with `mlmc_course.training.fit` (or any other way) and return a
# function `predict(x_new) -> s` giving $s \in (0, 1)$ for an array of shape `(m, 2)`. The check trains it on
# 6000 events and compares $s/(1-s)$ with the exact likelihood ratio.


# %% tags=["solution"]
def train_ratio_classifier(x: np.ndarray, y: np.ndarray, seed: int):
    """Train a BCE classifier on (n, 2) features; return predict(x) -> s in (0, 1)."""
    # BEGIN SOLUTION
    torch.manual_seed(seed)
    mean, std = x.mean(axis=0), x.std(axis=0)
    model = mlp(2, 1, hidden=(32, 32))

    def loss(net, batch):
        xb, yb = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(net(xb).squeeze(-1), yb)

    fit(
        model,
        loss,
        to_tensors((x - mean) / std, y.astype(np.float32)),
        epochs=25,
        batch_size=256,
        lr=5e-3,
        seed=seed,
        progress=False,
    )

    def predict(x_new: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = model(torch.as_tensor((x_new - mean) / std, dtype=torch.float32)).squeeze(-1)
        return torch.sigmoid(logits).numpy()

    return predict
    # END SOLUTION
    # HINT: standardise x, build mlp(2, 1), train with fit() on binary_cross_entropy_with_logits, then return
    # a function that applies the same scaling, the network and a sigmoid.


# %% tags=["wrong"]
# WRONG: predict returns the raw logits, not probabilities (the sigmoid is missing)
# EXPECT: did you forget the sigmoid on the network output?
def train_ratio_classifier(x, y, seed):
    torch.manual_seed(seed)
    mean, std = x.mean(axis=0), x.std(axis=0)
    model = mlp(2, 1, hidden=(32, 32))

    def loss(net, batch):
        xb, yb = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(net(xb).squeeze(-1), yb)

    fit(
        model,
        loss,
        to_tensors((x - mean) / std, y.astype(np.float32)),
        epochs=25,
        batch_size=256,
        lr=5e-3,
        seed=seed,
        progress=False,
    )
    return lambda x_new: model(torch.as_tensor((x_new - mean) / std, dtype=torch.float32)).squeeze(-1).detach().numpy()


# %% tags=["wrong"]
# WRONG: trained on shuffled labels (a bookkeeping slip that decouples x from y)
# EXPECT: predict does not separate signal (label 1) from background
def train_ratio_classifier(x, y, seed):
    torch.manual_seed(seed)
    mean, std = x.mean(axis=0), x.std(axis=0)
    model = mlp(2, 1, hidden=(32, 32))
    y_shuffled = np.random.default_rng(seed).permutation(y)

    def loss(net, batch):
        xb, yb = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(net(xb).squeeze(-1), yb)

    fit(
        model,
        loss,
        to_tensors((x - mean) / std, y_shuffled.astype(np.float32)),
        epochs=25,
        batch_size=256,
        lr=5e-3,
        seed=seed,
        progress=False,
    )
    return lambda x_new: (
        torch.sigmoid(model(torch.as_tensor((x_new - mean) / std, dtype=torch.float32))).squeeze(-1).detach().numpy()
    )


# %% tags=["mutants"]
# EQUIVALENT L2:32 remove axis=: one mean and std for both features still brings the inputs to order one; the learned
#   ratio is a little worse (median log error 0.18-0.24 against 0.09-0.15 for the solution, seeds 0-2) but meets the
#   bound any trained classifier must meet, and how to scale the inputs is not what is graded
# EQUIVALENT L3:* Constant 32->*: the width of the hidden layers is a free choice; the check grades the trained ratio
#   (median log error 0.08-0.16 over the check's seeds 0-2, bound 0.35)
# EQUIVALENT L13:15 Constant 25->*: one epoch more or less is a free choice (median log error 0.10-0.17)
# EQUIVALENT L14:19 Constant 256->*: the batch size is a free choice (median log error 0.09-0.15)
# EQUIVALENT L15:11 Constant 0.005->0.01: twice the learning rate trains Adam to the same ratio (median log error
#   0.08-0.17)
# EQUIVALENT L17:17 Constant False->True: progress=True only prints the training progress
# EQUIVALENT L7:84 remove USub: squeeze(1) and squeeze(-1) drop the same axis of the (n, 1) network output
# EQUIVALENT L22:95 remove USub: squeeze(1) and squeeze(-1) drop the same axis of the (n, 1) network output

# %% tags=["check"]
checks.train_ratio_classifier(train_ratio_classifier)

# %% tags=["check", "hidden"]
checks.train_ratio_classifier(train_ratio_classifier, seed=303)

# %% [markdown]
# Now the lesson's own classifier, trained on the full sample with a validation split, and its $s/(1-s)$
# against the exact ratio on independent test events.

# %%
from mlmc_course.plotting import loss_plot

rng = np.random.default_rng(cfg.seed)
order = rng.permutation(len(y))
n_train = int(0.8 * len(y))
tr, va = order[:n_train], order[n_train:]
mean, std = x[tr].mean(axis=0), x[tr].std(axis=0)


def bce_logits(net, batch):
    xb, yb = batch
    return torch.nn.functional.binary_cross_entropy_with_logits(net(xb).squeeze(-1), yb)


torch.manual_seed(cfg.seed)
classifier = mlp(2, 1, hidden=(64, 64))
history = fit(
    classifier,
    bce_logits,
    to_tensors((x[tr] - mean) / std, y[tr].astype(np.float32)),
    val=to_tensors((x[va] - mean) / std, y[va].astype(np.float32)),
    epochs=epochs,
    batch_size=256,
    lr=2e-3,
    seed=cfg.seed,
)


def classify(x_new: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(classifier(torch.as_tensor((x_new - mean) / std, dtype=torch.float32))).squeeze(-1).numpy()


loss_plot(history.as_dict(), log=False, ylabel="binary cross-entropy")
plt.show()

# %%
x_test, y_test = toy.sample(n_per_class // 2, n_per_class // 2, seed=cfg.seed + 1)
s_test = np.clip(classify(x_test), 1e-6, 1 - 1e-6)
r_net = s_test / (1 - s_test)  # balanced classes: no prior factor
r_exact = toy.likelihood_ratio(x_test)

fig, (ax_s, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
ax_s.loglog(r_exact, r_net, ".", ms=1.5, alpha=0.3, label=f"{len(r_exact):,} test events")
lims = [0.5 * min(r_exact.min(), r_net.min()), 2 * max(r_exact.max(), r_net.max())]  # every event is shown
ax_s.plot(lims, lims, "k--", lw=1, label="network = exact")
ax_s.set_xlim(lims)
ax_s.set_ylim(lims)
ax_s.set_xlabel(r"exact ratio $p(x|S)/p(x|B)$")
ax_s.set_ylabel(r"network $s/(1-s)$")
ax_s.legend(markerscale=6)
masses = np.linspace(61, 139, 300)
for cos_theta in (0.0, 0.9):
    xs = np.column_stack([masses, np.full_like(masses, cos_theta)]).astype(np.float32)
    s_line = classify(xs)
    line = ax_m.semilogy(masses, s_line / (1 - s_line), label=rf"network, $\cos\theta = {cos_theta}$")[0]
    ax_m.semilogy(masses, toy.likelihood_ratio(xs), "--", lw=1, color=line.get_color(), label="exact")
ax_m.set_xlabel("invariant mass $m$ [GeV]")
ax_m.set_ylabel("likelihood ratio $p(x|S)/p(x|B)$")
ax_m.legend(ncol=2)
plt.show()

log_error = np.abs(np.log(r_net / r_exact))
bulk = (r_exact > 0.05) & (r_exact < 20)
tail = r_exact < 1e-3
print(
    f"median |log r_net - log r_exact|: {np.median(log_error[bulk]):.3f} for the {bulk.mean():.0%} of test events with "
    f"0.05 < r < 20, {np.median(log_error[tail]):.2f} for the {tail.mean():.0%} with r < 0.001"
)
print(f"exact ratios of the test events range from {r_exact.min():.1e} to {r_exact.max():.1f}")

# %% [markdown]
# Where both classes have many training events, the network's ratio follows the exact one over more than two
# orders of magnitude, to within ten per cent (the first median printed above). The exact ratio of the test events
# spans many more decades, and at tiny ratios the network is off by a large factor: these events lie far in the
# tails of the signal peak (low or high mass), where there are almost no signal events to learn from, and
# the network extrapolates. This is where learned ratios go wrong first. Lesson 13 returns to this: weights are
# only as good as the classifier's coverage.

# %% tags=["claim"]
from mlmc_course.claims import claim

bulk_decades = float(np.log10(r_exact[bulk].max() / r_exact[bulk].min()))
all_decades = float(np.log10(r_exact.max() / r_exact.min()))
claim(
    "where both classes have many events, the network's ratio follows the exact one over more than two orders of "
    "magnitude, to within ten per cent",
    bulk_decades > 2 and np.median(log_error[bulk]) < 0.1,
    decades=bulk_decades,
    median_log_error=np.median(log_error[bulk]),
)
claim("the exact ratio of the test events spans many more decades", all_decades > bulk_decades + 3, decades=all_decades)
claim(
    "at tiny ratios the network is off by a large factor",
    np.median(log_error[tail]) > np.log(2),
    median_factor=np.exp(np.median(log_error[tail])),
)

# %% [markdown]
# ## ROC curves and the AUC
#
# A cut $s > c$ keeps a fraction $\epsilon_S(c)$ of signal and $\epsilon_B(c)$ of background. The **ROC
# curve** traces $(\epsilon_S, \epsilon_B)$ as $c$ varies. Its area, the **AUC**, is the probability that a
# randomly chosen signal event scores higher than a randomly chosen background event (ties count one half);
# particle physicists often quote the background rejection $1/\epsilon_B$ at a fixed signal efficiency instead,
# e.g. $R_{30}$ at $\epsilon_S = 0.3$ (lesson 04).

# %% [markdown] tags=["question"] name="auc" points=2
# **Exercise 4.** Write `auc(scores, labels)` without scikit-learn: the fraction of (signal, background) pairs in
# which the signal scores higher, counting ties as one half. (Arrays of shape `(n,)`; a double loop is fine for a
# few thousand events, `np.searchsorted` or ranks are faster.)


# %% tags=["solution"]
def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: P(s_signal > s_background) + P(tie) / 2."""
    # BEGIN SOLUTION
    sig = np.sort(scores[labels == 1])
    bkg = np.sort(scores[labels == 0])
    below = np.searchsorted(bkg, sig, side="left")  # background strictly below each signal score
    not_above = np.searchsorted(bkg, sig, side="right")  # background below or tied
    return float(np.sum(below + not_above) / (2.0 * len(sig) * len(bkg)))
    # END SOLUTION
    # HINT: compare every signal score with every background score: count 1 for greater, 1/2 for equal.


# %% tags=["wrong"]
# WRONG: classes swapped, gives 1 - AUC
# EXPECT: you get 1 - AUC
def auc(scores, labels):
    sig, bkg = scores[labels == 0], scores[labels == 1]
    return float(np.mean((sig[:, None] > bkg[None, :]) + 0.5 * (sig[:, None] == bkg[None, :])))


# %% tags=["wrong"]
# WRONG: ignores ties
# EXPECT: ties are not counted
def auc(scores, labels):
    sig, bkg = scores[labels == 1], scores[labels == 0]
    return float(np.mean(sig[:, None] > bkg[None, :]))


# %% tags=["check"]
checks.auc(auc)

# %% tags=["check", "hidden"]
checks.auc(auc, seed=404)

# %% [markdown]
# The package's `mlmc_course.metrics` (built on scikit-learn) computes ROC curves, AUCs and rejections; we compare
# three taggers: the exact likelihood ratio (the Neyman-Pearson optimum), the network, and a simple mass window
# $|m - 91\,\mathrm{GeV}| < \Delta$ scanned in $\Delta$.

# %%
from mlmc_course.metrics import auc as metric_auc
from mlmc_course.metrics import rejection_at, roc_curve
from mlmc_course.plotting import roc_plot

taggers = {
    "exact likelihood ratio": r_exact,
    "network": s_test,
    "mass window": -np.abs(x_test[:, 0] - 91.0),
}
line_styles = {"exact likelihood ratio": {"color": "k", "lw": 2.5}, "network": {"ls": "--"}, "mass window": {"ls": ":"}}
curves, styles = {}, {}
for name, score in taggers.items():
    eff_s, eff_b, _ = roc_curve(score, y_test)
    label = f"{name}: AUC {metric_auc(score, y_test):.4f}, R30 {rejection_at(score, y_test, 0.3):.0f}"
    curves[label], styles[label] = (eff_s, eff_b), line_styles[name]
n_bkg_test = int((y_test == 0).sum())
ax, rax = roc_plot(
    curves, styles=styles, min_eff_s=0.05, ratio_to=next(iter(curves)), n_background=n_bkg_test
)  # fmt: skip
rax.set_ylim(0.5, 1.5)
rax.legend(loc="upper right", fontsize="x-small", ncol=3)
plt.show()

# paired bootstrap: the same resampled test events for both taggers, so that their common noise cancels
boot = np.random.default_rng(cfg.seed)
auc_gap = []
for _ in range(n_boot):
    idx = boot.integers(0, len(y_test), len(y_test))
    auc_gap.append(metric_auc(r_exact[idx], y_test[idx]) - metric_auc(s_test[idx], y_test[idx]))
auc_gap_value = metric_auc(r_exact, y_test) - metric_auc(s_test, y_test)
auc_gap_error = float(np.std(auc_gap, ddof=1))
print(f"AUC(exact ratio) - AUC(network) = {auc_gap_value:.4f} ± {auc_gap_error:.4f} (paired bootstrap)")

# %% [markdown]
# The network's ROC lies on top of the exact ratio's (the lower panel shows their ratio, with the binomial error of
# the exact ratio's background efficiency as a band), and its AUC is below the Neyman-Pearson limit by less than
# 0.005 (printed above): no classifier can do better here, and this one is nearly there. The mass window throws away
# the angular information and falls visibly short.

# %% tags=["claim"]
auc_window = metric_auc(taggers["mass window"], y_test)
claim(
    "the network's AUC is below the Neyman-Pearson limit by less than 0.005",
    abs(auc_gap_value) < 0.005 and auc_gap_value > -2 * auc_gap_error,
    gap=auc_gap_value,
    error=auc_gap_error,
)
claim(
    "the mass window falls visibly short",
    metric_auc(r_exact, y_test) - auc_window > 0.005,
    auc_exact=metric_auc(r_exact, y_test),
    auc_window=auc_window,
)

# %% [markdown]
# ## Calibration
#
# The ROC curve is unchanged by any monotonic map of the score, so a classifier can be optimal for *cutting* and
# still wrong as a *probability*. A classifier is **calibrated** when, among events with $s \approx 0.7$, 70% are
# signal. Only a calibrated $s$ gives the right $s/(1-s)$. The reliability diagram bins events in $s$ and plots
# the true signal fraction per bin; we compare our network with an over-confident version of it,
# $\sigma(3z)$, which has exactly the same ROC curve.

# %%
logit = np.log(s_test / (1 - s_test))
fig, ax = plt.subplots()
pulls = {}
for name, score in {"network": s_test, r"over-confident, $\sigma(3z)$": 1 / (1 + np.exp(-3 * logit))}.items():
    bins = np.linspace(0, 1, 16)
    which = np.clip(np.digitize(score, bins) - 1, 0, len(bins) - 2)
    count = np.bincount(which, minlength=len(bins) - 1)
    used = count >= 20  # a fraction needs a few events
    frac = np.bincount(which, weights=y_test, minlength=len(bins) - 1)[used] / count[used]
    mean_s = np.bincount(which, weights=score, minlength=len(bins) - 1)[used] / count[used]
    error = np.sqrt(np.clip(mean_s * (1 - mean_s), 1e-12, None) / count[used])  # binomial, if calibrated
    pulls[name] = (frac - mean_s) / error
    ax.errorbar(mean_s, frac, yerr=error, fmt="o-", ms=3, label=f"{name} (AUC {metric_auc(score, y_test):.4f})")
ax.plot([0, 1], [0, 1], "k--", lw=1, label="calibrated")
ax.set_xlabel("mean classifier output $s$ in bin")
ax.set_ylabel("fraction of signal events in bin")
ax.legend()
plt.show()
for name, pull in pulls.items():
    print(f"{name}: chi2 of the fractions against the diagonal = {np.sum(pull**2):.1f} for {len(pull)} bins")

# %% [markdown]
# Same AUC, different calibration: the over-confident scores would give likelihood ratios equal to the network's cubed,
# $e^{3z} = (s/(1-s))^3$. Calibration can be restored afterwards (e.g. by histogramming $s$ for each class, as CARL
# does, [arXiv:1506.02169](https://arxiv.org/abs/1506.02169)). A network that has reached the minimum of the BCE is
# calibrated by construction (its output is $s^*$ above); with finite data and training it is so only approximately.
# Ours is close: the error bars are the binomial errors a calibrated classifier would have, and the network's fractions
# scatter within a few of them while the over-confident version's lie far outside.

# %% tags=["claim"]
pull_net, pull_over = pulls["network"], pulls[r"over-confident, $\sigma(3z)$"]
claim(
    "the network's fractions scatter within a few binomial errors of the diagonal",
    np.max(np.abs(pull_net)) < 4,
    largest_pull=np.max(np.abs(pull_net)),
)
claim(
    "the over-confident version's fractions lie far outside",
    np.max(np.abs(pull_over)) > 10,
    largest_pull=np.max(np.abs(pull_over)),
)

# %% [markdown]
# ## Summary
#
# - The binary cross-entropy is the KL divergence between true and predicted class probabilities; compute it from
#   logits for stability.
# - The BCE minimiser satisfies $s/(1-s) = (N_S/N_B)\,p(x|S)/p(x|B)$: a trained classifier estimates the
#   likelihood ratio, the Neyman-Pearson-optimal statistic.
# - ROC curves and AUCs judge ranking; calibration judges probabilities. Reweighting and inference need both.
#
# ## Further reading
#
# - K. Cranmer, J. Pavez, G. Louppe, *Approximating likelihood ratios with calibrated discriminative classifiers*,
#   [arXiv:1506.02169](https://arxiv.org/abs/1506.02169).
# - G. Kasieczka, T. Plehn et al., *The machine learning landscape of top taggers*,
#   [arXiv:1902.09914](https://arxiv.org/abs/1902.09914).
# - C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger, *On calibration of modern neural networks*,
#   [arXiv:1706.04599](https://arxiv.org/abs/1706.04599).
# - A. Andreassen, B. Nachman, *Neural networks for full phase-space reweighting and parameter tuning*
#   (DCTR), [arXiv:1907.08209](https://arxiv.org/abs/1907.08209).

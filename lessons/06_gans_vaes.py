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
# # 06 · GANs and VAEs
#
# A full detector simulation spends minutes on one event; experiments already replace parts of it with networks that
# *generate* events, such as the GANs of ATLAS's fast calorimeter simulation. This lesson builds the two oldest kinds
# of such generators from their parts, and, before that, the tools to tell a good generator from a bad one.
#
# **You will**
# - judge a generated sample with a classifier two-sample test, the Wasserstein distance and the maximum mean
#   discrepancy, and see which deliberately wrong samplers each of them catches;
# - derive the GAN game from the binary cross-entropy, write the non-saturating generator loss, and recognise mode
#   collapse;
# - derive the evidence lower bound (ELBO) of a variational autoencoder, implement the reparameterisation trick, and
#   see what the weight $\beta$ of the KL term does to the samples.
#
# **Prerequisites:** lesson 02 (binary cross-entropy, the classifier as a likelihood ratio, ROC and AUC); PyTorch at
# the level of `nn.Module` and `loss.backward()`.
# **Time:** about 75 minutes.
# **Sources:** seed lectures 003 (generative models on two moons, FastCaloGAN) and 000 (generative models in MC
# generators). Papers: GANs, [arXiv:1406.2661](https://arxiv.org/abs/1406.2661); VAEs,
# [arXiv:1312.6114](https://arxiv.org/abs/1312.6114); classifier two-sample tests,
# [arXiv:1610.06545](https://arxiv.org/abs/1610.06545); CaloGAN, [arXiv:1705.02355](https://arxiv.org/abs/1705.02355);
# ATLAS AtlFast3 with FastCaloGAN, [arXiv:2109.02551](https://arxiv.org/abs/2109.02551).

# %% [markdown]
# ## Why generate events with a network?
#
# An event generator and a detector simulation draw events $x$ (a jet's constituents, the energies in calorimeter
# cells) from a distribution $p(x)$ that nobody writes down: it is defined by the program. A *generative network*
# learns to draw from (an approximation of) the same $p(x)$, or from $p(x \mid c)$ for a condition $c$ such as the
# particle's energy, from a sample of simulated events. It is worth it when
#
# - the simulation is slow (Geant4 showers) and the network is fast, so that it can replace the slow part
#   (FastCaloGAN in ATLAS's AtlFast3);
# - events must be made in a huge number, for instance to reduce the statistical error of a template.
#
# A generator maps simple random numbers $z$ (Gaussian noise) to events, $x = G(z)$. Nothing in that requires $G$ to
# be invertible or to give the density $p(x)$; GANs and VAEs give up one or the other, the flows of lesson 07 keep
# both. First, the toy on which every generative lesson starts.

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np
import torch
import matplotlib.pyplot as plt

import mlmc_course
from mlmc_course.checks import l06_gans_vaes as checks

cfg = mlmc_course.setup(MODE)

# %% [markdown]
# The sizes for this run (modes change sizes, never the code). Small networks train faster on one CPU thread than on
# several that compete for the cores. What the text says about the trained GAN and VAEs describes a `lecture` run
# (the claims in the solution notebook check it there); in the `ci` mode, made for the automatic tests, they train
# for a few epochs only and are poor generators.

# %%
n_train = cfg.pick(ci=1_000, lecture=4_000, full=50_000)
n_test = cfg.pick(ci=1_000, lecture=4_000, full=50_000)
gan_epochs = cfg.pick(ci=5, lecture=40, full=400)
vae_epochs = cfg.pick(ci=5, lecture=60, full=400)
print(f"{n_train} training events; GAN {gan_epochs} epochs, VAE {vae_epochs} epochs")

# %% [markdown]
# ## Two moons
#
# Two interleaved half circles with Gaussian noise, standardised to zero mean and unit variance per coordinate. The
# distribution has two separate *modes* (the moons) and thin curved structure: hard enough to show the failure modes
# of each generator, small enough to train in seconds. We keep an independent *test* sample to judge the generators.
#
# One caution: `two_moons` (scikit-learn's `make_moons`) places its points at *evenly spaced* angles along the
# curves, so two draws of the same size sit at the same angles and look more alike than independent samples would.
# We therefore cut all our samples from one large draw, which gives independent events to an excellent approximation.

# %%
from mlmc_course.data.moons import two_moons

pool, pool_moon = two_moons(100_000, seed=cfg.seed)
x_train, moon_train = pool[:n_train], pool_moon[:n_train]
x_test = pool[n_train : n_train + n_test]

fig, ax = plt.subplots(figsize=(5, 4))
for k in (0, 1):
    ax.scatter(*x_train[moon_train == k].T, s=2, alpha=0.5, label=f"moon {k}")
ax.set_xlabel("$x_1$ (standardised)")
ax.set_ylabel("$x_2$ (standardised)")
ax.set_title("training sample")
ax.legend(markerscale=5)
plt.show()

# %% [markdown]
# ## How good is a generated sample?
#
# A training loss is no answer: the GAN's losses do not fall as it improves, and the VAE's measures reconstruction,
# not samples. We compare a generated sample $\{y_j\} \sim q$ with the test sample $\{x_i\} \sim p$ directly.
#
# **Classifier two-sample test (C2ST).** Train a classifier to tell $x$ (label 0) from $y$ (label 1). By
# Neyman-Pearson (lesson 02) the best classifier is a function of the ratio $q(x)/p(x)$; if $q = p$ it is constant,
# and no classifier can beat a coin: the AUC on held-out events is $0.5$ up to statistical noise of
# $\sigma_0 = \sqrt{(n_p + n_q + 1) / (12\, n_p n_q)}$ (Mann-Whitney). Any AUC clearly above $0.5$ means the
# classifier found a difference. This is a metric of the CaloChallenge for calorimeter surrogates: seed 000 shows the
# table of the CaloDiffusion paper ([arXiv:2308.03876](https://arxiv.org/abs/2308.03876)), where three models of 2023
# reach AUCs from 0.55 to 0.95 against Geant4, and the best one per data set 0.55-0.65. The AUC says *that* the
# samples differ, not *how*.
#
# **Wasserstein distance.** How much probability mass must be moved, and how far, to turn $q$ into $p$:
# $W_1(p, q) = \min_{\pi} \int |x - y| \, d\pi(x, y)$ over joint distributions $\pi$ with marginals $p$ and $q$, in
# the units of the data (GeV for a mass). In one dimension the optimal plan matches quantiles (seed 003):
# $$ W_1 = \int_0^1 \left| F_p^{-1}(u) - F_q^{-1}(u) \right| du , $$
# which for two samples of equal size $n$ is the mean distance between the *sorted* samples. In several dimensions
# POT (Python Optimal Transport) solves the transport problem exactly for a few thousand events, or averages the 1D
# distance over random projections (the *sliced* Wasserstein distance).
#
# **Maximum mean discrepancy.** $\mathrm{MMD}^2 = \mathbb{E}\,k(x, x') + \mathbb{E}\,k(y, y') - 2\,\mathbb{E}\,k(x, y)$
# with a Gaussian kernel $k$: zero only when $p = q$, but its sensitivity depends on the kernel width.

# %% [markdown] tags=["question"] name="wasserstein_1d" points=2
# **Exercise 1.** Write `wasserstein_1d(x, y)`: `x` and `y` are 1-D NumPy arrays of the same length $n$ (one
# variable, e.g. a jet mass in GeV). Return the Wasserstein distance $W_1$ between their empirical distributions as a
# float, in the units of the data.


# %% tags=["solution"]
def wasserstein_1d(x: np.ndarray, y: np.ndarray) -> float:
    """W1 between two equal-size 1-D samples: the mean distance between matched quantiles (units of x)."""
    # BEGIN SOLUTION
    return float(np.mean(np.abs(np.sort(x) - np.sort(y))))
    # END SOLUTION
    # HINT: the k-th smallest x is matched with the k-th smallest y: sort both, then average |difference|.


# %% tags=["wrong"]
# WRONG: pairs the events in the order they came instead of by quantile
# EXPECT: you compared the events in the order they came
def wasserstein_1d(x, y):
    return float(np.mean(np.abs(x - y)))


# %% tags=["wrong"]
# WRONG: the root mean square of the quantile differences is W2, not W1
# EXPECT: that is W2
def wasserstein_1d(x, y):
    return float(np.sqrt(np.mean((np.sort(x) - np.sort(y)) ** 2)))


# %% tags=["wrong"]
# WRONG: compares only the means, blind to any change of shape
# EXPECT: that is the difference of the means
def wasserstein_1d(x, y):
    return float(abs(np.mean(x) - np.mean(y)))


# %% tags=["mutants"]
# EQUIVALENT L1:32 swap operands of Sub: |sort(y) - sort(x)| = |sort(x) - sort(y)|

# %% tags=["check"]
checks.wasserstein_1d(wasserstein_1d)

# %% tags=["check", "hidden"]
checks.wasserstein_1d(wasserstein_1d, seed=101)

# %% [markdown]
# The package has the same metrics, built on scikit-learn and POT, in `mlmc_course.metrics.samples`. Before we trust
# them with generators, we test them on samplers that we broke on purpose: a correct one (a fresh two-moons sample),
# one shifted by 0.1 (a tenth of the standard deviation), one with the noise of the moons reduced from 0.05 to 0.03
# (too narrow: a generator that is too sure of itself), and one that puts 70% of its events on the first moon (a
# partly missing mode).

# %%
import pandas as pd

from mlmc_course.metrics.samples import classifier_two_sample_test, mmd, sliced_wasserstein, wasserstein_nd

fresh, fresh_moon = pool[-2 * n_test :], pool_moon[-2 * n_test :]
on_first, on_second = fresh[fresh_moon == 0], fresh[fresh_moon == 1]
samplers = {
    "correct": fresh[:n_test],
    "shifted by 0.1": fresh[:n_test] + np.array([0.1, 0.0], dtype=np.float32),
    "too narrow": two_moons(100_000, noise=0.03, seed=cfg.seed + 1)[0][:n_test],
    "70% on one moon": np.concatenate([on_first[: int(0.7 * n_test)], on_second[: n_test - int(0.7 * n_test)]]),
}


def sample_metrics(sample: np.ndarray) -> dict[str, float]:
    """The metrics of a generated sample against the test sample (exact W1 on at most 1500 events of each)."""
    c2st = classifier_two_sample_test(x_test, sample, seed=cfg.seed)
    subset = np.random.default_rng(0).permutation(len(sample))[:1500]
    return {
        "C2ST AUC": c2st.auc,
        "± (folds)": c2st.error,
        "W1 (exact)": wasserstein_nd(x_test[:1500], sample[subset]),
        "sliced W1": sliced_wasserstein(x_test, sample, seed=cfg.seed),
        "MMD²": mmd(x_test, sample, seed=cfg.seed),
    }


metric_table = pd.DataFrame({name: sample_metrics(s) for name, s in samplers.items()}).T
null_sigma = classifier_two_sample_test(x_test, samplers["correct"], seed=cfg.seed).null_sigma
print(f"AUC spread for identical samples of this size: {null_sigma:.3f}")
metric_table.style.format("{:.4f}")

# %% [markdown]
# Read the table row by row. The correct sampler sets the noise floor of every metric: W1 is not zero for two finite
# samples of the same distribution, and the AUC scatters around 0.5 by about the spread printed above. Then ask, for
# each broken sampler, which metrics rise clearly above that floor. The C2ST flags all three. The Wasserstein
# distances rise above their floor for the shift and far above it for the missing share of a moon, but the narrower
# moons move each event by only a few hundredths, and W1 stays at or below its noise floor for a few thousand
# events. The MMD, whose kernels include widths well below the size of the moons, is at best barely above its floor
# for the narrowing. This is why the course quotes the C2ST AUC with its spread first, and a distance in physical
# units second.

# %% tags=["claim"]
from mlmc_course.claims import claim

lecture = cfg.mode == "lecture"
row = metric_table.to_dict("index")
floor = row["correct"]
claim(
    "the correct sampler's AUC scatters around 0.5 by about the spread printed above",
    abs(floor["C2ST AUC"] - 0.5) < 3 * null_sigma,
    auc=floor["C2ST AUC"],
    spread=null_sigma,
)
claim(
    "the C2ST flags all three broken samplers",
    all(row[k]["C2ST AUC"] - 0.5 > 5 * max(null_sigma, row[k]["± (folds)"]) for k in list(samplers)[1:]),
    **{k.split(" ")[0]: row[k]["C2ST AUC"] for k in list(samplers)[1:]},
)
claim(
    "the Wasserstein distances rise above their floor for the shift and far above it for the missing share",
    all(
        row["shifted by 0.1"][w] > floor[w] and row["70% on one moon"][w] > 3 * floor[w]
        for w in ("W1 (exact)", "sliced W1")
    ),
    floor_sliced=floor["sliced W1"],
    shifted_sliced=row["shifted by 0.1"]["sliced W1"],
    missing_sliced=row["70% on one moon"]["sliced W1"],
)
claim(
    "for the narrower moons W1 stays at or below its noise floor",
    all(row["too narrow"][w] <= 1.05 * floor[w] for w in ("W1 (exact)", "sliced W1")),
    narrow=row["too narrow"]["W1 (exact)"],
    floor=floor["W1 (exact)"],
)
mmd_floor, mmd_shift = floor["MMD²"], row["shifted by 0.1"]["MMD²"]
claim(
    "the MMD is at best barely above its floor for the narrowing",
    row["too narrow"]["MMD²"] < mmd_floor + 0.2 * (mmd_shift - mmd_floor),
    narrow=row["too narrow"]["MMD²"],
    floor=mmd_floor,
    shifted=mmd_shift,
)

# %% [markdown]
# The 70% sampler lists all its moon-0 events first. That is why `sample_metrics` draws the 1500 events for the
# exact W1 at random: the first 1500 would all lie on one moon. Subsample at random, never the head of an ordered list.

# %% [markdown]
# ## Generative adversarial networks
#
# A generator $G_\theta$ maps noise $z \sim \mathcal N(0, 1)$ to events; a discriminator $D_\phi(x) \in (0, 1)$ says
# how likely $x$ is to be real (seed 003). $D$ minimises the binary cross-entropy of lesson 02 with real events
# labelled 1 and generated ones 0:
# $$ L_D = -\mathbb{E}_{x \sim p}\,\log D(x) - \mathbb{E}_{z}\,\log\big(1 - D(G(z))\big) . $$
# For a fixed $G$ with density $q$, the best discriminator is $D^*(x) = p(x) / (p(x) + q(x))$ (the same algebra as
# for $s/(1-s)$ in lesson 02). Putting it back, $-L_{D^*} = 2\,\mathrm{JS}(p \,\|\, q) - \log 4$: the game
# $\min_G \max_D (-L_D)$ minimises the Jensen-Shannon divergence between data and generator, which vanishes only
# at $q = p$, where $D^* = 1/2$ everywhere.
#
# The generator's loss in that game is $\mathbb{E}_z \log(1 - D(G(z)))$, to be minimised. Write $D = \sigma(\ell)$
# with the logit $\ell$; then $\partial \log(1 - \sigma(\ell)) / \partial \ell = -\sigma(\ell)$, which vanishes when
# $D$ confidently rejects the fakes ($\ell \to -\infty$): exactly early in training, when $G$ most needs a gradient.
# This is the **saturating** loss. The **non-saturating** loss $-\mathbb{E}_z \log D(G(z))$ has the same fixed point
# and the derivative $-(1 - \sigma(\ell)) \to -1$ there. It is what the seed's code does by giving the fakes the
# label *real* in the generator step.

# %% [markdown] tags=["question"] name="generator_loss" points=2
# **Exercise 2.** Write `generator_loss(d_fake_logits)`: the argument is a 1-D tensor with the discriminator's
# *logits* $\ell$ on a batch of generated events ($D = \sigma(\ell)$). Return the non-saturating generator loss
# $-\frac{1}{n}\sum \log \sigma(\ell)$ as a scalar tensor that can be differentiated. It must stay finite for very
# negative logits.


# %% tags=["solution"]
def generator_loss(d_fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating GAN generator loss, -mean log D(G(z)), from logits of shape (n,)."""
    # BEGIN SOLUTION
    return torch.nn.functional.softplus(-d_fake_logits).mean()
    # END SOLUTION
    # HINT: -log sigmoid(l) = softplus(-l); torch.nn.functional.softplus is stable where log(sigmoid(l)) is not.


# %% tags=["wrong"]
# WRONG: the saturating loss log(1 - D), whose gradient vanishes when D rejects the fakes
# EXPECT: that is the saturating loss
def generator_loss(d_fake_logits):
    return -torch.nn.functional.softplus(d_fake_logits).mean()


# %% tags=["wrong"]
# WRONG: labels the fakes 0, as the discriminator does, so the generator learns to look fake
# EXPECT: you labelled the fakes 0
def generator_loss(d_fake_logits):
    return torch.nn.functional.binary_cross_entropy_with_logits(d_fake_logits, torch.zeros_like(d_fake_logits))


# %% tags=["wrong"]
# WRONG: log of the sigmoid, which underflows to log(0) = -inf for very negative logits
# EXPECT: sigmoid underflows to 0 there
def generator_loss(d_fake_logits):
    return -torch.log(torch.sigmoid(d_fake_logits)).mean()


# %% tags=["check"]
checks.generator_loss(generator_loss)

# %% tags=["check", "hidden"]
checks.generator_loss(generator_loss, seed=202)

# %% [markdown]
# Why the choice matters: the derivative of each generator loss with respect to the discriminator's logit on a fake
# event, as a function of $D(G(z))$. Early in training $D(G(z))$ is small.

# %%
from mlmc_course.models.gan import generator_loss as package_generator_loss

logits = torch.linspace(-7, 7, 200, requires_grad=True)
fig, ax = plt.subplots(figsize=(6, 3.5))
for kind in ("saturating", "non_saturating"):
    (grad,) = torch.autograd.grad(package_generator_loss(logits, kind) * len(logits), logits)
    ax.plot(torch.sigmoid(logits).detach(), grad.abs(), label=kind.replace("_", "-"))
ax.set(xscale="log", xlabel="$D(G(z))$ (discriminator's belief that a fake is real)")
ax.set_ylabel(r"$|\partial L_G / \partial \ell|$ per event")
ax.legend()
plt.show()

# %% [markdown]
# `mlmc_course.models.gan` holds a GAN (two small networks with leaky-ReLU activations) and `train_gan`, which
# alternates one discriminator and one generator step per mini-batch (the shared training loop `fit` has one
# player; `train_gan` uses the same mini-batch iterator) with the non-saturating loss.

# %%
import time

from mlmc_course.models.gan import GAN, train_gan

torch.manual_seed(cfg.seed)
gan = GAN(2, n_latent=2, hidden=(128, 128)).to(cfg.device)
start = time.process_time()
hist = train_gan(gan, x_train, epochs=gan_epochs, batch_size=128, lr=1e-3, seed=cfg.seed, desc="GAN")
gan_seconds = time.process_time() - start
print(f"GAN: {gan_seconds:.1f} s of CPU time")

# %% [markdown]
# Left: the losses. A GAN's losses do not go to zero; at the fixed point $D = 1/2$, so $L_D = 2 \log 2 \approx 1.39$
# and the non-saturating $L_G = \log 2 \approx 0.69$. Right: the discriminator's mean output on real and on
# generated events, which should meet near 0.5.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
epochs_axis = np.arange(1, len(hist.d_loss) + 1)
axes[0].plot(epochs_axis, hist.d_loss, label="discriminator $L_D$")
axes[0].plot(epochs_axis, hist.g_loss, label="generator $L_G$ (non-saturating)")
axes[0].axhline(2 * np.log(2), ls=":", color="grey", label="fixed point: $2\\log 2$, $\\log 2$")
axes[0].axhline(np.log(2), ls=":", color="grey")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("loss [nats]")
axes[0].legend()
axes[1].plot(epochs_axis, hist.d_real, label="on real events")
axes[1].plot(epochs_axis, hist.d_fake, label="on generated events")
axes[1].axhline(0.5, ls=":", color="grey")
axes[1].set_xlabel("epoch")
axes[1].set_ylabel("mean $D(x)$")
axes[1].legend()
plt.show()
print(
    f"last epoch: L_D = {hist.d_loss[-1]:.3f}, L_G = {hist.g_loss[-1]:.3f}, "
    f"mean D on real {hist.d_real[-1]:.3f}, on generated {hist.d_fake[-1]:.3f}"
)

# %% [markdown]
# In the `lecture` run both losses settle close to their fixed-point values and the two mean outputs of $D$ meet near
# 0.5 (printed above). That says the game is balanced, not that the generator is good: the samples below are the test.

# %% tags=["claim"]
claim(
    "in the lecture run both losses settle close to their fixed-point values and the mean outputs of D meet near 0.5",
    abs(hist.d_loss[-1] - 2 * np.log(2)) < 0.05
    and abs(hist.g_loss[-1] - np.log(2)) < 0.05
    and abs(hist.d_real[-1] - 0.5) < 0.03
    and abs(hist.d_fake[-1] - 0.5) < 0.03,
    when=lecture,
    d_loss=hist.d_loss[-1],
    g_loss=hist.g_loss[-1],
)

# %% [markdown]
# Now the samples, and a number for mode coverage: a nearest-neighbour classifier trained on the labelled training
# moons tells which moon each generated event lies on. The data have half their events on each.

# %%
from sklearn.neighbors import KNeighborsClassifier

which_moon = KNeighborsClassifier(n_neighbors=5).fit(x_train, moon_train)


def plot_samples(samples: dict[str, np.ndarray]) -> None:
    """Generated events over the test sample, one panel per generator."""
    fig, axes = plt.subplots(1, len(samples), figsize=(4.2 * len(samples), 3.8), sharex=True, sharey=True)
    for ax, (name, s) in zip(np.atleast_1d(axes), samples.items(), strict=True):
        ax.scatter(*x_test.T, s=1, alpha=0.3, color="grey", label="test sample")
        ax.scatter(*s.T, s=1, alpha=0.4, label="generated")
        on_first = np.mean(which_moon.predict(s) == 0)
        ax.set_title(f"{name}\n{on_first:.0%} on moon 0")
        ax.set_xlabel("$x_1$")
        ax.set_xlim(-2.5, 2.5)
        ax.set_ylim(-2.5, 2.5)
    np.atleast_1d(axes)[0].set_ylabel("$x_2$")
    np.atleast_1d(axes)[0].legend(markerscale=5, loc="lower left")


gan_samples = {"GAN": gan.sample(n_test).cpu().numpy()}
plot_samples(gan_samples)
plt.show()

from sklearn.neighbors import NearestNeighbors

test_neighbours = NearestNeighbors(n_neighbors=1).fit(x_test)


def off_moons(sample: np.ndarray, distance: float = 0.2) -> float:
    """Share of events farther than `distance` (standardised units) from every test event: between or off the moons."""
    return float(np.mean(test_neighbours.kneighbors(sample)[0][:, 0] > distance))


print(f"events off the moons: GAN {off_moons(gan_samples['GAN']):.1%}, correct {off_moons(samplers['correct']):.1%}")

# %% [markdown]
# What to look for: the generator is a *continuous* map from a connected noise space, so it cannot cut its output
# into two separate moons. It either leaves a thin bridge of events between them or drops part of a moon. When it
# puts too few events on one moon, or covers one moon only, that is **mode collapse**: nothing in the game rewards
# covering every mode, and the generator can hop from one region where the discriminator is fooled to the next.
# Always look at mode fractions and two-sample metrics, not at the losses. In the `lecture` run the GAN puts many
# times more of its events off the moons than a correct sample does (printed above): the bridges. Two common remedies
# (not used here) are the Wasserstein GAN ([arXiv:1701.07875](https://arxiv.org/abs/1701.07875)), whose critic gives
# useful gradients everywhere, and feeding the discriminator whole mini-batches.

# %% tags=["claim"]
claim(
    "in the lecture run the GAN puts many times more of its events off the moons than a correct sample does",
    off_moons(gan_samples["GAN"]) > 3 * off_moons(samplers["correct"]),
    when=lecture,
    gan=off_moons(gan_samples["GAN"]),
    correct=off_moons(samplers["correct"]),
)

# %% [markdown]
# ## Variational autoencoders
#
# A VAE is a *latent variable model*: draw $z \sim p(z) = \mathcal N(0, 1)$, then $x \sim p_\theta(x \mid z)$, here a
# Gaussian whose mean is a decoder network $\mu_\theta(z)$ and whose width $\sigma_x$ is learned. Its density
# $p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, dz$ is an intractable integral. An encoder network gives a Gaussian
# $q_\phi(z \mid x) = \mathcal N(\mu_\phi(x), \sigma_\phi^2(x))$ that approximates the posterior $p_\theta(z \mid x)$,
# and then
# $$ \log p_\theta(x) = \underbrace{\mathbb{E}_{q_\phi(z \mid x)}\big[\log p_\theta(x \mid z)\big]
#    - \mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big)}_{\text{ELBO}}
#    + \mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x)\big) \;\ge\; \text{ELBO} , $$
# because a KL divergence is never negative. Training maximises the ELBO over $\theta$ and $\phi$ together. The two
# terms are the two halves of an autoencoder (seed 003): a reconstruction term, for a Gaussian decoder
# $$ -\log p_\theta(x \mid z) = \sum_{i} \left[ \frac{(x_i - \mu_{\theta,i}(z))^2}{2\sigma_{x,i}^2}
#    + \log \sigma_{x,i} + \tfrac12 \log 2\pi \right] , $$
# the mean squared error of the seed's code up to scale and constants; and a KL term that keeps the codes close to
# the prior, in closed form for Gaussians (with $\log \sigma^2$ called `logvar`):
# $$ \mathrm{KL}\big(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, 1)\big)
#    = \tfrac12 \sum_j \left( \mu_j^2 + \sigma_j^2 - \log \sigma_j^2 - 1 \right) . $$
# The β-VAE loss is $-\text{ELBO}_\beta = $ reconstruction $+\, \beta \cdot$ KL; only $\beta = 1$ is a bound on
# $-\log p(x)$.
#
# **The reparameterisation trick.** The expectation over $q_\phi$ is estimated with one draw of $z$ per event. A draw
# made by a random number generator has no derivative with respect to $\phi$. Writing it as
# $z = \mu_\phi(x) + \sigma_\phi(x)\, \varepsilon$ with $\varepsilon \sim \mathcal N(0, 1)$ moves the randomness into
# $\varepsilon$, and $z$ becomes a differentiable function of the encoder's outputs.

# %% [markdown] tags=["question"] name="reparameterize" points=2
# **Exercise 3.** Write `reparameterize(mu, logvar)`: both are tensors of shape `(n, n_latent)`, the mean and
# $\log\sigma^2$ of $q(z \mid x)$. Return a draw $z$ of the same shape from $\mathcal N(\mu, \sigma^2)$ through which
# gradients flow back to `mu` and `logvar`.


# %% tags=["solution"]
def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, 1); shapes (n, n_latent)."""
    # BEGIN SOLUTION
    eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps
    # END SOLUTION
    # HINT: draw eps with torch.randn_like(mu), then scale it by sigma = exp(logvar / 2) and add mu.


# %% tags=["wrong"]
# WRONG: samples the distribution directly, so no gradient reaches the encoder
# EXPECT: no gradient reaches mu and logvar
def reparameterize(mu, logvar):
    return torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample()


# %% tags=["wrong"]
# WRONG: the trick inside torch.no_grad(), which cuts the graph just the same
# EXPECT: do not sample inside torch.no_grad()
def reparameterize(mu, logvar):
    with torch.no_grad():
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


# %% tags=["wrong"]
# WRONG: scales the noise by the variance exp(logvar) instead of the standard deviation
# EXPECT: the standard deviation is exp(logvar / 2)
def reparameterize(mu, logvar):
    return mu + torch.exp(logvar) * torch.randn_like(mu)


# %% tags=["mutants"]
# EQUIVALENT L2:11 Add->Sub: mu - sigma * eps is the same draw, since -eps is standard normal too; dz/dmu = 1 and
#   dz/dlogvar = (z - mu) / 2 still hold

# %% tags=["check"]
checks.reparameterize(reparameterize)

# %% tags=["check", "hidden"]
checks.reparameterize(reparameterize, seed=303)

# %% [markdown] tags=["question"] name="negative_elbo" points=3
# **Exercise 4.** Write `negative_elbo(x, x_mean, log_sigma_x, mu, logvar, beta)`, the loss of one event each:
# `x` and the decoder mean `x_mean` have shape `(n, n_features)`, `log_sigma_x` (the decoder's $\log\sigma_x$ per
# feature) shape `(n_features,)`, and `mu`, `logvar` of $q(z \mid x)$ shape `(n, n_latent)`. Return a tensor of shape
# `(n,)`: the Gaussian negative log-likelihood of `x` (with its $\frac12\log 2\pi$ constants) plus `beta` times the
# KL term.


# %% tags=["solution"]
def negative_elbo(x, x_mean, log_sigma_x, mu, logvar, beta: float) -> torch.Tensor:
    """-ELBO_beta per event, shape (n,): Gaussian NLL of x given the decoder + beta * KL(q(z|x) || N(0, 1))."""
    # BEGIN SOLUTION
    sigma = torch.exp(log_sigma_x)
    nll = (0.5 * ((x - x_mean) / sigma) ** 2 + log_sigma_x + 0.5 * np.log(2 * np.pi)).sum(dim=1)
    kl = 0.5 * (mu**2 + torch.exp(logvar) - logvar - 1).sum(dim=1)
    return nll + beta * kl
    # END SOLUTION
    # HINT: sum over features of (x - x_mean)^2 / (2 sigma^2) + log sigma + log(2 pi)/2, then add beta * KL.


# %% tags=["wrong"]
# WRONG: subtracts the KL term, rewarding codes far from the prior
# EXPECT: the KL term has the wrong sign
def negative_elbo(x, x_mean, log_sigma_x, mu, logvar, beta):
    sigma = torch.exp(log_sigma_x)
    nll = (0.5 * ((x - x_mean) / sigma) ** 2 + log_sigma_x + 0.5 * np.log(2 * np.pi)).sum(dim=1)
    return nll - beta * 0.5 * (mu**2 + torch.exp(logvar) - logvar - 1).sum(dim=1)


# %% tags=["wrong"]
# WRONG: reads logvar as log sigma
# EXPECT: logvar is log sigma^2, not log sigma
def negative_elbo(x, x_mean, log_sigma_x, mu, logvar, beta):
    sigma = torch.exp(log_sigma_x)
    nll = (0.5 * ((x - x_mean) / sigma) ** 2 + log_sigma_x + 0.5 * np.log(2 * np.pi)).sum(dim=1)
    return nll + beta * 0.5 * (mu**2 + torch.exp(2 * logvar) - 2 * logvar - 1).sum(dim=1)


# %% tags=["wrong"]
# WRONG: the mean squared error instead of the Gaussian likelihood with its width and constants
# EXPECT: the reconstruction term is the squared error
def negative_elbo(x, x_mean, log_sigma_x, mu, logvar, beta):
    mse = ((x - x_mean) ** 2).mean(dim=1)
    return mse + beta * 0.5 * (mu**2 + torch.exp(logvar) - logvar - 1).sum(dim=1)


# %% tags=["mutants"]
# EQUIVALENT L2:19 swap operands of Sub: ((x_mean - x) / sigma)^2 = ((x - x_mean) / sigma)^2

# %% tags=["check"]
checks.negative_elbo(negative_elbo)

# %% tags=["check", "hidden"]
checks.negative_elbo(negative_elbo, seed=404)

# %% [markdown]
# `mlmc_course.models.vae.VAE` puts these pieces together (a 2-dimensional latent space, a learned decoder width)
# and trains with the shared loop `fit` on `vae_loss`, its mean $-\text{ELBO}_\beta$. We train three VAEs that differ
# only in $\beta$.

# %%
from mlmc_course.models.vae import VAE, vae_loss
from mlmc_course.training import fit, to_tensors

betas = (0.1, 1.0, 5.0)
vaes, vae_seconds = {}, {}
train_tensors = to_tensors(x_train, device=cfg.device)
for beta in betas:
    torch.manual_seed(cfg.seed)
    vaes[beta] = VAE(2, n_latent=2, beta=beta).to(cfg.device)
    start = time.process_time()
    budget = {"epochs": vae_epochs, "batch_size": 256, "lr": 3e-3, "seed": cfg.seed}
    fit(vaes[beta], vae_loss, train_tensors, desc=f"VAE, beta = {beta}", **budget)
    vae_seconds[beta] = time.process_time() - start
    sigma_x = torch.exp(vaes[beta].log_sigma_x).detach().cpu().numpy()
    print(f"beta = {beta}: {vae_seconds[beta]:.1f} s CPU, learned decoder width sigma_x = {sigma_x.round(3)}")

# %%
vae_samples = {f"VAE, beta = {b}": v.sample(n_test).cpu().numpy() for b, v in vaes.items()}
plot_samples(vae_samples)
plt.show()

# %% [markdown]
# What to look for. With small $\beta$ the codes $q(z \mid x)$ may wander away from the prior; the decoder is
# sharp, but sampling $z \sim \mathcal N(0, 1)$ also visits codes the decoder never saw. With large $\beta$ the KL
# term wins: the codes collapse onto the prior, carry little information about $x$, and the decoder explains the
# data by a wide $\sigma_x$ (printed above): blurred moons. $\beta = 1$ is the honest likelihood bound; whether it
# also gives the best samples the metrics below decide. (In the `lecture` run; in `ci` mode the VAEs have trained for
# too few steps for $\beta$ to show.)

# %% tags=["claim"]
sigma_x = {b: float(torch.exp(v.log_sigma_x).mean()) for b, v in vaes.items()}
claim(
    "with small beta the decoder is sharp; with large beta it explains the data by a wide sigma_x",
    sigma_x[0.1] < 0.1 and sigma_x[5.0] > 5 * sigma_x[0.1],
    when=lecture,
    **{f"sigma_x_beta_{b}": v for b, v in sigma_x.items()},
)

# %% [markdown]
# ## GAN against VAE
#
# The same metrics as for the broken samplers, for every model trained above, with the training time on this
# machine. The VAE also has a likelihood: its ELBO bounds $\log p(x)$ from below, and the importance-weighted
# average over $K$ codes (`VAE.log_prob`, [arXiv:1509.00519](https://arxiv.org/abs/1509.00519)) tightens the bound
# as $K$ grows. The GAN has none. Lesson 07 gives exact likelihoods, and lesson 08 puts all generators of the course in
# one table.

# %%
from mlmc_course.metrics.samples import held_out_log_likelihood

rows = {}
for name, s in {**gan_samples, **vae_samples}.items():
    rows[name] = sample_metrics(s)
    rows[name]["share on moon 0"] = float(np.mean(which_moon.predict(s) == 0))
rows["GAN"]["train CPU [s]"] = gan_seconds
for beta, secs in vae_seconds.items():
    rows[f"VAE, beta = {beta}"]["train CPU [s]"] = secs
    ll = held_out_log_likelihood(lambda x, c, v=vaes[beta]: v.log_prob(x, n_samples=64), x_test[:2000])
    rows[f"VAE, beta = {beta}"]["log p(x), K=64 [nats]"] = ll.value
comparison = pd.DataFrame(rows).T
comparison.style.format("{:.3f}", na_rep="—")

# %% [markdown]
# Compare each row with the broken samplers' table: which failure does each model resemble? A GAN can look sharp and
# still score badly on the C2ST because of its bridges or a missing share of a mode; a VAE with a large $\beta$ looks
# like the "too wide" opposite of our too-narrow sampler, and in the `lecture` run it has the worst AUC of all. The
# log-likelihood column is in nats per event; higher is better, and it is an estimate of a lower bound, so compare it
# with lesson 07's exact values with that in mind.

# %% tags=["claim"]
aucs = comparison["C2ST AUC"]
claim(
    "in the lecture run the GAN scores badly on the C2ST and the VAE with the largest beta has the worst AUC of all",
    aucs["GAN"] > 0.7 and aucs.idxmax() == "VAE, beta = 5.0",
    when=lecture,
    **{name.replace(", beta = ", "_beta_").replace(" ", "_"): value for name, value in aucs.items()},
)

# %% [markdown]
# ## Summary
#
# - A generated sample is judged against held-out data, not by its training loss. The classifier two-sample test
#   (AUC with its spread; 0.5 is perfect) catches shifts, wrong widths and missing modes; Wasserstein distances give
#   a size in the units of the data; the MMD depends on its kernel width.
# - A GAN minimises (a bound related to) the Jensen-Shannon divergence through a two-player game; use the
#   non-saturating generator loss; watch for mode collapse and the bridges a continuous generator draws between
#   separate modes.
# - A VAE maximises the ELBO, a lower bound on $\log p(x)$: reconstruction plus KL, made differentiable by the
#   reparameterisation trick; $\beta$ trades sharp reconstructions for codes that match the prior.
# - Neither gives an exact likelihood; normalizing flows (lesson 07) do, and lessons 07 and 08 also generate the
#   mass and $\tau_{32}$ of top and QCD jets.
#
# ## Further reading
#
# - I. Goodfellow et al., *Generative adversarial networks*, [arXiv:1406.2661](https://arxiv.org/abs/1406.2661).
# - D. P. Kingma and M. Welling, *Auto-encoding variational Bayes*, [arXiv:1312.6114](https://arxiv.org/abs/1312.6114);
#   *An introduction to variational autoencoders*, [arXiv:1906.02691](https://arxiv.org/abs/1906.02691).
# - M. Paganini, L. de Oliveira, B. Nachman, *CaloGAN*, [arXiv:1705.02355](https://arxiv.org/abs/1705.02355).
# - ATLAS Collaboration, *AtlFast3: the next generation of fast simulation in ATLAS*,
#   [arXiv:2109.02551](https://arxiv.org/abs/2109.02551).
# - D. Lopez-Paz and M. Oquab, *Revisiting classifier two-sample tests*,
#   [arXiv:1610.06545](https://arxiv.org/abs/1610.06545).
# - M. Arjovsky, S. Chintala, L. Bottou, *Wasserstein GAN*, [arXiv:1701.07875](https://arxiv.org/abs/1701.07875).
# - C. Krause et al., *CaloChallenge 2022: a community challenge for fast calorimeter simulation*,
#   [arXiv:2410.21611](https://arxiv.org/abs/2410.21611).

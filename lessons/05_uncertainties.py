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
# # 05 · Uncertainties: ensembles and Bayesian networks
#
# A network that replaces part of an event generator (an amplitude in lesson 10, a PDF in lesson 11) must say how
# far to trust it. This lesson builds the three standard answers on a regression whose truth we know, and then
# *measures* whether their error bars mean what they claim.
#
# **You will**
# - derive the Gaussian negative log-likelihood with a learned variance, and see why its log-variance term matters;
# - split a prediction's uncertainty into an aleatoric part (noise in the data) and an epistemic part (what the
#   network does not know), with a deep ensemble and the law of total variance;
# - train a Bayesian neural network with tensorflow-probability's `DenseFlipout` layers and read its loss (the ELBO);
# - measure the coverage of 68% and 95% intervals and draw a calibration plot, inside the training range, in a gap
#   of it, and outside it.
#
# **Prerequisites:** lesson 01 (the mean squared error as a Gaussian likelihood); Keras at the level of
# `Sequential`, `compile` and `fit`.
# **Time:** about 75 minutes.
# **Sources:** seed lecture 000 (uncertainty estimation: ensembles and Bayesian networks). Papers: deep ensembles,
# [arXiv:1612.01474](https://arxiv.org/abs/1612.01474); Bayesian networks in particle physics,
# [arXiv:1904.10004](https://arxiv.org/abs/1904.10004) and [arXiv:2003.11099](https://arxiv.org/abs/2003.11099);
# aleatoric versus epistemic, [arXiv:1703.04977](https://arxiv.org/abs/1703.04977).
#
# This lesson uses **TensorFlow with tensorflow-probability** (the Bayesian layers live there); the later lessons
# use PyTorch. The ensemble arithmetic and the coverage are NumPy, in `mlmc_course.uncertainty`, and serve both.

# %% [markdown]
# ## Two kinds of uncertainty
#
# Suppose a measurement $y$ at a point $x$ scatters around a true function, $y = f(x) + \varepsilon$ with
# $\varepsilon \sim \mathcal N(0, \sigma^2(x))$. A network trained on $N$ such points is uncertain for two reasons:
#
# - **aleatoric**: even the true $f$ does not predict a single $y$; the spread $\sigma(x)$ is in the data and does
#   not shrink with more of it (think of a detector resolution, or Monte Carlo noise in the training targets);
# - **epistemic**: the network's $f_\theta$ is one of many functions that fit $N$ points; where the data are dense
#   they agree, where there are none (a gap, or beyond the training range) they need not. This part falls as
#   $N$ grows.
#
# Seed 000 names the two methods used for the second kind in event-generator work: **ensembles** (MadNIS quotes
# its errors that way) and **Bayesian neural networks**.

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tensorflow-probability's layers need Keras 2 (tf-keras)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ start-up messages

import numpy as np
from scipy import stats
import matplotlib.pyplot as plt
import tensorflow as tf
import tensorflow_probability as tfp

import mlmc_course
from mlmc_course import uncertainty
from mlmc_course.checks import l05_uncertainties as checks

cfg = mlmc_course.setup(MODE)

# %% [markdown]
# The sizes for this run. Small networks on a few hundred points train faster on one CPU thread than on several
# that compete for the cores, so we ask TensorFlow for one. What the text below says about the results describes a
# `lecture` run (the claims in the solution notebook check it there); in the `ci` mode, made for the automatic tests,
# the networks are barely trained and their error bars mean little.

# %%
n_train = cfg.pick(ci=300, lecture=1000, full=5000)
epochs = cfg.pick(ci=15, lecture=100, full=300)
n_members = cfg.pick(ci=2, lecture=5, full=10)
bnn_epochs = cfg.pick(ci=20, lecture=300, full=1000)
n_weight_samples = cfg.pick(ci=20, lecture=100, full=200)
n_test = cfg.pick(ci=1_000, lecture=5_000, full=50_000)
batch_size = 128
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
print(f"{n_train} training points, {n_members} ensemble members, {epochs} epochs each; BNN: {bnn_epochs} epochs")

# %% [markdown]
# ## A regression with known truth
#
# `uncertainty.GapToy` draws $y = \sin(2.5x) + 0.3x + \varepsilon$ with noise $\sigma(x) = 0.05 + 0.075|x|$ that grows
# away from zero (*heteroscedastic*). Training points fill $-2 < x < 2$ except a gap, $0.2 < x < 1$. Held-out
# points come from three regions: the training range, the gap, and beyond the range.

# %%
toy = uncertainty.GapToy()
x_train, y_train = toy.sample(n_train, seed=cfg.seed)
test = {
    region: toy.sample(n_test, seed=cfg.seed + i + 1, where=region)
    for i, region in enumerate(("train", "gap", "outside"))
}
x_plot = np.linspace(toy.low - 1, toy.high + 1, 400)


def shade_regions(ax, label: bool = False):
    """Grey out the gap and the region beyond the training range (with legend entries when ``label``)."""
    ax.axvspan(*toy.gap, color="grey", alpha=0.15, lw=0, label="gap in the training data" if label else None)
    ax.axvspan(x_plot[0], toy.low, color="grey", alpha=0.3, lw=0, label="beyond the training range" if label else None)
    ax.axvspan(toy.high, x_plot[-1], color="grey", alpha=0.3, lw=0)


fig, ax = plt.subplots()
shade_regions(ax, label=True)
ax.plot(x_train, y_train, ".", ms=3, alpha=0.5, label=f"{n_train} training points")
uncertainty.band_plot(ax, x_plot, toy.truth(x_plot), toy.noise(x_plot), label=r"truth $f(x) \pm \sigma(x)$", color="k")
ax.set_xlabel("input $x$")
ax.set_ylabel("target $y$")
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# ## Aleatoric uncertainty: a network that predicts its own error bar
#
# Let the network output two numbers per point, a mean $\mu_\theta(x)$ and $s_\theta(x) = \ln\sigma^2_\theta(x)$
# (the logarithm keeps the variance positive and the optimisation well scaled). The likelihood of one point is
# $\mathcal N(y; \mu, \sigma^2)$, so the loss to minimise is the mean negative log-likelihood
# $$ \mathcal L = \frac1N \sum_i \left[ \frac12 \ln 2\pi + \frac12 s_\theta(x_i)
#    + \frac{(y_i - \mu_\theta(x_i))^2}{2\, e^{s_\theta(x_i)}} \right] . $$
# With $\sigma$ fixed, only the last term varies and this is the mean squared error of lesson 01. With $\sigma$
# learned, the two $\sigma$ terms pull against each other: the last wants a large variance, the middle one
# charges for it. At fixed residual $r = y - \mu$, setting $\partial\mathcal L/\partial s = 0$ gives
# $e^{s} = r^2$: the variance learns the squared residual, locally averaged.

# %% [markdown] tags=["question"] name="gaussian_nll" points=2
# **Exercise 1.** Write `gaussian_nll(y, mean, log_var)`: three NumPy arrays of shape `(n,)`; return the mean
# negative log-likelihood per point as a float (you may keep or drop the constant $\frac12\ln 2\pi$).


# %% tags=["solution"]
def gaussian_nll(y: np.ndarray, mean: np.ndarray, log_var: np.ndarray) -> float:
    """Mean Gaussian NLL per point; y, mean and log_var (the log of the variance) have shape (n,)."""
    # BEGIN SOLUTION
    return float(np.mean(0.5 * log_var + 0.5 * (y - mean) ** 2 * np.exp(-log_var)))
    # END SOLUTION
    # HINT: -ln N(y; mu, s2) = 0.5 ln(2 pi) + 0.5 ln s2 + (y - mu)^2 / (2 s2), with the variance s2 = exp(log_var).


# %% tags=["wrong"]
# WRONG: the squared residual over the variance without the log-variance term
# EXPECT: the 0.5 * log_var term is missing
def gaussian_nll(y, mean, log_var):
    return float(np.mean(0.5 * (y - mean) ** 2 * np.exp(-log_var)))


# %% tags=["wrong"]
# WRONG: summed over points instead of averaged
# EXPECT: you summed over points
def gaussian_nll(y, mean, log_var):
    return float(np.sum(0.5 * log_var + 0.5 * (y - mean) ** 2 * np.exp(-log_var)))


# %% tags=["mutants"]
# EQUIVALENT L1:48 swap operands of Sub: (mean - y)^2 = (y - mean)^2

# %% tags=["check"]
checks.gaussian_nll(gaussian_nll)

# %% tags=["check", "hidden"]
checks.gaussian_nll(gaussian_nll, seed=105)

# %% [markdown]
# Without the $\frac12 s$ term the loss can always be lowered by making $\sigma$ larger, and the network learns
# error bars that grow without limit. The course's Keras version of the loss is
# `uncertainty.gaussian_nll_keras` (the same formula in TensorFlow operations). We use it below.
#
# The network: two hidden ReLU layers. The first layer's biases start spread over the input range, so that each
# unit's kink (where its ReLU switches on) starts at a different $x$; different seeds then give visibly different
# functions where there are no data, which the ensemble below relies on. The learning rate decays to zero along a
# cosine, so that training ends in a minimum rather than bouncing around it (members that are still bouncing
# disagree even where the data are dense, and inflate the epistemic part there).


# %%
def gaussian_network(seed: int, width: int = 64) -> tf.keras.Model:
    """Train a network x -> (mean, log variance) on the training points with the Gaussian NLL."""
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(1,)),
            tf.keras.layers.Dense(
                width,
                activation="relu",
                kernel_initializer="he_normal",
                bias_initializer=tf.keras.initializers.RandomUniform(-2.0, 2.0),
            ),
            tf.keras.layers.Dense(width, activation="relu", kernel_initializer="he_normal"),
            tf.keras.layers.Dense(2),
        ]
    )
    compile_and_fit(model, epochs)
    return model


def compile_and_fit(model: tf.keras.Model, n_epochs: int) -> None:
    """Adam with a cosine-decaying learning rate on the Gaussian NLL, then training on the training points."""
    n_steps = n_epochs * int(np.ceil(n_train / batch_size))
    schedule = tf.keras.optimizers.schedules.CosineDecay(5e-3, decay_steps=n_steps)
    model.compile(optimizer=tf.keras.optimizers.Adam(schedule), loss=uncertainty.gaussian_nll_keras)
    model.fit(x_train[:, None], y_train, epochs=n_epochs, batch_size=batch_size, verbose=0)


def predict_gaussian(model: tf.keras.Model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's mean and variance at x, each of shape (n,)."""
    out = model(x[:, None].astype(np.float32), training=False).numpy()
    return out[:, 0].astype(float), np.exp(out[:, 1].astype(float))


import time

start = time.process_time()
single = gaussian_network(cfg.seed)
member_seconds = [time.process_time() - start]  # CPU time, robust on a busy machine
mean_single, var_single = predict_gaussian(single, x_plot)

fig, ax = plt.subplots()
shade_regions(ax)
ax.plot(x_plot, toy.truth(x_plot), "k--", label="truth $f(x)$")
uncertainty.band_plot(ax, x_plot, mean_single, np.sqrt(var_single), label=r"one network, $\mu \pm \sigma$")
ax.set_xlabel("input $x$")
ax.set_ylabel("target $y$")
ax.set_ylim(-3, 3)
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# Inside the training range the band follows the true noise. In the gap and beyond the range the network still
# reports only the noise it learned nearby, however wrong its mean is there (beyond the range, by many of its own
# $\sigma$; the claim cell below prints the median miss per region): an aleatoric error bar has no way to say
# "I have not seen data here".

# %% tags=["claim"]
from mlmc_course.claims import claim

lecture = cfg.mode == "lecture"
x_in, _ = test["train"]
mean_in, var_in = predict_gaussian(single, x_in)
noise_ratio = float(np.median(np.sqrt(var_in) / toy.noise(x_in)))
claim(
    "inside the training range the band follows the true noise", 0.8 < noise_ratio < 1.25, when=lecture,
    median_predicted_over_true_sigma=noise_ratio,
)  # fmt: skip
miss = {}
for region in ("train", "gap", "outside"):
    x_region, _ = test[region]
    mean_region, var_region = predict_gaussian(single, x_region)
    miss[region] = float(np.median(np.abs(mean_region - toy.truth(x_region)) / np.sqrt(var_region)))
print("median |mean - truth| in units of the network's own sigma:", {k: round(v, 2) for k, v in miss.items()})
claim(
    "beyond the range the network's mean is wrong by many of its own sigma", miss["outside"] > 3, when=lecture,
    **{f"median_miss_{region}": value for region, value in miss.items()},
)  # fmt: skip

# %% [markdown]
# ## Epistemic uncertainty I: a deep ensemble
#
# Train $M$ copies of the network from different random starts (seeds) and treat them as equally likely
# explanations of the data. Their predictions form a mixture of Gaussians whose mean and variance follow from the
# law of total variance:
# $$ \bar\mu(x) = \frac1M\sum_m \mu_m(x), \qquad
#    \sigma^2_\text{tot}(x) = \underbrace{\frac1M\sum_m \sigma_m^2(x)}_\text{aleatoric}
#    + \underbrace{\frac1M\sum_m \big(\mu_m(x) - \bar\mu(x)\big)^2}_\text{epistemic} . $$
# Where the data pin the function down, the members agree and the epistemic term is small; where they do not, the
# members go their own ways ([arXiv:1612.01474](https://arxiv.org/abs/1612.01474)).

# %% [markdown] tags=["question"] name="ensemble_predict" points=2
# **Exercise 2.** Write `ensemble_predict(make_member, x, n_members)`. `make_member(seed)` builds (trains) one
# member and returns its `predict` function, and `predict(x)` returns `(mean, variance)`, two arrays of shape
# `(n,)`. Build `n_members` members, evaluate each once at `x`, and return the tuple `(mean, total_variance)`.


# %% tags=["solution"]
def ensemble_predict(make_member, x: np.ndarray, n_members: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and total variance, each (n,), of an ensemble of Gaussian predictors built by make_member(seed)."""
    # BEGIN SOLUTION
    outputs = [make_member(seed)(x) for seed in range(n_members)]
    means = np.stack([mean for mean, _ in outputs])
    variances = np.stack([var for _, var in outputs])
    return means.mean(axis=0), variances.mean(axis=0) + means.var(axis=0)
    # END SOLUTION
    # HINT: give every member its own seed; total variance = mean of the variances + variance of the means.


# %% tags=["wrong"]
# WRONG: every member gets the same seed, so they are identical and the epistemic part vanishes
# EXPECT: members that share a seed are identical copies
def ensemble_predict(make_member, x, n_members):
    outputs = [make_member(0)(x) for _ in range(n_members)]
    means = np.stack([m for m, _ in outputs])
    variances = np.stack([v for _, v in outputs])
    return means.mean(axis=0), variances.mean(axis=0) + means.var(axis=0)


# %% tags=["wrong"]
# WRONG: only the mean of the variances (aleatoric), no spread of the means
# EXPECT: your variance is the mean of the members' variances only
def ensemble_predict(make_member, x, n_members):
    outputs = [make_member(seed)(x) for seed in range(n_members)]
    return np.mean([m for m, _ in outputs], axis=0), np.mean([v for _, v in outputs], axis=0)


# %% tags=["check"]
checks.ensemble_predict(ensemble_predict)

# %% tags=["check", "hidden"]
checks.ensemble_predict(ensemble_predict, seed=205)

# %% [markdown]
# Now the real ensemble. The network above is its first member; we train the others with the next seeds and let
# `uncertainty.ensemble_predict` combine them (it returns the mean and both variances separately).

# %%
members = [single]
for m in range(1, n_members):
    start = time.process_time()
    members.append(gaussian_network(cfg.seed + m))
    member_seconds.append(time.process_time() - start)
member_predictors = [lambda x, model=model: predict_gaussian(model, x) for model in members]
ens_plot = uncertainty.ensemble_predict(member_predictors, x_plot)


def decomposition_plot(pred: uncertainty.EnsemblePrediction, name: str, color: str, members=()) -> None:
    """Left: truth, members and the total band; right: true noise against the aleatoric and epistemic parts."""
    fig, (ax, ax_err) = plt.subplots(1, 2, figsize=(11, 4))
    shade_regions(ax)
    ax.plot(x_plot, toy.truth(x_plot), "k--", label="truth $f(x)$")
    for i, model in enumerate(members):
        ax.plot(x_plot, predict_gaussian(model, x_plot)[0], lw=0.8, alpha=0.6, label="members" if i == 0 else None)
    uncertainty.band_plot(ax, x_plot, pred.mean, pred.std, label=rf"{name}, $\bar\mu \pm \sigma_{{tot}}$", color=color)
    ax.set_xlabel("input $x$")
    ax.set_ylabel("target $y$")
    ax.set_ylim(-3, 3)
    ax.legend(loc="lower left")
    shade_regions(ax_err, label=True)
    ax_err.plot(x_plot, toy.noise(x_plot), "k--", label=r"true noise $\sigma(x)$")
    ax_err.plot(x_plot, np.sqrt(pred.aleatoric), label="aleatoric (mean of variances)")
    ax_err.plot(x_plot, np.sqrt(pred.epistemic), label="epistemic (spread of means)")
    ax_err.set_xlabel("input $x$")
    ax_err.set_ylabel(r"standard deviation of $y$")
    ax_err.legend(loc="upper center", fontsize="x-small")
    plt.show()


decomposition_plot(ens_plot, "ensemble", "C0", members)
# %% [markdown]
# Left: the thin lines are the members. Right: the aleatoric part tracks the true noise where there are data; the
# epistemic part is small there and grows in the gap and beyond the range, where the members disagree.

# %% tags=["claim"]
ens_region = {region: uncertainty.ensemble_predict(member_predictors, test[region][0]) for region in test}
epi = {region: float(np.median(np.sqrt(pred.epistemic))) for region, pred in ens_region.items()}
ale_ratio = float(np.median(np.sqrt(ens_region["train"].aleatoric) / toy.noise(test["train"][0])))
claim(
    "the aleatoric part tracks the true noise where there are data", 0.8 < ale_ratio < 1.25, when=lecture,
    median_aleatoric_over_true_sigma=ale_ratio,
)  # fmt: skip
claim(
    "the epistemic part is small where there are data and grows in the gap and beyond the range",
    epi["train"] < 0.3 * np.median(toy.noise(test["train"][0])) and min(epi["gap"], epi["outside"]) > 3 * epi["train"],
    when=lecture,
    **{f"median_epistemic_{region}": value for region, value in epi.items()},
)

# %% [markdown]
# ## Epistemic uncertainty II: a Bayesian neural network
#
# A Bayesian network puts a distribution on every weight. Bayes' theorem gives the posterior
# $p(w \mid D) \propto p(D \mid w)\, p(w)$, which is intractable; variational inference replaces it by a simple
# family $q_\phi(w)$ (independent Gaussians, two parameters per weight) and minimises
# $\mathrm{KL}\big(q_\phi(w) \,\|\, p(w \mid D)\big)$, which is the same as minimising the negative ELBO
# $$ -\mathrm{ELBO}(\phi) = \mathbb E_{w \sim q_\phi}\Big[ -\sum_{i=1}^N \ln p(y_i \mid x_i, w) \Big]
#    + \mathrm{KL}\big(q_\phi(w) \,\|\, p(w)\big) . $$
# Per training point that is our Gaussian NLL, averaged over sampled weights, plus $\mathrm{KL}/N$. Keras adds
# each layer's KL term to the loss, so we divide it by $N$ in the layer. `DenseFlipout`
# ([arXiv:1803.04386](https://arxiv.org/abs/1803.04386)) samples weights so that the examples in a batch see
# decorrelated perturbations, which makes the gradient of the first term less noisy. The prior is a unit Gaussian
# per weight (tensorflow-probability's default). To predict, we draw many weight samples and combine them exactly
# like ensemble members. We use narrower tanh layers here: with a thousand points the KL term is large for every
# extra weight, and in trials on this toy (made while writing the lesson, not repeated here) the tanh version fitted
# the data better than a ReLU one.

# %%
tfd = tfp.distributions


def bayesian_network(seed: int, width: int = 32) -> tf.keras.Model:
    """Train a DenseFlipout network x -> (mean, log variance) by minimising the negative ELBO per point."""
    tf.keras.utils.set_random_seed(seed)

    def kl_per_point(q, p, _):
        return tfd.kl_divergence(q, p) / n_train

    layers = [tf.keras.Input(shape=(1,))]
    for units, activation in ((width, "tanh"), (width, "tanh"), (2, None)):
        layers.append(tfp.layers.DenseFlipout(units, activation=activation, kernel_divergence_fn=kl_per_point))
    model = tf.keras.Sequential(layers)
    compile_and_fit(model, bnn_epochs)
    return model


import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # tfp layers use Keras's deprecated add_variable
    start = time.process_time()
    bnn = bayesian_network(cfg.seed)
    bnn_seconds = time.process_time() - start
print(
    f"CPU time: BNN {bnn_seconds:.1f} s, one ensemble member {np.mean(member_seconds):.1f} s on average "
    f"(ratio {bnn_seconds / np.mean(member_seconds):.1f})"
)


@tf.function(autograph=False)
def bnn_draw(inputs):
    """One forward pass with one fresh sample of all weights."""
    return bnn(inputs, training=False)


def predict_bayesian(x: np.ndarray, n_samples: int) -> uncertainty.EnsemblePrediction:
    """Mean, aleatoric and epistemic variance at x from n_samples draws of the weights."""
    inputs = tf.constant(x[:, None], dtype=tf.float32)
    outs = np.stack([bnn_draw(inputs).numpy() for _ in range(n_samples)]).astype(float)
    return uncertainty.ensemble_moments(outs[..., 0], np.exp(outs[..., 1]))


bnn_plot = predict_bayesian(x_plot, n_weight_samples)

decomposition_plot(bnn_plot, "BNN", "C2")

# %% [markdown]
# Compare with the ensemble. In the `lecture` run the Bayesian network's aleatoric band comes out wider than the
# true noise, and its epistemic band hardly changes between the data and the gap: with only a thousand points the
# KL term holds the weights close to their prior, and a mean-field posterior (independent Gaussian weights) cannot
# make the spread of its functions grow just between two clusters of data. Its training took the CPU time of
# several ensemble members (printed above: three times the epochs, and every step samples weights). Neither band is
# guaranteed to be right: that is a question we can only answer by measuring.

# %% tags=["claim"]
bnn_region = {region: predict_bayesian(test[region][0], n_weight_samples) for region in ("train", "gap")}
bnn_ale = float(np.median(np.sqrt(bnn_region["train"].aleatoric) / toy.noise(test["train"][0])))
bnn_epi = {region: float(np.median(np.sqrt(pred.epistemic))) for region, pred in bnn_region.items()}
claim(
    "in the lecture run the Bayesian network's aleatoric band comes out wider than the true noise",
    bnn_ale > 1.2, when=lecture, median_aleatoric_over_true_sigma=bnn_ale,
)  # fmt: skip
claim(
    "its epistemic band hardly changes between the data and the gap",
    bnn_epi["gap"] < 1.5 * bnn_epi["train"], when=lecture,
    median_epistemic_train=bnn_epi["train"], median_epistemic_gap=bnn_epi["gap"],
)  # fmt: skip
cost_ratio = bnn_seconds / np.mean(member_seconds)
claim("its training took the CPU time of several ensemble members", 2 < cost_ratio < 8, when=lecture, ratio=cost_ratio)

# %% [markdown]
# ## Coverage: do the error bars mean what they say?
#
# A model's central 68% interval at $x$ is $\mu(x) \pm z\,\sigma(x)$ with $z = \Phi^{-1}\big((1 + 0.68)/2\big)
# \approx 0.99$ ($\Phi$ the standard normal CDF); for 95%, $z \approx 1.96$. Its **coverage** is the fraction of
# held-out measurements $y$ that fall inside. A calibrated model covers 68% and 95%; less means its errors are
# too small (over-confident), more means they are too large.

# %% [markdown] tags=["question"] name="coverage" points=2
# **Exercise 3.** Write `coverage(y, mean, std, level)`: arrays of shape `(n,)` (measurements, predicted means and
# standard deviations) and a level such as `0.68`; return the fraction of points inside the central interval of
# probability `level` of $\mathcal N(\mathrm{mean}, \mathrm{std}^2)$. `scipy.stats` is imported as `stats`.


# %% tags=["solution"]
def coverage(y: np.ndarray, mean: np.ndarray, std: np.ndarray, level: float) -> float:
    """Fraction of y inside mean -+ z std, with z chosen so the interval holds probability level."""
    # BEGIN SOLUTION
    z = stats.norm.ppf(0.5 + level / 2)
    return float(np.mean(np.abs(y - mean) <= z * std))
    # END SOLUTION
    # HINT: a central interval leaves (1 - level) / 2 in each tail: z = stats.norm.ppf((1 + level) / 2).


# %% tags=["wrong"]
# WRONG: always counts points within one sigma, whatever the level
# EXPECT: you counted points within 1 sigma
def coverage(y, mean, std, level):
    return float(np.mean(np.abs(y - mean) <= std))


# %% tags=["wrong"]
# WRONG: a one-sided quantile, z = Phi^-1(level)
# EXPECT: a one-sided quantile
def coverage(y, mean, std, level):
    z = stats.norm.ppf(level)
    return float(np.mean(np.abs(y - mean) <= z * std))


# %% tags=["mutants"]
# EQUIVALENT L2:32 swap operands of Sub: |mean - y| = |y - mean|
# EQUIVALENT L2:25 LtE->Lt: |y - mean| < z std and <= z std differ only when they are equal, which has probability zero
#   for continuous y

# %% tags=["check"]
checks.coverage(coverage)

# %% tags=["check", "hidden"]
checks.coverage(coverage, seed=305)

# %% [markdown]
# Now we measure all three models on the held-out points of each region with `uncertainty.coverage`, which also
# gives the binomial error of each fraction.

# %%
predictions = {}
for region, (x_test, _) in test.items():
    mean, var = predict_gaussian(single, x_test)
    predictions["one network (aleatoric only)", region] = (mean, np.sqrt(var))
    ens = uncertainty.ensemble_predict(member_predictors, x_test)
    predictions[f"ensemble of {n_members}", region] = (ens.mean, ens.std)
    bay = predict_bayesian(x_test, n_weight_samples)
    predictions["Bayesian network", region] = (bay.mean, bay.std)

coverages = {
    key: {level: uncertainty.coverage(test[key[1]][1], mean, std, level) for level in (0.68, 0.95)}
    for key, (mean, std) in predictions.items()
}
rows = ["| model | region | 68% coverage | 95% coverage |", "|---|---|---|---|"]
for (model, region), cov in coverages.items():
    rows.append(
        f"| {model} | {region} | {cov[0.68].fraction:.3f} ± {cov[0.68].error:.3f} "
        f"| {cov[0.95].fraction:.3f} ± {cov[0.95].error:.3f} |"
    )
from IPython.display import Markdown

Markdown("\n".join(rows))

# %% [markdown]
# The same numbers as verdicts: a coverage counts as *close to nominal* when it is within three points plus twice
# its binomial error of the level. (In `ci` mode the networks are barely trained; read a `lecture` run.)

# %%
models = list(dict.fromkeys(model for model, _ in coverages))


def verdict(cov: uncertainty.Coverage) -> str:
    """Close to nominal, over-confident (too few points inside) or conservative (too many)."""
    if abs(cov.fraction - cov.level) <= 0.03 + 2 * cov.error:
        return "close to nominal"
    return "over-confident" if cov.fraction < cov.level else "conservative"


for model in models:
    print(model)
    for region in ("train", "gap", "outside"):
        cov = coverages[model, region]
        print(
            f"  {region:8s} 68%: {cov[0.68].fraction:6.1%} ({verdict(cov[0.68])}),  "
            f"95%: {cov[0.95].fraction:6.1%} ({verdict(cov[0.95])})"
        )

# %% [markdown]
# A calibration plot repeats the measurement for every level from 5% to 95% (with binomial error bars): a
# calibrated model lies on the diagonal; below it, the model is over-confident.

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
for ax, region in zip(axes, ("train", "gap", "outside"), strict=True):
    ax.plot([0, 1], [0, 1], ":", color="grey", label="calibrated")
    for model in models:
        mean, std = predictions[model, region]
        levels, observed = uncertainty.calibration_curve(test[region][1], mean, std)
        binomial = np.sqrt(observed * (1 - observed) / n_test)
        ax.errorbar(levels, observed, yerr=binomial, fmt="o-", ms=3, label=model)
    ax.set_title(f"held-out points: {region}")
    ax.set_xlabel("nominal level")
axes[0].set_ylabel("observed coverage")
axes[0].legend(loc="upper left")
plt.show()

# %% [markdown]
# What to look for in the table and the plots:
#
# - **Inside the training range** the aleatoric part does almost all the work, and it is learned well from a
#   thousand points: the single network and the ensemble should sit close to the diagonal. The Bayesian network
#   tends to be conservative there: with few points its KL term keeps the weights close to the prior, and the
#   fit is a little looser.
# - **In the gap** the single network is over-confident: its mean misses the truth by a large fraction of its own
#   $\sigma$ there, against a few tenths inside the range, so too few held-out points fall inside its band, and
#   nothing in its loss could have told it. The ensemble's epistemic band opens up there and restores much of
#   the coverage. Whether the Bayesian network's does depends on the run: mean-field variational inference is known
#   to give too little uncertainty *between* clusters of data
#   ([arXiv:1906.11537](https://arxiv.org/abs/1906.11537)).
# - **Outside the range** every model fails. The truth keeps oscillating while the networks extrapolate smoothly,
#   and no band built from the training data can know that. Seed 000 raises the same worry about PDFs
#   (lesson 11): extrapolation is where uncertainties are least trustworthy.
#
# Coverage measured on held-out data is the test of any uncertainty; we use it again for the surrogate ensemble in
# lesson 10 and the PDF replicas in lesson 11.

# %% tags=["claim"]
ensemble_name, single_name, bnn_name = f"ensemble of {n_members}", "one network (aleatoric only)", "Bayesian network"
verdicts = {key: {level: verdict(cov[level]) for level in cov} for key, cov in coverages.items()}
claim(
    "inside the training range the single network and the ensemble sit close to the diagonal",
    all(
        verdicts[name, "train"][lv] == "close to nominal"
        for name in (single_name, ensemble_name)
        for lv in (0.68, 0.95)
    ),
    when=lecture,
)
claim(
    "the Bayesian network is conservative inside the training range",
    all(verdicts[bnn_name, "train"][lv] == "conservative" for lv in (0.68, 0.95)),
    when=lecture,
)
claim(
    "in the gap the single network is over-confident: its mean misses by a large fraction of its sigma there",
    all(verdicts[single_name, "gap"][lv] == "over-confident" for lv in (0.68, 0.95))
    and miss["gap"] > 0.4
    and miss["train"] < 0.5
    and miss["gap"] > 1.5 * miss["train"],
    when=lecture,
    median_miss_gap=miss["gap"],
    median_miss_train=miss["train"],
)
claim(
    "the ensemble's epistemic band restores much of the coverage in the gap",
    coverages[ensemble_name, "gap"][0.68].fraction > coverages[single_name, "gap"][0.68].fraction + 0.15,
    when=lecture,
    ensemble=coverages[ensemble_name, "gap"][0.68].fraction,
    single=coverages[single_name, "gap"][0.68].fraction,
)
claim(
    "outside the range every model fails",
    all(verdicts[name, "outside"][lv] == "over-confident" for name in models for lv in (0.68, 0.95)),
    when=lecture,
)

# %% [markdown]
# ## Summary
#
# - A Gaussian likelihood with a learned variance gives an **aleatoric** error bar; its $\frac12\ln\sigma^2$ term
#   is what stops the variance from running away.
# - A **deep ensemble** adds an **epistemic** part, the spread of its members' means: total variance = mean of the
#   variances + variance of the means. Each member needs its own seed.
# - A **Bayesian network** learns a distribution over weights by minimising NLL + KL/N (the negative ELBO per
#   point); weight samples are combined like ensemble members.
# - **Coverage** on held-out points is the test: an error bar is only as good as its measured coverage, and the
#   hard places are gaps in the training data and, above all, extrapolation.
#
# ## Further reading
#
# - B. Lakshminarayanan, A. Pritzel, C. Blundell, *Simple and scalable predictive uncertainty estimation using deep
#   ensembles*, [arXiv:1612.01474](https://arxiv.org/abs/1612.01474).
# - A. Kendall, Y. Gal, *What uncertainties do we need in Bayesian deep learning for computer vision?*,
#   [arXiv:1703.04977](https://arxiv.org/abs/1703.04977).
# - C. Blundell et al., *Weight uncertainty in neural networks*, [arXiv:1505.05424](https://arxiv.org/abs/1505.05424);
#   Y. Wen et al., *Flipout*, [arXiv:1803.04386](https://arxiv.org/abs/1803.04386).
# - S. Bollweg et al., *Deep-learning jets with uncertainties and more*,
#   [arXiv:1904.10004](https://arxiv.org/abs/1904.10004).
# - G. Kasieczka et al., *Per-object systematics using deep-learned calibration*,
#   [arXiv:2003.11099](https://arxiv.org/abs/2003.11099).
# - A. Y. K. Foong, Y. Li, J. M. Hernández-Lobato, R. E. Turner, *'In-between' uncertainty in Bayesian neural
#   networks*, [arXiv:1906.11537](https://arxiv.org/abs/1906.11537).
# - A. Butter, T. Plehn, S. Schumann et al., *Machine learning and LHC event generation*,
#   [arXiv:2203.07460](https://arxiv.org/abs/2203.07460) (uncertainties of generative and regression networks).

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[20, 30]
# # 09 · Neural importance sampling (MadNIS)
#
# Every cross section an event generator quotes is an integral over phase space, and every event it writes is a
# point drawn from the integrand. Both jobs need a sampling density $g$ that follows the integrand $f$: the closer
# $g$ is to $f$, the smaller the Monte Carlo error per integrand call and the more events survive unweighting. This
# lesson builds such a density from a normalizing flow, the way MadNIS does, and shows why the answer stays exact
# however badly the network is trained: machine learning here can only cost efficiency, never correctness.
#
# **You will**
# - derive the variance of an importance-sampling estimate and write it as a training loss;
# - run VEGAS with the `vegas` package and see where an axis-by-axis grid fails;
# - train a spline flow as the sampler, start it from a VEGAS grid and reuse old samples (buffered training);
# - write the multi-channel estimate with channel weights, and learn those weights;
# - unweight events, judge the unweighting efficiency, and test that the estimate is unbiased.
#
# **Prerequisites:** lesson 00 (Monte Carlo errors), lesson 07 (normalizing flows, coupling blocks, splines).
# **Time:** about 90 minutes.
# **Sources:** seed lectures "Machine Learning for Event Generation" (MCnet 2023), "Machine Learning and MC
# Generators" (2025) and the generator working-group discussion of ML for event generation; MadNIS,
# [arXiv:2212.06172](https://arxiv.org/abs/2212.06172) and [arXiv:2311.01548](https://arxiv.org/abs/2311.01548);
# neural importance sampling, [arXiv:1808.03856](https://arxiv.org/abs/1808.03856); i-flow,
# [arXiv:2001.05486](https://arxiv.org/abs/2001.05486); flows in Sherpa,
# [arXiv:2001.05478](https://arxiv.org/abs/2001.05478) and [arXiv:2001.10028](https://arxiv.org/abs/2001.10028);
# VEGAS, G. P. Lepage, J. Comput. Phys. 27 (1978) 192.

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import matplotlib.pyplot as plt
import numpy as np
import torch

import mlmc_course
from mlmc_course.checks import l09_nis as checks

cfg = mlmc_course.setup(MODE)

# %% [markdown]
# ## Monte Carlo integration and its variance
#
# We want $I = \int_{[0,1]^d} f(x)\,dx$ for an integrand $f \ge 0$ (a squared matrix element times phase-space
# factors). Draw $x_1, \dots, x_n$ from a density $g$ on the same domain and average the **weights**
# $w = f/g$:
# $$ I = \int \frac{f(x)}{g(x)}\, g(x)\, dx = \Big\langle \frac{f}{g} \Big\rangle_{x\sim g}, \qquad
#    \hat I = \frac1n \sum_{k=1}^n \frac{f(x_k)}{g(x_k)}, \qquad
#    \sigma_{\hat I}^2 = \frac{\sigma^2}{n}, \quad
#    \sigma^2 = \mathrm{Var}_g\Big[\frac fg\Big] = \int \frac{f^2}{g}\,dx - I^2 . $$
# Uniform sampling is $g = 1$. The variance vanishes for $g = f/I$: every weight is then $I$. So the whole game is
# to find a $g$ that (i) we can sample from, (ii) whose value we know exactly at each sample, and (iii) is close to
# $f/I$. The figure of merit is the **relative standard deviation** $\sigma/I$: the error after $n$ calls is
# $(\sigma/I)/\sqrt n$ of the integral, whatever the dimension.
#
# Our test integrand is the **camel**: two Gaussians on the diagonal of the hypercube, at $(1/3, \dots)$ and
# $(2/3, \dots)$, a standard benchmark since i-flow. `mlmc_course.data.integrands` holds it and its exact integral.

# %%
from mlmc_course.data import integrands

n_uniform = cfg.pick(ci=20_000, lecture=200_000, full=2_000_000)
rng = np.random.default_rng(cfg.seed)
dims = [1, 2, 4, 8]
uniform_rel_std = []
for d in dims:
    camel = integrands.camel(d)
    w = camel(rng.uniform(size=(n_uniform, d)))  # g = 1, so the weights are f
    uniform_rel_std.append(w.std() / w.mean())
    print(
        f"camel d{d}: exact I = {camel.integral:.5f}, uniform estimate {w.mean():.5f} "
        f"+- {w.std() / np.sqrt(n_uniform):.5f}, relative std per call {uniform_rel_std[-1]:.2f}"
    )

# %%
fig, ax = plt.subplots()
ax.semilogy(dims, uniform_rel_std, "o-", label="uniform sampling")
ax.set_xlabel("dimension $d$")
ax.set_ylabel(r"relative standard deviation $\sigma / I$ per call")
ax.set_title("camel: peaks get relatively narrower as $d$ grows")
ax.legend()
plt.show()

# %% [markdown]
# The peaks fill a fraction of the volume that shrinks exponentially with $d$, and the relative standard deviation
# of uniform sampling grows with it. At $d = 8$ a per-mille error needs hundreds of millions of calls.
#
# ### The variance as a loss
#
# If $g = g_\theta$ is a network with parameters $\theta$, the variance
# $$ \sigma^2(\theta) = \int \frac{f^2}{g_\theta}\,dx - I^2 $$
# is a loss we can minimise. Its gradient is
# $$ \nabla_\theta \sigma^2 = -\int \frac{f^2}{g_\theta^2}\,\nabla_\theta g_\theta\,dx
#    = -\big\langle w^2\, \nabla_\theta \log g_\theta \big\rangle_{x\sim g_\theta}, \qquad w = \frac{f}{g_\theta}, $$
# and we never need the derivative of the integrand (a black box). The tempting estimate is the sample variance
# of the weights of a batch drawn from $g_\theta$, $\frac1n\sum_k (w_k - \bar w)^2$, differentiated with the points
# $x_k$ held fixed. Its value is right, its gradient is not: it is
# $-\frac2n\sum_k (w_k - \bar w)\, w_k\, \nabla_\theta \log g_\theta(x_k)$, whose expectation is
# $-2\langle w^2 \nabla\log g\rangle + 2I\langle w \nabla\log g\rangle \ne \nabla_\theta\sigma^2$. Holding the points
# fixed forgets that they were drawn from $g_\theta$: moving $\theta$ moves them too. The two gradients vanish at
# the same place ($g = f/I$, where every weight is $I$), but away from it the naive one points elsewhere.
#
# The fix (MadNIS, arXiv:2212.06172) writes the variance as an average over a density $q$ that does *not* depend
# on $\theta$ and then sets $q$ to a frozen copy of $g_\theta$:
# $$ \sigma^2(\theta) = \Big\langle \Big(\frac{f}{g_\theta} - I\Big)^2 \frac{g_\theta}{q} \Big\rangle_{x\sim q},
#    \qquad L = \frac1n \sum_k \Big(\frac{f_k}{g_k} - \hat I\Big)^2 \frac{g_k}{q_k}, $$
# with $q_k = g_k$ held without gradient and $\hat I = \frac1n\sum_k f_k/q_k$.
# At $q = g$ its value is the sample variance of the weights, and its gradient is
# $-\frac1n\sum_k (w_k^2 - \hat I^2)\,\nabla_\theta \log g_k$, whose expectation is $-\langle w^2 \nabla\log g\rangle$
# (because $\langle \nabla_\theta \log g_\theta \rangle_{g} = \nabla_\theta \int g_\theta = 0$): exactly
# $\nabla_\theta\sigma^2$.

# %% [markdown] tags=["question"] name="variance_loss" points=2
# **Exercise 1.** Write `variance_loss(f, g)`: `f` and `g` are torch tensors of shape `(n,)`, the integrand and the
# sampling density at points drawn from $g$; `g` carries gradients. Return the loss $L$ above as a 0-d torch
# tensor: its value is the variance of the weights $f/g$, and its gradient with respect to `g` is an unbiased
# estimate of $\nabla\sigma^2$ (use $q$ = `g.detach()`).


# %% tags=["solution"]
def variance_loss(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Variance of the importance weights f/g in the g/q form, so that its gradient estimates grad Var; f, g (n,)."""
    # BEGIN SOLUTION
    q = g.detach()  # the density that drew the points, frozen
    integral = (f / q).mean()
    return ((f / g - integral) ** 2 * g / q).mean()
    # END SOLUTION
    # HINT: q = g.detach(); I_hat = mean(f / q); return the mean of (f / g - I_hat)^2 * g / q.


# %% tags=["wrong"]
# WRONG: the batch variance of f/g with the points held fixed: the right value, but the gradient of the naive loss
# EXPECT: the naive gradient
def variance_loss(f, g):
    w = f / g
    return ((w - w.mean()) ** 2).mean()


# %% tags=["wrong"]
# WRONG: the variance of f instead of f/g (forgets to divide by the sampling density)
# EXPECT: you returned the variance of f
def variance_loss(f, g):
    return ((f - f.mean()) ** 2).mean() + 0 * g.sum()


# %% tags=["wrong"]
# WRONG: the mean of (f/g)^2 without subtracting the squared mean
# EXPECT: you returned the mean of (f/g)^2
def variance_loss(f, g):
    return ((f / g) ** 2).mean()


# %% tags=["wrong"]
# WRONG: computed in NumPy, so no gradient reaches g
# EXPECT: the loss does not depend on g through torch
def variance_loss(f, g):
    w = f.detach().numpy() / g.detach().numpy()
    return torch.tensor(w.var())


# %% tags=["check"]
checks.variance_loss(variance_loss)

# %% tags=["check", "hidden"]
checks.variance_loss(variance_loss, seed=91)

# %% [markdown]
# How far apart are the two gradients? Take a peak $f(x) = e^{-(x - 0.7)^2 / (2 \cdot 0.1^2)}$ on $[0, 1]$ and the
# one-parameter density $g_\theta(x) = 1 + \theta (x - \frac12)$ at $\theta = 0.5$. Their expectations are
# one-dimensional integrals, so a fine grid gives all three numbers: the exact $d\sigma^2/d\theta$, the expected
# gradient of the $g/q$ loss, and that of the naive one.

# %%
x_grid = np.linspace(0.0, 1.0, 200_001)
f_demo = np.exp(-((x_grid - 0.7) ** 2) / (2 * 0.1**2))
theta = 0.5
g_demo, dg_dtheta = 1 + theta * (x_grid - 0.5), x_grid - 0.5
i_demo = np.trapezoid(f_demo, x_grid)
exact_grad = -np.trapezoid(f_demo**2 / g_demo**2 * dg_dtheta, x_grid)  # d/dtheta of int f^2/g - I^2
w_demo, score = f_demo / g_demo, dg_dtheta / g_demo  # weights and d log g / d theta
gq_grad = -np.trapezoid((w_demo**2 - i_demo**2) * score * g_demo, x_grid)  # <-(w^2 - I^2) dlog g>_g
naive_grad = -2 * np.trapezoid((w_demo - i_demo) * w_demo * score * g_demo, x_grid)  # <-2 (w - I) w dlog g>_g
print(f"exact d sigma^2 / d theta: {exact_grad:+.4f}")
print(f"g/q loss, expected gradient: {gq_grad:+.4f}")
print(f"naive loss, expected gradient: {naive_grad:+.4f}  ({naive_grad / exact_grad:.2f} x the exact one)")

# %% tags=["claim"]
from mlmc_course.claims import claim

claim(
    "the g/q loss's expected gradient is the exact derivative of the variance, the naive one is not",
    abs(gq_grad / exact_grad - 1) < 1e-6 and abs(naive_grad / exact_grad - 1) > 0.2,
    exact=exact_grad,
    g_over_q=gq_grad,
    naive=naive_grad,
)

# %% [markdown]
# The naive gradient is off by the factor printed above (here it even points the right way): both vanish at
# $g \propto f$, so training on either can end there, but only the $g/q$ loss follows the variance downhill.

# %% [markdown]
# `mlmc_course.nis.variance_loss` is the version the package trains with: the same $g/q$ form, on log-densities
# (more stable) and divided by $\hat I^2$ (so the loss reads as $(\sigma/I)^2$). Because $q$ is any density that
# drew the points, the same formula trains on points drawn by an *older* $g$, which buffered training needs below.
#
# ## VEGAS and where it fails
#
# VEGAS (Lepage 1978) is the workhorse of event generators. It factorises the density,
# $g(x) = \prod_{i=1}^d g_i(x_i)$, and gives each $g_i$ many bins of equal probability whose widths adapt to the
# projection of $f^2$ on axis $i$; the `vegas` package adds stratified sampling on top. It is cheap and robust, but
# a separable $g$ cannot follow structure *off* the axes: for the camel, the product of two-peaked projections
# has $2^d$ peaks where $f$ has two.

# %%
import vegas

camel2 = integrands.camel(2)
integ = vegas.Integrator([[0, 1], [0, 1]], ran_array_generator=np.random.default_rng(cfg.seed).random)
training = integ(vegas.lbatchintegrand(camel2), nitn=10, neval=cfg.pick(ci=2_000, lecture=20_000, full=100_000))
print(training.summary())
print(f"exact: {camel2.integral:.6f}")

# %%
points = np.concatenate([x for x, _ in integ.random_batch()])
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
grid = np.linspace(0, 1, 200)
gx, gy = np.meshgrid(grid, grid)
axes[0].contourf(gx, gy, camel2(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(gx.shape), levels=30)
axes[0].set_title("integrand $f$ (camel, $d = 2$)")
axes[1].hist2d(points[:, 0], points[:, 1], bins=60, range=[[0, 1], [0, 1]])
axes[1].set_title("points VEGAS samples: $2^2$ peaks")
for ax in axes:
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")

# %% [markdown]
# Half of the VEGAS points land in the two *phantom* peaks at $(1/3, 2/3)$ and $(2/3, 1/3)$, where $f$ is small.
# In $d$ dimensions only $2$ of the $2^d$ peaks are real. `mlmc_course.nis.run_vegas` wraps the package: it adapts
# with a budget of calls, estimates with fresh ones, and returns the event weights too.

# %%
from mlmc_course.nis import run_vegas, unweighting_efficiency

n_train = cfg.pick(ci=40_000, lecture=150_000, full=1_000_000)
n_eval = cfg.pick(ci=20_000, lecture=50_000, full=1_000_000)
vegas_runs = {}
for d in (2, 4, 8):
    camel = integrands.camel(d)
    vegas_runs[d] = run_vegas(camel, n_train, n_eval, n_iterations=10, seed=cfg.seed)
    r = vegas_runs[d].result
    print(f"d={d}: {r}, pull {r.pull(camel.integral):+.2f}")

# %% [markdown]
# The `vegas` package's error includes its stratified sampling, which is very effective in low dimensions and
# fades as $d$ grows (there are too few points per hypercube). Stratification does not help one thing: the weights
# of individual events, which decide how many events survive unweighting (below). For that, only $g$ counts.
#
# ## A normalizing flow as the sampler
#
# A flow (lesson 07) gives exactly what importance sampling needs: samples $x = G_\theta(z)$ from uniform $z$, and
# the exact density $g_\theta(x) = |\det \partial G_\theta/\partial z|^{-1}$ of each sample. On the unit hypercube
# we use **rational-quadratic spline coupling blocks**: each block moves half of the coordinates with monotone
# splines on $[0, 1]$ whose knots a small network computes from the other half, so the Jacobian is triangular.
# `mlmc_course.nis.SplineFlow` builds them from nflows' spline function; a new flow is the identity (uniform
# sampling).
#
# `mlmc_course.nis.NISIntegrator` wraps the loop: draw a batch from the flow, evaluate $f$ (the only expensive
# step in a real generator), take one gradient step on the variance loss. Everything is counted in **integrand
# calls**, the currency in which an event generator pays.

# %%
from mlmc_course.nis import NISIntegrator

camel4 = integrands.camel(4)
steps = cfg.pick(ci=30, lecture=150, full=1000)
plain = NISIntegrator(camel4, robust=False, lr=2e-3, device=cfg.device, seed=cfg.seed)
plain_history = plain.train(steps)
plain_result = plain.integrate(n_eval)
print(
    f"flow, {plain.n_calls - n_eval:,} training calls: {plain_result}, pull {plain_result.pull(camel4.integral):+.2f}"
)
print(f"VEGAS, {n_train:,} training calls:  {vegas_runs[4].result}")

# %% [markdown]
# ## VEGAS initialisation and buffered training
#
# Two MadNIS ideas make the same number of integrand calls go further.
#
# - **VEGAS initialisation.** A VEGAS grid is found in a few cheap iterations. Its many equal-probability bins are
#   merged into the spline's few bins (*bin reduction*) and the first coupling blocks start as that separable map,
#   so the flow starts from VEGAS instead of from uniform sampling and only has to learn the correlations.
# - **Buffered training.** Each online step stores its points, their integrand values and the density $q$ that drew
#   them. Extra gradient steps on stored points cost no integrand calls; the loss weights them by $g_\theta/q$, so
#   they still estimate the variance of the *current* flow.
#
# A third, older trick guards the tails: draw a small share $\epsilon$ of the points flat, so that the density is the
# *defensive mixture* $g = (1-\epsilon)\, g_\theta + \epsilon$ (`flat_mix`). Where the flow is too thin, $g \ge
# \epsilon$ caps the weight at $f/\epsilon$; the price is a few percent of the points.

# %%
madnis_style = NISIntegrator(
    camel4,
    robust=False,
    lr=2e-3,
    buffer_capacity=10 * 1024,
    buffered_steps=1,
    flat_mix=0.02,
    device=cfg.device,
    seed=cfg.seed,
)
vegas_calls = cfg.pick(ci=4_000, lecture=20_000, full=100_000)
madnis_style.vegas_init(n_iterations=5, n_per_iteration=vegas_calls // 5)
start_result = madnis_style.integrate(n_eval)
madnis_history = madnis_style.train(steps - vegas_calls // 1024)
madnis_result = madnis_style.integrate(n_eval)
print(f"after the VEGAS start: relative std {start_result.rel_std:.3f}")
print(f"VEGAS start + buffered training: {madnis_result}, pull {madnis_result.pull(camel4.integral):+.2f}")

# %%
fig, ax = plt.subplots()
ax.plot(plain_history.calls, np.sqrt(plain_history.loss), label="flow from uniform")
ax.plot(madnis_history.calls, np.sqrt(madnis_history.loss), label="VEGAS start + buffered training")
ax.axhline(vegas_runs[4].result.rel_std, ls="--", color="grey", label="VEGAS (with stratification)")
ax.set_xlabel("integrand calls")
ax.set_ylabel(r"relative standard deviation $\sigma / I$ (training batches)")
ax.set_yscale("log")
ax.set_title("camel, $d = 4$")
ax.legend()
plt.show()

# %% [markdown]
# The training curve is noisy (each point is one batch of 1024 calls) but the trend is clear: starting from the
# VEGAS grid skips the first phase, and the buffered steps squeeze more out of each call. Both samplers quote their
# error from fresh points, not from the training batches.
#
# ## Multi-channel integration
#
# Real matrix elements are sums of structures that no single map captures: a resonance in one invariant, a
# collinear singularity in another. Generators split the integrand with **channel weights** $\alpha_i(x) \ge 0$,
# $\sum_i \alpha_i(x) = 1$, and give each channel its own density $g_i$ built for its structure:
# $$ I = \sum_i \int \alpha_i f\,dx = \sum_i \Big\langle \frac{\alpha_i(x)\, f(x)}{g_i(x)} \Big\rangle_{x\sim g_i},
#    \qquad \hat I = \sum_i \frac1{N_i}\sum_{k \in i} \frac{\alpha_i(x_k) f(x_k)}{g_i(x_k)}, \qquad
#    \sigma_{\hat I}^2 = \sum_i \frac{\sigma_i^2}{N_i} . $$
# Each sample is weighted with the $\alpha$ of **its own** channel. The total error is smallest for
# $N_i \propto \sigma_i$ (stratified sampling), which is why the channels hold different numbers of points, and the
# MadNIS loss is the resulting variance, $(\sum_i \sigma_i)^2$. The prior weights usually come from the squared
# diagrams, $\alpha_i = |M_i|^2 / \sum_j |M_j|^2$ ("single-diagram enhancement"); MadNIS multiplies them by a
# learned correction, $\alpha_i \propto \alpha_i^\text{prior} e^{n_i(x)}$.
#
# Our two-channel problem is a thin ring plus a narrow ridge along the diagonal. The ridge is invisible to VEGAS:
# its projection on either axis is flat.

# %%
ring_line = integrands.ring_plus_line()
x_plot = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1))
prior = ring_line.prior_weights(x_plot)[:, 0].reshape(gx.shape)
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
axes[0].contourf(gx, gy, ring_line(x_plot).reshape(gx.shape).numpy(), levels=30)
axes[0].set_title("ring + line: $f = f_\\mathrm{ring} + f_\\mathrm{line}$")
im = axes[1].contourf(gx, gy, prior.numpy(), levels=20, cmap="coolwarm")
axes[1].set_title(r"prior $\alpha_\mathrm{ring} = f_\mathrm{ring} / f$")
fig.colorbar(im, ax=axes[1])
for ax in axes:
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")

# %% [markdown] tags=["question"] name="multichannel_integral" points=2
# **Exercise 2.** Write `multichannel_integral(f, g, alpha, channel, n_channels)`: NumPy arrays `f` (shape
# `(n,)`, the integrand), `g` (shape `(n,)`, the density of the channel that drew each point), `alpha` (shape
# `(n, n_channels)`, every channel's weight at each point) and `channel` (shape `(n,)`, ints, the channel that drew
# each point). Return the tuple `(value, error)` of the multi-channel estimate above.


# %% tags=["solution"]
def multichannel_integral(f, g, alpha, channel, n_channels: int) -> tuple[float, float]:
    """Multi-channel estimate sum_i <alpha_i f / g_i>_i and its error sqrt(sum_i var_i / N_i)."""
    # BEGIN SOLUTION
    value, variance = 0.0, 0.0
    for i in range(n_channels):
        mine = channel == i
        w = alpha[mine, i] * f[mine] / g[mine]
        value += w.mean()
        variance += w.var(ddof=1) / mine.sum()
    return float(value), float(np.sqrt(variance))
    # END SOLUTION
    # HINT: loop over the channels; in channel i use only its own points and alpha[:, i]; add the means, and add
    # the variances of the means (var / N_i).


# %% tags=["wrong"]
# WRONG: alpha missing, so every channel integrates all of f
# EXPECT: you left out alpha
def multichannel_integral(f, g, alpha, channel, n_channels):
    value, variance = 0.0, 0.0
    for i in range(n_channels):
        w = f[channel == i] / g[channel == i]
        value += w.mean()
        variance += w.var() / len(w)
    return value, np.sqrt(variance)


# %% tags=["wrong"]
# WRONG: one mean over all points, as if every channel held the same number of them
# EXPECT: you averaged all samples together
def multichannel_integral(f, g, alpha, channel, n_channels):
    w = alpha[np.arange(len(f)), channel] * f / g
    return n_channels * w.mean(), n_channels * w.std() / np.sqrt(len(w))


# %% tags=["check"]
checks.multichannel_integral(multichannel_integral)

# %% tags=["check", "hidden"]
checks.multichannel_integral(multichannel_integral, seed=92)

# %% [markdown]
# Now the full multi-channel sampler: one flow per channel, the prior weights from the integrand, a small network
# that corrects them, and the stratified variance as the loss. Each channel starts from its own VEGAS grid, adapted
# to $\alpha_i f$.

# %%
two_channel = NISIntegrator(
    ring_line,
    multichannel=True,
    robust=False,
    lr=2e-3,
    buffer_capacity=10 * 1024,
    buffered_steps=1,
    device=cfg.device,
    seed=cfg.seed,
)
two_channel.vegas_init(n_iterations=5, n_per_iteration=vegas_calls // 10)
two_channel.train(cfg.pick(ci=20, lecture=120, full=1000))
ring_result = two_channel.integrate(n_eval)
vegas_ring_run = run_vegas(ring_line, n_train, n_eval, n_iterations=10, seed=cfg.seed)
vegas_ring = vegas_ring_run.result
print(f"two-channel flow: {ring_result}, pull {ring_result.pull(ring_line.integral):+.2f}")
print(
    f"  channel shares of the integral: {np.round(np.array(ring_result.channel_values) / ring_result.value, 3)}, "
    f"calls per channel: {ring_result.channel_calls}"
)
print(f"VEGAS:            {vegas_ring}, pull {vegas_ring.pull(ring_line.integral):+.2f}")

# %%
events = two_channel.sample(cfg.pick(ci=5_000, lecture=40_000, full=200_000))
with torch.no_grad():
    alpha_learned = two_channel.channel_weights(
        x_plot.to(cfg.device), ring_line.prior_weights(x_plot).to(cfg.device), two_channel.active
    )[:, 0].cpu()
fig, axes = plt.subplots(1, 3, figsize=(13, 4))
for i, name in enumerate(["ring", "line"]):
    pts = events.x[events.channel == i].cpu().numpy()
    axes[i].hist2d(pts[:, 0], pts[:, 1], bins=60, range=[[0, 1], [0, 1]])
    axes[i].set_title(f"points of the {name} channel flow")
im = axes[2].contourf(gx, gy, alpha_learned.reshape(gx.shape).numpy(), levels=20, cmap="coolwarm")
axes[2].set_title(r"learned $\alpha_\mathrm{ring}$")
fig.colorbar(im, ax=axes[2])
for ax in axes:
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")

# %% [markdown]
# Each flow maps out its own structure, and the learned weights stay close to the prior: here the prior is already
# the best split, and the network only sharpens it where the flows are imperfect.
#
# ## Unweighting
#
# A detector simulation wants events of weight one. **Hit-or-miss unweighting** keeps event $k$ with probability
# $w_k / w_\text{max}$; the kept events are distributed like $f$. The fraction kept is the **unweighting
# efficiency**
# $$ \epsilon = \frac{\langle w \rangle}{w_\text{max}} , $$
# 1 for a perfect sampler. It is the number that turns into CPU hours: each kept event costs $1/\epsilon$ integrand
# calls (and each call may be a costly matrix element).

# %% [markdown] tags=["question"] name="unweight" points=2
# **Exercise 3.** Write `unweight(weights, rng)`: `weights` is a NumPy array of shape `(n,)` with values $\ge 0$.
# Keep each event with probability $w_k / w_\text{max}$, $w_\text{max}$ the largest weight, using uniform random
# numbers from the NumPy generator `rng`, and return the indices of the kept events (an int array).


# %% tags=["solution"]
def unweight(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of the events kept by hit-or-miss unweighting against the largest weight."""
    # BEGIN SOLUTION
    u = rng.uniform(size=len(weights))
    return np.flatnonzero(u < weights / weights.max())
    # END SOLUTION
    # HINT: draw one uniform number per event from rng and keep the events where it is below w / max(w).


# %% tags=["wrong"]
# WRONG: accepts with w / mean(w), which keeps every event above the mean and flattens the distribution
# EXPECT: accepting with probability w / mean(w)
def unweight(weights, rng):
    return np.flatnonzero(rng.uniform(size=len(weights)) < weights / weights.mean())


# %% tags=["wrong"]
# WRONG: ignores the generator it is given
# EXPECT: draw the random numbers from rng
def unweight(weights, rng):
    return np.flatnonzero(np.random.uniform(size=len(weights)) < weights / weights.max())  # noqa: NPY002


# %% tags=["check"]
checks.unweight(unweight)

# %% tags=["check", "hidden"]
checks.unweight(unweight, seed=93)

# %% [markdown]
# The maximum of a sample is set by its few largest weights and grows with the sample size, so a single number is
# fragile. `mlmc_course.nis.unweighting_efficiency` quotes two robust versions: the median of the maximum over
# bootstrap resamples (with its 16-84% band), and the $w_\text{max}$ above which the overweight events carry 0.1%
# of the cross section (those are kept with weight $w/w_\text{max} > 1$, which keeps the result unbiased, as
# Sherpa and MadNIS do).

# %%
camel4_events = madnis_style.sample(n_eval)
rows = {
    "VEGAS, camel d4": vegas_runs[4].weights,
    "flow (VEGAS start + buffer), camel d4": camel4_events.weight.cpu().numpy(),
    "VEGAS, ring + line": vegas_ring_run.weights,
    "two-channel flow, ring + line": events.weight.cpu().numpy(),
}
fig, ax = plt.subplots()
for label, w in rows.items():
    eff = unweighting_efficiency(w)
    print(
        f"{label:40s} efficiency: bootstrap max {eff.efficiency_boot:.3f} "
        f"[{eff.efficiency_boot_band[0]:.3f}, {eff.efficiency_boot_band[1]:.3f}], "
        f"0.1% overweights {eff.efficiency_quantile:.3f}"
    )
    ax.hist(w / w.mean(), bins=np.logspace(-4, 2, 70), histtype="step", label=label)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel(r"weight / mean weight, $w / \langle w \rangle$")
ax.set_ylabel("events per bin")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# A good sampler has a narrow weight distribution around 1; VEGAS's long tail on both sides is what its phantom
# peaks (weights near 0) and the regions it under-samples (large weights) look like.
#
# ## Why the answer stays right
#
# The weight $f/g$ is exact for *any* $g$ that is positive wherever $f$ is: a bad network gives a large variance,
# never a wrong mean. Two conditions matter. First, $g$ must be the exact density of the points (a flow's
# change-of-variables formula guarantees this). Second, $g$ must have no **holes**: a region with $f > 0$ and
# $g = 0$ is never sampled and silently drops out of the integral. Spline flows on $[0, 1]^d$ have positive density
# everywhere. As the generator working group put it, ML in the sampler only costs efficiency; ML that *replaces*
# the matrix element adds an error.
#
# We test this on a flow in a random, untrained state: many independent estimates, each with its error, should
# scatter around the exact value with pulls $(\hat I - I)/\sigma_{\hat I}$ distributed as a unit Gaussian. The
# package's tests run the same test for every integrand and network state.

# %%
random_flow = NISIntegrator(integrands.camel(2), robust=False, bins=8, hidden=(32,), device=cfg.device, seed=cfg.seed)
with torch.no_grad():
    for p in random_flow.flows.parameters():
        p.add_(0.3 * torch.randn_like(p))
n_repeats = cfg.pick(ci=40, lecture=200, full=2000)
exact = integrands.camel(2).integral
results = [random_flow.integrate(2000) for _ in range(n_repeats)]
estimates = np.array([r.value for r in results])
pulls = np.array([r.pull(exact) for r in results])
bias = estimates.mean() - exact
print(
    f"{n_repeats} estimates from a random flow: mean - exact = {bias:+.5f} +- "
    f"{estimates.std(ddof=1) / np.sqrt(n_repeats):.5f} (the bias test)"
)
print(f"pulls: mean {pulls.mean():+.3f} +- {pulls.std(ddof=1) / np.sqrt(n_repeats):.3f}, std {pulls.std(ddof=1):.3f}")

# %%
t = np.linspace(-4, 4, 200)
fig, ax = plt.subplots()
ax.hist(pulls, bins=30, range=(-4, 4), density=True, histtype="step", label="random flow")
ax.plot(t, np.exp(-(t**2) / 2) / np.sqrt(2 * np.pi), "--", label="unit Gaussian")
ax.set_xlabel(r"pull $(\hat I - I) / \sigma_{\hat I}$")
ax.set_ylabel("density")
ax.legend()
plt.show()

# %% tags=["claim"]
from mlmc_course.claims import claim

bias_z = bias / (estimates.std(ddof=1) / np.sqrt(n_repeats))
claim("the mean of the estimates agrees with the exact value within three of its errors", abs(bias_z) < 3, z=bias_z)

# %% [markdown]
# Read the two lines separately. The **mean of the estimates** is the unbiasedness test: it agrees with the
# exact value within the few standard errors printed above (the claim cell checks three). The **pulls** of a
# sampler with heavy-tailed weights are slightly skewed to the negative side, with a mean a little below zero: a
# run that happens to miss the rare large weights comes out low *and* quotes a small error, while a run that
# catches one comes out high with a large error. This is the usual price of a poor sampler and shrinks as the
# weights narrow; it is not a bias of the estimator.

# %% [markdown]
# ## A physics integrand: Drell-Yan through the Z
#
# `integrands.drell_yan()` is $pp \to \gamma^*/Z \to \ell^+\ell^-$ at leading order (through $u\bar u$, with toy
# parton densities) in three variables: the dilepton mass $m_{\ell\ell} \in [60, 120]$ GeV, its rapidity and the
# lepton angle. Its natural channels map the mass with a Breit-Wigner (the $Z$ diagram) or with $1/m^2$ (the photon)
# and weight them with the squared diagrams. The flows only refine what the mappings already do.

# %%
dy = integrands.drell_yan()
dy_nis = NISIntegrator(dy, multichannel=True, robust=False, lr=2e-3, device=cfg.device, seed=cfg.seed)
dy_start = dy_nis.integrate(n_eval)
dy_nis.train(cfg.pick(ci=15, lecture=60, full=500))
dy_result = dy_nis.integrate(n_eval)
flat = dy(np.random.default_rng(cfg.seed).uniform(size=(n_eval, 3)))
print(f"quadrature reference: {dy.integral:.4f} pb")
print(f"flat sampling:        rel. std {flat.std() / flat.mean():.3f}")
print(f"channel mappings:     rel. std {dy_start.rel_std:.3f}")
print(f"mappings + flows:     {dy_result} pb, pull {dy_result.pull(dy.integral):+.2f}")

# %%
from mlmc_course.nis import unweight as unweight_events

dy_events = dy_nis.sample(n_eval)
kept, _ = unweight_events(dy_events.weight.cpu().numpy(), np.random.default_rng(cfg.seed))
m_ll = 60 + 60 * dy_events.x[kept, 0].cpu().numpy()
fig, ax = plt.subplots()
ax.hist(m_ll, bins=60, range=(60, 120), histtype="step", label=f"{len(kept):,} unweighted events")
ax.set_xlabel(r"$m_{\ell\ell}$ [GeV]")
ax.set_ylabel("events / GeV")
ax.set_yscale("log")
ax.legend()
plt.show()

# %% [markdown]
# ## When the sampler fails, and how it tells you
#
# The quoted error comes from the sample variance of the weights. When the weights have a heavy right tail, that
# variance rests on the few points that happened to land in the tail: it is usually *too small*, and the estimate
# can sit several quoted errors from the truth while every number looks normal. The result of
# `NISIntegrator.integrate` therefore carries four diagnostics of its weights: the largest weight over the mean,
# the effective sample size $\mathrm{ESS} = (\sum w)^2 / \sum w^2$, the unweighting efficiency at 0.1% overweight,
# and the shape $k$ of a generalised Pareto distribution fitted to the largest weights, as in Pareto-smoothed
# importance sampling ([arXiv:1507.02646](https://arxiv.org/abs/1507.02646)): for $k < 1/2$ the weights have a
# finite variance; above about $0.7$ the error cannot be trusted at any practical sample size. Then a
# `HeavyTailWarning` is raised, and the result's printout says so.
#
# The failing case: a narrow Gaussian sitting on a corner and two faces of the 4D cube (`boundary_peak`, one of the
# stress-suite integrands in `mlmc_course.data.integrands.STRESS_SUITE`, each documented with why it is hard), with
# the bare flow of the first sections (`robust=False`: uniform start, variance loss, no mixture).

# %%
import warnings

from mlmc_course.nis import HeavyTailWarning

corner = integrands.boundary_peak(4)
fail_steps = cfg.pick(ci=20, lecture=40, full=300)
n_check = cfg.pick(ci=20_000, lecture=40_000, full=400_000)
bare = NISIntegrator(corner, robust=False, lr=2e-3, device=cfg.device, seed=cfg.seed)
bare.train(fail_steps)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", HeavyTailWarning)
    bare_result = bare.integrate(n_check)
bare_warned = any(issubclass(w.category, HeavyTailWarning) for w in caught)
print(
    f"bare flow: {bare_result}\npull {bare_result.pull(corner.integral):+.2f}; HeavyTailWarning raised: {bare_warned}"
)

# %% [markdown]
# `NISIntegrator(f)` with no further argument is the robust configuration (issue 14 of the course repository):
# a VEGAS map is adapted first with a quarter of the calls and the flow acts on *its* variables, so an untrained
# flow is VEGAS; a tenth of the points come from VEGAS alone (the defensive mixture, now against VEGAS instead of
# flat); training uses the mass-covering KL divergence first (i-flow, arXiv:2001.05486) and the variance later
# (MadNIS, arXiv:2212.06172); single huge weights are capped *in the gradient only*, never in the estimate; and
# the state with the lowest variance on batches it had not yet trained on is kept, VEGAS alone included. The same
# calls:

# %%
robust = NISIntegrator(corner, lr=2e-3, device=cfg.device, seed=cfg.seed)
robust.train(fail_steps)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", HeavyTailWarning)
    robust_result = robust.integrate(n_check)
robust_warned = any(issubclass(w.category, HeavyTailWarning) for w in caught)
print(
    f"defaults:  {robust_result}\npull {robust_result.pull(corner.integral):+.2f}; "
    f"HeavyTailWarning raised: {robust_warned}"
)

# %% tags=["claim"]
claim(
    "the bare flow's weights are heavy-tailed and the integrator warns",
    bare_warned and not bare_result.diagnostics.trustworthy,
    max_weight_ratio=bare_result.diagnostics.max_weight_ratio,
    pareto_k=bare_result.diagnostics.pareto_k,
)
claim(
    "with the defaults and the same calls there is no warning, the pull is below 3 and the variance is at least "
    "ten times smaller",
    (not robust_warned)
    and abs(robust_result.pull(corner.integral)) < 3
    and robust_result.rel_std**2 * 10 < bare_result.rel_std**2,
    pull=robust_result.pull(corner.integral),
    variance_ratio=bare_result.rel_std**2 / robust_result.rel_std**2,
)

# %% [markdown]
# The warning does not catch every failure. A sampler that never visits a peak has no large weights from it: its
# estimate is low with a small, wrong error, and no statistic of the weights can see a region that was never
# sampled (the `multi-peak d6` row of `benchmarks/results/nis.md` shows one). The VEGAS start and the defensive
# mixture make that less likely; checking a new integrand against a second method stays good practice.

# %% [markdown]
# ## Summary
#
# - Importance sampling estimates $I = \langle f/g \rangle_g$ with variance $\mathrm{Var}_g[f/g]/n$; the variance
#   (or the KL divergence) is the loss that trains $g$, and only $g$ needs gradients.
# - VEGAS adapts a separable grid: cheap, good in few dimensions, blind to correlated structure.
# - A spline flow is an exact, trainable density; a VEGAS start and buffered training stretch the integrand calls.
# - Multi-channel sampling weights each point with the $\alpha$ of its own channel; channel counts follow
#   $\sigma_i$, and the channel weights can be learned.
# - The unweighting efficiency $\langle w\rangle / w_\text{max}$ measures the cost of unweighted events; quote it
#   with a robust maximum.
# - Whatever the network, the estimate is unbiased as long as $g$ is exact and has no holes: ML costs efficiency,
#   not correctness.
#
# - The quoted error is only as good as the tail of the weights: read the diagnostics (largest weight, ESS,
#   Pareto $k$) and heed the `HeavyTailWarning`; `NISIntegrator(f)` starts from VEGAS and keeps VEGAS when the
#   flow does not beat it on held-out batches.
#
# `benchmarks/nis.py` compares VEGAS, the `madnis` package and `mlmc_course.nis`, each with its defaults, at the
# same number of integrand calls on the stress suite and the integrands of this lesson;
# `benchmarks/results/nis.md` holds the table and says honestly where each method wins and fails.
#
# ## Further reading
#
# - T. Heimel, R. Winterhalder, A. Butter, J. Isaacson, C. Krause, F. Maltoni, O. Mattelaer, T. Plehn, *MadNIS —
#   neural multi-channel importance sampling*, [arXiv:2212.06172](https://arxiv.org/abs/2212.06172).
# - T. Heimel, N. Huetsch, F. Maltoni, O. Mattelaer, T. Plehn, R. Winterhalder, *The MadNIS reloaded*,
#   [arXiv:2311.01548](https://arxiv.org/abs/2311.01548).
# - T. Müller, B. McWilliams, F. Rousselle, M. Gross, J. Novák, *Neural importance sampling*,
#   [arXiv:1808.03856](https://arxiv.org/abs/1808.03856).
# - C. Gao, J. Isaacson, C. Krause, *i-flow: high-dimensional integration and sampling with normalizing flows*,
#   [arXiv:2001.05486](https://arxiv.org/abs/2001.05486).
# - E. Bothmann, T. Janßen, M. Knobbe, T. Schmale, S. Schumann, *Exploring phase space with neural importance
#   sampling*, [arXiv:2001.05478](https://arxiv.org/abs/2001.05478); C. Gao, S. Höche, J. Isaacson, C. Krause,
#   H. Schulz, *Event generation with normalizing flows*, [arXiv:2001.10028](https://arxiv.org/abs/2001.10028).
# - C. Durkan, A. Bekasov, I. Murray, G. Papamakarios, *Neural spline flows*,
#   [arXiv:1906.04032](https://arxiv.org/abs/1906.04032).
# - G. P. Lepage, *A new algorithm for adaptive multidimensional integration*, J. Comput. Phys. 27 (1978) 192;
#   *Adaptive multidimensional integration: VEGAS enhanced*, [arXiv:2009.05112](https://arxiv.org/abs/2009.05112).

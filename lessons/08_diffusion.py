# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[13, 23]
# # 08 · Diffusion and flow matching
#
# Diffusion models turn noise into data step by step. They produce the best samples in many fields, calorimeter
# showers included (CaloDiffusion in seed 000), at the price of many network evaluations per sample. Flow matching is
# their deterministic cousin: it trains a continuous flow by plain regression. This lesson builds flow matching from
# its parts and ends with one table that compares every generator of lessons 06-08 on the same data, metrics and
# training budget.
#
# **You will**
# - write the forward noising of a denoising diffusion model and see data dissolve into Gaussian noise;
# - derive the conditional flow-matching target on a straight path and train a velocity field with it;
# - sample by integrating an ODE with Euler's method, and measure sample quality against the number of network
#   evaluations;
# - compute an exact log-likelihood through the ODE from the divergence of the velocity;
# - compare GAN, VAE, three flows and flow matching in one table, and generate top and QCD jets with flow matching.
#
# **Prerequisites:** lessons 06 (sample metrics) and 07 (change of variables, flows).
# **Time:** about 75 minutes.
# **Sources:** seed lecture 000 (score-based and denoising diffusion models; CaloDiffusion). Papers: DDPM,
# [arXiv:2006.11239](https://arxiv.org/abs/2006.11239); score-based SDEs,
# [arXiv:2011.13456](https://arxiv.org/abs/2011.13456); flow matching,
# [arXiv:2210.02747](https://arxiv.org/abs/2210.02747); rectified flow,
# [arXiv:2209.03003](https://arxiv.org/abs/2209.03003); conditional flow matching,
# [arXiv:2302.00482](https://arxiv.org/abs/2302.00482); neural ODEs,
# [arXiv:1806.07366](https://arxiv.org/abs/1806.07366); CaloDiffusion,
# [arXiv:2308.03876](https://arxiv.org/abs/2308.03876).

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np
import torch
import matplotlib.pyplot as plt

import mlmc_course
from mlmc_course.checks import l08_diffusion as checks

cfg = mlmc_course.setup(MODE)

# %% [markdown]
# The sizes for this run. What the text says about the trained models describes a `lecture` run (the claims in the
# solution notebook check it there, and say where a statement also holds in `ci` mode, whose models are barely
# trained).

# %%
n_train = cfg.pick(ci=1_000, lecture=4_000, full=50_000)
n_test = cfg.pick(ci=1_000, lecture=3_000, full=50_000)
cfm_epochs = cfg.pick(ci=10, lecture=120, full=2_000)  # the flow-matching model of the first part
budget_epochs = cfg.pick(ci=3, lecture=25, full=300)  # every model of the comparison table
n_sample = cfg.pick(ci=1_000, lecture=10_000, full=100_000)  # events generated to time the samplers
n_jets = cfg.pick(ci=2_000, lecture=5_000, full=None)  # None: every jet of the shipped training split
jet_epochs = cfg.pick(ci=3, lecture=12, full=200)

# %% [markdown]
# ## Diffusion: from data to noise, and back
#
# A denoising diffusion model (DDPM) defines a *forward* process that destroys the data gradually. At time
# $t \in [0, 1]$ an event is
# $$ x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1 - \bar\alpha_t}\, \varepsilon ,
#    \qquad \varepsilon \sim \mathcal N(0, 1) , $$
# where the schedule $\bar\alpha_t$ falls from 1 (pure data) to 0 (pure noise). The square roots make the process
# *variance preserving*: unit-variance data stay at unit variance. A network learns to undo one small step at a
# time, by predicting the noise $\varepsilon$ in $x_t$ (equivalently the *score* $\nabla \log p_t(x_t)$); sampling
# starts from noise and runs the learned reverse process, as a stochastic or an equivalent deterministic
# ("probability flow") equation (seed 000: related to flows, more expensive, more flexible).

# %% [markdown] tags=["question"] name="diffuse" points=1
# **Exercise 1.** Write `diffuse(x0, alpha_bar, eps)`: `x0` (data) and `eps` (standard normal noise) have shape
# `(n, d)`; `alpha_bar` holds $\bar\alpha_t$ for each event, shape `(n, 1)`. Return $x_t$, shape `(n, d)`.


# %% tags=["solution"]
def diffuse(x0: torch.Tensor, alpha_bar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The forward (noising) process of diffusion: sqrt(abar) x0 + sqrt(1 - abar) eps, shape (n, d)."""
    # BEGIN SOLUTION
    return torch.sqrt(alpha_bar) * x0 + torch.sqrt(1 - alpha_bar) * eps
    # END SOLUTION
    # HINT: alpha_bar is a fraction of variance, so the data and the noise are scaled by square roots.


# %% tags=["wrong"]
# WRONG: scales by the variances instead of the standard deviations, so the total variance shrinks
# EXPECT: alpha_bar is the fraction of the *variance* kept
def diffuse(x0, alpha_bar, eps):
    return alpha_bar * x0 + (1 - alpha_bar) * eps


# %% tags=["wrong"]
# WRONG: swaps the roles of signal and noise
# EXPECT: alpha_bar multiplies the data
def diffuse(x0, alpha_bar, eps):
    return torch.sqrt(1 - alpha_bar) * x0 + torch.sqrt(alpha_bar) * eps


# %% tags=["check"]
checks.diffuse(diffuse)

# %% tags=["check", "hidden"]
checks.diffuse(diffuse, seed=101)

# %% [markdown]
# The package's `diffuse` and the cosine schedule of Nichol and Dhariwal (`cosine_alpha_bar`) show the two moons
# dissolving:

# %%
from mlmc_course.data.moons import two_moons
from mlmc_course.models.diffusion import cosine_alpha_bar, diffuse as package_diffuse

pool, _ = two_moons(100_000, seed=cfg.seed)  # independent samples cut from one draw (lesson 06 says why)
x_train, x_test = pool[:n_train], pool[n_train : n_train + n_test]
x0 = torch.as_tensor(x_train[:2000])
fig, axes = plt.subplots(1, 5, figsize=(16, 3.3), sharex=True, sharey=True)
for ax, t in zip(axes, (0.0, 0.25, 0.5, 0.75, 1.0), strict=True):
    abar = cosine_alpha_bar(torch.tensor(t))
    xt = package_diffuse(x0, abar, torch.randn_like(x0))
    ax.scatter(*xt.T, s=1, alpha=0.4)
    ax.set(title=rf"$t = {t}$, $\bar\alpha_t = {abar.item():.2f}$", xlabel="$x_1$", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5))
axes[0].set_ylabel("$x_2$")
plt.show()

# %% [markdown]
# ## Flow matching
#
# Flow matching asks for a time-dependent velocity field $v_\theta(x, t)$ whose ODE $dx/dt = v_\theta(x, t)$ carries
# noise at $t = 0$ to data at $t = 1$: a *continuous* normalizing flow (arXiv:1806.07366). Instead of maximising the
# likelihood through the ODE, which is slow, it regresses the velocity on a known path.
#
# Take one noise point $x_0 \sim \mathcal N(0, 1)$ and one data point $x_1$, and join them by a straight line,
# $$ x_t = (1 - t)\, x_0 + t\, x_1, \qquad u_t = \frac{d x_t}{dt} = x_1 - x_0 . $$
# Averaged over all pairs that pass through a point $x$ at time $t$, these velocities define a field
# $u(x, t) = \mathbb E[x_1 - x_0 \mid x_t = x]$ whose ODE maps the whole noise distribution onto the whole data
# distribution (the continuity equation holds pair by pair, hence on average). We cannot compute that average, but we
# do not need to: the regression
# $$ L(\theta) = \mathbb E_{t \sim U(0,1),\, x_0,\, x_1} \big| v_\theta(x_t, t) - (x_1 - x_0) \big|^2 $$
# differs from $\mathbb E |v_\theta - u|^2$ by a constant independent of $\theta$ (the variance of the pair
# velocities around their mean), so both have the same minimiser, $v_\theta = u$ (Lipman et al.). The training loss
# therefore does not go to zero; it levels off at that variance. With the variance-preserving path of the previous
# section instead of the straight line, the same construction gives the probability-flow ODE of diffusion models.

# %% [markdown] tags=["question"] name="cfm_target" points=2
# **Exercise 2.** Write `cfm_target(x0, x1, t)`: noise `x0` and data `x1` of shape `(n, d)`, times `t` of shape
# `(n, 1)`. Return the tuple `(x_t, u_t)`: the point on the straight path at time $t$ and the target velocity.


# %% tags=["solution"]
def cfm_target(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Point and velocity on the straight path from noise x0 (t = 0) to data x1 (t = 1); shapes (n, d)."""
    # BEGIN SOLUTION
    return (1 - t) * x0 + t * x1, x1 - x0
    # END SOLUTION
    # HINT: at t = 0 the path is at x0, at t = 1 at x1; the velocity is the time derivative of x_t.


# %% tags=["wrong"]
# WRONG: the velocity points from the data to the noise
# EXPECT: the velocity points from the noise to the data
def cfm_target(x0, x1, t):
    return (1 - t) * x0 + t * x1, x0 - x1


# %% tags=["wrong"]
# WRONG: the path runs from the data to the noise
# EXPECT: the path runs the wrong way
def cfm_target(x0, x1, t):
    return t * x0 + (1 - t) * x1, x1 - x0


# %% tags=["check"]
checks.cfm_target(cfm_target)

# %% tags=["check", "hidden"]
checks.cfm_target(cfm_target, seed=202)

# %% [markdown]
# `mlmc_course.models.diffusion.FlowMatching` is a small network $v_\theta(x, t)$ (SiLU activations, so that the
# field is smooth; the time enters as $t$, $\sin k\pi t$ and $\cos k\pi t$), and `flow_matching_loss` is $L(\theta)$
# with one random $x_0$ and $t$ per event. It trains with the shared loop `fit`.

# %%
import time

from mlmc_course.models.diffusion import FlowMatching, flow_matching_loss
from mlmc_course.plotting import loss_plot
from mlmc_course.training import fit, to_tensors

train_tensors = to_tensors(x_train, device=cfg.device)
torch.manual_seed(cfg.seed)
cfm = FlowMatching(2).to(cfg.device)
start = time.process_time()
cfm_history = fit(
    cfm,
    flow_matching_loss,
    train_tensors,
    epochs=cfm_epochs,
    batch_size=256,
    lr=3e-3,
    seed=cfg.seed,
    desc="flow matching",
)
cfm_seconds = time.process_time() - start
print(f"{cfm_epochs} epochs: {cfm_seconds:.1f} s CPU")
loss_plot(cfm_history.as_dict(), log=False, ylabel=r"flow-matching loss $L(\theta)$")
plt.show()

# %% [markdown]
# As expected, the loss falls quickly and then levels off well above zero: the floor is the spread of the pair
# velocities, not a failure to train. To judge the model we have to sample it.

# %% tags=["claim"]
from mlmc_course.claims import claim

loss_curve = np.array(cfm_history.train)
half = len(loss_curve) // 2
claim(
    "the loss falls quickly and then levels off well above zero",
    loss_curve[-1] > 0.5 * loss_curve[0]
    and loss_curve[half] - loss_curve[-1] < 0.5 * (loss_curve[0] - loss_curve[half]),
    when=cfg.mode == "lecture",
    first=loss_curve[0],
    middle=loss_curve[half],
    last=loss_curve[-1],
)

# %% [markdown]
# ## Sampling: integrating the ODE
#
# A sample is the solution of $dx/dt = v_\theta(x, t)$ from $x(0) \sim \mathcal N(0, 1)$ to $t = 1$. The simplest
# solver is Euler's: with $N$ steps of size $h = 1/N$,
# $$ x_{k+1} = x_k + h\, v_\theta(x_k, t_k), \qquad t_k = k h, \quad k = 0, \dots, N - 1 . $$
# Each step costs one network evaluation (NFE) per event; a flow of lesson 07 costs one pass in total.

# %% [markdown] tags=["question"] name="euler_sample" points=2
# **Exercise 3.** Write `euler_sample(velocity, x0, n_steps)`: `velocity(x, t)` takes a tensor of shape `(n, d)` and
# a float `t` and returns the velocity, shape `(n, d)`; `x0` has shape `(n, d)`. Integrate from $t = 0$ to $t = 1$
# with `n_steps` Euler steps as above (velocity at $t_k = k/N$ in step $k$) and return the final $x$, shape `(n, d)`.


# %% tags=["solution"]
def euler_sample(velocity, x0: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Euler integration of dx/dt = velocity(x, t) from t = 0 to 1; x0 (n, d) -> x(1) (n, d)."""
    # BEGIN SOLUTION
    h = 1.0 / n_steps
    x = x0
    for k in range(n_steps):
        x = x + h * velocity(x, k * h)
    return x
    # END SOLUTION
    # HINT: h = 1 / n_steps; repeat x = x + h * velocity(x, t) with t = k * h for k = 0 .. n_steps - 1.


# %% tags=["wrong"]
# WRONG: never advances the time, so a time-dependent field is always read at t = 0
# EXPECT: the time never advances
def euler_sample(velocity, x0, n_steps):
    x = x0
    for _ in range(n_steps):
        x = x + velocity(x, 0.0) / n_steps
    return x


# %% tags=["wrong"]
# WRONG: a step of 1 / (n_steps - 1) overshoots t = 1
# EXPECT: the step is h = 1 / n_steps
def euler_sample(velocity, x0, n_steps):
    h = 1.0 / (n_steps - 1)
    x = x0
    for k in range(n_steps):
        x = x + h * velocity(x, k * h)
    return x


# %% tags=["wrong"]
# WRONG: steps against the velocity, as if integrating backwards from the data
# EXPECT: you stepped against the velocity
def euler_sample(velocity, x0, n_steps):
    h = 1.0 / n_steps
    x = x0
    for k in range(n_steps):
        x = x - h * velocity(x, k * h)
    return x


# %% tags=["check"]
checks.euler_sample(euler_sample)

# %% tags=["check", "hidden"]
checks.euler_sample(euler_sample, seed=303)

# %% [markdown]
# **Sample quality against cost.** The package's sampler (`FlowMatching.sample`) offers Euler and the midpoint rule
# (two evaluations per step, error $\propto h^2$ instead of $h$). We sample the trained model with different numbers
# of evaluations and judge each sample with the classifier two-sample test of lesson 06.

# %%
from mlmc_course.metrics.samples import classifier_two_sample_test

cost_rows = []
for method, steps in (("euler", 2), ("euler", 5), ("euler", 20), ("midpoint", 5), ("midpoint", 20), ("midpoint", 50)):
    torch.manual_seed(cfg.seed)
    start = time.process_time()
    s = cfm.sample(n_test, n_steps=steps, method=method).cpu().numpy()
    elapsed = time.process_time() - start
    nfe = steps * (1 if method == "euler" else 2)
    cost_rows.append((method, nfe, elapsed, classifier_two_sample_test(x_test, s, seed=cfg.seed)))

fig, ax = plt.subplots(figsize=(6, 4))
for method, marker in (("euler", "o"), ("midpoint", "s")):
    rows = [r for r in cost_rows if r[0] == method]
    ax.errorbar(
        [r[1] for r in rows], [r[3].auc for r in rows], yerr=[r[3].error for r in rows], marker=marker, label=method
    )
ax.axhline(0.5, ls=":", color="grey", label="indistinguishable")
ax.set(xscale="log", xlabel="network evaluations per sample (NFE)", ylabel="C2ST AUC (lower is better)")
ax.legend()
for method, nfe, elapsed, result in cost_rows:
    print(f"{method:8s} NFE = {nfe:3d}: {elapsed * 1e3:6.1f} ms CPU for {n_test} events, {result}")

# %% [markdown]
# With very few steps the samples are blurred (the straight-line ODE of the *average* velocity is curved, and big
# steps cut its corners); the AUC falls as the NFE grows until it reaches what the network has learned, after which
# more steps only cost time, and the midpoint rule gets there with fewer evaluations than Euler's. Distilling or
# straightening the paths (rectified flow, arXiv:2209.03003) reduces the steps needed. Here we keep the midpoint
# rule with 50 steps (100 NFE).

# %% tags=["claim"]
by_cost = {(method, nfe): result for method, nfe, _, result in cost_rows}
euler = [by_cost["euler", k] for k in (2, 5, 20)]
midpoint = [by_cost["midpoint", k] for k in (10, 40, 100)]
claim(
    "with very few steps the samples are blurred",
    euler[0].auc - midpoint[-1].auc > 3 * np.hypot(euler[0].error, midpoint[-1].error),
    when=cfg.mode == "lecture",
    euler_2=euler[0].auc,
    midpoint_100=midpoint[-1].auc,
)
claim(
    "the AUC falls as the NFE grows until it reaches what the network has learned; more steps then only cost time",
    all(b.auc < a.auc + a.error for a, b in zip(euler, euler[1:], strict=False))
    and abs(midpoint[0].auc - midpoint[-1].auc) < 2 * np.hypot(midpoint[0].error, midpoint[-1].error),
    **{f"euler_{k}": r.auc for k, r in zip((2, 5, 20), euler, strict=True)},
    **{f"midpoint_{k}": r.auc for k, r in zip((10, 40, 100), midpoint, strict=True)},
)
claim(
    "the midpoint rule gets there with fewer evaluations than Euler's",
    midpoint[0].auc < euler[-1].auc + 2 * np.hypot(midpoint[0].error, euler[-1].error),
    midpoint_10=midpoint[0].auc,
    euler_20=euler[-1].auc,
)

# %% [markdown]
# ## An exact likelihood through the ODE
#
# A continuous flow is still a change of variables. Along a trajectory the log-density obeys the instantaneous
# change of variables (arXiv:1806.07366),
# $$ \frac{d}{dt} \log p_t\big(x(t)\big) = -\nabla \cdot v_\theta\big(x(t), t\big)
#    = -\sum_i \frac{\partial v_{\theta,i}}{\partial x_i} , $$
# so integrating the ODE *backwards* from an event $x(1) = x$ to $x(0)$ gives
# $\log p_1(x) = \log \mathcal N(x(0); 0, 1) - \int_0^1 \nabla\cdot v_\theta\, dt$. The divergence is the trace of
# the Jacobian; in a few dimensions autograd gives it exactly, with one backward pass per dimension.

# %% [markdown] tags=["question"] name="divergence" points=2
# **Exercise 4.** Write `divergence(velocity, x, t)`: `velocity(x, t)` maps a tensor of shape `(n, d)` (and a float
# `t`) to shape `(n, d)`, event by event. Return the divergence $\sum_i \partial v_i / \partial x_i$ at each event,
# shape `(n,)`, computed with `torch.autograd.grad`. The `x` you are given does not require gradients.


# %% tags=["solution"]
def divergence(velocity, x: torch.Tensor, t: float) -> torch.Tensor:
    """Exact divergence of velocity(x, t) at each event, shape (n,), by autograd."""
    # BEGIN SOLUTION
    x = x.detach().requires_grad_(True)
    v = velocity(x, t)
    div = torch.zeros(len(x))
    for i in range(x.shape[1]):
        (grad_i,) = torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)
        div = div + grad_i[:, i]
    return div
    # END SOLUTION
    # HINT: x.requires_grad_(True); for each i, the gradient of v[:, i].sum() with respect to x, column i.


# %% tags=["wrong"]
# WRONG: the gradient of v.sum() sums every entry of the Jacobian, not only its diagonal
# EXPECT: the sum of *all* entries of the Jacobian
def divergence(velocity, x, t):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(velocity(x, t).sum(), x)
    return grad.sum(dim=1)


# %% tags=["wrong"]
# WRONG: keeps the diagonal terms but does not add them up
# EXPECT: sum the diagonal terms dv_i/dx_i over i
def divergence(velocity, x, t):
    x = x.detach().requires_grad_(True)
    v = velocity(x, t)
    columns = [torch.autograd.grad(v[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(x.shape[1])]
    return torch.stack(columns, dim=1)


# %% tags=["check"]
checks.divergence(divergence)

# %% tags=["check", "hidden"]
checks.divergence(divergence, seed=404)

# %% [markdown]
# `FlowMatching.log_prob` integrates the log-density along with the ODE (midpoint rule), using the exact divergence.
# Compare with lesson 07: flows give $\log p$ in one pass; here each event costs an ODE solve with $d$ backward
# passes per step, which is why the table below evaluates it on a subset of the test events.
#
# ## One table: every generator, the same budget
#
# All models of lessons 06-08 on the same training events, each trained for the same number of epochs with the
# same batch size (the same number of gradient steps), and judged on the same test events. Flow matching appears
# twice: with that budget, and as trained above (with `cfm_epochs` epochs). The columns:
#
# - **C2ST AUC** with the spread over its folds (0.5 is perfect), and the **sliced W1** and **MMD²** of lesson 06;
# - **log p(x)**: the mean held-out log-likelihood in nats, exact for the flows, through the ODE for flow matching
#   (on 500 events, 20 midpoint steps), an importance-sampled lower estimate for the VAE, none for the GAN;
# - the number of **parameters**, the **training time** and the **time to generate** 10 000 events (CPU seconds,
#   scaled from `n_sample` events), and the network evaluations per sample (NFE).

# %%
import pandas as pd

from mlmc_course.metrics.samples import held_out_log_likelihood, mmd, sliced_wasserstein
from mlmc_course.models.flows import CouplingFlow, maf, nll_loss, rq_spline_flow
from mlmc_course.models.gan import GAN, train_gan
from mlmc_course.models.vae import VAE, vae_loss
from mlmc_course.training import count_parameters

models = {
    "GAN": (lambda: GAN(2, n_latent=2, hidden=(128, 128)), None, 1),
    "VAE (beta = 1)": (lambda: VAE(2), vae_loss, 1),
    "affine coupling flow": (lambda: CouplingFlow(2, n_layers=4), nll_loss, 1),
    "RQ spline flow": (lambda: rq_spline_flow(2, n_layers=3, hidden=32), nll_loss, 1),
    "MAF": (lambda: maf(2, n_layers=4, hidden=32), nll_loss, 2),
    "flow matching": (lambda: FlowMatching(2), flow_matching_loss, 100),
}
trained, train_seconds, nfe = {}, {}, {}
for name, (build, loss, evaluations) in models.items():
    torch.manual_seed(cfg.seed)
    model = build().to(cfg.device)
    start = time.process_time()
    if loss is None:  # the GAN's two-player update (lr 1e-3: faster settings make it unstable)
        train_gan(model, x_train, epochs=budget_epochs, batch_size=256, lr=1e-3, seed=cfg.seed, desc=name)
    else:
        fit(model, loss, train_tensors, epochs=budget_epochs, batch_size=256, lr=3e-3, seed=cfg.seed, desc=name)
    train_seconds[name], trained[name], nfe[name] = time.process_time() - start, model, evaluations
name = f"flow matching, {cfm_epochs} epochs"
trained[name], train_seconds[name], nfe[name] = cfm, cfm_seconds, 100


def log_likelihood(model) -> float:
    """Mean held-out log p(x) in nats (NaN where the model has none)."""
    if isinstance(model, GAN):
        return float("nan")
    if isinstance(model, VAE):
        return held_out_log_likelihood(lambda x, c: model.log_prob(x, n_samples=64), x_test).value
    if isinstance(model, FlowMatching):
        return held_out_log_likelihood(lambda x, c: model.log_prob(x, n_steps=20), x_test[:500]).value
    return held_out_log_likelihood(model, x_test).value


table = {}
for name, model in trained.items():
    torch.manual_seed(cfg.seed)
    start = time.process_time()
    sample = model.sample(n_sample).cpu().numpy()
    sample_seconds = (time.process_time() - start) * 10_000 / n_sample
    c2st = classifier_two_sample_test(x_test, sample[:n_test], seed=cfg.seed)
    table[name] = {
        "C2ST AUC": c2st.auc,
        "AUC ±": c2st.error,
        "sliced W1": sliced_wasserstein(x_test, sample[:n_test], seed=cfg.seed),
        "MMD²": mmd(x_test, sample[:n_test], max_n=1500, seed=cfg.seed),
        "log p(x) [nats]": log_likelihood(model),
        "parameters": count_parameters(model),
        "train CPU [s]": train_seconds[name],
        "sample 10k CPU [s]": sample_seconds,
        "NFE": nfe[name],
    }
comparison = pd.DataFrame(table).T
comparison.style.format("{:.3f}", na_rep="—").format("{:.0f}", subset=["parameters", "NFE"])

# %% [markdown]
# How to read it. Lower AUC, W1 and MMD² and higher $\log p$ are better; compare differences with the AUC spread.
# The timings are CPU seconds of this process for this run (on an idle machine, with one thread, about the wall
# time); the ratios between rows matter more than the values. Look for:
#
# - **price per step**: at the same number of steps, the spline flow learns most per step and costs most. In the
#   `lecture` run flow matching and the VAE are the cheapest to train (small networks, no Jacobian; the two are
#   within a few per cent of each other, so which one comes first varies from run to run), but flow matching is
#   among the two weakest models at this budget, because its regression target is noisy, and the second
#   flow-matching row shows what more steps buy (in `ci` mode all models are barely trained);
# - **price per sample**: GAN, VAE and coupling flows sample in one pass, the MAF in $d$ passes, flow matching in
#   100, and its sampling time is many times that of any other model;
# - **likelihood**: the flows give $\log p$ exactly, flow matching up to the error of its ODE solver (20 midpoint
#   steps here); the VAE's number is a lower estimate, and the GAN has none;
# - **what the metrics disagree on**: a model can have a good likelihood and a mediocre AUC, or the reverse.
#
# The ranking depends on the budget, the network sizes and the dimension: in two dimensions flows are hard to beat
# (here the spline flow has the lowest AUC of all rows); in hundreds of dimensions (calorimeter showers, jet
# constituents) diffusion and flow matching are expected to scale better. Seed 000's table agrees: on the
# high-dimensional CaloChallenge datasets 2 and 3, CaloDiffusion's classifier AUCs (0.56-0.57) are far below
# CaloFlow's (0.80-0.95).

# %% tags=["claim"]
from mlmc_course.claims import claim

budget_rows = comparison.drop(index=f"flow matching, {cfm_epochs} epochs")
claim(
    "at the same number of steps, the spline flow learns most per step and costs most",
    budget_rows["C2ST AUC"].idxmin() == "RQ spline flow" and budget_rows["train CPU [s]"].idxmax() == "RQ spline flow",
    lowest_auc=budget_rows["C2ST AUC"].idxmin(),
    slowest=budget_rows["train CPU [s]"].idxmax(),
)
claim(
    "in the lecture run flow matching and the VAE are the cheapest to train",
    set(budget_rows["train CPU [s]"].nsmallest(2).index) == {"flow matching", "VAE (beta = 1)"},
    when=cfg.mode == "lecture",
    cheapest=list(budget_rows["train CPU [s]"].nsmallest(2).index),
)
auc_fm, auc_fm_long = comparison.loc["flow matching"], comparison.loc[f"flow matching, {cfm_epochs} epochs"]
claim(
    "in the lecture run flow matching is among the two weakest models at this budget, and more steps improve it",
    "flow matching" in budget_rows["C2ST AUC"].nlargest(2).index
    and auc_fm_long["C2ST AUC"] < auc_fm["C2ST AUC"] - 3 * np.hypot(auc_fm["AUC ±"], auc_fm_long["AUC ±"]),
    when=cfg.mode == "lecture",
    budget_auc=auc_fm["C2ST AUC"],
    longer_auc=auc_fm_long["C2ST AUC"],
)
others = comparison.drop(index=["flow matching", f"flow matching, {cfm_epochs} epochs"])["sample 10k CPU [s]"]
claim(
    "flow matching's sampling time is many times that of any other model",
    auc_fm["sample 10k CPU [s]"] > 5 * others.max(),
    flow_matching=auc_fm["sample 10k CPU [s]"],
    slowest_other=others.max(),
)
claim(
    "the spline flow has the lowest AUC of all rows",
    comparison["C2ST AUC"].idxmin() == "RQ spline flow",
    lowest=comparison["C2ST AUC"].idxmin(),
)

# %% [markdown]
# ## Flow matching for jets
#
# The conditional version gives the velocity network the condition as one more input, $v_\theta(x, t, c)$; the path
# and the loss are unchanged. We train it on the mass and $\tau_{32}$ of the jets of lesson 07 (same preprocessing:
# the logit box map, then standardisation), conditioned on the label, and compare it with lesson 07's conditional
# spline flow trained here with the same budget.

# %%
from mlmc_course.data.landscape import load_top_features
from mlmc_course.metrics.samples import wasserstein_1d
from mlmc_course.models.flows import BoxToReal, conditional_flow

box_low, box_high = np.array([0.0, 0.0]), np.array([400.0, 1.2])  # mass in GeV, tau32


def jet_targets(split: str, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(mass [GeV], tau32) of shape (n, 2) and the labels (n,), keeping only jets inside the box."""
    features, labels = load_top_features(split, n=n, names=("mass", "tau32"))
    x = np.column_stack([features["mass"], features["tau32"]])
    inside = np.all((x > box_low) & (x < box_high), axis=1)
    return x[inside], labels[inside]


jets_train, labels_train = jet_targets("train", n_jets)
jets_test, labels_test = jet_targets("test", None if n_jets is None else n_jets // 2)
box = BoxToReal(box_low, box_high)
u_train, _ = box.forward(jets_train)
u_mean, u_std = u_train.mean(0), u_train.std(0)
jet_tensors = to_tensors((u_train - u_mean) / u_std, labels_train[:, None].astype(np.float32), device=cfg.device)

jet_models = {
    "conditional spline flow": (lambda: conditional_flow(2, 1, n_layers=3, hidden=32), nll_loss),
    "conditional flow matching": (lambda: FlowMatching(2, n_context=1), flow_matching_loss),
}
jet_table = {}
for name, (build, loss) in jet_models.items():
    torch.manual_seed(cfg.seed)
    model = build().to(cfg.device)
    start = time.process_time()
    fit(model, loss, jet_tensors, epochs=jet_epochs, batch_size=256, lr=3e-3, seed=cfg.seed, desc=name)
    seconds = time.process_time() - start
    for label, cls in ((0, "QCD"), (1, "top")):
        real = jets_test[labels_test == label]
        u = model.sample(len(real), context=[float(label)]).cpu() * u_std + u_mean
        fake = box.inverse(u).numpy()
        c2st = classifier_two_sample_test(real, fake, seed=cfg.seed)
        jet_table[(name, cls)] = {
            "C2ST AUC": c2st.auc,
            "AUC ±": c2st.error,
            "W1(mass) [GeV]": wasserstein_1d(real[:, 0], fake[:, 0]),
            "W1(tau32)": wasserstein_1d(real[:, 1], fake[:, 1]),
            "train CPU [s]": seconds,
        }
print(f"{len(jets_train)} training jets, {jet_epochs} epochs each")
pd.DataFrame(jet_table).T.style.format("{:.3f}")

# %% [markdown]
# The same questions as on the toy, now in GeV: which model reproduces the top mass peak and the $\tau_{32}$ of each
# class better for the same number of steps, and at what cost in training and in sampling time? With at most a
# thousand or so test jets per class, differences smaller than the AUC spread are not significant.

# %% [markdown]
# ## Summary
#
# - Diffusion destroys data with a variance-preserving noising process and learns to reverse it; flow matching
#   learns the velocity of a continuous flow by regression on straight noise-to-data paths, with a loss that levels
#   off at the variance of the pair velocities.
# - Sampling integrates an ODE: quality improves with the number of network evaluations until the model's error
#   dominates; higher-order solvers reach it with fewer evaluations.
# - The instantaneous change of variables, with the exact divergence of the velocity, gives the likelihood of a
#   continuous flow, at the cost of an ODE solve per event.
# - On the same budget, the generators differ in sample quality, likelihood, training cost and sampling cost; a
#   table with a C2ST AUC and its spread, a distance, a likelihood and timings is the honest way to compare them.
#
# ## Further reading
#
# - J. Ho, A. Jain, P. Abbeel, *Denoising diffusion probabilistic models*,
#   [arXiv:2006.11239](https://arxiv.org/abs/2006.11239).
# - Y. Song et al., *Score-based generative modeling through stochastic differential equations*,
#   [arXiv:2011.13456](https://arxiv.org/abs/2011.13456).
# - Y. Lipman et al., *Flow matching for generative modeling*, [arXiv:2210.02747](https://arxiv.org/abs/2210.02747).
# - X. Liu, C. Gong, Q. Liu, *Flow straight and fast: rectified flow*,
#   [arXiv:2209.03003](https://arxiv.org/abs/2209.03003).
# - A. Tong et al., *Improving and generalizing flow-based generative models with minibatch optimal transport*,
#   [arXiv:2302.00482](https://arxiv.org/abs/2302.00482).
# - R. T. Q. Chen et al., *Neural ordinary differential equations*, [arXiv:1806.07366](https://arxiv.org/abs/1806.07366).
# - O. Amram and K. Pedro, *Denoising diffusion models with geometry adaptation for high fidelity calorimeter
#   simulation* (CaloDiffusion), [arXiv:2308.03876](https://arxiv.org/abs/2308.03876).
# - A. Nichol and P. Dhariwal, *Improved denoising diffusion probabilistic models*,
#   [arXiv:2102.09672](https://arxiv.org/abs/2102.09672).

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[16, 26]
# # 15 · Optimal transport
#
# Lesson 13 corrected simulation by changing the weights of its events. Optimal transport corrects it by
# **moving** the events: each simulated value $x$ is replaced by $T(x)$, with the map $T$ chosen so that the
# moved sample follows the data while every event moves as little as possible. The number of events, their
# weights and so the integral of the sample stay as they were. This is the natural language of calibrations
# (an energy scale and resolution are a map), it needs no overlap between simulation and data, and it extends
# to many dimensions, where it corrects correlations as well.
#
# **You will**
# - derive why the 1D optimal map is quantile matching, $T = Q^{-1}\circ P$, and implement it;
# - compute Wasserstein distances, exact transport plans with POT's network simplex and entropic plans with
#   Sinkhorn iterations written by hand;
# - turn a plan into a map, and judge when moving simulation beats reweighting it;
# - train a neural transport map, the gradient of an input-convex network, and check it against the exact plan.
#
# **Prerequisites:** lesson 13 (reweighting); cumulative distributions; gradients in PyTorch.
# **Time:** about 75 minutes.
# **Sources:** the HSF training lecture "Machine learning: simulation and data" (moving points instead of
# reweighting, 1D quantile matching, the dual problem and its neural min-max form). Papers: Pollard and
# Windischhofer, *Transport away your problems: calibrating stochastic simulations with optimal transport*,
# [arXiv:2107.08648](https://arxiv.org/abs/2107.08648); Makkuva, Taghvaei, Oh and Lee, *Optimal transport
# mapping via input convex neural networks*, [arXiv:1908.10962](https://arxiv.org/abs/1908.10962); Amos, Xu and
# Kolter, *Input convex neural networks*, [arXiv:1609.07152](https://arxiv.org/abs/1609.07152); Cuturi,
# *Sinkhorn distances*, [arXiv:1306.0895](https://arxiv.org/abs/1306.0895); Peyré and Cuturi, *Computational
# optimal transport*, [arXiv:1803.00567](https://arxiv.org/abs/1803.00567).

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np

import mlmc_course
from mlmc_course.checks import l15_optimal_transport as checks

cfg = mlmc_course.setup(MODE)

# %%
n_1d = cfg.pick(ci=5_000, lecture=50_000, full=500_000)  # events per 1D sample, and per 2D sample when reweighting
n_plan = cfg.pick(ci=200, lecture=800, full=3_000)  # points per discrete transport plan
ot_steps = cfg.pick(ci=100, lecture=1_000, full=5_000)  # training steps of the neural transport map

# %% [markdown]
# POT (`import ot`) is the field's optimal-transport library: exact solvers, Sinkhorn and its variants,
# Wasserstein distances. On import it loads every array library it finds, TensorFlow included; `mlmc_course.ot`
# turns that backend off first (setting `POT_BACKEND_DISABLE_TENSORFLOW`), so this lesson stays a PyTorch one.

# %%
import time

import matplotlib.pyplot as plt

from mlmc_course import ot as mot
from mlmc_course.ot import ot
from mlmc_course.plotting import compare_hist

print(f"POT {ot.__version__}; {n_1d:,} events in 1D, {n_plan} points per discrete plan, {ot_steps} neural-OT steps")

# %% [markdown]
# ## The problem
#
# Simulation gives $x \sim p$, data $y \sim q$. Monge asked for the map $T$ that carries $p$ onto $q$ at the least
# cost,
# $$ \hat T = \arg\min_T \int dx\, p(x)\, c(x, T(x)), \qquad q(y) = p(x) \left|\frac{dT}{dx}\right|^{-1}
#    \text{ at } y = T(x), $$
# usually with $c(x, y) = |x - y|^2$. Kantorovich relaxed the map to a **plan** $\pi(x, y)$, a joint density
# whose marginals are $p$ and $q$, $\int dy\, \pi(x,y) = p(x)$ and $\int dx\, \pi(x,y) = q(y)$:
# $$ \hat\pi = \arg\min_\pi \int dx\, dy\, \pi(x, y)\, c(x, y). $$
# A map is the plan $\pi(x, y) = p(x)\,\delta(y - T(x))$. The plan problem is linear, and its dual reads
# $$ \max_{f, g} \int dy\, q(y) f(y) + \int dx\, p(x) g(x) \quad\text{with}\quad g(x) + f(y) \le c(x, y). $$
# Its optimum, the minimal cost, defines the Wasserstein distance, $W_p(p, q) = (\min_\pi \int \pi\,
# |x-y|^p)^{1/p}$: a distance between distributions that, unlike a $\chi^2$, also says how *far* the mass must
# move.
#
# ## One dimension: quantile matching
#
# In 1D the optimal map for any convex cost never lets two paths cross: if $x_1 < x_2$ then $T(x_1) \le T(x_2)$
# (uncrossing two crossed paths lowers a convex cost). A monotone map that carries $p$ onto $q$ must keep the
# probability to the left of each point: $P(x) = Q(T(x))$ with $P, Q$ the cumulative distributions. Hence
# $$ \hat T(x) = Q^{-1}(P(x)), $$
# quantile matching. Our example: a calorimeter's response $r = E_\text{reco}/E_\text{true}$ is Gaussian in
# the simulation, but the data have a low tail (energy lost in dead material), a slightly lower scale and a
# wider core.

# %%
rng = np.random.default_rng(cfg.seed)


def response(n: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Calorimeter response E_reco / E_true: a Gaussian in simulation; data: wider, lower, with a 12% low tail."""
    if kind == "sim":
        return rng.normal(1.0, 0.08, n)
    tail = rng.random(n) < 0.12
    return np.where(tail, rng.normal(0.80, 0.10, n), rng.normal(0.98, 0.10, n))


sim_r, data_r = response(n_1d, "sim", rng), response(n_1d, "data", rng)
r_bins = np.linspace(0.3, 1.5, 61)
compare_hist(
    {"data": data_r, "simulation": sim_r},
    r_bins,
    xlabel=r"response $E_\mathrm{reco}/E_\mathrm{true}$",
    ylabel="probability density",
    ratio_range=(0, 3),
)
plt.show()

# %% [markdown] tags=["question"] name="quantile_map" points=2
# **Exercise 1.** Write `quantile_map(x, source, target)`: `source` and `target` are 1D NumPy arrays sampled
# from $p$ and $q$; return $T(x) = Q^{-1}(P(x))$ for the points `x` (shape `(n,)`), using the empirical CDF of
# `source` and the empirical quantiles of `target`.


# %% tags=["solution"]
def quantile_map(x: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Quantile matching T(x) = Q^{-1}(P(x)) from samples; x of shape (n,)."""
    # BEGIN SOLUTION
    src = np.sort(source)
    u = np.searchsorted(src, x) / len(src)  # the empirical CDF of the source at x
    return np.quantile(target, np.clip(u, 0.0, 1.0))  # the target's quantile function
    # END SOLUTION
    # HINT: P(x) is the fraction of the sorted source below x (np.searchsorted); Q^{-1}(u) is np.quantile(target, u).


# %% tags=["wrong"]
# WRONG: the CDFs swapped, P^{-1}(Q(x))
# EXPECT: the CDFs are swapped
def quantile_map(x, source, target):
    u = np.searchsorted(np.sort(target), x) / len(target)
    return np.quantile(source, np.clip(u, 0, 1))


# %% tags=["wrong"]
# WRONG: matches only the mean and the width (a linear map), not every quantile
# EXPECT: you matched the mean and the width (a linear map)
def quantile_map(x, source, target):
    return target.mean() + (x - source.mean()) / source.std() * target.std()


# %% tags=["mutants"]
# EQUIVALENT L3:31 swap arguments 1,2: np.clip(0.0, u, 1.0) is max(0, u) capped at 1, the same as np.clip(u, 0.0,
#   1.0) for u in [0, 1]
# EQUIVALENT L3:47 Constant 1.0->2.0: the empirical CDF never exceeds 1, so the upper clip is only a guard

# %% tags=["check"]
checks.quantile_map(quantile_map)

# %% tags=["check", "hidden"]
checks.quantile_map(quantile_map, seed=115)

# %% [markdown]
# The package's `mot.quantile_map` interpolates between the sorted values (a smoother CDF). Calibrate a fresh
# simulated sample with the map learned from the first one: every event keeps its weight, only its response
# moves.

# %%
sim_new = response(n_1d, "sim", rng)
calibrated = mot.quantile_map(sim_new, sim_r, data_r)
fig = plt.figure(figsize=(11, 4.4))
grid_spec = fig.add_gridspec(2, 2, height_ratios=(3, 1), hspace=0.05)
ax_h = fig.add_subplot(grid_spec[0, 0])
ax_r = fig.add_subplot(grid_spec[1, 0], sharex=ax_h)
ax_h.tick_params(labelbottom=False)
compare_hist(
    {"data": data_r, "simulation": sim_new, "transported simulation": calibrated},
    r_bins,
    xlabel=r"response $E_\mathrm{reco}/E_\mathrm{true}$",
    ylabel="probability density",
    ratio_range=(0, 3),
    axes=(ax_h, ax_r),
)
ax_map = fig.add_subplot(grid_spec[:, 1])
grid = np.linspace(0.75, 1.25, 201)
t_grid = mot.quantile_map(grid, sim_r, data_r)
ax_map.plot(grid, t_grid, label=r"$T(x) = Q^{-1}(P(x))$")
ax_map.plot(grid, grid, ":", color="grey", label="identity")
ax_map.set_xlabel("simulated response $x$")
ax_map.set_ylabel("calibrated response $T(x)$")
ax_map.legend()
plt.show()

# %% [markdown]
# The map is monotone, steeper than the identity in the core (the data are wider) and bends down at low
# response, where it feeds the tail.

# %% tags=["claim"]
from mlmc_course.claims import claim

core = (grid > 0.95) & (grid < 1.05)
core_slope = np.polyfit(grid[core], t_grid[core], 1)[0]
claim(
    "the map is monotone, steeper than the identity in the core, and bends down at low response",
    np.all(np.diff(t_grid) >= 0) & (core_slope > 1.05) & (t_grid[0] < grid[0] - 0.1),
    core_slope=core_slope,
    t_at_075=t_grid[0],
)

# %% [markdown]
# ## Wasserstein distances in 1D
#
# For two samples of equal size $n$, the optimal 1D plan pairs the $i$-th smallest value of one with the
# $i$-th smallest of the other, so $W_1 = \frac1n \sum_i |a_{(i)} - b_{(i)}|$ with $a_{(i)}$ the sorted values
# (you wrote this in lesson 06). Unlike a $\chi^2$ it needs no bins. Simulation, however, usually comes with
# **weights** (generator weights, or the classifier weights of lesson 13) and in another number of events than the
# data. The general 1D formula handles both: $W_1$ is the area between the two cumulative distribution functions,
# $$ W_1(a, b) = \int_{-\infty}^{\infty} \big| F_a(t) - F_b(t) \big|\, dt , \qquad
#    F_a(t) = \frac{\sum_i w_i\, [a_i \le t]}{\sum_i w_i} , $$
# and both CDFs are step functions that only change at the sample points.

# %% [markdown] tags=["question"] name="wasserstein_1d_weighted" points=2
# **Exercise 2.** Write `wasserstein_1d_weighted(a, w, b)`: a weighted sample `a` with weights `w` (1D NumPy arrays
# of equal length, `w >= 0`) and an unweighted sample `b` of any length; return $W_1$ as a float, in the units of the
# data. Evaluate both CDFs between consecutive points of the merged, sorted samples and sum |difference| x width.


# %% tags=["solution"]
def wasserstein_1d_weighted(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> float:
    """1-Wasserstein distance between a weighted 1D sample (a, w) and an unweighted one, b (any sizes)."""
    # BEGIN SOLUTION
    order = np.argsort(a)
    a_sorted, cdf_a = a[order], np.concatenate([[0.0], np.cumsum(w[order]) / w.sum()])
    b_sorted = np.sort(b)
    t = np.sort(np.concatenate([a, b]))
    f_a = cdf_a[np.searchsorted(a_sorted, t[:-1], side="right")]
    f_b = np.searchsorted(b_sorted, t[:-1], side="right") / len(b)
    return float(np.sum(np.abs(f_a - f_b) * np.diff(t)))
    # END SOLUTION
    # HINT: F_a at t is the summed weight of a <= t over the total weight (np.cumsum on the sorted a, np.searchsorted).


# %% tags=["wrong"]
# WRONG: ignores the weights (the unweighted distance)
# EXPECT: that is the distance of the unweighted sample
def wasserstein_1d_weighted(a, w, b):
    t = np.sort(np.concatenate([a, b]))
    f_a = np.searchsorted(np.sort(a), t[:-1], side="right") / len(a)
    f_b = np.searchsorted(np.sort(b), t[:-1], side="right") / len(b)
    return float(np.sum(np.abs(f_a - f_b) * np.diff(t)))


# %% tags=["wrong"]
# WRONG: the weighted CDF is not divided by the total weight, so it does not end at 1
# EXPECT: is F_a divided by the total weight
def wasserstein_1d_weighted(a, w, b):
    order = np.argsort(a)
    cdf_a = np.concatenate([[0.0], np.cumsum(w[order])])
    t = np.sort(np.concatenate([a, b]))
    f_a = cdf_a[np.searchsorted(a[order], t[:-1], side="right")]
    f_b = np.searchsorted(np.sort(b), t[:-1], side="right") / len(b)
    return float(np.sum(np.abs(f_a - f_b) * np.diff(t)))


# %% tags=["mutants"]
# EQUIVALENT L7:31 swap operands of Sub: |F_a - F_b| = |F_b - F_a|

# %% tags=["check"]
checks.wasserstein_1d_weighted(wasserstein_1d_weighted)

# %% tags=["check", "hidden"]
checks.wasserstein_1d_weighted(wasserstein_1d_weighted, seed=215)

# %% [markdown]
# With POT's `ot.wasserstein_1d` (wrapped as `mot.wasserstein_1d`, any sizes and weights), the calibration
# closes the gap to within a few times the distance between two independent data samples (the map itself was
# learned from finite samples):

# %%
data_again = response(n_1d, "data", rng)
w1 = {}
for name, sample in [
    ("simulation", sim_new),
    ("transported simulation", calibrated),
    ("a second data sample", data_again),
]:
    w1[name] = mot.wasserstein_1d(data_r, sample)
    print(f"W1(data, {name}) = {w1[name]:.5f}")

# %% tags=["claim"]
claim(
    "the calibration closes the gap to within a few times the distance between two data samples",
    (w1["transported simulation"] < 4 * w1["a second data sample"])
    & (w1["transported simulation"] < w1["simulation"] / 10),
    transported=w1["transported simulation"],
    two_data_samples=w1["a second data sample"],
)

# %% [markdown]
# ## Many dimensions: exact plans
#
# For samples $x_i$ (weights $a_i$) and $y_j$ (weights $b_j$) the plan is a matrix, and Kantorovich's problem is
# a linear programme,
# $$ \min_{\pi \ge 0} \sum_{ij} \pi_{ij} M_{ij} \quad\text{with}\quad \sum_j \pi_{ij} = a_i,\;
#    \sum_i \pi_{ij} = b_j, \qquad M_{ij} = |x_i - y_j|^2 . $$
# POT's `ot.emd` solves it with the network simplex, in roughly $O(n^3)$ time. For equal uniform weights the
# optimum is a permutation: each point has one partner. Here a 2D simulation (a round Gaussian) and data
# (shifted, squeezed and correlated):

# %%
cov_data = np.array([[0.5, 0.35], [0.35, 0.6]])
mean_data = np.array([1.5, 0.5])
x_sim = rng.normal(size=(n_plan, 2))
y_data = rng.multivariate_normal(mean_data, cov_data, n_plan)
a, b = ot.unif(n_plan), ot.unif(n_plan)
cost = ot.dist(x_sim, y_data)  # squared Euclidean distances, (n_plan, n_plan)
start = time.process_time()
plan = ot.emd(a, b, cost)
print(
    f"exact plan for {n_plan} x {n_plan} points in {time.process_time() - start:.2f} CPU s; "
    f"W2^2 = {np.sum(plan * cost):.4f}; non-zero entries: {np.sum(plan > 0)}"
)

fig, ax = plt.subplots()
i, j = np.nonzero(plan)
for k in range(0, len(i), max(1, len(i) // 150)):
    ax.plot([x_sim[i[k], 0], y_data[j[k], 0]], [x_sim[i[k], 1], y_data[j[k], 1]], color="grey", lw=0.5)
ax.scatter(*x_sim.T, s=4, label="simulation")
ax.scatter(*y_data.T, s=4, label="data")
ax.plot([], [], color="grey", lw=0.5, label="pairs of the plan (every few)")
ax.set_xlabel("$x_1$")
ax.set_ylabel("$x_2$")
ax.set_aspect("equal")
ax.legend()
plt.show()

# %% tags=["claim"]
claim(
    "for equal uniform weights the optimum is a permutation: each point has one partner",
    (np.sum(plan > 0) == n_plan) & np.allclose(plan[plan > 0], 1 / n_plan),
    non_zero=np.sum(plan > 0),
)

# %% [markdown]
# ## Entropic transport: Sinkhorn
#
# Adding an entropy term, $\min_\pi \sum \pi_{ij} M_{ij} + \varepsilon \sum \pi_{ij} (\log \pi_{ij} - 1)$,
# makes the problem strictly convex and its solution has the form $\pi = \mathrm{diag}(u)\, K\,
# \mathrm{diag}(v)$ with the kernel $K_{ij} = e^{-M_{ij}/\varepsilon}$. The two marginal conditions fix $u$ and
# $v$, and alternating them is Sinkhorn's algorithm:
# $$ u \leftarrow a / (K v), \qquad v \leftarrow b / (K^T u) . $$
# Each iteration costs two matrix-vector products, which is what makes entropic OT fast on GPUs. The price is
# a blurred plan: every point is spread over partners within about $\sqrt\varepsilon$.

# %% [markdown] tags=["question"] name="sinkhorn" points=2
# **Exercise 3.** Write `sinkhorn(a, b, M, reg, n_iter)`: `a` `(n,)` and `b` `(m,)` are weights summing to
# one, `M` the cost matrix `(n, m)`, `reg` $= \varepsilon$. Start from $v = 1$, make `n_iter` iterations (each
# updates $u$, then $v$) and return the plan `(n, m)`.


# %% tags=["solution"]
def sinkhorn(a: np.ndarray, b: np.ndarray, M: np.ndarray, reg: float, n_iter: int) -> np.ndarray:
    """Entropic transport plan (n, m) after n_iter Sinkhorn iterations."""
    # BEGIN SOLUTION
    K = np.exp(-M / reg)
    v = np.ones(len(b))
    for _ in range(n_iter):
        u = a / (K @ v)
        v = b / (K.T @ u)
    return u[:, None] * K * v[None, :]
    # END SOLUTION
    # HINT: K = exp(-M / reg); alternate u = a / (K @ v) and v = b / (K.T @ u); the plan is u[:, None] * K * v.


# %% tags=["wrong"]
# WRONG: the kernel with the wrong sign, exp(+M / reg) (scaled by max M against overflow), favours distant partners
# EXPECT: use the kernel K = exp(-M / reg)
def sinkhorn(a, b, M, reg, n_iter):
    K = np.exp(M / M.max() / reg)
    v = np.ones(len(b))
    for _ in range(n_iter):
        u = a / (K @ v)
        v = b / (K.T @ u)
    return u[:, None] * K * v[None, :]


# %% tags=["wrong"]
# WRONG: updates u only, so the columns never learn about b
# EXPECT: update v = b / (K^T u) in every iteration
def sinkhorn(a, b, M, reg, n_iter):
    K = np.exp(-M / reg)
    v = np.ones(len(b))
    for _ in range(n_iter):
        u = a / (K @ v)
    return u[:, None] * K * v[None, :]


# %% tags=["check"]
checks.sinkhorn(sinkhorn)

# %% tags=["check", "hidden"]
checks.sinkhorn(sinkhorn, seed=315)

# %% [markdown]
# With POT's `ot.sinkhorn` (the same iterations; `method="sinkhorn_log"` runs them in the log domain, which is
# needed when $M/\varepsilon$ is so large that the kernel underflows): the transport cost approaches the exact one
# as $\varepsilon \to 0$, while the plan spreads over more and more partners as $\varepsilon$ grows, and the
# number of iterations needed grows as $\varepsilon$ shrinks.

# %%
exact_cost = np.sum(plan * cost)
entropic = {}
for reg in [1.0, 0.3, 0.1, 0.05]:
    start = time.process_time()
    p_reg, log = ot.sinkhorn(a, b, cost, reg, numItermax=5000, log=True)
    spread = np.mean(1 / np.sum((p_reg / p_reg.sum(1, keepdims=True)) ** 2, 1))
    entropic[reg] = (np.sum(p_reg * cost), spread, log["niter"])
    print(
        f"eps = {reg:4}: cost {entropic[reg][0]:.4f} (exact {exact_cost:.4f}), "
        f"{spread:6.1f} effective partners per point, {log['niter']:5d} iterations, "
        f"{time.process_time() - start:.2f} CPU s"
    )

# %% tags=["claim"]
costs, partners, iterations = (np.array(column) for column in zip(*entropic.values(), strict=True))
claim(
    "as eps shrinks the cost approaches the exact one, the plan spreads less, and more iterations are needed",
    np.all(np.diff(costs) < 0)
    & np.all(costs > exact_cost)
    & np.all(np.diff(partners) < 0)
    & np.all(np.diff(iterations) > 0),
    cost_smallest_eps=costs[-1],
    exact=exact_cost,
)

# %% [markdown]
# ## From a plan to a map
#
# A plan tells where the mass of each source point goes. The **barycentric map** sends each point to the mean
# of its partners,
# $$ T(x_i) = \frac{\sum_j \pi_{ij}\, y_j}{\sum_j \pi_{ij}} , $$
# which for a permutation plan is the partner itself, and for an entropic plan a smoothed version of it.

# %% [markdown] tags=["question"] name="barycentric_map" points=1
# **Exercise 4.** Write `barycentric_map(plan, y)`: `plan` is `(n, m)`, `y` the target points `(m, d)`; return
# the mapped source points `(n, d)`.


# %% tags=["solution"]
def barycentric_map(plan: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Barycentric projection of a plan (n, m) onto target points (m, d); returns (n, d)."""
    # BEGIN SOLUTION
    return plan @ y / plan.sum(axis=1, keepdims=True)
    # END SOLUTION
    # HINT: plan @ y gives the weighted sums; divide each row by its total mass, plan.sum(axis=1).


# %% tags=["wrong"]
# WRONG: forgets to divide by the mass of each row
# EXPECT: divide each row by its sum
def barycentric_map(plan, y):
    return plan @ y


# %% tags=["check"]
checks.barycentric_map(barycentric_map)

# %% tags=["check", "hidden"]
checks.barycentric_map(barycentric_map, seed=415)

# %% [markdown]
# ## Moving or reweighting?
#
# Both make a simulated sample look like the data. Take the best possible reweighting, with the *exact* density
# ratio of our two Gaussians, and the *exact* transport map, which for Gaussians is linear,
# $T(x) = m_y + A(x - m_x)$ with $A = \Sigma_x^{-1/2}(\Sigma_x^{1/2}\Sigma_y\Sigma_x^{1/2})^{1/2}\Sigma_x^{-1/2}$
# (`mot.gaussian_map`). Then shift the data further and further away.

# %%
from scipy import stats

from mlmc_course import reweight as rw

x_big = rng.normal(size=(n_1d, 2))
print(" shift | reweighting: N_eff/N   W2 to data | transport: N_eff/N   W2 to data")
compared = {}
for shift in [0.5, 1.5, 3.0, 5.0]:
    mean_y = np.array([shift, 0.5])
    y_big = rng.multivariate_normal(mean_y, cov_data, n_1d)
    weights = stats.multivariate_normal(mean_y, cov_data).pdf(x_big) / stats.multivariate_normal(np.zeros(2)).pdf(x_big)
    _, transport = mot.gaussian_map(np.zeros(2), np.eye(2), mean_y, cov_data)
    moved = transport(x_big)
    sub = slice(0, n_plan)  # exact W2 on n_plan points
    w_sub = weights[sub] / weights[sub].sum()
    w2_rw = np.sqrt(ot.emd2(w_sub, ot.unif(n_plan), ot.dist(x_big[sub], y_big[sub]), numItermax=10**7))
    w2_ot = np.sqrt(ot.emd2(ot.unif(n_plan), ot.unif(n_plan), ot.dist(moved[sub], y_big[sub]), numItermax=10**7))
    compared[shift] = (rw.effective_sample_size(weights), w2_rw, w2_ot)
    print(f"{shift:6.1f} | {compared[shift][0] / n_1d:19.4f} {w2_rw:12.3f} | {1.0:17.4f} {w2_ot:12.3f}")

# %% [markdown]
# Reweighting is exact in principle, but its cost grows with the distance between the distributions: at a shift
# of a few standard deviations a handful of events carry all the weight ($N_\text{eff}/N \to 0$) and the
# reweighted sample no longer resembles the data. Transport keeps every event, and its distance to the data stays
# where it was.

# %% tags=["claim"]
n_eff, w2_reweighted, w2_moved = (np.array(column) for column in zip(*compared.values(), strict=True))
claim(
    "reweighting loses its events as the shift grows, down to a handful; transport stays as close to the data",
    np.all(np.diff(n_eff) < 0)
    & (n_eff[-1] < 20)
    & (w2_moved.max() < 1.5 * w2_moved.min())
    & np.all(w2_moved < w2_reweighted),
    n_eff_largest_shift=n_eff[-1],
    w2_transport_max=w2_moved.max(),
)

# %% [markdown]
#
# Which to use?
#
# - **Reweight** when simulation and data overlap well and the events must stay as they are: weights keep every
#   event's correlations with quantities you did not correct (the truth record, other objects in the event),
#   and a weight has a clear probabilistic meaning (lessons 13 and 14).
# - **Transport** when the difference is a distortion of the variables themselves, a calibration (energy
#   scale, resolution, a detector response): it keeps the statistics, works without overlap, and gives each event
#   a corrected value. Its caveat: the optimal map is the *least-displacement* one; if nature's correction is not
#   (a rotation, say), transport produces the right distribution from the wrong event-by-event assignment, and
#   variables correlated with the moved ones are not corrected along.
#
# ## A neural transport map
#
# The barycentric map is defined only on the sample points, and the exact plan costs $O(n^3)$. A continuous map
# comes from Brenier's theorem: for the squared distance the optimal map is the gradient of a convex function,
# $T = \nabla g$. An **input-convex neural network** (ICNN) is convex in its input by construction: each layer
# $z_{l+1} = \sigma(U_l z_l + W_l x + b_l)$ with non-negative $U_l$ and a convex, increasing activation $\sigma$.
# Makkuva et al. rewrite the dual problem with two ICNNs as a min-max game,
# $$ \min_f \max_g \; \mathbb E_{y\sim q}\big[f(y)\big] + \mathbb E_{x\sim p}\big[\langle x, \nabla g(x)\rangle
#    - f(\nabla g(x))\big], $$
# whose inner maximum is reached at $\nabla g = \nabla f^*$ and whose outer minimum at the optimal potential; then
# $\hat T = \nabla g$. Pollard and Windischhofer (arXiv:2107.08648) use this to calibrate simulation. We train it
# (`mot.train_neural_ot`, its own loop: like a GAN it has two players) from the round Gaussian to a banana-shaped
# target, and compare with the exact plan on points it never saw.


# %%
def banana(n: int, rng: np.random.Generator) -> np.ndarray:
    """A curved 2D distribution: x1 ~ N(0, 1), x2 = 0.4 x1^2 - 1 + N(0, 0.3^2)."""
    x1 = rng.normal(size=n)
    return np.column_stack([x1, 0.4 * x1**2 - 1 + rng.normal(0, 0.3, n)])


source, target = rng.normal(size=(n_1d, 2)), banana(n_1d, rng)
start = time.process_time()
neural = mot.train_neural_ot(source, target, hidden=(64, 64), steps=ot_steps, inner_steps=2, lr=5e-3, seed=cfg.seed)
print(f"trained in {time.process_time() - start:.0f} CPU s")

x_test, y_test = rng.normal(size=(n_plan, 2)), banana(n_plan, rng)
exact = mot.exact_plan(x_test, y_test)
partner = mot.barycentric_map(exact.plan, y_test)
moved = neural.transport(x_test)
print(f"exact W2^2 = {exact.cost:.3f}; neural map: mean |T(x) - x|^2 = {np.mean(np.sum((moved - x_test) ** 2, 1)):.3f}")
distance_neural = np.mean(np.linalg.norm(moved - partner, axis=1))
distance_identity = np.mean(np.linalg.norm(x_test - partner, axis=1))
print(f"mean distance from the exact partner: neural {distance_neural:.3f}, identity {distance_identity:.3f}")
w2_before = np.sqrt(ot.emd2(ot.unif(n_plan), ot.unif(n_plan), ot.dist(x_test, y_test)))
w2_after = np.sqrt(ot.emd2(ot.unif(n_plan), ot.unif(n_plan), ot.dist(moved, y_test)))
w2_floor = np.sqrt(ot.emd2(ot.unif(n_plan), ot.unif(n_plan), ot.dist(banana(n_plan, rng), y_test)))
print(
    f"W2 to a target sample: source {w2_before:.3f}, transported {w2_after:.3f}; a second target sample {w2_floor:.3f}"
)

fig, ax = plt.subplots(1, 2, figsize=(10, 4.4))
ax[0].scatter(*y_test.T, s=3, alpha=0.4, label="target sample")
ax[0].scatter(*moved.T, s=3, alpha=0.4, label=r"$\nabla g(x)$ of new source points")
ax[0].set_xlabel("$x_1$")
ax[0].set_ylabel("$x_2$")
ax[0].legend()
for k in range(0, n_plan, max(1, n_plan // 60)):
    ax[1].annotate("", moved[k], x_test[k], arrowprops=dict(arrowstyle="->", color="C1", lw=0.8))
    ax[1].plot(*np.stack([x_test[k], partner[k]]).T, color="grey", lw=0.8)
ax[1].plot([], [], color="grey", label="exact plan's partner")
ax[1].plot([], [], color="C1", label="neural map")
ax[1].set_xlim(-3, 3)
ax[1].set_ylim(-3, 3)
ax[1].set_xlabel("$x_1$")
ax[1].set_ylabel("$x_2$")
ax[1].legend()
plt.show()

# %% [markdown]
# In lecture mode (the `ci` run trains for 100 steps only) the learned map sends new points much closer to where the
# exact plan, computed on this very sample, sends them than they started, and it takes the sample most of the way
# to the target: compare its $W_2$ with the one between two target samples of the same size, the best any map can
# do here. The remaining differences come from both
# sides: the exact plan on a finite sample is itself noisy (each point is matched to one random target point), and
# the network is small and briefly trained. In `full` mode it trains longer.

# %% tags=["claim"]
claim(
    "in lecture mode the neural map sends new points close to their exact partners and takes the sample most of "
    "the way",
    (distance_neural < 0.5 * distance_identity) & (w2_before - w2_after > 0.5 * (w2_before - w2_floor)),
    when=cfg.mode != "ci",
    distance_neural=distance_neural,
    distance_identity=distance_identity,
    w2_after=w2_after,
    w2_floor=w2_floor,
)

# %% [markdown]
# ## Summary
#
# - In 1D the optimal map is quantile matching, $T = Q^{-1}\circ P$; the sorted pairing gives $W_1$ and $W_2$.
# - Exact plans are linear programmes (`ot.emd`), entropic plans come from Sinkhorn's alternating scalings; the
#   barycentric map turns a plan into a map on the sample.
# - Moving events keeps the statistics and needs no overlap; reweighting keeps the events and their correlations.
#   Calibrations call for transport, mis-modelled rates for weights.
# - A continuous optimal map is the gradient of a convex potential, which an input-convex network can learn.
#
# ## Further reading
#
# - C. Pollard and P. Windischhofer, *Transport away your problems: calibrating stochastic simulations with
#   optimal transport*, [arXiv:2107.08648](https://arxiv.org/abs/2107.08648).
# - A. Makkuva, A. Taghvaei, S. Oh and J. Lee, *Optimal transport mapping via input convex neural networks*,
#   [arXiv:1908.10962](https://arxiv.org/abs/1908.10962).
# - B. Amos, L. Xu and J. Z. Kolter, *Input convex neural networks*,
#   [arXiv:1609.07152](https://arxiv.org/abs/1609.07152).
# - M. Cuturi, *Sinkhorn distances: lightspeed computation of optimal transport*,
#   [arXiv:1306.0895](https://arxiv.org/abs/1306.0895).
# - G. Peyré and M. Cuturi, *Computational optimal transport*,
#   [arXiv:1803.00567](https://arxiv.org/abs/1803.00567).
# - R. Flamary et al., *POT: Python Optimal Transport*, JMLR 22 (2021) 1.

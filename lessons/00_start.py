# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[12, 22]
# # 00 · Start here
#
# Welcome to **mlmc-course**, a course on how machine learning is used with Monte Carlo event generators:
# classifying jets, learning densities, sampling phase space with neural networks, tuning and reweighting
# generators, and inferring parameters from simulation.
#
# **You will**
# - run a lesson in one of its three modes and know what changes between them;
# - find out whether this machine has a GPU and how the lessons use it;
# - answer three warm-up exercises and see how checks, hints and solutions work;
# - find your way around the course map.
#
# **Prerequisites:** Python and NumPy; special relativity at the level of four-vectors.
# **Time:** about 20 minutes.
# **Sources:** the MCnet, HSF and ML4HEP school lectures this course grew from; the review of ML for event
# generation by Butter, Plehn, Schumann et al., [arXiv:2203.07460](https://arxiv.org/abs/2203.07460), and the
# HEP-ML living review, [arXiv:2102.02770](https://arxiv.org/abs/2102.02770).

# %% [markdown]
# ## Run modes
#
# Every lesson has one *parameters* cell, the next cell. It sets `MODE`:
#
# | mode | for | sizes |
# |---|---|---|
# | `"lecture"` (default) | a workshop or your laptop: about two minutes on two CPU cores, under 1.5 GB | medium |
# | `"ci"` | the automatic tests of the course | smallest |
# | `"full"` | a GPU and the full-size data sets | largest |
#
# Modes change sizes (numbers of events, epochs), never the code. You can also set the environment variable
# `MLMC_COURSE_MODE` (it wins over the cell), which is how the tests run every notebook in `ci` mode.

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np

import mlmc_course
from mlmc_course.checks import l00_start as checks

cfg = mlmc_course.setup(MODE)

# %% [markdown]
# `mlmc_course.setup` checks the mode, seeds Python, NumPy and PyTorch, applies the course's plotting style and
# picks the device. In the `ci` and `lecture` modes it also limits PyTorch to one CPU thread: the course's networks
# are small, a second thread gains little, and on shared machines (Binder, a busy laptop) threads that wait for
# each other can make training many times slower. Set the environment variable `MLMC_COURSE_THREADS` to change
# that. `cfg.pick(ci=..., lecture=..., full=...)` is how a lesson chooses a size for its mode:

# %%
n_points = cfg.pick(ci=1_000, lecture=100_000, full=10_000_000)
print(f"In {cfg.mode!r} mode this lesson draws {n_points:,} points.")

# %% [markdown]
# ## CPU or GPU?
#
# `mlmc_course.device()` returns `cuda` when PyTorch sees a GPU and `cpu` otherwise. Lessons move their
# networks and tensors there with `.to(cfg.device)`; nothing else changes. On Binder you will see `cpu`.

# %%
import torch

print("device:", mlmc_course.device())
print("CUDA available:", torch.cuda.is_available(), "| CPU threads:", torch.get_num_threads())

# %% [markdown]
# ## How exercises work
#
# An exercise asks you to write a function. In your notebook its body is a stub,
# `raise NotImplementedError("Hint: ...")`, whose message is a hint. Replace the stub with your code, run the
# cell, then run the check cell below it, `grader.check("...")`. A check calls your function on inputs of its
# own, under a fixed seed, and tells you what is wrong when something is, e.g. *"the metric sign is wrong"*.
# Checks test behaviour, not the exact text of an answer: any correct solution passes.
#
# Full solutions are in the `solutions/` folder. Try first: the checks are there to help you learn, and the
# lecturer's grader runs extra hidden tests.

# %% [markdown] slideshow={"slide_type": "notes"}
# In a workshop: run the first check cell with the room before anyone writes code, so that everyone sees what a
# failed check looks like (its message first) and where the hint is; then give ten minutes per exercise.

# %% [markdown]
# ### Four-vectors
#
# A particle's four-momentum is $p = (E, p_x, p_y, p_z)$ in GeV (with $c = 1$). The invariant mass of a system
# of two particles is
# $$ m^2 = (p_1 + p_2)^2 = (E_1 + E_2)^2 - |\vec p_1 + \vec p_2|^2 , $$
# the same in every frame: it is how a $Z$ boson shows up as a peak at 91 GeV in the di-muon mass spectrum.

# %% [markdown] tags=["question"] name="invariant_mass" points=1
# **Exercise 1.** Write `invariant_mass(p1, p2)`: both arguments are arrays of shape `(n, 4)` holding
# $(E, p_x, p_y, p_z)$ in GeV; return the invariant mass of each pair, shape `(n,)`.


# %% tags=["solution"]
def invariant_mass(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Invariant mass (GeV) of pairs of four-momenta, each of shape (n, 4) = (E, px, py, pz)."""
    # BEGIN SOLUTION
    total = np.asarray(p1) + np.asarray(p2)
    m2 = total[:, 0] ** 2 - np.sum(total[:, 1:] ** 2, axis=1)
    return np.sqrt(np.clip(m2, 0.0, None))
    # END SOLUTION
    # HINT: add the two four-vectors, then m^2 = E^2 - px^2 - py^2 - pz^2 (mind the signs); return sqrt(m^2).


# %% tags=["wrong"]
# WRONG: Euclidean metric, E^2 + |p|^2
# EXPECT: the metric sign is wrong
def invariant_mass(p1, p2):
    total = p1 + p2
    return np.sqrt(total[:, 0] ** 2 + np.sum(total[:, 1:] ** 2, axis=1))


# %% tags=["wrong"]
# WRONG: returns m^2 instead of m
# EXPECT: you returned m^2, not m
def invariant_mass(p1, p2):
    total = p1 + p2
    return total[:, 0] ** 2 - np.sum(total[:, 1:] ** 2, axis=1)


# %% tags=["wrong"]
# WRONG: adds the two masses instead of the four-vectors
# EXPECT: you added the masses of the two particles
def invariant_mass(p1, p2):
    m1 = np.sqrt(np.clip(p1[:, 0] ** 2 - np.sum(p1[:, 1:] ** 2, axis=1), 0, None))
    m2 = np.sqrt(np.clip(p2[:, 0] ** 2 - np.sum(p2[:, 1:] ** 2, axis=1), 0, None))
    return m1 + m2


# %% tags=["mutants"]
# EQUIVALENT L3:19 swap arguments 1,2: np.clip(0.0, m2, None) is max(0, m2) element by element, the same as np.clip(m2,
#   0.0, None)

# %% tags=["check"]
checks.invariant_mass(invariant_mass)

# %% tags=["check", "hidden"]
checks.invariant_mass(invariant_mass, seed=101)

# %% [markdown]
# ### Monte Carlo integration and its error
#
# A Monte Carlo estimate of $I = \int_0^1 f(x)\,dx$ averages $f$ at $n$ uniform random points,
# $$ \hat I = \frac{1}{n}\sum_{i=1}^n f(x_i), \qquad
#    \sigma_{\hat I} = \sqrt{\frac{\mathrm{Var}[f]}{n}} \approx \frac{\mathrm{std}(f(x_i))}{\sqrt n} . $$
# The error falls like $1/\sqrt n$ in any dimension: this is why event generators are Monte Carlo programs,
# and lesson 09 is about making $\mathrm{Var}[f]$ small.

# %% [markdown] tags=["question"] name="mc_integral" points=1
# **Exercise 2.** Write `mc_integral(f, n, rng)`: draw `n` uniform points in $[0, 1]$ **from the generator
# `rng`** (so that results are reproducible), and return the tuple `(estimate, error)`.


# %% tags=["solution"]
def mc_integral(f, n: int, rng: np.random.Generator) -> tuple[float, float]:
    """Monte Carlo estimate of the integral of f over [0, 1] and its standard error."""
    # BEGIN SOLUTION
    values = f(rng.uniform(0.0, 1.0, n))
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(n))
    # END SOLUTION
    # HINT: evaluate f at rng.uniform(0, 1, n); the error of the mean is the standard deviation / sqrt(n).


# %% tags=["wrong"]
# WRONG: quotes the spread of single samples, std(f), as the error of the mean
# EXPECT: is the spread of single samples
def mc_integral(f, n, rng):
    values = f(rng.uniform(0.0, 1.0, n))
    return float(values.mean()), float(values.std())


# %% tags=["wrong"]
# WRONG: ignores the generator it is given and uses the global NumPy state
# EXPECT: draw the points from the rng you are given
def mc_integral(f, n, rng):
    values = f(np.random.uniform(0.0, 1.0, n))  # noqa: NPY002  (the mistake this answer records)
    return float(values.mean()), float(values.std() / np.sqrt(n))


# %% tags=["mutants"]
# EQUIVALENT L2:55 Constant 1->*: ddof=0 or ddof=2 instead of ddof=1 changes the error by one part in 10^4 at n = 10000,
#   far below its own statistical uncertainty; each is a correct standard error of the mean

# %% tags=["check"]
checks.mc_integral(mc_integral)

# %% tags=["check", "hidden"]
checks.mc_integral(mc_integral, seed=202)

# %% [markdown]
# ### Sampling by inverting the CDF
#
# Generators turn uniform random numbers into physics distributions. For a decay time with lifetime $\tau$,
# $p(t) = e^{-t/\tau}/\tau$ has the cumulative distribution $F(t) = 1 - e^{-t/\tau}$; solving $F(t) = u$ for a
# uniform $u$ gives $t = -\tau \ln(1 - u)$. The same idea, run through a learned invertible map, is a
# normalizing flow (lesson 07).

# %% [markdown] tags=["question"] name="sample_lifetime" points=1
# **Exercise 3.** Write `sample_lifetime(n, tau, rng)`: return `n` decay times drawn from $p(t)$ by inverting
# the CDF, using uniform numbers from `rng`.


# %% tags=["solution"]
def sample_lifetime(n: int, tau: float, rng: np.random.Generator) -> np.ndarray:
    """n decay times (same unit as tau) from exp(-t/tau)/tau, by inverse-CDF sampling."""
    # BEGIN SOLUTION
    u = rng.uniform(0.0, 1.0, n)
    return -tau * np.log1p(-u)
    # END SOLUTION
    # HINT: draw u = rng.uniform(0, 1, n) and return -tau * log(1 - u).


# %% tags=["wrong"]
# WRONG: treats tau as a decay rate, so the mean time is 1/tau
# EXPECT: you used tau as a rate
def sample_lifetime(n, tau, rng):
    return -np.log1p(-rng.uniform(0.0, 1.0, n)) / tau


# %% tags=["wrong"]
# WRONG: a uniform distribution with the right mean is not an exponential one
# EXPECT: the times are not exponentially distributed
def sample_lifetime(n, tau, rng):
    return rng.uniform(0.0, 2 * tau, n)


# %% tags=["check"]
checks.sample_lifetime(sample_lifetime)

# %% tags=["check", "hidden"]
checks.sample_lifetime(sample_lifetime, seed=303)

# %% [markdown]
# Let us look at the answer: a histogram of times sampled this way against the density they should follow. The points
# carry their statistical errors ($\sqrt N$ per bin), and the lower panel shows the ratio of the histogram to the
# density's average over each bin: a correct sampler scatters around 1 within the errors. The course draws every
# comparison of a sample with a reference like this.

# %%
import matplotlib.pyplot as plt

from mlmc_course.plotting import chi2_to_density, compare_density

tau = 1.5  # ns
times = -tau * np.log1p(-np.random.default_rng(cfg.seed).uniform(size=n_points))
bins = np.linspace(0, 12, 41)  # ns; e^(-12/1.5), 0.03%, of the times lie beyond: the legend says so


def density(t):
    return np.exp(-t / tau) / tau


ax, rax = compare_density(
    times,
    density,
    bins,
    label=f"{n_points:,} sampled times",
    density_label=r"$p(t) = e^{-t/\tau}/\tau$, $\tau = 1.5$ ns",
    xlabel="decay time $t$ [ns]",
    ylabel="probability density [1/ns]",
    logy=True,
    ratio_range=None,  # let the panel show every point, also the sparse tail
)
plt.show()
chi2, n_bins = chi2_to_density(times, density, bins)
print(f"chi2 of the histogram against the density: {chi2:.1f} for {n_bins} bins")

# %% tags=["claim"]
from scipy import stats

from mlmc_course.claims import claim

p_value = stats.chi2.sf(chi2, n_bins)
claim("a correct sampler scatters around 1 within the errors", p_value > 1e-3, chi2=chi2, bins=n_bins, p_value=p_value)

# %% [markdown]
# ## The course map
#
# Lessons build on each other, but each one starts with its prerequisites. The table lists what is in this
# copy of the course; lessons still in preparation are marked.

# %%
from IPython.display import Markdown

from mlmc_course.course import course_map_markdown

Markdown(course_map_markdown())

# %% [markdown]
# ## Summary
#
# - One parameters cell per lesson sets `MODE`; `cfg.pick` turns the mode into sizes.
# - `mlmc_course.device()` finds a GPU if there is one; lessons run the same code on either.
# - Exercises are functions; checks call them on their own inputs and explain what is wrong.
# - The invariant mass, the $1/\sqrt n$ Monte Carlo error, and inverse-CDF sampling come back in every lesson.
#
# ## Further reading
#
# - A. Butter, T. Plehn, S. Schumann et al., *Machine learning and LHC event generation*,
#   [arXiv:2203.07460](https://arxiv.org/abs/2203.07460).
# - M. Feickert and B. Nachman, *A living review of machine learning for particle physics*,
#   [arXiv:2102.02770](https://arxiv.org/abs/2102.02770).
# - S. Höche, *Introduction to parton-shower event generators*,
#   [arXiv:1411.4085](https://arxiv.org/abs/1411.4085).

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slides=[22, 32]
# # 12 · Hadronization and detector surrogates
#
# Two of the most expensive and least first-principles stages of the simulation chain are hadronization (turning
# quarks and gluons into hadrons) and the detector response (showers in a calorimeter). Both are generative
# processes, and both are being learned by generative networks: MLHAD trains normalizing flows on the Lund string
# model's fragmentation function, and the CaloChallenge compares surrogates for calorimeter showers. This lesson
# builds a small version of each and judges them the way the field does.
#
# **You will**
# - write the Lund symmetric fragmentation function and sample it exactly by rejection;
# - train a conditional normalizing flow on it and test the flow with a chi-square and a classifier;
# - iterate fragmentation in a one-dimensional string and predict, then check in Pythia 8, how the hadron
#   multiplicity responds to the Lund parameter $a$;
# - train a conditional surrogate for a toy calorimeter and judge it, next to a deliberately bad one, with
#   high-level distributions and the CaloChallenge classifier AUC;
# - read a classifier AUC correctly: 0.5 is perfect.
#
# **Prerequisites:** lesson 07 (normalizing flows, conditional flows), lesson 02 (classifiers, ROC and AUC).
# **Time:** about 90 minutes.
# **Sources:** seed lectures "Machine Learning and MC Generators" (MLHAD, CaloDiffusion) and "Machine learning:
# simulation and data" (FastCaloGAN); MLHAD, [arXiv:2203.04983](https://arxiv.org/abs/2203.04983) and
# [arXiv:2311.09296](https://arxiv.org/abs/2311.09296); HADML, [arXiv:2203.12660](https://arxiv.org/abs/2203.12660);
# CaloChallenge, [arXiv:2410.21611](https://arxiv.org/abs/2410.21611); CaloFlow,
# [arXiv:2106.05285](https://arxiv.org/abs/2106.05285); CaloDiffusion,
# [arXiv:2308.03876](https://arxiv.org/abs/2308.03876).

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import matplotlib.pyplot as plt
import numpy as np
import torch

import mlmc_course
from mlmc_course.checks import l12_hadronization as checks

cfg = mlmc_course.setup(MODE)

# %%
n_draws = cfg.pick(ci=2_000, lecture=20_000, full=200_000)  # exact draws per value of a in the first plot
n_frag = cfg.pick(ci=10_000, lecture=30_000, full=300_000)  # training draws for the Lund flow
frag_epochs = cfg.pick(ci=8, lecture=8, full=30)
n_test = cfg.pick(ci=1_000, lecture=20_000, full=200_000)  # flow and exact draws per test point
n_strings = cfg.pick(ci=300, lecture=3_000, full=20_000)
n_pythia = cfg.pick(ci=300, lecture=3_000, full=50_000)  # Pythia events per value of aLund
n_showers = cfg.pick(ci=4_000, lecture=10_000, full=100_000)  # calorimeter showers for training and testing
calo_epochs = cfg.pick(ci=10, lecture=10, full=60)

# %% [markdown]
# ## Part 1 · Hadronization
#
# ### The Lund string
#
# In the Lund model a colour field between a quark and an antiquark forms a string with tension
# $\kappa \approx 1$ GeV/fm. As the ends fly apart the string breaks by creating quark-antiquark pairs, and each
# break produces one hadron. Working inwards from one end, the new hadron takes a fraction $z$ of the light-cone
# momentum $W^+$ left on the string. Requiring the result not to depend on which end we start from
# (left-right symmetry) fixes the distribution of $z$ to the **Lund symmetric fragmentation function**,
# $$ f(z) \propto \frac{1}{z}\,(1 - z)^a \exp\!\left(-\frac{b\, m_T^2}{z}\right), \qquad 0 < z < 1 , $$
# with the hadron's transverse mass $m_T^2 = m^2 + p_T^2$ (GeV$^2$) and two parameters: $a$ (Pythia's
# `StringZ:aLund`, dimensionless) and $b$ (`StringZ:bLund`, GeV$^{-2}$). Pythia 8's default (Monash) tune has
# $a = 0.68$, $b = 0.98$ GeV$^{-2}$. Large $a$ suppresses large $z$; large $b m_T^2$ suppresses small $z$.

# %% [markdown] tags=["question"] name="lund_f" points=2
# **Exercise 1.** Write `lund_f(z, a, b, m_t)`: the function above (no normalisation needed) for an array `z` of
# values in $(0, 1)$, numbers `a`, `b` (GeV$^{-2}$) and `m_t` (GeV). Return an array of the same shape as `z`.


# %% tags=["solution"]
def lund_f(z: np.ndarray, a: float, b: float, m_t: float) -> np.ndarray:
    """Unnormalised Lund symmetric fragmentation function; z of any shape in (0, 1), m_t in GeV, b in GeV^-2."""
    # BEGIN SOLUTION
    z = np.asarray(z, dtype=float)
    return (1 - z) ** a / z * np.exp(-b * m_t**2 / z)
    # END SOLUTION
    # HINT: three factors: 1/z, (1 - z)**a and exp(-b * m_t**2 / z).


# %% tags=["wrong"]
# WRONG: the fragmentation density without its 1/z
# EXPECT: is not proportional to (1/z) (1-z)^a exp(-b mT^2 / z)
def lund_f(z, a, b, m_t):
    return (1 - z) ** a * np.exp(-b * m_t**2 / z)


# %% tags=["wrong"]
# WRONG: mT instead of mT^2 in the exponent
# EXPECT: mT enters squared
def lund_f(z, a, b, m_t):
    return (1 - z) ** a / z * np.exp(-b * m_t / z)


# %% tags=["check"]
checks.lund_f(lund_f)

# %% tags=["check", "hidden"]
checks.lund_f(lund_f, seed=121)

# %% [markdown]
# ### Exact sampling by rejection
#
# $f$ has no closed-form inverse CDF, but it is bounded, so rejection sampling is exact: propose $z$ uniformly in
# $(0, 1)$, draw $u$ uniformly in $[0, 1)$, and accept when $u\, f_\text{max} < f(z)$. Accepted points follow $f$
# exactly; the fraction accepted is $\int_0^1 f\,dz / f_\text{max}$. The maximum is where
# $\frac{d}{dz}\log f = -\frac1z - \frac{a}{1-z} + \frac{c}{z^2} = 0$ with $c = b m_T^2$, i.e. at the root in
# $(0, 1)$ of $(1 - a) z^2 - (1 + c) z + c = 0$ (`mlmc_course.hadronization.lund_z_peak`).

# %% [markdown] tags=["question"] name="rejection_sample" points=2
# **Exercise 2.** Write `rejection_sample(f, f_max, n, rng)`: return exactly `n` draws (shape `(n,)`) from the
# density proportional to `f` on $(0, 1)$, where `f` takes an array and `f_max` $\ge \max f$. Take every random
# number from the NumPy generator `rng`. Draw proposals in batches rather than one at a time.


# %% tags=["solution"]
def rejection_sample(f, f_max: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n exact draws from the density proportional to f on (0, 1), by rejection from a uniform proposal."""
    # BEGIN SOLUTION
    accepted = []
    n_have = 0
    while n_have < n:
        z = rng.uniform(0.0, 1.0, 2 * (n - n_have) + 100)
        u = rng.uniform(0.0, 1.0, len(z))
        keep = z[(u * f_max < f(z)) & (z > 0)]
        accepted.append(keep)
        n_have += len(keep)
    return np.concatenate(accepted)[:n]
    # END SOLUTION
    # HINT: loop: propose z and u uniformly, keep z where u * f_max < f(z), until you have n; return the first n.


# %% tags=["wrong"]
# WRONG: returns the proposals without rejecting any
# EXPECT: the samples look uniform
def rejection_sample(f, f_max, n, rng):
    return rng.uniform(0.0, 1.0, n)


# %% tags=["wrong"]
# WRONG: compares u with f(z) instead of u * f_max
# EXPECT: comparing u with f(z) alone is only right when f_max = 1
def rejection_sample(f, f_max, n, rng):
    out = []
    while sum(len(o) for o in out) < n:
        z, u = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
        out.append(z[u < f(z)])
    return np.concatenate(out)[:n]


# %% tags=["wrong"]
# WRONG: a single round of proposals, so fewer than n samples come back
# EXPECT: keep proposing until n points are accepted
def rejection_sample(f, f_max, n, rng):
    z, u = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    return z[u * f_max < f(z)]


# %% tags=["mutants"]
# EQUIVALENT L4:34 *: the number of proposals per round is a free choice as long as it is positive; the check's n = 1
#   and 3 kill the choices that go negative or stop early
# EQUIVALENT L4:39 *: the number of proposals per round is a free choice (see above)
# EQUIVALENT L4:53 *: the number of proposals per round is a free choice (see above)
# EQUIVALENT L2:13 Constant 0->-1: starting the count at -1 draws one round more than needed; the first n are kept
# EQUIVALENT L3:10 Lt->LtE: one round more than needed; the first n are kept
# EQUIVALENT L5:29 Constant 1.0->2.0: u uniform in (0, 2) accepts with probability f / (2 f_max), still exact,
#   at half the efficiency
# EQUIVALENT L6:18 Lt->LtE: u * f_max = f(z) has probability zero
# EQUIVALENT L6:39 Gt->GtE: z = 0 has probability 2^-53 per proposal, and f(0) = 0 rejects it anyway
# EQUIVALENT L6:43 Constant 0->-1: the guard z > 0 only removes z = 0, which f(0) = 0 rejects anyway

# %% tags=["check"]
checks.rejection_sample(rejection_sample)

# %% tags=["check", "hidden"]
checks.rejection_sample(rejection_sample, seed=122)

# %% [markdown]
# The package's `hadronization.sample_lund(n, a, b, m_t, rng=...)` does the same with the exact maximum, and
# accepts one parameter point per draw, which we need to train a conditional model. Here is $f$ for a few values
# of $a$, with exact samples on top:

# %%
from mlmc_course import hadronization as had
from mlmc_course.plotting import binned, compare_hist

rng = np.random.default_rng(cfg.seed)
z_grid = np.linspace(0.001, 0.999, 500)
z_bins = np.linspace(0, 1, 51)
fig, ax = plt.subplots()
for a in (0.3, had.A_LUND, 1.2):
    line = ax.plot(z_grid, had.lund_pdf(z_grid, a), label=f"$a = {a}$: exact density")[0]
    edges, density, error, _ = binned(had.sample_lund(n_draws, a, rng=rng), z_bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    ax.errorbar(centres, density, error, fmt="o", ms=2, color=line.get_color(), label=f"{n_draws:,} exact draws")
ax.set_xlabel("light-cone momentum fraction $z$")
ax.set_ylabel("probability density $f(z)$")
ax.set_title(rf"Lund function, $b = {had.B_LUND}$ GeV$^{{-2}}$, $m_T = {had.M_T}$ GeV")
ax.legend(ncol=3, fontsize="x-small")
plt.show()

# %% [markdown]
# ### Learning the fragmentation function with a flow (MLHAD)
#
# MLHAD learns hadronization with generative networks (an autoencoder in arXiv:2203.04983, normalizing flows in
# arXiv:2311.09296), conditioned on the string's kinematics, so that it can later be trained on data rather than
# fixed by a formula; its Bayesian flows also carry their own training uncertainty. We train a
# conditional rational-quadratic spline flow (lesson 07; `models.flows.conditional_flow`, built on nflows) for
# $p(z \mid a, b, m_T)$ on exact samples with parameters drawn uniformly in `had.PARAM_RANGES`.
# `had.LundFlow` wraps it with two pieces of physics-aware preprocessing: it learns $\operatorname{logit} z$, so
# samples never leave $(0, 1)$, and it is conditioned on $(a, \log b m_T^2)$, because $b$ and $m_T$ only enter
# through $b m_T^2$. The training loop is the course's `fit`; we lower the learning rate for a last few epochs,
# which sharpens a density estimate noticeably.

# %%
from mlmc_course.models.flows import nll_loss
from mlmc_course.training import fit, to_tensors

params = {k: rng.uniform(lo, hi, n_frag) for k, (lo, hi) in had.PARAM_RANGES.items()}
z_train = had.sample_lund(n_frag, params["a"], params["b"], params["mT"], rng=rng)

torch.manual_seed(cfg.seed)
lund_flow = had.LundFlow().to(cfg.device)
frag_data = to_tensors(*lund_flow.training_tensors(z_train, params["a"], params["b"], params["mT"]), device=cfg.device)
fit(lund_flow.flow, nll_loss, frag_data, epochs=frag_epochs, batch_size=512, lr=3e-3, desc="Lund flow")
_ = fit(lund_flow.flow, nll_loss, frag_data, epochs=max(frag_epochs // 4, 1), batch_size=512, lr=3e-4, desc="fine-tune")

# %% [markdown]
# ### Is the flow right?
#
# Two tests against the exact density at a few parameter points, each with flow samples of the same size:
#
# - a **chi-square** in 40 bins of equal exact probability, $\chi^2 = \sum_k (n_k - N p_k)^2 / (N p_k)$, which
#   should be near its 39 degrees of freedom if the flow were perfect at this sample size;
# - a **classifier two-sample test** (`metrics.samples.classifier_two_sample_test`): a classifier is trained to
#   separate flow from exact samples; its held-out AUC is 0.5 when it cannot.

# %%
from mlmc_course.metrics.samples import classifier_two_sample_test

points = {"Monash": (had.A_LUND, had.B_LUND, had.M_T), "soft": (1.3, 1.2, 0.9), "hard": (0.4, 0.6, 0.35)}
grid = np.linspace(0.0, 1.0, 4001)
flow_tests = {}
fig, axes = plt.subplots(
    2, 3, figsize=(13, 5.2), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}, squeeze=False
)
for k, (name, point) in enumerate(points.items()):
    z_flow = lund_flow.sample(n_test, *point)
    z_exact = had.sample_lund(n_test, *point, rng=rng)
    chi2 = had.chi2_vs_exact(z_flow, *point)
    c2st = classifier_two_sample_test(z_exact, z_flow, n_folds=3, max_n=5_000, seed=cfg.seed)
    rms = np.sqrt(max(chi2.chi2 - chi2.ndf, 0.0) / n_test)  # rms relative deviation per bin beyond the noise
    flow_tests[name] = (chi2, c2st, rms)
    print(f"{name:7s} a={point[0]}, b={point[1]}, mT={point[2]}:  {chi2}, rms deviation {rms:.1%};  {c2st}")
    # the chi-square's own bins: 40 of equal exact probability
    edges = np.interp(np.linspace(0, 1, 41), had.lund_cdf(grid, *point), grid)
    edges[0], edges[-1] = 0.0, 1.0
    compare_hist(
        {"exact (rejection)": z_exact, "flow": z_flow},
        edges,
        xlabel="light-cone momentum fraction $z$",
        ylabel="probability density",
        ratio_label="flow / exact",
        ratio_range=(0.6, 1.4),
        axes=(axes[0, k], axes[1, k]),
    )
    axes[0, k].plot(z_grid, had.lund_pdf(z_grid, *point), "k:", label="$f(z)$")
    axes[0, k].set_ylim(top=1.3 * axes[0, k].get_ylim()[1])
    axes[0, k].legend(fontsize="x-small")
    axes[0, k].set_title(f"{name}: $a={point[0]}$, $b={point[1]}$ GeV$^{{-2}}$, $m_T={point[2]}$ GeV", fontsize="small")
plt.show()

# %% [markdown]
# The histograms overlap, and the classifier's AUC is close to 0.5: it can hardly tell flow from exact samples. The
# ratio panels (bins of equal exact probability, the chi-square's own) show what it misses, and in lecture mode
# the chi-square finds: with 20,000 events per sample it is well above its 39 degrees of freedom, and the rms
# deviation of the flow's density beyond the statistical noise, $\sqrt{(\chi^2 - n_\text{dof})/N}$, is a few to
# about fifteen per cent, largest at the "hard" point, near the edge of the parameter range the flow was trained
# on. (The `ci` run has 1,000 events per sample, too few for the chi-square to resolve deviations of that size.)
# That is the honest summary of any learned generator: good in the bulk, never exact, and worst where it saw the
# least training data; a test with enough statistics finds the difference. MLHAD's answer is to give the flow its
# own uncertainty (Bayesian flows), so that it can be compared with the statistical one.

# %% tags=["claim"]
from mlmc_course.claims import claim

aucs = {name: c2st.auc for name, (_, c2st, _) in flow_tests.items()}
claim(
    "the classifier's AUC is close to 0.5 at every test point", max(abs(a - 0.5) for a in aucs.values()) < 0.05, **aucs
)
chi2_per_ndf = {name: chi2.chi2 / chi2.ndf for name, (chi2, _, _) in flow_tests.items()}
claim(
    "in lecture mode the chi-square is well above its 39 degrees of freedom at every test point",
    min(chi2_per_ndf.values()) > 1.5,
    when=cfg.mode != "ci",
    **chi2_per_ndf,
)
rms = {name: r for name, (_, _, r) in flow_tests.items()}
claim(
    "in lecture mode the flow's rms deviation is a few to about fifteen per cent, largest at the hard point",
    (max(rms.values()) < 0.2) & (min(rms.values()) > 0.02) & (max(rms, key=rms.get) == "hard"),
    when=cfg.mode != "ci",
    **rms,
)

# %% [markdown]
# ### A string-breaking toy
#
# Now iterate. `had.string_multiplicity` breaks a one-dimensional string of mass 91.2 GeV from one end: each
# hadron takes $p^+ = z W^+$ and $p^- = m_T^2/(z W^+)$, until the remaining mass drops below 1 GeV. Since large
# $a$ favours small $z$, each hadron takes less of the string, so **the multiplicity should grow with $a$**. We run
# it with the exact sampler and with the flow.

# %%
a_values = (0.3, 1.2)
toy = {}
for a in a_values:
    exact_mult = had.string_multiplicity(lambda m, a=a: had.sample_lund(m, a, rng=rng), n_strings)
    flow_mult = had.string_multiplicity(lambda m, a=a: lund_flow.sample(m, a), n_strings)
    toy[a] = (exact_mult, flow_mult)
    print(
        f"a = {a}: hadrons per string  exact {exact_mult.mean():.2f} ± {exact_mult.std() / np.sqrt(n_strings):.2f}"
        f"  flow {flow_mult.mean():.2f} ± {flow_mult.std() / np.sqrt(n_strings):.2f}"
    )

all_mult = np.concatenate([m for pair in toy.values() for m in pair])
bins = np.arange(all_mult.min(), all_mult.max() + 2) - 0.5
fig, axes = plt.subplots(
    2, 2, figsize=(11, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}, squeeze=False
)
for k, (a, (exact_mult, flow_mult)) in enumerate(toy.items()):
    compare_hist(
        {f"exact sampler, $a = {a}$": exact_mult, "flow": flow_mult},
        bins,
        xlabel="hadrons per string",
        ylabel="fraction of strings",
        ratio_label="flow / exact",
        axes=(axes[0, k], axes[1, k]),
    )
plt.show()

# %% tags=["claim"]
for kind, k in (("exact", 0), ("flow", 1)):
    low, high = toy[a_values[0]][k], toy[a_values[1]][k]
    error = np.hypot(low.std() / np.sqrt(len(low)), high.std() / np.sqrt(len(high)))
    claim(
        f"with the {kind} sampler the multiplicity grows with a",
        high.mean() - low.mean() > 5 * error,
        shift=high.mean() - low.mean(),
        error=error,
    )

# %% [markdown]
# ### The same knob in Pythia 8
#
# Pythia's string fragmentation uses this function for every hadron (with flavours, $p_T$ and both string ends on
# top). `mlmc_course.data.pythia.generate` runs $e^+e^- \to Z \to$ hadrons at 91.2 GeV live (and caches the
# events). We change only `StringZ:aLund` and count charged particles; the toy predicts more of them at larger
# $a$.

# %%
from mlmc_course.data import pythia

pythia_mult = {}
for a in a_values:
    sample = pythia.generate({"a_lund": a}, n_pythia, seed=cfg.seed, n_workers=2)
    pythia_mult[a] = sample.observables["n_charged"]
    n_ch = pythia_mult[a]
    print(f"Pythia 8, StringZ:aLund = {a}: <n_charged> = {n_ch.mean():.2f} ± {n_ch.std() / np.sqrt(len(n_ch)):.2f}")

low, high = (pythia_mult[a] for a in a_values)
shift = high.mean() - low.mean()
error = np.hypot(high.std() / np.sqrt(len(high)), low.std() / np.sqrt(len(low)))
print(f"change from a = {a_values[0]} to {a_values[1]}: {shift:+.2f} ± {error:.2f} charged particles")

n_max = max(n_ch.max() for n_ch in pythia_mult.values())
ax, _ = compare_hist(
    {f"StringZ:aLund = {a}": n_ch for a, n_ch in pythia_mult.items()},
    np.arange(0, n_max + 3, 2) - 1,  # charged multiplicities are even: one bin per even number
    xlabel="charged particles per event",
    ylabel="fraction of events per unit",
    ratio_label=f"ratio to {a_values[0]}",
    ratio_range=(0, 2.5),
)
ax.set_title(r"Pythia 8, $e^+e^- \to Z \to$ hadrons, $\sqrt{s} = 91.2$ GeV")
plt.show()

# %% [markdown]
# The real generator moves the same way as the toy (compare the printed shift with its error); the size of the
# shift differs, because Pythia breaks the string from both ends, produces resonances that decay, and counts only
# charged particles. Lesson 14 fits `aLund` to data with a classifier.

# %% tags=["claim"]
toy_shift = toy[a_values[1]][0].mean() - toy[a_values[0]][0].mean()
claim(
    "Pythia moves the same way as the toy, by a different amount",
    (shift > 2 * error) & (abs(shift - toy_shift) > 2 * error),
    pythia_shift=shift,
    error=error,
    toy_shift=toy_shift,
)

# %% [markdown]
# ## Part 2 · Detector surrogates
#
# ### A toy sampling calorimeter
#
# Detector simulation with Geant4 is the most expensive step of the chain; for the CaloChallenge's finely
# segmented data sets an average shower takes of order 100 s on a CPU. `mlmc_course.data.calo` is a toy with the
# same shape of problem: electron showers of incident energy $E$ (1 to 100 GeV, log-uniform) in 5 layers (depth in
# radiation lengths $X_0$) times 5 rings (radius in Molière radii $R_M$), 25 cells. It uses a Gamma-function
# longitudinal profile, $dE/dt \propto (bt)^{\alpha - 1} e^{-bt}$ with its maximum at
# $t_\text{max} = \ln(E/E_c) - 0.5$ that fluctuates from shower to shower, a lateral profile that widens with
# depth, sampling fluctuations ($\approx 10\,\%/\sqrt{E/\text{GeV}}$) and 5 MeV of electronic noise per cell.
# The docstrings give every formula.

# %%
from itertools import pairwise

from mlmc_course.data import calo

train_showers = calo.simulate_showers(n_showers, rng)
val_showers = calo.simulate_showers(n_showers // 4, rng)
test_showers = calo.simulate_showers(n_showers, rng)
geometry = train_showers.geometry

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
mean_fraction = (train_showers.cells / train_showers.energy[:, None, None]).mean(axis=0)
image = axes[0].imshow(mean_fraction.T, origin="lower", aspect="auto", cmap="viridis")
axes[0].grid(False)
axes[0].set_xticks(range(geometry.n_layers), [f"{lo:.0f}-{hi:.0f}" for lo, hi in pairwise(geometry.layer_edges)])
axes[0].set_yticks(range(geometry.n_rings), [f"{lo:.2g}-{hi:.2g}" for lo, hi in pairwise(geometry.ring_edges)])
axes[0].set_xlabel(r"layer depth [$X_0$]")
axes[0].set_ylabel(r"ring radius [$R_M$]")
fig.colorbar(image, ax=axes[0], label="mean fraction of $E$ per cell")
response = calo.total_energy(train_showers.cells) / train_showers.energy
axes[1].scatter(train_showers.energy, response, s=1, alpha=0.3)
axes[1].set_xscale("log")
axes[1].set_xlabel("incident energy $E$ [GeV]")
axes[1].set_ylabel(r"$E_\mathrm{measured} / E$")
axes[1].set_title("response and resolution (leakage makes it < 1)")
plt.show()

# %% [markdown]
# ### A conditional flow as surrogate
#
# CaloFlow (arXiv:2106.05285) showed that normalizing flows can learn calorimeter showers with exact likelihoods.
# Ours, `models.showers.ShowerSurrogate`, is a conditional spline flow for the 25 cells given $\log E$. Cell
# energies span orders of magnitude and the noise makes some negative, so the flow sees
# $\operatorname{asinh}(E_\text{cell}/(0.01 E))$, linear near zero and logarithmic for the shower core,
# standardised with the training sample (the standardisation is part of the model and saved with it).
#
# The deliberately bad surrogate is the *same* flow sampled with its Gaussian noise scaled by 0.6 (a "temperature"
# below one). Its showers look cleaner and more typical, but they fluctuate too little: a "too-narrow" surrogate, a
# failure that averaged plots hide.

# %%
from mlmc_course.models.showers import ShowerSurrogate

torch.manual_seed(cfg.seed)
surrogate = ShowerSurrogate().to(cfg.device)
shower_data = to_tensors(*surrogate.training_tensors(train_showers), device=cfg.device)
shower_val = to_tensors(*surrogate.standardise(val_showers), device=cfg.device)
fit(surrogate.flow, nll_loss, shower_data, val=shower_val, epochs=calo_epochs, batch_size=256, lr=3e-3, desc="flow")
fit(surrogate.flow, nll_loss, shower_data, val=shower_val, epochs=max(calo_epochs // 3, 1), lr=3e-4, desc="fine-tune")

good = surrogate.sample(test_showers.energy)
bad = surrogate.sample(test_showers.energy, temperature=0.6)
reference = calo.simulate_showers(n_showers, rng, energy=test_showers.energy)  # a second simulation, same energies

# %% [markdown]
# ### High-level distributions
#
# Physicists first look at the distributions they understand: the energy response $E_\text{measured}/E$, the
# fraction of $E$ in each layer, and the shower width per layer (the energy-weighted mean radius). We compare both
# surrogates with an independent simulated sample at the same energies.

# %%
samples = {"simulation": test_showers, "good surrogate": good, "bad surrogate (T = 0.6)": bad}
observables = {
    r"response $E_\mathrm{measured} / E$": lambda sh: calo.total_energy(sh.cells) / sh.energy,
    r"energy fraction in layer 2 (3-6 $X_0$)": lambda sh: calo.layer_energies(sh.cells)[:, 1] / sh.energy,
    r"shower width in layer 3 [$R_M$]": lambda sh: calo.shower_width(sh.cells, geometry)[:, 2],
}
high_level = {label: {name: f(sh) for name, sh in samples.items()} for label, f in observables.items()}
fig, axes = plt.subplots(
    2, 3, figsize=(14, 5.2), sharex="col", gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}, squeeze=False
)
for k, (label, values) in enumerate(high_level.items()):
    lo, hi = np.quantile(np.concatenate(list(values.values())), [0.0005, 0.9995])
    compare_hist(
        values,
        np.linspace(lo, hi, 51),
        xlabel=label,
        ylabel="probability density",
        ratio_label="ratio to simulation",
        ratio_range=(0, 2),
        axes=(axes[0, k], axes[1, k]),
    )
    axes[0, k].set_ylim(top=1.5 * axes[0, k].get_ylim()[1])
    axes[0, k].legend(fontsize="xx-small")
plt.show()
response_width = {name: np.std(v) for name, v in high_level[r"response $E_\mathrm{measured} / E$"].items()}
print("spread of the response: " + ", ".join(f"{name} {w:.4f}" for name, w in response_width.items()))

# %% [markdown]
# The good surrogate follows the simulation in all three. The bad one has the right averages but too little spread:
# its response and its layer fraction are visibly too narrow.

# %% tags=["claim"]
width_ratio = {name: w / response_width["simulation"] for name, w in response_width.items()}
claim(
    "the good surrogate's response has about the simulation's spread; the bad one's is too narrow",
    (0.8 < width_ratio["good surrogate"] < 1.25) & (width_ratio["bad surrogate (T = 0.6)"] < 0.8),
    good=width_ratio["good surrogate"],
    bad=width_ratio["bad surrogate (T = 0.6)"],
)

# %% [markdown]
# ### The CaloChallenge metric: a classifier AUC
#
# Histograms check one variable at a time. The CaloChallenge (arXiv:2410.21611) therefore trains a classifier to
# tell generated from simulated showers, on all cells ("low-level") or on high-level features, and quotes its AUC
# on held-out showers. If the classifier cannot tell them apart, it guesses: AUC = 0.5, the best possible score.
# An AUC of 1 means every shower can be told apart. An AUC clearly below 0.5 on held-out data is not better than
# 0.5 either: the classifier found a difference and learned it with the wrong sign (overfitting, fluctuations).
# The seed lecture's table quotes CaloDiffusion at 0.56 to 0.65 on the CaloChallenge data sets.

# %% [markdown] tags=["question"] name="rank_surrogates" points=1
# **Exercise 3.** Write `rank_surrogates(aucs)`: `aucs` is a dictionary `{name: AUC}` of held-out classifier AUCs
# (generated against simulated showers). Return the list of names from the best surrogate to the worst.


# %% tags=["solution"]
def rank_surrogates(aucs: dict[str, float]) -> list[str]:
    """Surrogate names, best first: the classifier AUC closest to 0.5 (indistinguishable) is best."""
    # BEGIN SOLUTION
    return sorted(aucs, key=lambda name: abs(aucs[name] - 0.5))
    # END SOLUTION
    # HINT: a perfect surrogate gives AUC = 0.5; sort by how far each AUC is from 0.5.


# %% tags=["wrong"]
# WRONG: reads the AUC as "higher is better", as for a tagger
# EXPECT: the surrogate is worse; AUC = 0.5 is perfect
def rank_surrogates(aucs):
    return sorted(aucs, key=aucs.get, reverse=True)


# %% tags=["wrong"]
# WRONG: "lower is better" ranks a classifier that separates with flipped labels (AUC << 0.5) as best
# EXPECT: an AUC far below 0.5 is also a separation
def rank_surrogates(aucs):
    return sorted(aucs, key=aucs.get)


# %% tags=["mutants"]
# EQUIVALENT L1:45 swap operands of Sub: |a - 0.5| = |0.5 - a|

# %% tags=["check"]
checks.rank_surrogates(rank_surrogates)

# %% tags=["check", "hidden"]
checks.rank_surrogates(rank_surrogates, seed=123)

# %%
tests = {}
for name, showers in (("good surrogate", good), ("bad surrogate (T = 0.6)", bad), ("second simulation", reference)):
    tests[name] = {
        level: classifier_two_sample_test(features(test_showers), features(showers), n_folds=3, max_n=6_000)
        for level, features in (("low-level", calo.low_level_features), ("high-level", calo.high_level_features))
    }
for name, result in tests.items():
    print(f"{name:25s} low-level {result['low-level']}   high-level {result['high-level']}")

# %% [markdown]
# The second simulation is the floor: two samples from the same simulator give AUC = 0.5 within the quoted null
# spread. The good surrogate sits a little above it, the too-narrow one far above, although its averages looked
# fine: the response distribution in the first plot is where the difference shows, it is too narrow, exactly as
# built. For the bad surrogate the high-level classifier sees less than the one on all cells; for the good one both
# sit close to the floor.

# %% tags=["claim"]
auc = {name: {level: t.auc for level, t in result.items()} for name, result in tests.items()}
floor = tests["second simulation"]["low-level"]
claim(
    "two samples from the same simulator give AUC = 0.5 within the quoted null spread",
    all(abs(t.auc - 0.5) < 3 * t.null_sigma for t in tests["second simulation"].values()),
    **auc["second simulation"],
    null_sigma=floor.null_sigma,
)
claim(
    "the good surrogate sits a little above the floor, the too-narrow one far above",
    (auc["good surrogate"]["low-level"] < 0.65) & (auc["bad surrogate (T = 0.6)"]["low-level"] > 0.85),
    good=auc["good surrogate"]["low-level"],
    bad=auc["bad surrogate (T = 0.6)"]["low-level"],
)
bad_auc, good_auc = auc["bad surrogate (T = 0.6)"], auc["good surrogate"]
claim(
    "for the bad surrogate the high-level classifier sees less than the one on all cells; "
    "for the good one both sit close to the floor",
    (bad_auc["high-level"] < bad_auc["low-level"]) & (max(good_auc.values()) < 0.6),
    bad_high=bad_auc["high-level"],
    bad_low=bad_auc["low-level"],
    good_high=good_auc["high-level"],
    good_low=good_auc["low-level"],
)

# %% [markdown]
# ### Generation speed
#
# A surrogate is only worth it if it is faster than the simulation it replaces. We time 10,000 showers with each.

# %%
import time

n_time = 10_000
energies = test_showers.energy[:n_time]
timings = {}
for name, generate in (
    ("toy simulation (NumPy)", lambda: calo.simulate_showers(len(energies), rng, energy=energies)),
    ("flow surrogate", lambda: surrogate.sample(energies)),
    ("bad surrogate (T = 0.6)", lambda: surrogate.sample(energies, temperature=0.6)),
):
    generate()  # a warm-up call, so that one-time costs do not count
    start = time.process_time()
    generate()
    timings[name] = (time.process_time() - start) / len(energies)
    print(f"{name:25s} {1e6 * timings[name]:8.1f} µs of CPU time per shower")

# %% [markdown]
# Our toy "simulation" is a few formulas, so it is *faster* than the flow; a surrogate pays off only against an
# expensive simulator like Geant4 (about 100 s per shower for the CaloChallenge's fine data sets), where
# CaloDiffusion's 0.1 to 2 s per shower on a GPU at batch size 100 (the seed lecture's table) is a large gain. The
# bad surrogate runs the same network and costs as much as the good one, up to timing noise: it is just wrong.

# %% tags=["claim"]
claim(
    "the toy simulation is faster than the flow, and the bad surrogate costs as much as the good one",
    (timings["toy simulation (NumPy)"] < timings["flow surrogate"])
    & (0.6 < timings["bad surrogate (T = 0.6)"] / timings["flow surrogate"] < 1.6),
    bad_over_good=timings["bad surrogate (T = 0.6)"] / timings["flow surrogate"],
)

# %% [markdown]
# ## Summary
#
# - The Lund symmetric function $f(z) \propto z^{-1}(1-z)^a e^{-b m_T^2/z}$ gives each hadron's share of the
#   string; rejection sampling against its exact maximum draws it exactly.
# - A conditional flow learns $p(z \mid a, b, m_T)$ to about ten per cent (rms over bins, lecture mode); a
#   chi-square with enough events sees the difference that a classifier's AUC barely shows.
# - Larger $a$ means smaller $z$ and more hadrons, in the toy string and in Pythia 8.
# - A calorimeter surrogate is judged by high-level distributions and, above all, by a classifier's AUC on held-out
#   showers: 0.5 is perfect, and the distance from 0.5 ranks surrogates.


# %% tags=["claim"]
claim(
    "in lecture mode the flow learns p(z | a, b, mT) to about ten per cent (rms over bins)",
    max(rms.values()) < 0.15,
    when=cfg.mode != "ci",
    **rms,
)

# %% [markdown]
# ## Further reading
#
# - P. Ilten, T. Menzo, A. Youssef, J. Zupan, *Modeling hadronization using machine learning* (MLHAD),
#   [arXiv:2203.04983](https://arxiv.org/abs/2203.04983).
# - C. Bierlich et al., *Towards a data-driven model of hadronization using normalizing flows*,
#   [arXiv:2311.09296](https://arxiv.org/abs/2311.09296).
# - A. Ghosh, X. Ju, B. Nachman, A. Siodmok, *Towards a deep learning model for hadronization* (HADML),
#   [arXiv:2203.12660](https://arxiv.org/abs/2203.12660).
# - C. Krause, D. Shih, *CaloFlow*, [arXiv:2106.05285](https://arxiv.org/abs/2106.05285).
# - O. Amram, K. Pedro, *CaloDiffusion*, [arXiv:2308.03876](https://arxiv.org/abs/2308.03876).
# - C. Krause et al., *CaloChallenge 2022: a community challenge for fast calorimeter simulation*,
#   [arXiv:2410.21611](https://arxiv.org/abs/2410.21611).
# - B. Andersson, G. Gustafson, G. Ingelman, T. Sjöstrand, *Parton fragmentation and string dynamics*,
#   Phys. Rept. 97 (1983) 31; P. Skands, S. Carrazza, J. Rojo, *Tuning Pythia 8.1: the Monash 2013 tune*,
#   [arXiv:1404.5630](https://arxiv.org/abs/1404.5630).

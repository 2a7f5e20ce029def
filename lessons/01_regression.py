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
# # 01 · Regression, losses and autodiff
#
# A regression network is a fit: it adjusts parameters $\omega$ so that $f_\omega(x)$ follows measured
# values. This lesson derives the usual losses from likelihoods, fits the $Z$ line shape with a small
# network, and opens the box that computes the gradients.
#
# **You will**
# - derive the mean squared error from a Gaussian likelihood and the mean absolute error from a Laplace one;
# - preprocess inputs and targets, and explain why it matters for training;
# - diagnose over- and under-fitting with training, validation and test sets, and regularise with L2 and dropout;
# - compute gradients by forward-mode and reverse-mode automatic differentiation, by hand and with PyTorch.
#
# **Prerequisites:** lesson 00; least-squares fits; the chain rule.
# **Time:** about 75 minutes.
# **Sources:** the ML4HEP lecture "Modern ML methods in HEP" (losses from likelihoods, regularisation) and the
# MCnet-school lecture "Machine Learning and MC generators" (autodiff, backpropagation). Papers:
# Baydin et al., *Automatic differentiation in machine learning: a survey*,
# [arXiv:1502.05767](https://arxiv.org/abs/1502.05767); Kingma and Ba, *Adam*,
# [arXiv:1412.6980](https://arxiv.org/abs/1412.6980); Srivastava et al., *Dropout*, JMLR 15 (2014) 1929.

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
import numpy as np
import torch

import mlmc_course
from mlmc_course.checks import l01_regression as checks

cfg = mlmc_course.setup(MODE)

# %%
n_points = cfg.pick(ci=400, lecture=2_000, full=20_000)  # pseudo-measurements of the Z line shape
epochs = cfg.pick(ci=150, lecture=150, full=400)  # for each line-shape network
n_small = 20  # training points of the over-fitting study, the same in every mode
small_epochs = cfg.pick(ci=800, lecture=800, full=2000)  # for each regularised network
print(f"{n_points} line-shape points, {epochs} epochs; {n_small} points and {small_epochs} epochs for regularisation")

# %% [markdown]
# ## From a likelihood to a loss
#
# We measure values $f_j$ at points $x_j$ with Gaussian errors $\sigma_j$ and want a function $f_\omega(x)$
# that describes them. The probability of the data given the parameters is
# $$ p(f \mid \omega) = \prod_j \frac{1}{\sqrt{2\pi}\,\sigma_j}
#    \exp\left(-\frac{(f_j - f_\omega(x_j))^2}{2\sigma_j^2}\right), $$
# and maximising it is minimising the negative log-likelihood
# $$ -\log p = \sum_j \left[\frac{(f_j - f_\omega(x_j))^2}{2\sigma_j^2} + \log\sigma_j
#    + \tfrac12\log 2\pi\right]. $$
# With one unknown $\sigma$ for all points, the terms without $\omega$ drop out and what is left is, up to a
# factor, the **mean squared error**, $\mathrm{MSE} = \frac1N\sum_j (f_j - f_\omega(x_j))^2$.
# A Laplace distribution, $p \propto e^{-|f - f_\omega|/b}$, gives the **mean absolute error** instead. The
# minimiser of the MSE is the conditional *mean* of the data, that of the MAE the conditional *median*: a loss
# is a statement about the noise.

# %% [markdown] tags=["question"] name="gaussian_nll" points=2
# **Exercise 1.** Write `gaussian_nll(pred, target, sigma)`: the mean over points of the Gaussian negative
# log-likelihood above. The arguments are torch tensors of shape `(n,)`; return a scalar torch tensor, so that
# you can call `.backward()` on it. (Dropping the constant $\frac12\log 2\pi$ is fine.)


# %% tags=["solution"]
def gaussian_nll(pred: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Mean Gaussian negative log-likelihood; all inputs of shape (n,), sigma > 0."""
    # BEGIN SOLUTION
    return torch.mean((target - pred) ** 2 / (2 * sigma**2) + torch.log(sigma) + 0.5 * np.log(2 * np.pi))
    # END SOLUTION
    # HINT: write -log of the Gaussian density term by term with torch operations and take torch.mean.


# %% tags=["wrong"]
# WRONG: the mean absolute error, not the Gaussian likelihood
# EXPECT: this is the mean absolute error
def gaussian_nll(pred, target, sigma):
    return torch.mean(torch.abs(target - pred))


# %% tags=["wrong"]
# WRONG: drops the log(sigma) term, which matters when sigma differs between points
# EXPECT: the log(sigma) term is missing
def gaussian_nll(pred, target, sigma):
    return torch.mean((target - pred) ** 2 / (2 * sigma**2))


# %% tags=["wrong"]
# WRONG: converts to a Python float, so no gradient can flow
# EXPECT: the loss is not differentiable
def gaussian_nll(pred, target, sigma):
    value = float(torch.mean((target - pred) ** 2 / (2 * sigma**2) + torch.log(sigma)))
    return torch.tensor(value)


# %% tags=["mutants"]
# EQUIVALENT L1:22 drop right of Add: drops the constant log(2 pi)/2, which changes neither the fit nor the gradients;
#   the exercise accepts the NLL with or without it
# EQUIVALENT L1:23 swap operands of Sub: (pred - target)^2 = (target - pred)^2

# %% tags=["check"]
checks.gaussian_nll(gaussian_nll)

# %% tags=["check", "hidden"]
checks.gaussian_nll(gaussian_nll, seed=101)

# %% [markdown]
# ## A first regression: the $Z$ line shape
#
# Near the $Z$ pole the cross section of $e^+e^- \to Z \to \mu^+\mu^-$ is a relativistic Breit-Wigner,
# $$ \sigma(s) = \sigma^0_{\mu\mu}\,\frac{s\,\Gamma_Z^2}{(s - m_Z^2)^2 + s^2\Gamma_Z^2/m_Z^2}, $$
# with $m_Z = 91.19$ GeV, $\Gamma_Z = 2.50$ GeV and $\sigma^0_{\mu\mu} \approx 2.0$ nb. We pretend not to know
# the formula: `mlmc_course.data.toys.z_lineshape` gives noisy measurements (5% errors) at random energies, and a
# network learns the curve.

# %%
import matplotlib.pyplot as plt

from mlmc_course.data.toys import z_cross_section, z_lineshape

sqrt_s, xsec = z_lineshape(n_points, seed=cfg.seed)
grid = np.linspace(84, 98, 400)

fig, ax = plt.subplots()
ax.plot(sqrt_s, xsec, ".", ms=2, alpha=0.4, label="pseudo-measurements")
ax.plot(grid, z_cross_section(grid), "k--", label="Breit-Wigner (truth)")
ax.set_xlabel(r"$\sqrt{s}$ [GeV]")
ax.set_ylabel(r"$\sigma(e^+e^- \to \mu^+\mu^-)$ [nb]")
ax.legend()
plt.show()
truth_grid = z_cross_section(grid)
xsec_range = truth_grid.max() / truth_grid.min()
print(f"true cross section from {truth_grid.min():.3f} to {truth_grid.max():.2f} nb: a factor of {xsec_range:.0f}")

# %% [markdown]
# ### Preprocessing
#
# Networks train best when inputs and targets are of order one. Raw $\sqrt s \approx 90$ GeV pushes the first
# layer's activations far from where the nonlinearities bend, and the true cross section spans a factor of about 40
# over the range (printed above). Two common
# maps: standardise inputs, $x \to (x - \langle x\rangle)/\mathrm{std}(x)$, and fit the logarithm of a positive,
# steep target. The mean and standard deviation come from the **training set only**; using the validation or test
# set would let information about them leak into training.

# %% tags=["claim"]
from mlmc_course.claims import claim

claim("the true cross section spans a factor of about 40", 30 < xsec_range < 50, factor=xsec_range)

# %% [markdown] tags=["question"] name="standardize" points=1
# **Exercise 2.** Write `standardize(x_train, x_test)`: arrays of shape `(n, d)`; return `(z_train, z_test)`,
# both scaled with the mean and standard deviation of each column **of the training set**.


# %% tags=["solution"]
def standardize(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both sets with the training set's column means and standard deviations."""
    # BEGIN SOLUTION
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return (x_train - mean) / std, (x_test - mean) / std
    # END SOLUTION
    # HINT: compute mean and std along axis 0 of x_train only, then apply the same map to both arrays.


# %% tags=["wrong"]
# WRONG: statistics from training and test data together (the test set leaks into training)
# EXPECT: leaks test data into training
def standardize(x_train, x_test):
    both = np.concatenate([x_train, x_test])
    mean, std = both.mean(axis=0), both.std(axis=0)
    return (x_train - mean) / std, (x_test - mean) / std


# %% tags=["wrong"]
# WRONG: each set scaled with its own statistics, so the two no longer share one coordinate system
# EXPECT: you scaled the test set with its own statistics
def standardize(x_train, x_test):
    return (x_train - x_train.mean(0)) / x_train.std(0), (x_test - x_test.mean(0)) / x_test.std(0)


# %% tags=["check"]
checks.standardize(standardize)

# %% tags=["check", "hidden"]
checks.standardize(standardize, seed=202)

# %% [markdown]
# Now the fit. From here on the lesson uses scikit-learn's `StandardScaler` (the same map as your function) and
# the course's one training loop, `mlmc_course.training.fit`, which runs mini-batch gradient descent with Adam and
# keeps the weights of the epoch with the lowest validation loss. We compare a network fed raw inputs with one fed
# preprocessed inputs; both train for the same number of epochs.

# %%
from sklearn.preprocessing import StandardScaler

from mlmc_course.training import fit, mlp, to_tensors

rng = np.random.default_rng(cfg.seed)
order = rng.permutation(n_points)
train, val = order[: n_points * 3 // 4], order[n_points * 3 // 4 :]


def mse(model, batch):
    x, y = batch
    return torch.mean((model(x).squeeze(-1) - y) ** 2)


def train_lineshape(x_in: np.ndarray, y_target: np.ndarray, seed: int):
    torch.manual_seed(seed)
    model = mlp(1, 1, hidden=(32, 32), activation=torch.nn.Tanh)
    tr = to_tensors(x_in[train, None], y_target[train])
    va = to_tensors(x_in[val, None], y_target[val])
    history = fit(model, mse, tr, val=va, epochs=epochs, batch_size=128, lr=3e-3, seed=seed, progress=False)
    return model, history


scaler = StandardScaler().fit(sqrt_s[train, None])
x_std = scaler.transform(sqrt_s[:, None])[:, 0]
model_raw, hist_raw = train_lineshape(sqrt_s, xsec, cfg.seed)
model_pre, hist_pre = train_lineshape(x_std, np.log(xsec), cfg.seed)

# %%
with torch.no_grad():
    pred_raw = model_raw(torch.tensor(grid[:, None], dtype=torch.float32)).squeeze(-1).numpy()
    g = torch.tensor(scaler.transform(grid[:, None]), dtype=torch.float32)
    pred_pre = np.exp(model_pre(g).squeeze(-1).numpy())

fig, ax = plt.subplots()
ax.plot(sqrt_s, xsec, ".", ms=2, alpha=0.3, color="grey", label="data")
ax.plot(grid, z_cross_section(grid), "k--", label="truth")
ax.plot(grid, pred_raw, label="raw inputs, raw target")
ax.plot(grid, pred_pre, label="standardised input, log target")
ax.set_xlabel(r"$\sqrt{s}$ [GeV]")
ax.set_ylabel(r"$\sigma$ [nb]")
ax.legend()
plt.show()


def rel_rms(curve: np.ndarray) -> float:
    """Root-mean-square relative deviation of a curve on the grid from the true cross section."""
    return float(np.sqrt(np.mean(((curve - truth_grid) / truth_grid) ** 2)))


for name, pred in (("raw", pred_raw), ("preprocessed", pred_pre)):
    print(f"{name}: rms relative deviation from the truth {rel_rms(pred):.3f}")

# %% [markdown]
# With the same budget the preprocessed network follows the peak to a few per cent (printed above); the raw one has
# learned nothing but a constant, about the mean cross section: with inputs near 90 its tanh units are saturated,
# and their gradients vanish. Preprocessing changes nothing in what the network *can* represent, only how easily
# gradient descent finds it.

# %% tags=["claim"]
rel_pre = rel_rms(pred_pre)
claim("the preprocessed network follows the peak to a few per cent", rel_pre < 0.05, rms_relative_deviation=rel_pre)
claim(
    "the raw one has learned nothing but a constant, about the mean cross section",
    np.ptp(pred_raw) < 0.05 * np.ptp(truth_grid) and abs(pred_raw.mean() - xsec.mean()) < 0.2 * xsec.mean(),
    spread=np.ptp(pred_raw),
    level=pred_raw.mean(),
    mean_cross_section=xsec.mean(),
)

# %% [markdown]
# ### Outliers: MSE against MAE
#
# Suppose 5% of the measurements are garbage (a broken luminosity block). The MSE, which assumes Gaussian
# noise, is pulled towards them; the MAE (Laplace noise, the median) largely ignores them.

# %%
sqrt_o, xsec_o = z_lineshape(n_points, outlier_fraction=0.05, seed=cfg.seed + 1)
x_o = scaler.transform(sqrt_o[:, None])


def mae(model, batch):
    x, y = batch
    return torch.mean(torch.abs(model(x).squeeze(-1) - y))


fits = {}
for name, loss in {"MSE": mse, "MAE": mae}.items():
    torch.manual_seed(cfg.seed)
    net = mlp(1, 1, hidden=(32, 32), activation=torch.nn.Tanh)
    fit(net, loss, to_tensors(x_o, xsec_o), epochs=epochs, batch_size=128, lr=3e-3, seed=cfg.seed, progress=False)
    with torch.no_grad():
        fits[name] = net(g).squeeze(-1).numpy()

fig, ax = plt.subplots()
ax.plot(sqrt_o, xsec_o, ".", ms=2, alpha=0.3, color="grey", label="data with 5% outliers")
ax.plot(grid, z_cross_section(grid), "k--", label="truth")
for name, curve in fits.items():
    ax.plot(grid, curve, label=f"fit with {name}")
ax.set_xlabel(r"$\sqrt{s}$ [GeV]")
ax.set_ylabel(r"$\sigma$ [nb]")
ax.legend()
plt.show()
tails = np.abs(grid - 91.19) > 3  # GeV: where the cross section is small and outliers weigh most
for name, curve in fits.items():
    print(
        f"{name}: rms relative deviation from the truth {rel_rms(curve):.3f}, "
        f"mean offset in the tails {np.mean(curve[tails] - truth_grid[tails]):+.3f} nb"
    )

# %% tags=["claim"]
offset = {name: np.mean(curve[tails] - truth_grid[tails]) for name, curve in fits.items()}
claim(
    "the MSE is pulled towards the outliers, the MAE largely ignores them",
    offset["MSE"] > 3 * abs(offset["MAE"]) and offset["MSE"] > 0.02,
    mse_offset=offset["MSE"],
    mae_offset=offset["MAE"],
)

# %% [markdown]
# ## Over-fitting, under-fitting and the three data sets
#
# A model with too few parameters misses structure (*under-fitting*: training and validation errors both high);
# one with too many learns the noise (*over-fitting*: training error low, validation error high). We choose
# hyperparameters, such as a polynomial degree, by the error on a **validation** set, and quote the final
# performance on a **test** set that played no part in any choice.
#
# Below, a few noisy points from a smooth curve (one in each twentieth of the range, so that no stretch is empty)
# and polynomial fits of rising degree.


# %%
def truth_curve(x):
    return np.sin(2.5 * x) + 0.3 * x


rng_small = np.random.default_rng(cfg.seed + 2)  # its own generator: the same points in every mode
x_tr = -2 + 4 * (np.arange(n_small) + rng_small.uniform(size=n_small)) / n_small  # one in each 20th of the range
x_va, x_te = (rng_small.uniform(-2, 2, n) for n in (200, 200))
y_tr, y_va, y_te = (truth_curve(x) + rng_small.normal(0, 0.25, len(x)) for x in (x_tr, x_va, x_te))
degrees = np.arange(0, 13)
train_err, val_err = [], []
for d in degrees:
    poly = np.polynomial.Polynomial.fit(x_tr, y_tr, d)
    train_err.append(np.mean((poly(x_tr) - y_tr) ** 2))
    val_err.append(np.mean((poly(x_va) - y_va) ** 2))

fig, ax = plt.subplots()
ax.plot(degrees, train_err, "o-", label="training")
ax.plot(degrees, val_err, "s-", label="validation")
ax.axhline(0.25**2, ls=":", color="grey", label=r"noise variance $\sigma^2$")
ax.set_yscale("log")
ax.set_xlabel("polynomial degree")
ax.set_ylabel("mean squared error")
ax.legend()
plt.show()

# %% [markdown]
# The training error falls with every added degree (each polynomial contains the one below it) and ends below the
# noise variance: the polynomial fits part of the noise. The validation error falls, flattens not far above the
# noise variance (no model can predict the noise of new points), and rises again once the polynomial starts fitting
# noise.

# %% tags=["claim"]
best_degree = int(np.argmin(val_err))
claim(
    "the training error falls with every added degree and ends below the noise variance",
    bool(np.all(np.diff(train_err) <= 1e-9)) and train_err[-1] < 0.25**2,
    last_training_mse=train_err[-1],
)
claim(
    "the validation error falls, flattens not far above the noise variance, and rises again",
    0 < best_degree < degrees[-1]
    and 0.25**2 < val_err[best_degree] < 2 * 0.25**2
    and val_err[-1] > 5 * val_err[best_degree],
    best_degree=best_degree,
    minimum=val_err[best_degree],
    at_degree_12=val_err[-1],
)

# %% [markdown] tags=["question"] name="select_degree" points=2
# **Exercise 3.** Write `select_degree(x_train, y_train, x_val, y_val, max_degree)`: fit a polynomial of each
# degree `0..max_degree` to the training data (e.g. with `np.polynomial.Polynomial.fit`) and return the degree
# (an `int`) with the lowest validation mean squared error.


# %% tags=["solution"]
def select_degree(x_train, y_train, x_val, y_val, max_degree: int) -> int:
    """The polynomial degree with the smallest validation MSE."""
    # BEGIN SOLUTION
    errors = []
    for degree in range(max_degree + 1):
        poly = np.polynomial.Polynomial.fit(x_train, y_train, degree)
        errors.append(np.mean((poly(x_val) - y_val) ** 2))
    return int(np.argmin(errors))
    # END SOLUTION
    # HINT: loop over degrees, evaluate each fit on x_val, and return the argmin of the validation errors.


# %% tags=["wrong"]
# WRONG: chooses by the training error, which always prefers the largest degree
# EXPECT: that is what the training error prefers
def select_degree(x_train, y_train, x_val, y_val, max_degree):
    errors = []
    for degree in range(max_degree + 1):
        poly = np.polynomial.Polynomial.fit(x_train, y_train, degree)
        errors.append(np.mean((poly(x_train) - y_train) ** 2))
    return int(np.argmin(errors))


# %% tags=["mutants"]
# EQUIVALENT L4:22 call mean->sum: the sum of squared errors over one validation set is n times their mean, so it picks
#   the same degree
# EQUIVALENT L4:31 swap operands of Sub: (y_val - poly(x_val))^2 = (poly(x_val) - y_val)^2

# %% tags=["check"]
checks.select_degree(select_degree)

# %% tags=["check", "hidden"]
checks.select_degree(select_degree, seed=303)

# %% [markdown]
# The test set is used once, at the end: here is the chosen model's test error next to its validation error.
# The validation error of the chosen degree is optimistic on average, since we picked the degree that happened to do
# best on it; with 200 validation and 200 test points the two also differ by chance.

# %%
poly = np.polynomial.Polynomial.fit(x_tr, y_tr, best_degree)
test_mse = np.mean((poly(x_te) - y_te) ** 2)
print(f"chosen degree {best_degree}: validation MSE {val_err[best_degree]:.4f}, test MSE {test_mse:.4f}")

# %% [markdown]
# ### Regularisation: L2 and dropout
#
# For networks the capacity knob is continuous. An **L2 penalty** adds $\frac\lambda2\sum\omega^2$ to the loss;
# in plain gradient descent with learning rate $\eta$ that is the same as shrinking every weight by a factor
# $1 - \eta\lambda$ in each step, *weight decay*. With Adam the two are not the same (Adam rescales the penalty's
# gradient like any other), and AdamW applies the decay to the weights directly, decoupled from the gradient
# (Loshchilov and Hutter); `fit` uses AdamW when `weight_decay` > 0. **Dropout** zeroes a random fraction of hidden
# units in each training step, so the network cannot rely on any single one. Both trade a little training error for
# a smoother function. We train a wide network on the 20 points above with and without them, and follow the
# validation error over the epochs.


# %%
def train_small(weight_decay: float, dropout: float, seed: int):
    torch.manual_seed(seed)
    net = mlp(1, 1, hidden=(128, 128), activation=torch.nn.Tanh, dropout=dropout)
    hist = fit(
        net,
        mse,
        to_tensors(x_tr[:, None], y_tr),
        val=to_tensors(x_va[:, None], y_va),
        epochs=small_epochs,
        batch_size=n_small,
        lr=3e-3,
        weight_decay=weight_decay,
        seed=seed,
        progress=False,
    )
    return net, hist


variants = {"no regularisation": (0.0, 0.0), "weight decay 1 (AdamW)": (1.0, 0.0), "dropout 0.2": (0.0, 0.2)}
val_curves = {}
fig, (ax_f, ax_l) = plt.subplots(1, 2, figsize=(11, 4))
xs = torch.linspace(-2, 2, 300)[:, None]
for name, (wd, p) in variants.items():
    net, hist = train_small(wd, p, cfg.seed)
    with torch.no_grad():
        ax_f.plot(xs[:, 0], net(xs)[:, 0], label=name)
    ax_l.plot(np.arange(1, len(hist.val) + 1), hist.val, label=name)
    val_curves[name] = np.array(hist.val)
ax_f.plot(x_tr, y_tr, "ko", ms=4, label="training points")
ax_f.plot(xs[:, 0], truth_curve(xs[:, 0].numpy()), "k--", lw=1, label="truth")
ax_f.set_xlabel("$x$")
ax_f.set_ylabel("$y$")
ax_f.legend(fontsize="x-small")
ax_l.set_xlabel("epoch")
ax_l.set_ylabel("validation MSE")
ax_l.set_yscale("log")
ax_l.legend(fontsize="x-small")
plt.show()
for name, curve in val_curves.items():
    print(f"{name}: validation MSE lowest {curve.min():.3f} (epoch {curve.argmin() + 1}), last {curve[-1]:.3f}")

# %% [markdown]
# `fit` returns the network at its best validation epoch, which is itself a regulariser (*early stopping*): that is
# why the three functions on the left look alike. The right panel shows what training on would do. Without
# regularisation the validation error climbs well above its minimum as the network fits the noise of the 20
# points; weight decay and dropout slow that climb (dropout's curve is noisy because each epoch trains a
# differently thinned network).

# %% tags=["claim"]
last = {name: curve[-1] for name, curve in val_curves.items()}
climb = val_curves["no regularisation"][-1] / val_curves["no regularisation"].min()
claim("without regularisation the validation error climbs well above its minimum", climb > 1.4, ratio=climb)
claim(
    "weight decay and dropout slow that climb",
    last["weight decay 1 (AdamW)"] < last["no regularisation"] and last["dropout 0.2"] < last["no regularisation"],
    last_unregularised=last["no regularisation"],
    last_weight_decay=last["weight decay 1 (AdamW)"],
    last_dropout=last["dropout 0.2"],
)

# %% [markdown]
# ## How the gradients are computed: automatic differentiation
#
# Training needs $\nabla_\omega \mathcal L$. Automatic differentiation applies the chain rule to the elementary
# operations of a program, exactly (no finite differences) and cheaply.
#
# **Forward mode** carries each value together with its derivative with respect to *one* input. A *dual number*
# $a + b\,\varepsilon$ with $\varepsilon^2 = 0$ does precisely this: $f(a + \varepsilon) = f(a) + f'(a)\varepsilon$.
# We write the few lines by hand, since they are the lesson:


# %%
class Dual:
    """A number value + deriv * eps with eps^2 = 0: forward-mode differentiation in one direction."""

    def __init__(self, value: float, deriv: float = 0.0):
        self.value, self.deriv = value, deriv

    def __add__(self, other):
        other = other if isinstance(other, Dual) else Dual(other)
        return Dual(self.value + other.value, self.deriv + other.deriv)

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Dual) else Dual(other)
        return Dual(self.value * other.value, self.deriv * other.value + self.value * other.deriv)

    __rmul__ = __mul__


def dual_tanh(x: Dual) -> Dual:
    t = np.tanh(x.value)
    return Dual(t, (1 - t**2) * x.deriv)


x0 = 0.7
y = 3 * dual_tanh(Dual(x0, 1.0) * Dual(x0, 1.0)) + 1  # f(x) = 3 tanh(x^2) + 1
exact_derivative = 6 * x0 * (1 - np.tanh(x0**2) ** 2)
print(f"f({x0}) = {y.value:.6f}, f'({x0}) = {y.deriv:.6f}, exact {exact_derivative:.6f}")

# %% tags=["claim"]
claim(
    "the dual numbers give the derivative exactly (to rounding)",
    abs(y.deriv - exact_derivative) < 1e-12,
    difference=y.deriv - exact_derivative,
)

# %% [markdown]
# Forward mode costs one pass per *input* direction. A network has millions of inputs to the loss (its
# weights) and one output, the loss: **reverse mode** (backpropagation) is the efficient choice. It runs the
# program forward once, storing intermediate values, then sweeps backwards, multiplying local derivatives from
# the output towards the inputs:
# $$ \frac{\partial\mathcal L}{\partial \omega_i} = \sum_j \frac{\partial\mathcal L}{\partial f_j}
#    \frac{\partial f_j}{\partial \omega_i}. $$
# For $f(x) = w_2\cdot\tanh(W_1 x + b_1) + b_2$ and $\mathcal L = \frac1n\sum_k (f(x_k) - y_k)^2$, with
# $z = W_1 x + b_1$ and $a = \tanh z$:
# $$ \delta_k = \frac{2}{n}(f_k - y_k),\quad
#    \frac{\partial\mathcal L}{\partial w_2} = \sum_k \delta_k a_k,\quad
#    \frac{\partial\mathcal L}{\partial b_2} = \sum_k \delta_k,\quad
#    \frac{\partial\mathcal L}{\partial z_k} = \delta_k\, w_2 \odot (1 - a_k^2), $$
# and then $\partial\mathcal L/\partial W_1 = \sum_k (\partial\mathcal L/\partial z_k)\, x_k^T$,
# $\partial\mathcal L/\partial b_1 = \sum_k \partial\mathcal L/\partial z_k$.

# %% [markdown] tags=["question"] name="backprop" points=3
# **Exercise 4.** Write `backprop(params, x, y)` by hand (NumPy only). `params` is a dict with `W1` of shape
# `(h, d)`, `b1` `(h,)`, `w2` `(h,)` and the float `b2`; `x` has shape `(n, d)`, `y` shape `(n,)`. Return a
# dict with the same keys holding the gradients of $\mathcal L = \mathrm{mean}((f(x) - y)^2)$.


# %% tags=["solution"]
def backprop(params: dict, x: np.ndarray, y: np.ndarray) -> dict:
    """Gradients of the mean squared error of a one-hidden-layer tanh network, by reverse-mode differentiation."""
    # BEGIN SOLUTION
    z = x @ params["W1"].T + params["b1"]  # (n, h)
    a = np.tanh(z)
    f = a @ params["w2"] + params["b2"]  # (n,)
    delta = 2.0 * (f - y) / len(y)  # dL/df
    grad_z = delta[:, None] * params["w2"][None, :] * (1.0 - a**2)
    return {"W1": grad_z.T @ x, "b1": grad_z.sum(axis=0), "w2": a.T @ delta, "b2": float(delta.sum())}
    # END SOLUTION
    # HINT: run the forward pass keeping z and a = tanh(z); start from dL/df = 2 (f - y) / n and go backwards.


# %% tags=["wrong"]
# WRONG: forgets the derivative of tanh on the way back
# EXPECT: multiply by its derivative 1 - tanh(z)^2
def backprop(params, x, y):
    a = np.tanh(x @ params["W1"].T + params["b1"])
    delta = 2.0 * (a @ params["w2"] + params["b2"] - y) / len(y)
    grad_z = delta[:, None] * params["w2"][None, :]
    return {"W1": grad_z.T @ x, "b1": grad_z.sum(0), "w2": a.T @ delta, "b2": float(delta.sum())}


# %% tags=["wrong"]
# WRONG: sign error, dL/df = 2 (y - f) / n
# EXPECT: every gradient has the wrong sign
def backprop(params, x, y):
    a = np.tanh(x @ params["W1"].T + params["b1"])
    delta = 2.0 * (y - (a @ params["w2"] + params["b2"])) / len(y)
    grad_z = delta[:, None] * params["w2"][None, :] * (1 - a**2)
    return {"W1": grad_z.T @ x, "b1": grad_z.sum(0), "w2": a.T @ delta, "b2": float(delta.sum())}


# %% tags=["check"]
checks.backprop(backprop)

# %% tags=["check", "hidden"]
checks.backprop(backprop, seed=404)

# %% [markdown]
# PyTorch does exactly this bookkeeping for any program: every operation on a tensor with `requires_grad=True`
# records itself in a graph, and `.backward()` runs the reverse sweep. The same network, differentiated by
# `torch.autograd`:

# %%
gen = np.random.default_rng(cfg.seed)
params = {"W1": gen.normal(size=(4, 2)), "b1": gen.normal(size=4), "w2": gen.normal(size=4), "b2": 0.3}
x_ad, y_ad = gen.normal(size=(8, 2)), gen.normal(size=8)
tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
f_ad = torch.tanh(torch.tensor(x_ad) @ tp["W1"].T + tp["b1"]) @ tp["w2"] + tp["b2"]
loss = torch.mean((f_ad - torch.tensor(y_ad)) ** 2)
loss.backward()
for name, tensor in tp.items():
    print(f"dL/d{name}:", np.round(np.atleast_1d(tensor.grad.numpy()).ravel()[:4], 5))

# %% tags=["claim"]
a_ad = np.tanh(x_ad @ params["W1"].T + params["b1"])
delta_ad = 2 * (a_ad @ params["w2"] + params["b2"] - y_ad) / len(y_ad)
grad_z_ad = delta_ad[:, None] * params["w2"][None, :] * (1 - a_ad**2)
by_hand = {"W1": grad_z_ad.T @ x_ad, "b1": grad_z_ad.sum(0), "w2": a_ad.T @ delta_ad, "b2": delta_ad.sum()}
largest = max(float(np.max(np.abs(tp[k].grad.numpy() - v))) for k, v in by_hand.items())
claim("torch.autograd gives the gradients of the formulas above", largest < 1e-10, largest_difference=largest)

# %% [markdown]
# ## Summary
#
# - A loss is a negative log-likelihood: Gaussian noise gives the MSE (the mean), Laplace noise the MAE (the
#   median); per-point errors bring back the $\log\sigma$ term.
# - Preprocessing (standardised inputs, log targets) makes the same network train faster; its statistics come
#   from the training set only.
# - Choose hyperparameters on a validation set, report on an untouched test set; L2, dropout and early stopping
#   limit over-fitting.
# - Reverse-mode autodiff computes all gradients of a scalar loss in one backward sweep: backpropagation is the
#   chain rule, organised.
#
# ## Further reading
#
# - A. G. Baydin, B. A. Pearlmutter, A. A. Radul, J. M. Siskind, *Automatic differentiation in machine
#   learning: a survey*, [arXiv:1502.05767](https://arxiv.org/abs/1502.05767).
# - D. P. Kingma, J. Ba, *Adam: a method for stochastic optimization*,
#   [arXiv:1412.6980](https://arxiv.org/abs/1412.6980); I. Loshchilov, F. Hutter, *Decoupled weight decay
#   regularization*, [arXiv:1711.05101](https://arxiv.org/abs/1711.05101).
# - P. Mehta et al., *A high-bias, low-variance introduction to machine learning for physicists*,
#   [arXiv:1803.08823](https://arxiv.org/abs/1803.08823).
# - Particle Data Group, *Review of Particle Physics*, the $Z$ line shape section (for the Breit-Wigner above).

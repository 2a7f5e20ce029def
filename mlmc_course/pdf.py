"""Parton distributions fitted the NNPDF way, in a closure test small enough for a laptop.

The pieces, in the order a fit uses them:

* :class:`ValenceTruth`: known input PDFs ``x u_v(x)`` and ``x d_v(x)`` at the fitting scale, normalised to the
  valence sum rules ``int_0^1 u_v dx = 2`` and ``int_0^1 d_v dx = 1``;
* :class:`FKTable`: a fixed linear map from PDF values on an x-grid to observables (the role FK tables play in
  NNPDF, where they hold DGLAP evolution and coefficient functions); :func:`toy_fk_table` builds a toy one;
* :func:`closure_data`: pseudo-data with correlated uncertainties; :func:`mc_replicas`: Monte Carlo replicas;
* :class:`ValencePDF`: ``x f_k(x) = A_k x^(1 - alpha_k) (1 - x)^beta_k NN_k(x)`` for many replicas at once, with
  ``A_k`` fixed by the sum rules (:func:`sum_rule_integral`) and positivity by construction;
* :func:`fit_replicas`: one chi^2 fit per replica (all replicas in one batched network, trained by the shared loop);
* :func:`pulls`, :func:`effective_exponents`: closure-test and preprocessing diagnostics.

PDF arrays hold ``x f(x)`` with flavours on the last axis, ``(n_x, n_flavours)`` or ``(n_replicas, n_x, n_flavours)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from mlmc_course.training import History, fit
from mlmc_course.validation import as_array, positive_int

FLAVOURS = ("u_v", "d_v")
SUM_RULES = (2.0, 1.0)  # int_0^1 u_v dx = 2, int_0^1 d_v dx = 1
X_MIN = 1e-9
# Preprocessing ranges per flavour (u_v, d_v): each replica draws alpha and beta uniformly from them.
ALPHA_RANGE = ((0.3, 0.5), (0.2, 0.4))
BETA_RANGE = ((2.5, 4.0), (3.5, 5.0))


def _x_values(x, name: str = "x") -> np.ndarray:
    arr = as_array(x, name, ndim=1)
    if np.any((arr <= 0) | (arr > 1)):
        raise ValueError(f"{name} must lie in (0, 1]; momentum fractions are positive and at most 1")
    return arr


def integration_grid(x_min: float = X_MIN, n_log: int = 120, n_lin: int = 80) -> np.ndarray:
    """An x-grid for sum rules: log-spaced from ``x_min`` to 0.1 (where valence PDFs rise like x^-alpha) and
    linear from 0.1 to 1 (where they fall like (1 - x)^beta); shape ``(n_log + n_lin - 1,)``, increasing."""
    if not 0 < x_min < 0.1:
        raise ValueError(f"x_min must lie in (0, 0.1), got {x_min}")
    return np.concatenate([np.geomspace(x_min, 0.1, positive_int(n_log, "n_log")), np.linspace(0.1, 1.0, n_lin)[1:]])


def sum_rule_integral(xf, x, small_x_exponent=None):
    """``int f(x) dx`` from tabulated ``x f(x)``, by the trapezoid rule in ``ln x``: ``int f dx = int x f d(ln x)``.

    Args:
        xf: values of ``x f(x)`` on the grid, the grid on axis -2: ``(n_x, n_flavours)`` or
            ``(n_replicas, n_x, n_flavours)``, NumPy or torch.
        x: the grid, ``(n_x,)``, increasing, e.g. :func:`integration_grid`.
        small_x_exponent: ``alpha`` (broadcastable to the result) to add the tail ``int_0^{x_min} f dx =
            x_min f(x_min) / (1 - alpha)`` of an ``x^-alpha`` rise below the grid; ``None`` integrates from ``x_min``.

    Returns:
        The integrals, shape of ``xf`` without axis -2.
    """
    grid = _x_values(x)
    if np.any(np.diff(grid) <= 0):
        raise ValueError("x must be strictly increasing")
    if xf.shape[-2] != len(grid):
        raise ValueError(f"xf has {xf.shape[-2]} points on axis -2 but the grid has {len(grid)}")
    log_x = np.log(grid)
    if isinstance(xf, torch.Tensor):
        total = torch.trapezoid(xf, torch.as_tensor(log_x, dtype=xf.dtype, device=xf.device), dim=-2)
    else:
        total = np.trapezoid(np.asarray(xf, dtype=float), log_x, axis=-2)
    if small_x_exponent is not None:
        total = total + xf[..., 0, :] / (1 - small_x_exponent)
    return total


@dataclass(frozen=True)
class ValenceTruth:
    """Input PDFs for a closure test: ``x q(x) = A x^a (1 - x)^b (1 + c x)`` for ``u_v`` and ``d_v``.

    The exponents are of the size global fits find (``x u_v ~ x^0.6`` at small x, ``(1 - x)^3.3`` at large x);
    ``A`` follows from the sum rules exactly, through Beta functions.
    """

    a: tuple[float, float] = (0.6, 0.7)
    b: tuple[float, float] = (3.3, 4.2)
    c: tuple[float, float] = (4.0, 3.0)

    def norms(self) -> np.ndarray:
        """``A`` for each flavour, shape ``(2,)``: ``N / (B(a, b + 1) + c B(a + 1, b + 1))``."""
        from scipy.special import beta as beta_fn

        return np.array(
            [
                n / (beta_fn(a, b + 1) + c * beta_fn(a + 1, b + 1))
                for n, a, b, c in zip(SUM_RULES, self.a, self.b, self.c, strict=True)
            ]
        )

    def xf(self, x) -> np.ndarray:
        """``x u_v(x)`` and ``x d_v(x)``, shape ``(n_x, 2)``."""
        grid = _x_values(x)[:, None]
        a, b, c = (np.asarray(p)[None, :] for p in (self.a, self.b, self.c))
        return self.norms()[None, :] * grid**a * (1 - grid) ** b * (1 + c * grid)


@dataclass(frozen=True)
class FKTable:
    """A linear map from PDFs on ``x_grid`` to observables: ``O_i = sum_{g,k} table[i, g, k] x f_k(x_g)``.

    Attributes:
        x_grid: ``(n_grid,)``; table: ``(n_data, n_grid, n_flavours)``;
        x: the Bjorken x of each data point ``(n_data,)``; scale: index of its scale ``(n_data,)``;
        target: ``"p"`` or ``"n"`` for each data point ``(n_data,)``.
    """

    x_grid: np.ndarray
    table: np.ndarray
    x: np.ndarray
    scale: np.ndarray
    target: np.ndarray

    @property
    def n_data(self) -> int:
        return self.table.shape[0]

    def __call__(self, xf):
        """Observables from PDFs on the grid: ``(n_grid, K) -> (n_data,)`` or ``(R, n_grid, K) -> (R, n_data)``;
        NumPy or torch in, the same out."""
        if xf.shape[-2:] != self.table.shape[1:]:
            raise ValueError(f"xf must end in shape {self.table.shape[1:]} (grid points, flavours), got {xf.shape}")
        if isinstance(xf, torch.Tensor):
            table = torch.as_tensor(self.table, dtype=xf.dtype, device=xf.device)
            return torch.einsum("igk,...gk->...i", table, xf)
        return np.einsum("igk,...gk->...i", self.table, np.asarray(xf, dtype=float))


def toy_fk_table(
    x_data,
    smearing: Sequence[tuple[float, float]] = ((0.1, 0.0), (0.4, -0.3)),
    x_grid=None,
) -> FKTable:
    """A toy FK table for structure-function-like data on proton and neutron targets at a few scales.

    At LO a valence-only ``F_2`` is ``sum_q e_q^2 x q(x)``: ``4/9 x u_v + 1/9 x d_v`` on protons and, by isospin,
    ``1/9 x u_v + 4/9 x d_v`` on neutrons, so the two targets separate u from d. Each scale ``(width, shift)``
    smears the PDFs with a Gaussian in ``ln x`` of that width, centred ``shift`` below ``ln x_data``: a stand-in
    for evolution to a higher scale, which broadens the valence peak and moves it to smaller x. Real FK tables
    come from DGLAP evolution and coefficient functions; what matters here is that the map is linear and fixed.

    Args:
        x_data: Bjorken x of the measurements, ``(n_x,)``; every x is measured on both targets at every scale.
        smearing: one ``(width, shift)`` pair per scale, in units of ``ln x``.
        x_grid: the PDF grid ``(n_grid,)``; 30 log-spaced points below 0.1 and 30 linear ones above by default.
    """
    xd = _x_values(x_data, "x_data")
    grid = (
        np.unique(np.concatenate([np.geomspace(1e-5, 0.1, 30), np.linspace(0.1, 0.99, 30)]))
        if x_grid is None
        else _x_values(x_grid, "x_grid")
    )
    charges = {"p": np.array([4 / 9, 1 / 9]), "n": np.array([1 / 9, 4 / 9])}
    rows, xs, scales, targets = [], [], [], []
    for target, charge in charges.items():
        for j, (width, shift) in enumerate(smearing):
            if width <= 0:
                raise ValueError(f"smearing widths must be positive, got {width}")
            kernel = np.exp(-0.5 * ((np.log(grid)[None, :] - np.log(xd)[:, None] - shift) / width) ** 2)
            kernel /= kernel.sum(axis=1, keepdims=True)
            rows.append(kernel[:, :, None] * charge[None, None, :])
            xs.append(xd)
            scales.append(np.full(len(xd), j))
            targets.append(np.full(len(xd), target))
    return FKTable(grid, np.concatenate(rows), np.concatenate(xs), np.concatenate(scales), np.concatenate(targets))


@dataclass(frozen=True)
class ClosureData:
    """Closure-test pseudo-data: ``level0`` = FK table times the truth, ``level1`` = level0 plus one draw of noise
    from ``cov``; each ``(n_data,)``, ``cov`` ``(n_data, n_data)``."""

    level0: np.ndarray
    level1: np.ndarray
    cov: np.ndarray


def closure_data(fk: FKTable, truth: ValenceTruth, *, stat: float = 0.03, norm: float = 0.02, seed: int = 0):
    """Pseudo-data with an uncorrelated relative error ``stat`` per point and a fully correlated normalisation
    error ``norm`` per target (as for one experiment's luminosity)."""
    if stat <= 0 or norm < 0:
        raise ValueError(f"need stat > 0 and norm >= 0, got stat={stat}, norm={norm}")
    level0 = fk(truth.xf(fk.x_grid))
    cov = np.diag((stat * level0) ** 2)
    for target in np.unique(fk.target):
        shift = np.where(fk.target == target, norm * level0, 0.0)
        cov += np.outer(shift, shift)
    noise = np.linalg.cholesky(cov) @ np.random.default_rng(seed).standard_normal(len(level0))
    return ClosureData(level0=level0, level1=level0 + noise, cov=cov)


def mc_replicas(data, cov, n_replicas: int, rng: np.random.Generator) -> np.ndarray:
    """Monte Carlo replicas ``data + L z`` with ``L L^T = cov`` and ``z ~ N(0, 1)``, shape ``(n_replicas, n_data)``."""
    d = as_array(data, "data", ndim=1)
    c = as_array(cov, "cov", shape=(len(d), len(d)))
    if not np.allclose(c, c.T):
        raise ValueError("cov must be symmetric")
    try:
        chol = np.linalg.cholesky(c)
    except np.linalg.LinAlgError as err:
        raise ValueError("cov must be positive definite (check for zero or negative errors)") from err
    z = rng.standard_normal((positive_int(n_replicas, "n_replicas"), len(d)))
    return d[None, :] + z @ chol.T


def chi2(theory, data, cov) -> np.ndarray:
    """``(T - D)^T cov^-1 (T - D)``; ``theory`` ``(n_data,)`` or ``(R, n_data)``, result ``()`` or ``(R,)``."""
    d = as_array(data, "data", ndim=1)
    t = as_array(theory, "theory", ndim=(1, 2))
    if t.shape[-1] != len(d):
        raise ValueError(f"theory has {t.shape[-1]} data points, data has {len(d)}")
    c = as_array(cov, "cov", shape=(len(d), len(d)))
    r = t - d
    return np.einsum("...i,...i->...", r, np.linalg.solve(c, r.T).T)


class ReplicaMLP(torch.nn.Module):
    """``n_replicas`` independent tanh networks evaluated in one batched call: ``(n, n_in) -> (R, n, n_out)``.

    Their losses add and Adam updates each weight on its own, so training them together is the same as training
    each alone, only faster.
    """

    def __init__(self, n_replicas: int, n_in: int, hidden: Sequence[int], n_out: int):
        super().__init__()
        sizes = [positive_int(n_in, "n_in"), *(positive_int(h, "hidden width") for h in hidden), n_out]
        r = positive_int(n_replicas, "n_replicas")
        self.weights = torch.nn.ParameterList(
            torch.nn.Parameter(torch.randn(r, a, b) / math.sqrt(a)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.biases = torch.nn.ParameterList(torch.nn.Parameter(0.5 * torch.randn(r, 1, b)) for b in sizes[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.expand(self.weights[0].shape[0], *x.shape)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = torch.tanh(h)
        return h


class ValencePDF(torch.nn.Module):
    """``x f_k(x) = A_k x^(1 - alpha_k) (1 - x)^beta_k softplus(NN_k(x, ln x))`` for R replicas and K flavours.

    ``alpha`` and ``beta`` ``(R, K)`` are the preprocessing exponents (fixed during training, one draw per
    replica); the softplus keeps every PDF positive; ``A_k`` is recomputed at every call so that
    ``int_0^1 f_k dx`` equals ``sum_rules[k]`` exactly, up to quadrature error.
    """

    def __init__(self, alpha, beta, sum_rules: Sequence[float] = SUM_RULES, hidden: Sequence[int] = (20, 20)):
        super().__init__()
        alpha_t = torch.as_tensor(as_array(alpha, "alpha", ndim=2), dtype=torch.float32)
        beta_t = torch.as_tensor(as_array(beta, "beta", shape=tuple(alpha_t.shape)), dtype=torch.float32)
        if torch.any(alpha_t >= 1) or torch.any(beta_t <= 0):
            raise ValueError("need alpha < 1 (an integrable small-x rise) and beta > 0 (f -> 0 at x = 1)")
        n_rep, n_flav = alpha_t.shape
        if len(sum_rules) != n_flav:
            raise ValueError(f"{len(sum_rules)} sum rules for {n_flav} flavours")
        self.net = ReplicaMLP(n_rep, 2, hidden, n_flav)
        self.register_buffer("alpha", alpha_t)
        self.register_buffer("beta", beta_t)
        self.register_buffer("sum_rules", torch.as_tensor(sum_rules, dtype=torch.float32))
        grid = integration_grid()
        self.register_buffer("x_int", torch.as_tensor(grid, dtype=torch.float32))
        self._grid = grid

    @property
    def n_replicas(self) -> int:
        return self.alpha.shape[0]

    def _unnormalised(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.stack([x, torch.log(x)], dim=-1)
        xx = x[None, :, None]
        pre = xx ** (1 - self.alpha[:, None, :]) * (1 - xx) ** self.beta[:, None, :]
        return pre * torch.nn.functional.softplus(self.net(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x f(x)`` at ``x`` ``(n,)``, shape ``(R, n, K)``, normalised to the sum rules."""
        n_int = len(self.x_int)
        raw = self._unnormalised(torch.cat([self.x_int, x]))
        integral = sum_rule_integral(raw[:, :n_int], self._grid, small_x_exponent=self.alpha)
        return (self.sum_rules / integral)[:, None, :] * raw[:, n_int:]

    def xf(self, x) -> np.ndarray:
        """Evaluate on NumPy ``x`` ``(n,)``; returns ``(R, n, K)`` float64."""
        grid = _x_values(x)
        self.eval()
        with torch.no_grad():
            return self(torch.as_tensor(grid, dtype=torch.float32)).double().numpy()


def fit_replicas(
    fk: FKTable,
    replicas,
    cov,
    *,
    alpha_range: Sequence[tuple[float, float]] = ALPHA_RANGE,
    beta_range: Sequence[tuple[float, float]] = BETA_RANGE,
    hidden: Sequence[int] = (20, 20),
    epochs: int = 1500,
    lr: float = 3e-2,
    seed: int = 0,
    progress: bool = False,
) -> tuple[ValencePDF, History]:
    """Fit one PDF per data replica by minimising ``chi^2 / n_data`` with the replica's data, all in one network.

    Args:
        fk: the FK table mapping PDFs to the data.
        replicas: data replicas ``(R, n_data)`` (see :func:`mc_replicas`).
        cov: the data covariance ``(n_data, n_data)``, used in every replica's chi^2.
        alpha_range, beta_range: per flavour, the range each replica draws its preprocessing exponents from.
        epochs: full-batch gradient steps (the shared loop with one batch holding all data points).

    Returns:
        The fitted :class:`ValencePDF` and the history of the mean chi^2 per data point.
    """
    reps = as_array(replicas, "replicas", ndim=2)
    if reps.shape[1] != fk.n_data:
        raise ValueError(f"replicas must have shape (R, {fk.n_data}), got {reps.shape}")
    c = as_array(cov, "cov", shape=(fk.n_data, fk.n_data))
    n_rep, n_flav = reps.shape[0], fk.table.shape[2]
    ranges = {"alpha_range": alpha_range, "beta_range": beta_range}
    for name, rng_pairs in ranges.items():
        if len(rng_pairs) != n_flav or any(not lo <= hi for lo, hi in rng_pairs):
            raise ValueError(f"{name} needs one (low, high) pair with low <= high per flavour ({n_flav})")
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(*np.array(alpha_range).T, size=(n_rep, n_flav))
    beta = rng.uniform(*np.array(beta_range).T, size=(n_rep, n_flav))
    torch.manual_seed(seed)
    model = ValencePDF(alpha, beta, SUM_RULES[:n_flav], hidden)
    data = torch.as_tensor(reps, dtype=torch.float32)
    cov_inv = torch.as_tensor(np.linalg.inv(c), dtype=torch.float32)
    x_grid = torch.as_tensor(fk.x_grid, dtype=torch.float32)

    def loss(m: ValencePDF, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        idx = batch[0]
        res = fk(m(x_grid))[:, idx] - data[:, idx]
        per_replica = torch.einsum("ri,ij,rj->r", res, cov_inv[idx][:, idx], res) / len(idx)
        return per_replica.sum() / n_rep

    history = fit(
        model,
        loss,
        (torch.arange(fk.n_data),),
        epochs=epochs,
        batch_size=fk.n_data,
        lr=lr,
        seed=seed,
        progress=progress,
        desc="replica fit",
    )
    return model, history


def pulls(samples, truth) -> np.ndarray:
    """Closure-test pulls ``(mean over replicas - truth) / std over replicas``: ``(R, n) , (n,) -> (n,)``."""
    s = as_array(samples, "samples", ndim=2)
    t = as_array(truth, "truth", shape=(s.shape[1],))
    if s.shape[0] < 2:
        raise ValueError("pulls need at least two replicas")
    return (s.mean(axis=0) - t) / s.std(axis=0, ddof=1)


def effective_exponents(x, xf) -> tuple[np.ndarray, np.ndarray]:
    """NNPDF's effective exponents ``alpha_eff = ln f / ln(1/x)`` and ``beta_eff = ln f / ln(1 - x)`` with
    ``f = xf / x``: they tend to the small- and large-x powers of ``f ~ x^-alpha (1 - x)^beta``.

    Args:
        x: ``(n,)`` in (0, 1); xf: positive ``x f(x)``, shape ``(n,)`` or ``(..., n)``.
    """
    grid = _x_values(x)
    if np.any(grid >= 1):
        raise ValueError("x must be below 1 (ln(1 - x) diverges at x = 1)")
    vals = as_array(xf, "xf")
    if vals.shape[-1] != len(grid):
        raise ValueError(f"xf must end in {len(grid)} points, got shape {vals.shape}")
    if np.any(vals <= 0):
        raise ValueError("effective exponents need a positive PDF")
    log_f = np.log(vals / grid)
    return log_f / np.log(1 / grid), log_f / np.log1p(-grid)

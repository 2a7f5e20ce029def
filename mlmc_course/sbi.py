"""Simulation-based inference on a toy whose latent process is tractable ("mining gold", arXiv:1805.12244).

The simulator has one theory parameter ``theta`` (think of a Wilson coefficient) and two stages:

* **parton level**: latent ``z = (z1, z2)``, an energy ``z1 >= 0`` (in units of a hard scale) and the cosine of a
  decay angle ``z2`` in [-1, 1], drawn from an EFT-like density that is quadratic in ``theta``,

  ``p(z | theta) = [f0(z) + theta f1(z) + theta^2 f2(z)] / sigma(theta)``,  ``sigma(theta) = 1 + theta^2``,

  with ``f0 = e^{-z1} 3/8 (1 + z2^2)`` (the "Standard Model"), ``f1 = kappa z1 e^{-z1} z2 (1 - z2^2)`` (the
  interference, which integrates to zero) and ``f2 = z1^2/2 e^{-z1} 3/4 (1 - z2^2)`` (the new-physics square);
* **detector**: ``x1 = z1 exp(0.2 eps1)`` (a 20 % log-normal energy resolution) and
  ``x2 = tanh(artanh(z2) + 0.3 eps2)`` (an angular resolution that keeps ``x2`` in (-1, 1)).

The detector does not depend on ``theta``, so for every simulated event the **joint** likelihood ratio
``r(x, z | theta0, theta1) = p(z | theta0) / p(z | theta1)`` and the **joint score**
``t(x, z | theta) = d log p(z | theta) / d theta`` are known, while ``p(x | theta)`` is an integral over ``z``. In this
small case the integral factorises and :func:`exact_log_likelihood` computes it by quadrature, so every learned
method can be compared with the exact answer.

Learned estimators of ``log r(x | theta, theta_ref)`` (CARL, ROLR, RASCAL) and of the score (SALLY) are trained with the
course's loop :func:`mlmc_course.training.fit` and the loss functions here; :func:`q_curve` and
:func:`confidence_interval` turn any of them into limits on ``theta``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy import stats

from mlmc_course.models.layers import mlp
from mlmc_course.validation import as_array, in_range, positive_int, same_length

KAPPA = 1.5  # interference strength; p(z | theta) >= 0 for every theta while KAPPA <= 1.81
SIGMA_LOG_E = 0.2  # relative energy resolution (log-normal)
SIGMA_ETA = 0.3  # angular resolution, Gaussian in artanh(cos)
THETA_REF = 0.0  # the reference hypothesis (the "Standard Model") in the denominator of every ratio
THETA_RANGE = (-1.0, 1.0)  # the prior range the parameterised estimators are trained on

Method = Literal["carl", "rolr", "rascal"]


# ---------------------------------------------------------------------------------------------------------------------
# The simulator and its latent densities


def _latent(z, name: str = "z") -> np.ndarray:
    z = as_array(z, name, shape=(None, 2))
    if np.any(z[:, 0] < 0):
        raise ValueError(f"{name}[:, 0] is an energy and must be >= 0")
    in_range(z[:, 1], f"{name}[:, 1] (a cosine)", -1.0, 1.0)
    return z


def terms(z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three parton-level terms ``(f0, f1, f2)``, each of shape ``(n,)``, for latent ``z`` of shape ``(n, 2)``.

    ``p(z | theta) = (f0 + theta f1 + theta^2 f2) / (1 + theta^2)``; ``f0`` and ``f2`` are normalised densities and
    ``f1`` integrates to zero.
    """
    z = _latent(z)
    z1, c = z[:, 0], z[:, 1]
    e = np.exp(-z1)
    return e * 0.375 * (1 + c**2), KAPPA * z1 * e * c * (1 - c**2), 0.5 * z1**2 * e * 0.75 * (1 - c**2)


def cross_section(theta) -> np.ndarray:
    """The total rate ``sigma(theta) = 1 + theta^2`` in units of the Standard-Model rate."""
    return 1.0 + np.asarray(theta, dtype=float) ** 2


def log_p_latent(z, theta) -> np.ndarray:
    """``log p(z | theta)``; ``theta`` is a number, shape ``(n,)`` (one per event) or broadcasts against ``(n,)``."""
    f0, f1, f2 = terms(z)
    theta = np.asarray(theta, dtype=float)
    return np.log(f0 + theta * f1 + theta**2 * f2) - np.log(cross_section(theta))


def joint_log_ratio(z, theta0, theta1) -> np.ndarray:
    """``log r(x, z | theta0, theta1) = log p(z | theta0) - log p(z | theta1)``, shape ``(n,)``.

    The detector response ``p(x | z)`` does not depend on theta and cancels."""
    return log_p_latent(z, theta0) - log_p_latent(z, theta1)


def joint_score(z, theta) -> np.ndarray:
    """``t(x, z | theta) = d/dtheta log p(z | theta) = (f1 + 2 theta f2)/(f0 + theta f1 + theta^2 f2)
    - 2 theta / (1 + theta^2)``, shape ``(n,)``."""
    f0, f1, f2 = terms(z)
    theta = np.asarray(theta, dtype=float)
    return (f1 + 2 * theta * f2) / (f0 + theta * f1 + theta**2 * f2) - 2 * theta / cross_section(theta)


@dataclass(frozen=True)
class Events:
    """Simulated events: observed ``x`` ``(n, 2)`` = (energy, cos angle), latent ``z`` ``(n, 2)``, ``theta`` ``(n,)``.

    Energies are in units of the hard scale; the cosines lie in [-1, 1] (latent) and (-1, 1) (observed)."""

    x: np.ndarray
    z: np.ndarray
    theta: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def _sample_angle(rng: np.random.Generator, new_physics: np.ndarray) -> np.ndarray:
    """cos angle from 3/8 (1 + c^2) (where ``new_physics`` is False) or 3/4 (1 - c^2) (where True), by rejection."""
    out = np.empty(len(new_physics))
    todo = np.arange(len(new_physics))
    while len(todo):
        c = rng.uniform(-1.0, 1.0, len(todo))
        keep = np.where(new_physics[todo], 1 - c**2, 0.5 * (1 + c**2)) > rng.random(len(todo))
        out[todo[keep]] = c[keep]
        todo = todo[~keep]
    return out


def sample_latent(theta, rng: np.random.Generator) -> np.ndarray:
    """Exact samples of ``z ~ p(z | theta_i)``, one per entry of ``theta`` (shape ``(n,)``); returns ``(n, 2)``.

    Proposal: the mixture ``(f0 + theta^2 f2) / (1 + theta^2)`` (easy to sample); acceptance probability
    ``(1 + theta f1 / (f0 + theta^2 f2)) / 2``, which lies in [0, 1] because ``|theta f1| <= f0 + theta^2 f2``.
    """
    theta = as_array(theta, "theta", ndim=1)
    z = np.empty((len(theta), 2))
    todo = np.arange(len(theta))
    while len(todo):
        th = theta[todo]
        new_physics = rng.random(len(todo)) < th**2 / (1 + th**2)
        z1 = np.where(new_physics, rng.gamma(3.0, size=len(todo)), rng.exponential(size=len(todo)))
        cand = np.column_stack([z1, _sample_angle(rng, new_physics)])
        f0, f1, f2 = terms(cand)
        keep = rng.random(len(todo)) < 0.5 * (1 + th * f1 / (f0 + th**2 * f2))
        z[todo[keep]] = cand[keep]
        todo = todo[~keep]
    return z


def detector(z, rng: np.random.Generator) -> np.ndarray:
    """Smear latent ``z`` ``(n, 2)`` into observed ``x`` ``(n, 2)``: 20 % energy resolution, 0.3 in artanh(cos)."""
    z = _latent(z)
    x1 = z[:, 0] * np.exp(SIGMA_LOG_E * rng.standard_normal(len(z)))
    x2 = np.tanh(np.arctanh(np.clip(z[:, 1], -1 + 1e-12, 1 - 1e-12)) + SIGMA_ETA * rng.standard_normal(len(z)))
    return np.column_stack([x1, np.clip(x2, -1 + 1e-12, 1 - 1e-12)])


def simulate(theta, rng: np.random.Generator, n: int | None = None) -> Events:
    """Run the simulator.

    Args:
        theta: one value (then give ``n``) or one value per event, shape ``(n,)``.
        rng: the NumPy generator that all randomness comes from.
        n: number of events when ``theta`` is a single number.
    """
    theta = np.asarray(theta, dtype=float)
    if theta.ndim == 0:
        if n is None:
            raise ValueError("simulate(theta, rng, n): give n when theta is a single number")
        theta = np.full(positive_int(n, "n"), float(theta))
    theta = as_array(theta, "theta", ndim=1)
    z = sample_latent(theta, rng)
    return Events(x=detector(z, rng), z=z, theta=theta)


# ---------------------------------------------------------------------------------------------------------------------
# The exact likelihood (possible here because everything factorises into one-dimensional integrals)

_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite.hermgauss(48)


def _smeared(w: np.ndarray, sigma: float, g: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """E[g(u)] for u ~ N(w, sigma^2), by Gauss-Hermite quadrature; ``w`` has shape ``(n,)``."""
    u = w[:, None] + np.sqrt(2.0) * sigma * _GH_NODES[None, :]
    return g(u) @ _GH_WEIGHTS / np.sqrt(np.pi)


def _observed(x, name: str = "x") -> np.ndarray:
    x = as_array(x, name, shape=(None, 2))
    if np.any(x[:, 0] <= 0):
        raise ValueError(f"{name}[:, 0] is a measured energy and must be > 0")
    in_range(x[:, 1], f"{name}[:, 1] (a measured cosine)", -1.0, 1.0, inclusive=False)
    return x


def exact_log_likelihood(x, thetas) -> np.ndarray:
    """``log p(x_i | theta_j)``, shape ``(n, n_thetas)``, for observed ``x`` ``(n, 2)`` and ``thetas`` ``(n_thetas,)``.

    ``p(x | theta) = sum_k theta^k A_k(x1) B_k(x2) / sigma(theta)`` where ``A_k`` and ``B_k`` fold the parton-level
    factors with the detector response (48-point Gauss-Hermite quadrature in log-energy and in artanh(cos)).
    """
    x = _observed(x)
    thetas = as_array(thetas, "thetas", ndim=1)
    w1, w2 = np.log(x[:, 0]), np.arctanh(x[:, 1])

    def energy(power: int, norm: float) -> np.ndarray:  # integral over z1 = e^u of K(x1|z1) z1^power e^{-z1} / norm
        return _smeared(w1, SIGMA_LOG_E, lambda u: np.exp((power + 1) * u - np.exp(u)) / norm) / x[:, 0]

    def angle(b: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:  # integral over z2 = tanh v of K(x2|z2) b(z2)
        return _smeared(w2, SIGMA_ETA, lambda v: b(np.tanh(v)) / np.cosh(v) ** 2) / (1 - x[:, 1] ** 2)

    parts = np.stack(
        [
            energy(0, 1.0) * angle(lambda c: 0.375 * (1 + c**2)),
            KAPPA * energy(1, 1.0) * angle(lambda c: c * (1 - c**2)),
            energy(2, 2.0) * angle(lambda c: 0.75 * (1 - c**2)),
        ],
        axis=1,
    )
    powers = thetas[None, :] ** np.arange(3)[:, None]  # (3, n_thetas)
    return np.log(np.clip(parts @ powers, 1e-300, None)) - np.log(cross_section(thetas))[None, :]


def mixture_weights(z, thetas, theta_range: tuple[float, float] = THETA_RANGE) -> np.ndarray:
    """Weights ``p(z_i | theta_j) / p_prior(z_i)``, shape ``(n, n_thetas)``, for events simulated with theta drawn
    uniformly in ``theta_range`` (so that one sample fills histograms at every theta).

    ``p_prior(z)`` is the average of ``p(z | theta)`` over the prior; it is known in closed form because
    ``p(z | theta)`` is a ratio of quadratics in theta.
    """
    lo, hi = theta_range
    if not lo < hi:
        raise ValueError(f"theta_range must be (low, high) with low < high, got {theta_range}")
    f0, f1, f2 = terms(z)
    thetas = as_array(thetas, "thetas", ndim=1)
    d_atan = np.arctan(hi) - np.arctan(lo)
    prior = (f0 * d_atan + f1 * 0.5 * np.log((1 + hi**2) / (1 + lo**2)) + f2 * ((hi - lo) - d_atan)) / (hi - lo)
    numerator = (f0[:, None] + thetas * f1[:, None] + thetas**2 * f2[:, None]) / cross_section(thetas)
    return numerator / prior[:, None]


# ---------------------------------------------------------------------------------------------------------------------
# Training data and networks


def training_data(
    n: int, rng: np.random.Generator, theta_range: tuple[float, float] = THETA_RANGE, theta_ref: float = THETA_REF
) -> dict[str, np.ndarray]:
    """Events for the parameterised estimators of ``r(x | theta, theta_ref)``.

    ``n`` events with theta drawn uniformly in ``theta_range`` (label ``y = 1``, the numerator) and ``n`` events at
    ``theta_ref`` (``y = 0``), each of which is given a theta from the same prior, so the network sees theta for
    both classes. Returns arrays ``x`` ``(2n, 2)``, ``z`` ``(2n, 2)``, ``theta``, ``y``, the joint ``log_r``
    ``= log r(x, z | theta, theta_ref)`` and the joint score ``t = t(x, z | theta)``, each ``(2n,)``.
    """
    n = positive_int(n, "n")
    lo, hi = theta_range
    num = simulate(rng.uniform(lo, hi, n), rng)
    den = simulate(theta_ref, rng, n)
    theta = np.concatenate([num.theta, rng.uniform(lo, hi, n)])
    z = np.concatenate([num.z, den.z])
    return {
        "x": np.concatenate([num.x, den.x]),
        "z": z,
        "theta": theta,
        "y": np.concatenate([np.ones(n), np.zeros(n)]),
        "log_r": joint_log_ratio(z, theta, theta_ref),
        "t": joint_score(z, theta),
    }


def _features(x: torch.Tensor) -> torch.Tensor:
    """Network inputs from observed x ``(n, 2)``: log-energy (centred) and artanh(cos) (scaled)."""
    return torch.stack([torch.log(x[:, 0]) + 0.5, torch.atanh(x[:, 1].clamp(-0.999999, 0.999999)) / 1.5], dim=1)


class RatioNet(torch.nn.Module):
    """A morphing-aware estimator of ``log r(x | theta, theta_ref = 0)``: ``forward(x (n, 2), theta (n,)) -> (n,)``.

    The theory fixes how ``p(x | theta)`` depends on theta: ``sum_k theta^k g_k(x) / (1 + theta^2)``. So the ratio to
    ``theta = 0`` is ``r(x | theta) = (1 + theta a(x) + theta^2 b(x)) / (1 + theta^2)`` and the network only learns the
    two functions ``a(x) = g_1/g_0`` and ``b(x) = g_2/g_0`` ("morphing-aware", arXiv:1805.00020). It outputs them as
    ``b = softplus(v)``, ``a = 2 sqrt(b) tanh(u)``, so ``a^2 < 4 b`` and the ratio is positive for every theta.
    SiLU activations keep everything smooth.
    """

    def __init__(self, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        self.net = mlp(2, 2, hidden, activation=torch.nn.SiLU)

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a(x), b(x))``, each ``(n,)``."""
        u, v = self.net(_features(x)).unbind(dim=1)
        b = torch.nn.functional.softplus(v) + 1e-6
        return 2 * torch.sqrt(b) * torch.tanh(u), b

    def forward(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        a, b = self.coefficients(x)
        return torch.log(1 + theta * a + theta**2 * b) - torch.log(1 + theta**2)

    def log_ratio_and_score(self, x: torch.Tensor, theta: torch.Tensor, *, create_graph: bool = False):
        """``(log r_hat, t_hat)`` with ``t_hat = d log r_hat / d theta`` by autodiff, each ``(n,)``."""
        theta = theta.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            log_r = self(x, theta)
            (score,) = torch.autograd.grad(log_r.sum(), theta, create_graph=create_graph)
        return log_r, score


class ScoreNet(torch.nn.Module):
    """SALLY's estimator of the score at the reference point: ``forward(x (n, 2)) -> t_hat (n,)``."""

    def __init__(self, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        self.net = mlp(2, 1, hidden, activation=torch.nn.SiLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(_features(x))[:, 0]


# ---------------------------------------------------------------------------------------------------------------------
# Losses. y = 1 marks events drawn at theta (the numerator), y = 0 events drawn at theta_ref.


def rolr_terms(log_r_hat: torch.Tensor, y: torch.Tensor, log_r: torch.Tensor) -> torch.Tensor:
    """ROLR: ``mean[ y (1/r_hat - 1/r)^2 + (1 - y) (r_hat - r)^2 ]`` (1805.00020); all arguments ``(n,)``.

    On events from ``theta_ref``, ``E[r(x, z) | x] = r(x)``; on events from theta, ``E[1/r(x, z) | x] = 1/r(x)``:
    regressing on the joint ratio learns the ratio itself.
    """
    num = y * (torch.exp(-log_r_hat) - torch.exp(-log_r)) ** 2
    den = (1 - y) * (torch.exp(log_r_hat) - torch.exp(log_r)) ** 2
    return (num + den).mean()


def rascal_terms(
    log_r_hat: torch.Tensor,
    t_hat: torch.Tensor,
    y: torch.Tensor,
    log_r: torch.Tensor,
    t: torch.Tensor,
    alpha: float,
) -> torch.Tensor:
    """RASCAL: the ROLR loss plus ``alpha mean[ y (t_hat - t)^2 ]``, the joint score regressed on the events drawn
    at theta (where ``E[t(x, z | theta) | x] = t(x | theta)``); all tensors ``(n,)``."""
    return rolr_terms(log_r_hat, y, log_r) + alpha * (y * (t_hat - t) ** 2).mean()


def make_loss(method: Method, alpha: float = 1.0) -> Callable[[torch.nn.Module, tuple], torch.Tensor]:
    """``loss_fn(model, batch)`` for :func:`mlmc_course.training.fit`, batches ``(x, theta, y, log_r, t)``.

    ``"carl"``: binary cross-entropy on the logit, which is ``log r_hat`` for balanced classes;
    ``"rolr"``: :func:`rolr_terms`; ``"rascal"``: :func:`rascal_terms` with weight ``alpha``.
    """
    if method not in ("carl", "rolr", "rascal"):
        raise ValueError(f"method must be 'carl', 'rolr' or 'rascal', got {method!r}")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")

    def loss_fn(model: RatioNet, batch: tuple) -> torch.Tensor:
        x, theta, y, log_r, t = batch
        if method == "carl":
            return torch.nn.functional.binary_cross_entropy_with_logits(model(x, theta), y)
        if method == "rolr":
            return rolr_terms(model(x, theta), y, log_r)
        log_r_hat, t_hat = model.log_ratio_and_score(x, theta, create_graph=model.training)
        return rascal_terms(log_r_hat, t_hat, y, log_r, t, alpha)

    return loss_fn


def sally_loss(model: ScoreNet, batch: tuple) -> torch.Tensor:
    """SALLY: mean squared error between ``t_hat(x)`` and the joint score at ``theta_ref``; batches ``(x, t)``."""
    x, t = batch
    return ((model(x) - t) ** 2).mean()


@torch.no_grad()
def learned_log_ratio(model: RatioNet, x, thetas, *, batch_size: int = 65536) -> np.ndarray:
    """``log r_hat(x_i | theta_j, theta_ref)``, shape ``(n, n_thetas)``, from a trained :class:`RatioNet`."""
    x = _observed(x)
    thetas = as_array(thetas, "thetas", ndim=1)
    device = next(model.parameters()).device
    model.eval()
    a, b = (
        torch.cat(parts).cpu().double().numpy()
        for parts in zip(
            *(
                model.coefficients(torch.as_tensor(x[s : s + batch_size], dtype=torch.float32, device=device))
                for s in range(0, len(x), batch_size)
            ),
            strict=True,
        )
    )
    return np.log(1 + thetas * a[:, None] + thetas**2 * b[:, None]) - np.log(cross_section(thetas))[None, :]


# ---------------------------------------------------------------------------------------------------------------------
# Histograms and limits


def histogram_log_likelihood(
    summary,
    sample_summary,
    sample_weights,
    bins,
) -> np.ndarray:
    """Per-event binned log-likelihood ``log P_b(theta_j)``, shape ``(n, n_thetas)``, of a one-dimensional summary.

    Args:
        summary: the summary statistic of the events to evaluate, shape ``(n,)``.
        sample_summary: the summary of the simulated sample that fills the histograms, shape ``(m,)``.
        sample_weights: that sample's weights for every theta, shape ``(m, n_thetas)`` (e.g. :func:`mixture_weights`).
        bins: bin edges, shape ``(n_bins + 1,)``; values outside go to the first or last bin.

    ``P_b(theta)`` is the weighted fraction of the sample in bin ``b`` (a half-event is added to every bin so that no
    bin is empty); dividing by the bin width is not needed since it cancels in likelihood ratios.
    """
    summary = as_array(summary, "summary", ndim=1)
    sample_summary = as_array(sample_summary, "sample_summary", ndim=1)
    weights = as_array(sample_weights, "sample_weights", ndim=2)
    same_length(sample_summary=sample_summary, sample_weights=weights)
    bins = as_array(bins, "bins", ndim=1)
    if len(bins) < 3 or np.any(np.diff(bins) <= 0):
        raise ValueError("bins must be at least 3 increasing edges")
    n_bins = len(bins) - 1
    which = np.clip(np.searchsorted(bins, sample_summary, side="right") - 1, 0, n_bins - 1)
    counts = np.stack([np.bincount(which, weights=w, minlength=n_bins) for w in weights.T], axis=1) + 0.5
    probs = counts / counts.sum(axis=0, keepdims=True)  # (n_bins, n_thetas)
    obs = np.clip(np.searchsorted(bins, summary, side="right") - 1, 0, n_bins - 1)
    return np.log(probs[obs])


def q_curve(log_lik, n_obs: float | None = None) -> np.ndarray:
    """The test statistic ``q(theta) = -2 [log L(theta) - max log L]``, shape ``(n_thetas,)``.

    Args:
        log_lik: per-event log-likelihoods (or log-ratios to one fixed reference), shape ``(n, n_thetas)``.
        n_obs: ``None`` treats the n events as the observed data set. A number gives the *expected* curve for a
            data set of ``n_obs`` events: the n events are then a large sample at the true theta, averaged and scaled.
    """
    ll = as_array(log_lik, "log_lik", ndim=2)
    total = ll.sum(axis=0) if n_obs is None else ll.mean(axis=0) * float(n_obs)
    if n_obs is not None and n_obs <= 0:
        raise ValueError(f"n_obs must be positive, got {n_obs}")
    return -2.0 * (total - total.max())


@dataclass(frozen=True)
class Interval:
    """A confidence region in theta: one or more pieces ``[(low, high), ...]`` in increasing order."""

    pieces: tuple[tuple[float, float], ...]
    cl: float

    @property
    def low(self) -> float:
        return self.pieces[0][0]

    @property
    def high(self) -> float:
        return self.pieces[-1][1]

    @property
    def length(self) -> float:
        """Total length of the pieces (the interval's width when there is one piece)."""
        return float(sum(b - a for a, b in self.pieces))

    def covers(self, theta: float) -> bool:
        """Whether ``theta`` lies inside one of the pieces."""
        return any(a <= theta <= b for a, b in self.pieces)

    def __str__(self) -> str:
        return " u ".join(f"[{a:+.3f}, {b:+.3f}]" for a, b in self.pieces)


def confidence_interval(thetas, q, cl: float = 0.95) -> Interval:
    """The region of theta where ``q(theta)`` lies below the chi-square quantile (Wilks' theorem, one parameter).

    Crossing points are interpolated linearly between grid points; a piece that reaches an end of the grid stops
    there (the limit lies outside the scanned range).
    """
    thetas = as_array(thetas, "thetas", ndim=1)
    q = as_array(q, "q", ndim=1)
    same_length(thetas=thetas, q=q)
    if not 0 < cl < 1:
        raise ValueError(f"cl must lie in (0, 1), got {cl}")
    if len(thetas) < 2 or np.any(np.diff(thetas) <= 0):
        raise ValueError("thetas must be an increasing grid of at least two points")
    cut = stats.chi2.ppf(cl, df=1)
    inside = q <= cut
    if not inside.any():
        raise ValueError("q never falls below the threshold; is q = -2 (log L - max log L)?")
    pieces = []
    starts = np.flatnonzero(inside & ~np.r_[False, inside[:-1]])
    ends = np.flatnonzero(inside & ~np.r_[inside[1:], False])
    for i, j in zip(starts, ends, strict=True):
        low = thetas[0] if i == 0 else np.interp(cut, [q[i], q[i - 1]], [thetas[i], thetas[i - 1]])
        high = thetas[-1] if j == len(q) - 1 else np.interp(cut, [q[j], q[j + 1]], [thetas[j], thetas[j + 1]])
        pieces.append((float(low), float(high)))
    return Interval(tuple(pieces), cl)

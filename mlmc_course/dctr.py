"""DCTR: Deep neural networks using Classification for Tuning and Reweighting (arXiv:1907.08209).

A classifier f(x, theta) is trained to tell events x generated at parameters theta from events generated at the
nominal parameters theta_0. The nominal events are given parameter values drawn from the same distribution as the
varied ones, so theta alone says nothing about the label. The optimal classifier is then

    f(x, theta) = p(x | theta) / (p(x | theta) + p(x | theta_0)),

and its odds are the likelihood ratio, w(x, theta) = f / (1 - f) = exp(logit) = p(x | theta) / p(x | theta_0):
a weight that morphs the nominal sample into a sample at any theta (reweighting), and a likelihood for fitting
theta to a target sample (tuning):

    -log L(theta) / N = -mean_i log w(x_i, theta) + log mean_j w(x_j^nominal, theta) + const,

where the second term (zero for a perfect classifier) removes the part of the classifier's error that only
changes the normalisation of w.

Events enter as particle clouds (see :meth:`mlmc_course.data.pythia.EventSample.cloud`) through a particle-flow
network (Deep Sets, arXiv:1810.05165): a per-particle network Phi, a sum over particles, and a network F that also
sees theta. Because theta enters only after the sum, the per-event sums are computed once and a fit is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from mlmc_course.training import History, fit, mlp, to_tensors
from mlmc_course.validation import as_array, positive_int, same_length


def _check_cloud(x, mask, name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    x = as_array(x, name, ndim=3)
    mask = as_array(mask, f"{name}'s mask", dtype="bool", shape=x.shape[:2])
    return x.astype(np.float32, copy=False), mask


def assign_nominal_parameters(theta_varied, n_nominal: int, rng: np.random.Generator) -> np.ndarray:
    """Parameter values for the nominal events: drawn from the varied events' values, so that both classes share
    one distribution of theta (sampling without replacement while it lasts, then with replacement).

    Args:
        theta_varied: parameters of the varied events, ``(n_varied, n_params)``.
        n_nominal: number of nominal events.
        rng: NumPy generator.

    Returns:
        ``(n_nominal, n_params)`` values.
    """
    theta = as_array(theta_varied, "theta_varied", ndim=2)
    n_nominal = positive_int(n_nominal, "n_nominal")
    if n_nominal <= len(theta):
        return theta[rng.permutation(len(theta))[:n_nominal]]
    return theta[rng.integers(0, len(theta), n_nominal)]


class ParameterisedPFN(torch.nn.Module):
    """A particle-flow network with the generator parameters as extra inputs to its event-level network.

    logit(x, theta) = F(sum_i Phi(x_i) / n_scale, theta'), with x standardised per feature and theta mapped
    linearly from [low, high] to [-1, 1] (theta'). Shapes: ``x`` ``(n, n_max, n_features)``, ``mask``
    ``(n, n_max)``, ``theta`` ``(n, n_params)``; the output is the logit, ``(n,)``.
    """

    def __init__(
        self,
        n_features: int,
        param_low: Sequence[float],
        param_high: Sequence[float],
        *,
        phi: Sequence[int] = (64, 64),
        latent: int = 32,
        head: Sequence[int] = (64, 64),
        feature_mean: Sequence[float] | None = None,
        feature_std: Sequence[float] | None = None,
        n_scale: float = 32.0,
    ):
        super().__init__()
        low = torch.as_tensor(param_low, dtype=torch.float32).reshape(-1)
        high = torch.as_tensor(param_high, dtype=torch.float32).reshape(-1)
        if low.shape != high.shape or not bool(torch.all(high > low)):
            raise ValueError(f"need param_low < param_high elementwise, got {low.tolist()} and {high.tolist()}")
        self.register_buffer("param_low", low)
        self.register_buffer("param_high", high)
        mean = torch.zeros(n_features) if feature_mean is None else torch.as_tensor(feature_mean, dtype=torch.float32)
        std = torch.ones(n_features) if feature_std is None else torch.as_tensor(feature_std, dtype=torch.float32)
        self.register_buffer("feature_mean", mean)
        self.register_buffer("feature_std", std.clamp_min(1e-6))
        self.n_scale = float(n_scale)
        self.phi = torch.nn.Sequential(mlp(n_features, latent, phi), torch.nn.ReLU())
        self.head = mlp(latent + len(low), 1, head)

    @property
    def n_params(self) -> int:
        return len(self.param_low)

    def scale_theta(self, theta: torch.Tensor) -> torch.Tensor:
        """Map parameters from [low, high] to [-1, 1]."""
        return 2 * (theta - self.param_low) / (self.param_high - self.param_low) - 1

    def embed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The event summaries sum_i Phi(x_i) / n_scale, ``(n, latent)``; Phi runs on the real particles only."""
        rows = (x[mask] - self.feature_mean) / self.feature_std
        h = self.phi(rows)
        event = mask.nonzero()[:, 0]
        out = torch.zeros(len(x), h.shape[1], dtype=h.dtype, device=h.device)
        return out.index_add_(0, event, h) / self.n_scale

    def logit_from_embedding(self, summary: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """The logit from precomputed event summaries ``(n, latent)`` and parameters ``(n, n_params)``."""
        return self.head(torch.cat([summary, self.scale_theta(theta)], dim=1)).squeeze(1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        return self.logit_from_embedding(self.embed(x, mask), theta)


@dataclass
class DCTR:
    """A trained parameterised classifier and what it needs to reweight and fit.

    Attributes:
        model: the network (in eval mode).
        names: the parameters it is conditioned on (Pythia names), in the order of its theta inputs.
        nominal: the nominal values theta_0 of those parameters.
        history: training and validation losses.
    """

    model: ParameterisedPFN
    names: tuple[str, ...]
    nominal: np.ndarray
    history: History = field(default_factory=History)

    @property
    def low(self) -> np.ndarray:
        return self.model.param_low.cpu().numpy().astype(float)

    @property
    def high(self) -> np.ndarray:
        return self.model.param_high.cpu().numpy().astype(float)

    def _theta(self, theta, n: int) -> torch.Tensor:
        t = as_array(theta, "theta", ndim=(1, 2))
        if t.ndim == 1:
            if t.shape != (len(self.names),):
                raise ValueError(f"theta must hold {len(self.names)} values ({', '.join(self.names)}), got {t.shape}")
            t = np.broadcast_to(t, (n, len(self.names)))
        elif t.shape != (n, len(self.names)):
            raise ValueError(f"theta must have shape ({n}, {len(self.names)}) or ({len(self.names)},), got {t.shape}")
        return torch.as_tensor(np.array(t, dtype=np.float32), device=self.model.param_low.device)

    @torch.no_grad()
    def embed(self, x, mask, batch_size: int = 4096) -> torch.Tensor:
        """Event summaries ``(n, latent)`` of clouds ``x`` ``(n, n_max, n_features)`` with ``mask``."""
        x, mask = _check_cloud(x, mask)
        self.model.eval()
        dev = self.model.param_low.device
        parts = [
            self.model.embed(*to_tensors(x[i : i + batch_size], mask[i : i + batch_size], device=dev))
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(parts)

    @torch.no_grad()
    def log_weights(self, x, mask, theta) -> np.ndarray:
        """log w(x, theta) = logit f(x, theta) for every event, ``(n,)``; ``theta`` is ``(n_params,)`` or per event."""
        summary = self.embed(x, mask)
        return self.model.logit_from_embedding(summary, self._theta(theta, len(summary))).cpu().numpy()

    def weights(self, x, mask, theta) -> np.ndarray:
        """w(x, theta) = f / (1 - f) ~ p(x | theta) / p(x | theta_0): weights that morph nominal events to theta."""
        return np.exp(self.log_weights(x, mask, theta))


def train(
    nominal_x,
    nominal_mask,
    varied_x,
    varied_mask,
    varied_theta,
    *,
    names: Sequence[str],
    nominal_theta: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    phi: Sequence[int] = (64, 64),
    latent: int = 32,
    head: Sequence[int] = (64, 64),
    epochs: int = 10,
    batch_size: int = 512,
    lr: float = 2e-3,
    val_fraction: float = 0.2,
    seed: int = 0,
    device=None,
    progress: bool = True,
) -> DCTR:
    """Train a parameterised classifier between nominal events (label 0) and events at varied parameters (label 1).

    Args:
        nominal_x, nominal_mask: nominal clouds ``(n0, n_max, n_features)`` and masks ``(n0, n_max)``.
        varied_x, varied_mask: clouds of events generated at varied parameters, ``(n1, n_max, n_features)``.
        varied_theta: the parameters of each varied event, ``(n1, n_params)``.
        names: the parameter names, in the order of the columns of ``varied_theta``.
        nominal_theta: theta_0, ``(n_params,)``.
        low, high: the parameter range the varied events cover (maps theta to [-1, 1]).
        phi, latent, head: widths of the per-particle network, the event summary and the event network.
        epochs, batch_size, lr, seed: passed to :func:`mlmc_course.training.fit`.
        val_fraction: share of events kept for validation (the best-validation epoch is kept).
        device: torch device (default: the CPU, or the GPU when there is one).

    Returns:
        A :class:`DCTR` with the trained model.
    """
    from mlmc_course.config import device as default_device

    x0, m0 = _check_cloud(nominal_x, nominal_mask, "nominal_x")
    x1, m1 = _check_cloud(varied_x, varied_mask, "varied_x")
    t1 = as_array(varied_theta, "varied_theta", shape=(len(x1), len(names)))
    if x0.shape[1:] != x1.shape[1:]:
        raise ValueError(f"nominal and varied clouds differ in shape: {x0.shape[1:]} vs {x1.shape[1:]}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    low_a, high_a = as_array(low, "low", shape=(len(names),)), as_array(high, "high", shape=(len(names),))
    rng = np.random.default_rng(seed)
    t0 = assign_nominal_parameters(t1, len(x0), rng)
    # Place both classes straight into shuffled order (one copy of the clouds); train and validation are views.
    n0, n = len(x0), len(x0) + len(x1)
    position = rng.permutation(n)
    x = np.empty((n, *x0.shape[1:]), dtype=np.float32)
    mask = np.empty((n, x0.shape[1]), dtype=bool)
    theta = np.empty((n, len(names)), dtype=np.float32)
    y = np.empty(n, dtype=np.float32)
    for pos, xs, ms, ts, label in ((position[:n0], x0, m0, t0, 0.0), (position[n0:], x1, m1, t1, 1.0)):
        x[pos], mask[pos], theta[pos], y[pos] = xs, ms, ts, label
    sample = x[:20_000][mask[:20_000]]
    torch.manual_seed(seed)
    model = ParameterisedPFN(
        x.shape[2],
        low_a,
        high_a,
        phi=phi,
        latent=latent,
        head=head,
        feature_mean=sample.mean(0),
        feature_std=sample.std(0),
        n_scale=float(mask.sum(1).mean()),
    )
    dev = default_device() if device is None else torch.device(device)
    model.to(dev)
    n_val = max(1, int(val_fraction * n))
    tensors = to_tensors(x, mask, theta, y)
    split = [tuple(t[sl].to(dev) for t in tensors) for sl in (slice(n_val, None), slice(0, n_val))]
    bce = torch.nn.BCEWithLogitsLoss()

    def loss_fn(net, batch):
        xb, mb, tb, yb = batch
        return bce(net(xb, mb, tb), yb)

    history = fit(
        model,
        loss_fn,
        split[0],
        val=split[1],
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        desc="DCTR",
    )
    return DCTR(model=model, names=tuple(names), nominal=np.asarray(nominal_theta, float), history=history)


def normalised_nll(log_w_target: torch.Tensor, log_w_nominal: torch.Tensor) -> torch.Tensor:
    """-log L / N = -mean(log w on the target) + log mean(w on the nominal sample) (see the module docstring)."""
    log_norm = torch.logsumexp(log_w_nominal, 0) - np.log(len(log_w_nominal))
    return -log_w_target.mean() + log_norm


@dataclass
class FitResult:
    """A DCTR fit: best values, their statistical errors (from the curvature of the NLL, classifier fixed),
    and the path of the optimiser."""

    names: tuple[str, ...]
    values: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    n_target: int
    path: np.ndarray

    def as_dict(self) -> dict[str, tuple[float, float]]:
        return {n: (float(v), float(e)) for n, v, e in zip(self.names, self.values, self.errors, strict=True)}

    def __str__(self) -> str:
        return ", ".join(f"{n} = {v:.4f} ± {e:.4f}" for n, (v, e) in self.as_dict().items())


class _Objective:
    """The normalised NLL as a function of theta, with the event summaries computed once."""

    def __init__(self, dctr: DCTR, target_x, target_mask, nominal_x, nominal_mask):
        self.dctr = dctr
        self.target = dctr.embed(target_x, target_mask)
        self.nominal = dctr.embed(nominal_x, nominal_mask)

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        head = self.dctr.model.logit_from_embedding
        lt = head(self.target, theta.expand(len(self.target), -1))
        ln = head(self.nominal, theta.expand(len(self.nominal), -1))
        return normalised_nll(lt, ln)


def fit_parameters(
    dctr: DCTR,
    target_x,
    target_mask,
    nominal_x,
    nominal_mask,
    *,
    free: Sequence[str] | None = None,
    start: Sequence[float] | None = None,
    steps: int = 300,
    lr: float = 0.02,
) -> FitResult:
    """Fit theta to a target sample by gradient descent on the normalised NLL, with the classifier frozen.

    Args:
        dctr: the trained classifier.
        target_x, target_mask: the target events' clouds.
        nominal_x, nominal_mask: nominal events (not those it was trained on), for the normalisation term.
        free: the parameters to fit (default: all); the others stay at their ``start`` values.
        start: starting values of all parameters (default: the nominal ones).
        steps, lr: Adam steps and learning rate, in the scaled units where the range is [-1, 1].

    Returns:
        A :class:`FitResult` for the free parameters; errors are statistical (N_target events) with the
        classifier taken as exact.
    """
    steps = positive_int(steps, "steps")
    names = dctr.names if free is None else tuple(free)
    unknown = [n for n in names if n not in dctr.names]
    if unknown or not names:
        raise KeyError(f"free must name some of the classifier's parameters {dctr.names}, got {tuple(free or ())}")
    index = [dctr.names.index(n) for n in names]
    objective = _Objective(dctr, target_x, target_mask, nominal_x, nominal_mask)
    model = dctr.model
    for p in model.parameters():
        p.requires_grad_(False)
    base = dctr._theta(dctr.nominal if start is None else start, 1)[0]
    low, high = model.param_low[index], model.param_high[index]
    u = (2 * (base[index] - low) / (high - low) - 1).clone().requires_grad_(True)

    def theta_of(free_scaled: torch.Tensor) -> torch.Tensor:
        values = low + (free_scaled + 1) / 2 * (high - low)
        return base.index_put((torch.tensor(index, device=base.device),), values)[None]

    opt = torch.optim.Adam([u], lr=lr)
    path = []
    try:
        for _ in range(steps):
            opt.zero_grad()
            loss = objective(theta_of(u))
            loss.backward()
            opt.step()
            with torch.no_grad():
                u.clamp_(-1.0, 1.0)
            path.append(theta_of(u).detach().cpu().numpy()[0, index])
        best = theta_of(u.detach())[0, index]
        n = len(objective.target)
        hess = torch.autograd.functional.hessian(
            lambda t: n * objective(base.index_put((torch.tensor(index, device=base.device),), t)[None]), best
        )
    finally:
        for p in model.parameters():
            p.requires_grad_(True)
    h = hess.detach().cpu().double().numpy()
    try:
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        cov = np.full_like(h, np.nan)
    diag = np.diag(cov)
    errors = np.sqrt(np.where(diag > 0, diag, np.nan))
    return FitResult(names, best.cpu().numpy().astype(float), errors, cov, n, np.array(path))


@torch.no_grad()
def scan(
    dctr: DCTR,
    target_x,
    target_mask,
    nominal_x,
    nominal_mask,
    name: str,
    values,
    *,
    at: Sequence[float] | None = None,
) -> np.ndarray:
    """The total NLL, N * (normalised NLL), along one parameter with the others fixed at ``at`` (default nominal).

    Returns:
        ``(len(values),)`` NLL values; a parabola through its minimum gives the fit and its error (Delta NLL = 1/2).
    """
    if name not in dctr.names:
        raise KeyError(f"{name!r} is not one of the classifier's parameters {dctr.names}")
    vals = as_array(values, "values", ndim=1)
    objective = _Objective(dctr, target_x, target_mask, nominal_x, nominal_mask)
    base = np.asarray(dctr.nominal if at is None else at, dtype=float)
    k = dctr.names.index(name)
    out = []
    for v in vals:
        theta = base.copy()
        theta[k] = v
        out.append(float(objective(dctr._theta(theta, 1))) * len(objective.target))
    return np.array(out)


def parabola_minimum(values, nll) -> tuple[float, float]:
    """Fit a parabola to a scan of the total NLL and return its minimum and the error where NLL rises by 1/2.

    Args:
        values: the scanned parameter values, ``(n,)`` with n >= 3.
        nll: the total negative log-likelihood at each value, ``(n,)``.

    Returns:
        (best value, 1-sigma error) = (-b / 2a, 1 / sqrt(2a)) for NLL = a x^2 + b x + c.
    """
    x = as_array(values, "values", ndim=1)
    y = as_array(nll, "nll", ndim=1)
    same_length(values=x, nll=y)
    if len(x) < 3:
        raise ValueError(f"a parabola needs at least 3 scan points, got {len(x)}")
    a, b, _ = np.polyfit(x, y, 2)
    if a <= 0:
        raise ValueError("the scan is not convex (its parabola opens downwards): widen or recentre the scan range")
    return float(-b / (2 * a)), float(1 / np.sqrt(2 * a))


__all__ = [
    "DCTR",
    "FitResult",
    "ParameterisedPFN",
    "assign_nominal_parameters",
    "fit_parameters",
    "normalised_nll",
    "parabola_minimum",
    "scan",
    "train",
]

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
from pathlib import Path

import numpy as np
import torch

from mlmc_course.training import History, mlp, to_tensors
from mlmc_course.training import fit as fit_network
from mlmc_course.validation import as_array, positive_int, same_length

SAVE_FORMAT = 1
"""Version of the file layout written by :meth:`DCTR.save`."""


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
        self.register_buffer("n_scale", torch.tensor(float(n_scale)))
        self.architecture = {"n_features": int(n_features), "phi": list(phi), "latent": int(latent), "head": list(head)}
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

    def save(self, path: str | Path) -> Path:
        """Write everything the classifier needs (weights, feature scales, parameter ranges, architecture, names,
        nominal values, history, package version) to one file; :meth:`load` reads it back."""
        from mlmc_course import __version__

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        payload = {
            "format": SAVE_FORMAT,
            "package_version": __version__,
            "architecture": dict(self.model.architecture),
            "names": list(self.names),
            "nominal": [float(v) for v in self.nominal],
            "history": {
                "train": [float(v) for v in self.history.train],
                "val": [float(v) for v in self.history.val],
                "best_epoch": int(self.history.best_epoch),
            },
            "state_dict": state,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path, device=None) -> DCTR:
        """Read a classifier written by :meth:`save` (on the CPU unless ``device`` is given)."""
        import warnings

        from mlmc_course import __version__

        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != SAVE_FORMAT:
            raise ValueError(f"{path} is not a DCTR model file of format {SAVE_FORMAT} (written by DCTR.save)")
        if payload["package_version"] != __version__:
            warnings.warn(
                f"{path} was written by mlmc_course {payload['package_version']}, this is {__version__}",
                stacklevel=2,
            )
        arch, state = payload["architecture"], payload["state_dict"]
        model = ParameterisedPFN(
            arch["n_features"],
            state["param_low"],
            state["param_high"],
            phi=arch["phi"],
            latent=arch["latent"],
            head=arch["head"],
        )
        model.load_state_dict(state)
        model.to(torch.device("cpu") if device is None else torch.device(device)).eval()
        hist = payload["history"]
        history = History(train=list(hist["train"]), val=list(hist["val"]), best_epoch=int(hist["best_epoch"]))
        return cls(model=model, names=tuple(payload["names"]), nominal=np.array(payload["nominal"]), history=history)


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
    patience: int | None = None,
    batch_size: int = 512,
    lr: float = 2e-3,
    val_fraction: float = 0.2,
    bootstrap: bool = False,
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
        epochs, batch_size, lr, seed: passed to :func:`mlmc_course.training.fit`; ``epochs`` is the most epochs.
        patience: early stopping: stop when the validation loss has not improved for this many epochs (the
            best-validation epoch is kept either way); ``None`` runs all ``epochs``.
        val_fraction: share of events kept for validation.
        bootstrap: train on a bootstrap replica of the events (drawn with replacement, by ``seed``): members of an
            ensemble trained this way spread as much as the training sample's fluctuations move one classifier.
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
    if bootstrap:
        i0, i1 = rng.integers(0, len(x0), len(x0)), rng.integers(0, len(x1), len(x1))
        x0, m0, x1, m1, t1 = x0[i0], m0[i0], x1[i1], m1[i1], t1[i1]
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

    history = fit_network(
        model,
        loss_fn,
        split[0],
        val=split[1],
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        patience=patience,
        seed=seed,
        progress=progress,
        desc="DCTR",
    )
    return DCTR(model=model, names=tuple(names), nominal=np.asarray(nominal_theta, float), history=history)


def train_ensemble(*args, k: int = 5, seed: int = 0, bootstrap: bool = True, **kwargs) -> list[DCTR]:
    """Train ``k`` classifiers with :func:`train`, each with its own seed (initialisation, split, shuffling) and,
    by default, its own bootstrap replica of the training events. The spread of their fits is the training
    uncertainty (see :func:`fit_parameters`). Arguments as for :func:`train`."""
    k = positive_int(k, "k")
    return [train(*args, seed=seed + 1000 * i, bootstrap=bootstrap, **kwargs) for i in range(k)]


def normalised_nll(log_w_target: torch.Tensor, log_w_nominal: torch.Tensor) -> torch.Tensor:
    """-log L / N = -mean(log w on the target) + log mean(w on the nominal sample) (see the module docstring)."""
    log_norm = torch.logsumexp(log_w_nominal, 0) - np.log(len(log_w_nominal))
    return -log_w_target.mean() + log_norm


@dataclass
class FitResult:
    """A DCTR fit: best values and their uncertainties, source by source.

    Covariances are ``(p, p)`` for the ``p`` free parameters ``names``:

    - ``hessian_covariance``: the inverse Hessian of the target's NLL, with the classifier taken as exact and the
      nominal sample as infinite. Kept for comparison; it is not the statistical error of this estimator.
    - ``asymptotic_covariance``: the sandwich H^-1 (C_target / N_target + C_nominal / N_nominal) H^-1 of the
      normalised NLL, with both finite samples (the classifier still fixed).
    - ``bootstrap_covariance``: the spread of refits to bootstrap replicas of the target and nominal events
      (``None`` without bootstrap); it checks the asymptotic formula.
    - ``training_covariance``: the spread of the fits of independently trained classifiers (an ensemble; zero
      for one classifier).
    - ``calibration_covariance``: the uncertainty of a bias correction (zero when none was applied).

    ``covariance`` (and ``errors``) combine them: statistical (bootstrap when there is one, else asymptotic) +
    training + calibration.
    """

    names: tuple[str, ...]
    values: np.ndarray
    hessian_covariance: np.ndarray
    asymptotic_covariance: np.ndarray
    training_covariance: np.ndarray
    n_target: int
    n_nominal: int
    path: np.ndarray
    member_values: np.ndarray
    bootstrap_covariance: np.ndarray | None = None
    calibration_covariance: np.ndarray | None = None
    at_limit: np.ndarray | None = None  # (p,) True where a member's fit ended on the edge of the training range

    @property
    def statistical_covariance(self) -> np.ndarray:
        return self.asymptotic_covariance if self.bootstrap_covariance is None else self.bootstrap_covariance

    @property
    def covariance(self) -> np.ndarray:
        cov = self.statistical_covariance + self.training_covariance
        return cov if self.calibration_covariance is None else cov + self.calibration_covariance

    @staticmethod
    def _sd(cov: np.ndarray) -> np.ndarray:
        d = np.diag(cov)
        return np.sqrt(np.where(d >= 0, d, np.nan))

    @property
    def errors(self) -> np.ndarray:
        """Total 1-sigma errors (statistical + training + calibration)."""
        return self._sd(self.covariance)

    @property
    def hessian_errors(self) -> np.ndarray:
        return self._sd(self.hessian_covariance)

    @property
    def statistical_errors(self) -> np.ndarray:
        return self._sd(self.statistical_covariance)

    @property
    def asymptotic_errors(self) -> np.ndarray:
        return self._sd(self.asymptotic_covariance)

    @property
    def bootstrap_errors(self) -> np.ndarray | None:
        return None if self.bootstrap_covariance is None else self._sd(self.bootstrap_covariance)

    @property
    def training_errors(self) -> np.ndarray:
        return self._sd(self.training_covariance)

    @property
    def correlation(self) -> np.ndarray:
        """The correlation matrix of the total covariance."""
        sd = self.errors
        return self.covariance / np.outer(sd, sd)

    def as_dict(self) -> dict[str, tuple[float, float]]:
        """name -> (value, total error)."""
        return {n: (float(v), float(e)) for n, v, e in zip(self.names, self.values, self.errors, strict=True)}

    def __str__(self) -> str:
        rows = zip(self.names, self.values, self.errors, self.statistical_errors, self.training_errors, strict=True)
        return ", ".join(f"{n} = {v:.4f} ± {e:.4f} (stat {s:.4f}, train {t:.4f})" for n, v, e, s, t in rows)


class _Objective:
    """The normalised NLL as a function of the full theta, on precomputed event summaries."""

    def __init__(self, dctr: DCTR, target: torch.Tensor, nominal: torch.Tensor):
        self.dctr, self.target, self.nominal = dctr, target, nominal

    @classmethod
    def from_clouds(cls, dctr: DCTR, target_x, target_mask, nominal_x, nominal_mask) -> _Objective:
        return cls(dctr, dctr.embed(target_x, target_mask), dctr.embed(nominal_x, nominal_mask))

    def __call__(self, theta: torch.Tensor) -> torch.Tensor:
        head = self.dctr.model.logit_from_embedding
        lt = head(self.target, theta.expand(len(self.target), -1))
        ln = head(self.nominal, theta.expand(len(self.nominal), -1))
        return normalised_nll(lt, ln)

    def scores(self, theta: torch.Tensor, index: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-event d log w / d theta_free on target and nominal events, and the nominal log-weights."""
        head = self.dctr.model.logit_from_embedding
        out = []
        for summary in (self.target, self.nominal):
            rows = theta.detach().expand(len(summary), -1).clone().requires_grad_(True)
            logit = head(summary, rows)
            (grad,) = torch.autograd.grad(logit.sum(), rows)
            out.append(grad[:, index])
        return out[0], out[1], logit.detach()


def _frozen(model: torch.nn.Module):
    """Context: the network's weights do not require gradients."""
    import contextlib

    @contextlib.contextmanager
    def ctx():
        flags = [p.requires_grad for p in model.parameters()]
        for p in model.parameters():
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p, f in zip(model.parameters(), flags, strict=True):
                p.requires_grad_(f)

    return ctx()


def _minimise(objective: _Objective, base: torch.Tensor, index: list[int], start, steps: int, lr: float, newton: int):
    """Adam in the scaled units (range -> [-1, 1]), then Newton steps on the exact Hessian; returns
    (best free values, Hessian of the normalised NLL there, path)."""
    model = objective.dctr.model
    idx = torch.tensor(index, device=base.device)
    low, high = model.param_low[index], model.param_high[index]

    def theta_of(free: torch.Tensor) -> torch.Tensor:
        return base.index_put((idx,), free)[None]

    u = (2 * (torch.as_tensor(start, dtype=base.dtype, device=base.device) - low) / (high - low) - 1).clone()
    u.requires_grad_(True)
    path = []
    if steps > 0:
        opt = torch.optim.Adam([u], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = objective(theta_of(low + (u + 1) / 2 * (high - low)))
            loss.backward()
            opt.step()
            with torch.no_grad():
                u.clamp_(-1.0, 1.0)
            path.append((low + (u + 1) / 2 * (high - low)).detach().cpu().numpy())
    best = (low + (u.detach() + 1) / 2 * (high - low)).clone()

    def f(t):
        return objective(theta_of(t))

    for _ in range(newton):
        t = best.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(f(t), t)
        hess = torch.autograd.functional.hessian(f, best).double()
        if not bool(torch.all(torch.linalg.eigvalsh(hess) > 0)):
            break
        step = torch.linalg.solve(hess, grad.double()).to(best.dtype)
        best = torch.minimum(torch.maximum(best - step, low), high)
        path.append(best.cpu().numpy())
    hess = torch.autograd.functional.hessian(f, best).detach().cpu().double().numpy()
    return best, hess, np.array(path).reshape(-1, len(index))


def _inverse(h: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return np.full_like(h, np.nan)


def _sandwich(objective: _Objective, theta: torch.Tensor, index: list[int], hess: np.ndarray) -> np.ndarray:
    """H^-1 Sigma H^-1 with Sigma the variance of the NLL's gradient from both finite samples."""
    s_t, s_n, log_w = objective.scores(theta, index)
    s_t, s_n = s_t.cpu().double().numpy(), s_n.cpu().double().numpy()
    w = np.exp(log_w.cpu().double().numpy() - float(log_w.max()))
    w = w / w.mean()
    mean_s = (w[:, None] * s_n).mean(0)
    term = w[:, None] * (s_n - mean_s)
    sigma = np.cov(s_t.T, ddof=1).reshape(len(index), -1) / len(s_t) + term.T @ term / len(s_n) ** 2
    h_inv = _inverse(hess)
    return h_inv @ sigma @ h_inv


def fit_parameters(
    dctr: DCTR | Sequence[DCTR],
    target_x,
    target_mask,
    nominal_x,
    nominal_mask,
    *,
    free: Sequence[str] | None = None,
    start: Sequence[float] | None = None,
    steps: int = 300,
    lr: float = 0.02,
    newton: int = 3,
    n_bootstrap: int = 0,
    seed: int = 0,
) -> FitResult:
    """Fit theta to a target sample by minimising the normalised NLL, with the classifier(s) frozen.

    Args:
        dctr: a trained classifier, or an ensemble of them (:func:`train_ensemble`): each fits the target, the
            result is their mean and their spread is the training uncertainty.
        target_x, target_mask: the target events' clouds.
        nominal_x, nominal_mask: nominal events (not those it was trained on), for the normalisation term.
        free: the parameters to fit (default: all); the others stay at their ``start`` values.
        start: starting values of all parameters (default: the nominal ones).
        steps, lr: Adam steps and learning rate, in the scaled units where the range is [-1, 1].
        newton: Newton steps on the exact Hessian after Adam (they make the minimum precise).
        n_bootstrap: refits (with the first classifier, Newton steps from its minimum) to bootstrap replicas of
            the target and nominal events; 0 uses the asymptotic (sandwich) formula as the statistical error.
        seed: seeds the bootstrap.

    Returns:
        A :class:`FitResult` for the free parameters.
    """
    members = [dctr] if isinstance(dctr, DCTR) else list(dctr)
    if not members or not all(isinstance(m, DCTR) for m in members):
        raise TypeError("dctr must be a DCTR or a non-empty sequence of DCTR (an ensemble)")
    ref = members[0]
    if any(m.names != ref.names for m in members):
        raise ValueError("the ensemble's classifiers are conditioned on different parameters")
    steps = int(steps)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    n_bootstrap = int(n_bootstrap)
    if n_bootstrap == 1 or n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be 0 or at least 2, got {n_bootstrap}")
    names = ref.names if free is None else tuple(free)
    unknown = [n for n in names if n not in ref.names]
    if unknown or not names:
        raise KeyError(f"free must name some of the classifier's parameters {ref.names}, got {tuple(free or ())}")
    index = [ref.names.index(n) for n in names]
    tx, tm = _check_cloud(target_x, target_mask, "target_x")
    nx, nm = _check_cloud(nominal_x, nominal_mask, "nominal_x")
    fits = []
    for member in members:
        objective = _Objective.from_clouds(member, tx, tm, nx, nm)
        base = member._theta(member.nominal if start is None else start, 1)[0]
        with _frozen(member.model):
            best, hess, path = _minimise(objective, base, index, base[index], steps, lr, newton)
            theta = base.index_put((torch.tensor(index, device=base.device),), best)
            sandwich = _sandwich(objective, theta, index, hess)
        fits.append((best.cpu().numpy().astype(float), hess, sandwich, path, objective, base))
    member_values = np.array([f[0] for f in fits])
    lim_lo, lim_hi = ref.low[index], ref.high[index]
    span = lim_hi - lim_lo
    at_limit = np.any((member_values <= lim_lo + 1e-4 * span) | (member_values >= lim_hi - 1e-4 * span), axis=0)
    if np.any(at_limit):
        import warnings

        edge = [n for n, a in zip(names, at_limit, strict=True) if a]
        warnings.warn(
            f"the fit of {', '.join(edge)} ended on the edge of the training range: its value and errors are not "
            "meaningful (train over a wider range, or train longer)",
            stacklevel=2,
        )
    n_t, n_n = len(tx), len(nx)
    p = len(names)
    training = np.cov(member_values.T, ddof=1).reshape(p, p) if len(members) > 1 else np.zeros((p, p))
    boot = None
    if n_bootstrap:
        value0, _, _, _, objective, base = fits[0]
        rng = np.random.default_rng(seed)
        refits = []
        with _frozen(ref.model):
            for _ in range(n_bootstrap):
                it = torch.as_tensor(rng.integers(0, n_t, n_t), device=objective.target.device)
                inn = torch.as_tensor(rng.integers(0, n_n, n_n), device=objective.target.device)
                replica = _Objective(ref, objective.target[it], objective.nominal[inn])
                start_free = torch.as_tensor(value0, dtype=base.dtype, device=base.device)
                best, _, _ = _minimise(replica, base, index, start_free, 0, lr, max(newton, 4))
                refits.append(best.cpu().numpy())
        boot = np.cov(np.array(refits).T, ddof=1).reshape(p, p)
    return FitResult(
        names=names,
        values=member_values.mean(0),
        hessian_covariance=np.mean([_inverse(n_t * f[1]) for f in fits], axis=0),
        asymptotic_covariance=np.mean([f[2] for f in fits], axis=0),
        training_covariance=training,
        n_target=n_t,
        n_nominal=n_n,
        path=fits[0][3],
        member_values=member_values,
        bootstrap_covariance=boot,
        at_limit=at_limit,
    )


def fit(
    model: DCTR | Sequence[DCTR],
    target,
    nominal,
    *,
    free: Sequence[str] | None = None,
    n_max: int = 64,
    n_bootstrap: int = 20,
    calibration: Calibration | None = None,
    **kwargs,
) -> FitResult:
    """Fit the generator parameters to the user's target events: the public entry point.

    Args:
        model: a trained classifier or ensemble (:func:`train_ensemble`, :meth:`DCTR.load`).
        target: the events to fit, an :class:`~mlmc_course.data.pythia.EventSample` (e.g. from
            :func:`~mlmc_course.data.pythia.from_particles` or :func:`~mlmc_course.data.pythia.read_particles`)
            or the path of a file :func:`~mlmc_course.data.pythia.read_particles` reads.
        nominal: events at the nominal parameters, not used in training, in the same forms.
        free: the parameters to fit (Pythia or short names; default all).
        n_max: particle slots per event of the clouds.
        n_bootstrap: bootstrap refits for the statistical error (0: the asymptotic formula).
        calibration: a bias correction to apply (:class:`Calibration`), or ``None``.
        **kwargs: passed to :func:`fit_parameters`.

    Returns:
        A :class:`FitResult`.
    """
    from mlmc_course.data import pythia

    samples = []
    for name, events in (("target", target), ("nominal", nominal)):
        if isinstance(events, str | Path):
            events = pythia.read_particles(events)
        if not isinstance(events, pythia.EventSample):
            raise TypeError(f"{name} must be an EventSample or a path to a file of events, got {type(events).__name__}")
        samples.append(events.cloud(n_max))
    names = None if free is None else [pythia.full_name(n) for n in free]
    (xt, mt), (xn, mn) = samples
    result = fit_parameters(model, xt, mt, xn, mn, free=names, n_bootstrap=n_bootstrap, **kwargs)
    return result if calibration is None else calibration.apply(result)


@dataclass
class Calibration:
    """A linear calibration of fitted values against the truth, one line per parameter: fit = a + b * truth.

    Measured on independent pseudo-targets (:meth:`measure`); :meth:`apply` inverts it and adds the line's own
    uncertainty to the result's ``calibration_covariance``.
    """

    names: tuple[str, ...]
    coefficients: np.ndarray  # (p, 2): a, b
    covariances: np.ndarray  # (p, 2, 2)

    @classmethod
    def measure(cls, names: Sequence[str], truths, values, errors) -> Calibration:
        """Weighted least squares of ``values`` on ``truths`` (both ``(n, p)``), weights 1 / ``errors``^2."""
        t = as_array(truths, "truths", ndim=2)
        v = as_array(values, "values", shape=t.shape)
        e = as_array(errors, "errors", shape=t.shape)
        if len(t) < 3:
            raise ValueError(f"a calibration needs at least 3 points, got {len(t)}")
        if not np.all(np.isfinite(e) & (e > 0)):
            raise ValueError("errors must be finite and positive")
        coef, covs = [], []
        for k in range(t.shape[1]):
            design = np.stack([np.ones(len(t)), t[:, k]], axis=1)
            wgt = 1 / e[:, k] ** 2
            cov = np.linalg.inv(design.T @ (wgt[:, None] * design))
            c = cov @ design.T @ (wgt * v[:, k])
            chi2 = float(np.sum(wgt * (v[:, k] - design @ c) ** 2)) / (len(t) - 2)
            coef.append(c)
            covs.append(cov * max(chi2, 1.0))  # inflate when the points scatter more than their errors
        return cls(tuple(names), np.array(coef), np.array(covs))

    def apply(self, result: FitResult) -> FitResult:
        """The corrected fit: truth = (fit - a) / b, with the line's uncertainty propagated."""
        from dataclasses import replace

        if tuple(result.names) != self.names:
            raise ValueError(f"the calibration is for {self.names}, the fit for {result.names}")
        a, b = self.coefficients[:, 0], self.coefficients[:, 1]
        if np.any(b <= 0):
            raise ValueError("a calibration slope is not positive: the fit does not follow the truth")
        corrected = (result.values - a) / b
        jac = np.diag(1 / b)
        calib = np.diag(
            [
                np.array([1.0, t]) @ c @ np.array([1.0, t]) / bk**2
                for t, c, bk in zip(corrected, self.covariances, b, strict=True)
            ]
        )
        prev = np.zeros_like(calib) if result.calibration_covariance is None else result.calibration_covariance
        return replace(
            result,
            values=corrected,
            hessian_covariance=jac @ result.hessian_covariance @ jac,
            asymptotic_covariance=jac @ result.asymptotic_covariance @ jac,
            training_covariance=jac @ result.training_covariance @ jac,
            bootstrap_covariance=None
            if result.bootstrap_covariance is None
            else jac @ result.bootstrap_covariance @ jac,
            calibration_covariance=jac @ prev @ jac + calib,
        )


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
    objective = _Objective.from_clouds(dctr, target_x, target_mask, nominal_x, nominal_mask)
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
    "SAVE_FORMAT",
    "Calibration",
    "fit",
    "train_ensemble",
    "FitResult",
    "ParameterisedPFN",
    "assign_nominal_parameters",
    "fit_parameters",
    "normalised_nll",
    "parabola_minimum",
    "scan",
    "train",
]

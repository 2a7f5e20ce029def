"""A MadNIS-style neural importance sampler (arXiv:2212.06172, 2311.01548).

:class:`NISIntegrator` integrates an :class:`~mlmc_course.data.integrands.Integrand` on ``[0, 1]^dim`` with one
rational-quadratic spline flow per channel (:mod:`~mlmc_course.nis.flows`), optional phase-space mappings and prior
channel weights from the integrand, learned channel weights (:mod:`~mlmc_course.nis.channels`), stratified
allocation of samples across channels, dropping of channels that contribute nothing, initialisation from a VEGAS grid
(:mod:`~mlmc_course.nis.vegas_init`) and buffered training (:mod:`~mlmc_course.nis.buffer`).

The estimate is unbiased whatever the networks' state: each sample's weight is ``alpha_i f / g_i`` with ``g_i`` the
exact density of the channel that drew it, and the flows have full support. Training only changes the variance.

Robust defaults (issue 14, ``robust=True``), each aimed at a failure reported in issue 14 (heavy weight tails
from a flow far from f, variance-loss steps hijacked by single weights, mode collapse under the KL from a poor
start). ``benchmarks/results/nis.md`` measures them together against VEGAS and madnis, not one by one:

* **VEGAS first, the flow on top of its map.** The first ``vegas_fraction`` of the training calls adapt a VEGAS map
  (Lepage 1978); the flow then lives in VEGAS's ``y`` space, ``x = V(y)``, so an identity flow *is* VEGAS and
  training starts at the VEGAS density (the VEGAS initialisation of arXiv:2311.01548, sec. 3, taken to its end).
* **VEGAS as the defensive component**: ``g = (1 - flat_mix) g_flow + flat_mix g_VEGAS`` (flat in ``y``), so no
  weight is ever above ``1 / flat_mix`` times the VEGAS weight (defensive importance sampling, Hesterberg 1995).
* **Explore, then exploit**: the forward KL (mass-covering, i-flow arXiv:2001.05486) for the first
  ``kl_fraction`` of the steps, then the variance loss (MadNIS arXiv:2212.06172).
* **Gradient-only weight clipping**: in the loss, weights above ``clip`` times their 99% quantile are capped, so
  one huge weight cannot hijack a step; the estimate itself never sees the cap and stays unbiased.
* **Keep the best state on held-out data**: each online batch is drawn before the step that trains on it, so its
  weight variance is an honest estimate for the state that drew it. Every ``window`` steps the state is scored on
  the batches of the window; the best one is restored at the end. The VEGAS map alone (identity flow) is scored on
  its own final, non-adapting iteration, and kept when no flow state beats it.
"""

from __future__ import annotations

import math
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from mlmc_course.config import device as default_device
from mlmc_course.data.integrands import Integrand
from mlmc_course.nis.buffer import SampleBuffer
from mlmc_course.nis.channels import ChannelWeights, allocate
from mlmc_course.nis.diagnostics import HeavyTailWarning
from mlmc_course.nis.flows import SplineFlow
from mlmc_course.nis.losses import kl_loss, multichannel_kl_loss, stratified_variance_loss, variance_loss
from mlmc_course.nis.results import IntegrationResult, WeightedSample
from mlmc_course.nis.vegas_init import vegas_knots_for
from mlmc_course.validation import positive_int

Loss = Literal["auto", "variance", "kl"]


class IntegrandError(ValueError):
    """The integrand returned something the sampler cannot use (wrong shape, NaN or infinity, negative values)."""


def check_integrand_values(values, x: torch.Tensor, name: str) -> torch.Tensor:
    """Validate ``f(x)``: a tensor of shape ``(n,)``, finite and >= 0; return it as float64."""
    if not isinstance(values, torch.Tensor):
        raise IntegrandError(f"integrand {name!r} must return a torch tensor, got {type(values).__name__}")
    n = x.shape[0]
    if values.shape != (n,):
        raise IntegrandError(
            f"integrand {name!r} must return shape ({n},) for x of shape {tuple(x.shape)}, got {tuple(values.shape)}; "
            "reduce over the last axis (e.g. .sum(dim=1)) and return one value per point"
        )
    values = values.to(torch.float64)
    bad = ~torch.isfinite(values)
    if bool(bad.any()):
        k = int(bad.nonzero()[0, 0])
        raise IntegrandError(
            f"integrand {name!r} returned {int(bad.sum())} NaN or infinite value(s), e.g. f = {float(values[k])} at "
            f"x = {x[k].tolist()}; guard divisions and logarithms at the edges of [0, 1]"
        )
    neg = values < 0
    if bool(neg.any()):
        k = int(neg.nonzero()[0, 0])
        raise IntegrandError(
            f"integrand {name!r} returned {int(neg.sum())} negative value(s), e.g. f = {float(values[k]):.3g} at "
            f"x = {x[k].tolist()}; importance sampling here needs f >= 0 (split f into positive and negative parts)"
        )
    return values


def as_integrand(function: Integrand | Callable[[torch.Tensor], torch.Tensor], dim: int | None = None) -> Integrand:
    """Wrap a plain torch function of ``x`` (shape ``(n, dim)``) as an :class:`Integrand` with unknown integral."""
    if isinstance(function, Integrand):
        return function
    if not callable(function):
        raise TypeError(f"the integrand must be an Integrand or a function of x, got {type(function).__name__}")
    if dim is None:
        raise ValueError("pass dim for a plain function: NISIntegrator(f, dim=3)")
    name = getattr(function, "__name__", "f")
    return Integrand(name=name, dim=positive_int(dim, "dim"), function=function, integral=math.nan, reference="unknown")


def _upper_rel_var(a: torch.Tensor) -> float:
    """A pessimistic relative variance of weights ``a``: the estimate plus two of its standard errors,
    ``(var + 2 sqrt((m4 - var^2) / n)) / mean^2``. A heavy tail makes the plain estimate too low (it misses the rare
    huge weights) and its error large, so the bound keeps a lucky window from winning the best-state selection."""
    a = a.double()
    mean = float(a.mean())
    if not mean > 0 or len(a) < 2:
        return math.inf
    d2 = (a - mean) ** 2
    var = float(d2.mean())
    m4 = float((d2**2).mean())
    return (var + 2.0 * math.sqrt(max(m4 - var**2, 0.0) / len(a))) / mean**2


@dataclass
class TrainingHistory:
    """Per online step: the loss, the number of integrand calls so far, and the active channels."""

    loss: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    active_channels: list[int] = field(default_factory=list)


class NISIntegrator:
    """Neural importance sampling with normalizing flows, optionally multi-channel.

    Args:
        integrand: an :class:`Integrand` (or a torch function with ``dim``).
        dim: dimension, only for a plain function.
        multichannel: use the integrand's channels (its ``channel_prior`` and ``channel_maps``); one flow each.
        train_channel_weights: learn a correction to the prior channel weights (variance loss only).
        bins, hidden, blocks: flow architecture (see :class:`SplineFlow`).
        channel_hidden: hidden widths of the channel-weight network.
        loss: ``"variance"`` (stratified over channels) or ``"kl"``.
        lr, lr_final: Adam learning rate, annealed along a cosine to ``lr_final`` during each :meth:`train` call.
        batch_size: integrand calls per online training step.
        buffer_capacity: samples kept for buffered training (0: none).
        buffered_steps: extra optimisation steps on buffered samples after each online step.
        uniform_fraction: share of each training batch spread evenly over the channels; the rest goes
            ``∝ sigma_i`` (stratified training).
        flat_mix: share of each channel's points drawn flat in the channel's variables (a defensive mixture,
            ``g = (1 - flat_mix) g_flow + flat_mix``): it bounds the weights where the flow is too thin.
        drop_threshold: drop the channels whose summed share of the integral stays below this (0: never).
        drop_interval: online steps between checks for channels to drop.
        history: number of recent online steps whose channel statistics set the allocation.
        robust: the defaults of issue 14 (see the module docstring); ``False`` gives the bare flow of lesson 09's
            first sections (uniform start, variance loss, no mixture, no clipping, last state kept). Arguments
            passed explicitly override either preset.
        vegas_fraction: share of each first :meth:`train` call's calls spent adapting the VEGAS map the flow sits
            on (single-channel only; 0: no VEGAS map). Default 0.25 when robust.
        kl_fraction: with ``loss="auto"``, the share of the steps trained on the KL before switching to the
            variance. Default 0.3.
        clip: gradient-only weight cap in multiples of the batch's 99% weight quantile (``None``: no cap).
        keep_best: restore the state with the lowest held-out variance at the end of :meth:`train`.
        window: online steps per held-out score.
        device: torch device (default: CUDA when present).
        seed: seeds the networks' initial weights and every random number the integrator draws.
    """

    def __init__(
        self,
        integrand: Integrand | Callable[[torch.Tensor], torch.Tensor],
        dim: int | None = None,
        *,
        multichannel: bool = False,
        train_channel_weights: bool = True,
        bins: int = 16,
        hidden: Sequence[int] = (64, 64),
        blocks: int | None = None,
        channel_hidden: Sequence[int] = (32, 32),
        loss: Loss | None = None,
        lr: float = 1e-3,
        lr_final: float = 1e-4,
        batch_size: int = 1024,
        buffer_capacity: int = 0,
        buffered_steps: int = 0,
        uniform_fraction: float = 0.1,
        flat_mix: float | None = None,
        drop_threshold: float = 0.0,
        drop_interval: int = 100,
        history: int = 20,
        robust: bool = True,
        vegas_fraction: float | None = None,
        kl_fraction: float = 0.3,
        clip: float | None = None,
        keep_best: bool | None = None,
        window: int = 8,
        device: torch.device | str | None = None,
        seed: int = 0,
    ):
        self.integrand = as_integrand(integrand, dim)
        self.dim = self.integrand.dim
        if loss is None:
            loss = "auto" if robust else "variance"
        if loss not in ("auto", "variance", "kl"):
            raise ValueError(f"loss must be 'auto', 'variance' or 'kl', got {loss!r}")
        if flat_mix is None:
            flat_mix = 0.1 if robust else 0.0
        if vegas_fraction is None:
            vegas_fraction = 0.25 if (robust and not multichannel) else 0.0
        if clip is None and robust:
            clip = 3.0
        if keep_best is None:
            keep_best = robust
        if not 0.0 <= vegas_fraction < 1.0:
            raise ValueError(f"vegas_fraction must lie in [0, 1), got {vegas_fraction}")
        if vegas_fraction and multichannel:
            raise ValueError("vegas_fraction works for single-channel integration only; use multichannel=False")
        if not 0.0 <= kl_fraction <= 1.0:
            raise ValueError(f"kl_fraction must lie in [0, 1], got {kl_fraction}")
        if clip is not None and not clip >= 1.0:
            raise ValueError(f"clip must be >= 1 (a multiple of the 99% weight quantile) or None, got {clip}")
        self.vegas_fraction = float(vegas_fraction)
        self.kl_fraction = float(kl_fraction)
        self.clip = None if clip is None else float(clip)
        self.keep_best = bool(keep_best)
        self.window = positive_int(window, "window")
        self.vegas_map = None
        self.use_flow = True
        self.vegas_rel_var = math.nan
        self.best_rel_var = math.nan
        if not (0 < lr_final <= lr) or not math.isfinite(lr):
            raise ValueError(f"need 0 < lr_final <= lr, got lr={lr}, lr_final={lr_final}")
        if not 0.0 <= drop_threshold < 1.0:
            raise ValueError(f"drop_threshold must lie in [0, 1), got {drop_threshold}")
        if buffered_steps and not buffer_capacity:
            raise ValueError("buffered_steps needs a buffer: set buffer_capacity (e.g. 10 * batch_size)")
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.loss_name: Loss = loss
        self.lr, self.lr_final = float(lr), float(lr_final)
        self.batch_size = positive_int(batch_size, "batch_size")
        self.buffered_steps = int(buffered_steps)
        self.uniform_fraction = float(uniform_fraction)
        if not 0.0 <= flat_mix < 1.0:
            raise ValueError(f"flat_mix must lie in [0, 1), got {flat_mix}")
        self.flat_mix = float(flat_mix)
        self.drop_threshold = float(drop_threshold)
        self.drop_interval = positive_int(drop_interval, "drop_interval")
        self.device = torch.device(device) if device is not None else default_device()
        self.seed = int(seed)

        if multichannel:
            n_channels = self.integrand.n_channels
            if self.integrand.channel_prior is None and self.integrand.channel_maps is None:
                raise ValueError(
                    f"integrand {self.integrand.name!r} has no channels (no channel_prior or channel_maps); "
                    "use multichannel=False"
                )
            maps = self.integrand.channel_maps
        else:
            n_channels, maps = 1, None
        self.n_channels = n_channels
        self.multichannel = bool(multichannel)
        self.maps = maps
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.flows = torch.nn.ModuleList(
                SplineFlow(self.dim, bins=bins, hidden=hidden, blocks=blocks) for _ in range(n_channels)
            ).to(self.device)
            self.channel_weights = ChannelWeights(
                self.dim, n_channels, channel_hidden if (train_channel_weights and loss != "kl") else None
            ).to(self.device)
        self.active = torch.ones(n_channels, dtype=torch.bool, device=self.device)
        params = list(self.flows.parameters()) + list(self.channel_weights.parameters())
        self.optimizer = torch.optim.Adam(params, lr=self.lr)
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.buffer = SampleBuffer(buffer_capacity) if buffer_capacity else None
        self._stats: deque[torch.Tensor] = deque(maxlen=positive_int(history, "history"))
        self.n_calls = 0
        self.step = 0
        self._progress = 0.0
        self._held_out: list[torch.Tensor] = []
        self._best_state: dict | None = None

    # -- evaluating ------------------------------------------------------------------------------------------

    def _f(self, x: torch.Tensor) -> torch.Tensor:
        self.n_calls += x.shape[0]
        return check_integrand_values(self.integrand.function(x), x, self.integrand.name)

    def _map(self, i: int, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Channel i's phase-space mapping, float64: ``x`` and ``log|dx/du|``."""
        u = u.to(torch.float64)
        if self.maps is None:
            return u, u.new_zeros(u.shape[0])
        return self.maps[i](u)

    def _prior(self, x: torch.Tensor) -> torch.Tensor:
        if self.n_channels == 1:
            return x.new_ones((x.shape[0], 1))
        return self.integrand.prior_weights(x)

    @torch.no_grad()
    def _draw(self, counts: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sample ``counts[i]`` points from each channel, grouped by channel, and evaluate f there."""
        parts: dict[str, list[torch.Tensor]] = {k: [] for k in ("u", "x", "log_q", "log_jac", "channel")}
        for i, n_i in enumerate(counts.tolist()):
            if n_i == 0:
                continue
            u, log_gu = self._sample_channel(i, n_i)
            x, log_jac = self._map(i, u)
            parts["u"].append(u)
            parts["x"].append(x)
            parts["log_q"].append(log_gu - log_jac)
            parts["log_jac"].append(log_jac)
            parts["channel"].append(torch.full((n_i,), i, dtype=torch.long, device=self.device))
        batch = {k: torch.cat(v) for k, v in parts.items()}
        batch["f"] = self._f(batch["x"])
        batch["prior"] = self._prior(batch["x"])
        return batch

    def _mix(self, log_flow: torch.Tensor, eps: float) -> torch.Tensor:
        """log of the defensive mixture ``(1 - eps) g_flow + eps`` (the flat density is 1 on the unit cube)."""
        if eps <= 0:
            return log_flow
        return torch.logaddexp(log_flow + math.log1p(-eps), torch.full_like(log_flow, math.log(eps)))

    def _sample_channel(self, i: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """n points of channel i in its flow space and their log density (float64), mixture included.

        ``round(flat_mix * n)`` points are flat, the rest come from the flow; the density is the mixture with the
        realised fraction, so the weights stay exact (a deterministic mixture).
        """
        if not self.use_flow:
            u = torch.rand((n, self.dim), generator=self.generator, device=self.device)
            return u, u.new_zeros(n, dtype=torch.float64)
        n_flat = round(self.flat_mix * n)
        u, log_g = self.flows[i].sample(n - n_flat, self.generator)
        if n_flat == 0:
            return u, log_g.double()
        u_flat = torch.rand((n_flat, self.dim), generator=self.generator, device=self.device, dtype=u.dtype)
        u = torch.cat([u, u_flat])
        log_g = torch.cat([log_g, self.flows[i].log_prob(u_flat)]).double()
        return u, self._mix(log_g, n_flat / n)

    def _log_g(self, u: torch.Tensor, log_jac: torch.Tensor, channel: torch.Tensor) -> torch.Tensor:
        """log of each sample's own channel density at x (with gradients); the batch must be grouped by channel."""
        pieces = []
        for i in range(self.n_channels):
            sel = channel == i
            if bool(sel.any()):
                log_flow = self.flows[i].log_prob(u[sel]).double()
                pieces.append(self._mix(log_flow, self.flat_mix) - log_jac[sel])
        return torch.cat(pieces)

    def _alpha_own(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        alpha = self.channel_weights(batch["x"], batch["prior"], self.active)
        return alpha.gather(1, batch["channel"][:, None])[:, 0]

    # -- training --------------------------------------------------------------------------------------------

    def _current_loss(self) -> str:
        if self.loss_name != "auto":
            return self.loss_name
        return "kl" if self._progress < self.kl_fraction else "variance"

    def _clipped(self, f: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
        """f with the weights ``f / q`` capped at ``clip`` x their 99% quantile: for the gradient only."""
        if self.clip is None or f.shape[0] < 100:
            return f
        w = f.detach() * torch.exp(-log_q)
        cap = self.clip * torch.quantile(w.float(), 0.99).double()
        if not bool(cap > 0):
            return f
        return torch.where(w > cap, f * (cap / w.clamp_min(torch.finfo(w.dtype).tiny)), f)

    def _loss(self, batch: dict[str, torch.Tensor], log_q: torch.Tensor | None) -> torch.Tensor:
        log_g = self._log_g(batch["u"], batch["log_jac"], batch["channel"])
        f = self._alpha_own(batch) * batch["f"]
        f = self._clipped(f, log_g.detach() if log_q is None else log_q)
        name = self._current_loss()
        if self.n_channels == 1:
            return variance_loss(f, log_g, log_q) if name == "variance" else kl_loss(f, log_g, log_q)
        loss_fn = stratified_variance_loss if name == "variance" else multichannel_kl_loss
        return loss_fn(f, log_g, batch["channel"], self.n_channels, log_q)

    def _optimise(self, batch: dict[str, torch.Tensor], log_q: torch.Tensor | None) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss(batch, log_q)
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(
                f"the training loss became {value} at step {self.step}; lower lr or check the integrand"
            )
        loss.backward()
        self.optimizer.step()
        return value

    def channel_sigmas(self) -> torch.Tensor:
        """Standard deviation of each channel's weights ``alpha_i f / g_i`` over the recent history, shape ``(C,)``."""
        if not self._stats:
            return torch.full((self.n_channels,), math.nan, dtype=torch.float64)
        stats = torch.stack(list(self._stats))  # (steps, 3, C): count, mean, second moment
        count = stats[:, 0].sum(0)
        mean = (stats[:, 0] * stats[:, 1]).sum(0) / count.clamp_min(1)
        second = (stats[:, 0] * stats[:, 2]).sum(0) / count.clamp_min(1)
        return torch.where(count > 1, (second - mean**2).clamp_min(0).sqrt(), torch.nan)

    def channel_integrals(self) -> torch.Tensor:
        """Mean of each channel's weights over the recent history, shape ``(C,)`` (its integral estimate)."""
        if not self._stats:
            return torch.full((self.n_channels,), math.nan, dtype=torch.float64)
        stats = torch.stack(list(self._stats))
        count = stats[:, 0].sum(0)
        return (stats[:, 0] * stats[:, 1]).sum(0) / count.clamp_min(1)

    def _record(self, a: torch.Tensor, channel: torch.Tensor) -> None:
        """Store per-channel count, mean and second moment of the weights ``a`` of one step."""
        a, channel = a.detach().double().cpu(), channel.cpu()
        count = torch.bincount(channel, minlength=self.n_channels).double()
        s1 = torch.bincount(channel, weights=a, minlength=self.n_channels)
        s2 = torch.bincount(channel, weights=a**2, minlength=self.n_channels)
        self._stats.append(torch.stack([count, s1 / count.clamp_min(1), s2 / count.clamp_min(1)]))

    def _drop_channels(self) -> None:
        if self.n_channels == 1 or self.drop_threshold == 0 or len(self._stats) < self._stats.maxlen:
            return
        share = self.channel_integrals().clamp_min(0)
        share = share / share.sum()
        order = torch.argsort(share)
        cumulative = torch.cumsum(share[order], 0)
        drop = order[cumulative < self.drop_threshold]
        keep_active = self.active.clone()
        keep_active[drop.to(self.device)] = False
        if bool(keep_active.any()) and not torch.equal(keep_active, self.active):
            self.active = keep_active
            if self.buffer is not None:
                self.buffer.filter(self.active[self.buffer.fields()["channel"]])

    def _online_step(self) -> float:
        counts = allocate(
            self.batch_size, self.channel_sigmas(), self.active, uniform_fraction=self.uniform_fraction, minimum=2
        )
        batch = self._draw(counts)
        loss = self._optimise(batch, None)
        with torch.no_grad():
            a = self._alpha_own(batch) * batch["f"] * torch.exp(-batch["log_q"])
        self._record(a, batch["channel"])
        self._held_out.append(a.detach().double().cpu())
        if self.buffer is not None:
            self.buffer.store(**batch)
        return loss

    def _buffered_step(self) -> None:
        batch = self.buffer.sample(self.batch_size, self.generator)
        order = torch.argsort(batch["channel"], stable=True)
        batch = {k: v[order] for k, v in batch.items()}
        self._optimise(batch, batch["log_q"])

    def train(self, steps: int, callback: Callable[[int, float], None] | None = None) -> TrainingHistory:
        """Run ``steps`` online steps (``batch_size`` integrand calls each), each followed by ``buffered_steps``
        steps on buffered samples; the learning rate falls from ``lr`` to ``lr_final`` along a cosine.

        Args:
            steps: online training steps.
            callback: called as ``callback(step, loss)`` after each online step.
        """
        steps = positive_int(steps, "steps")
        history = TrainingHistory()
        if self.vegas_fraction and self.vegas_map is None:
            before = self.n_calls
            self._adapt_vegas(int(self.vegas_fraction * steps * self.batch_size))
            steps = max(1, steps - math.ceil((self.n_calls - before) / self.batch_size))
        for module in (self.flows, self.channel_weights):
            module.train()
        self._held_out = []
        self.use_flow = True
        if self.keep_best and self._best_state is None:
            self._best_state = self._snapshot()
            if self.vegas_map is not None:  # the flow is still the identity: this state is VEGAS alone
                self._best_state["use_flow"] = False
                self.best_rel_var = self.vegas_rel_var
        for s in range(steps):
            frac = s / max(steps - 1, 1)
            self._progress = frac
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_final + 0.5 * (self.lr - self.lr_final) * (1 + math.cos(math.pi * frac))
            if self.keep_best and len(self._held_out) == self.window:
                self._score_window()
            loss = self._online_step()
            if self.buffer is not None and self.buffer.size >= self.batch_size:
                for _ in range(self.buffered_steps):
                    self._buffered_step()
            self.step += 1
            if self.step % self.drop_interval == 0:
                self._drop_channels()
            history.loss.append(loss)
            history.calls.append(self.n_calls)
            history.active_channels.append(int(self.active.sum()))
            if callback is not None:
                callback(s, loss)
        if self.keep_best:
            if len(self._held_out) == self.window:
                self._score_window()
            self._restore(self._best_state)
        for module in (self.flows, self.channel_weights):
            module.eval()
        return history

    # -- robust defaults: the VEGAS map, held-out scoring ----------------------------------------------------

    def _snapshot(self) -> dict:
        return {
            "flows": {k: v.detach().clone() for k, v in self.flows.state_dict().items()},
            "channels": {k: v.detach().clone() for k, v in self.channel_weights.state_dict().items()},
            "use_flow": self.use_flow,
        }

    def _restore(self, state: dict | None) -> None:
        if state is None:
            return
        self.flows.load_state_dict(state["flows"])
        self.channel_weights.load_state_dict(state["channels"])
        self.use_flow = state["use_flow"]

    def _score_window(self) -> None:
        """Score the state that drew the last ``window`` online batches (before they trained it) and keep the best.

        The state kept is the one *after* the window; its weights are scored by the window it ends, an estimate
        that lags by at most ``window`` small steps of a decaying learning rate.
        """
        a = torch.cat(self._held_out)
        self._held_out = []
        rel_var = _upper_rel_var(a)
        if not rel_var < self.best_rel_var and math.isfinite(self.best_rel_var):
            return
        self.best_rel_var = rel_var
        self._best_state = self._snapshot()

    def _adapt_vegas(self, n_calls: int) -> None:
        """Adapt a VEGAS map with ``n_calls`` calls (10 adapting iterations and one scoring iteration) and put the
        flow on top of it: from now on the flow samples VEGAS's ``y``, and ``x = V(y)``."""
        import vegas

        n_iter = 10
        per_iter = max(100, n_calls // (n_iter + 1))
        amap = vegas.AdaptiveMap([[0.0, 1.0]] * self.dim, ninc=int(min(1000, max(16, per_iter // 10))))
        rng = np.random.default_rng(self.seed + 1)

        def evaluate(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            x, jac = np.empty_like(y), np.empty(len(y))
            amap.map(y, x, jac)
            f = self._f(torch.as_tensor(x, device=self.device)).cpu().numpy()
            return f, jac

        for _ in range(n_iter):
            y = rng.random((per_iter, self.dim))
            f, jac = evaluate(y)
            amap.add_training_data(y, (f * jac) ** 2)
            amap.adapt(alpha=0.5)
        f, jac = evaluate(rng.random((per_iter, self.dim)))
        self.vegas_rel_var = _upper_rel_var(torch.as_tensor(f * jac))
        self.vegas_map = amap

        def vegas_map(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            y = np.ascontiguousarray(u.detach().double().cpu().numpy())
            x, jac = np.empty_like(y), np.empty(len(y))
            amap.map(y, x, jac)
            x_t = torch.as_tensor(x, device=u.device).clamp_(0.0, 1.0)
            return x_t, torch.as_tensor(np.log(jac), device=u.device)

        self.maps = (vegas_map,)

    def vegas_init(
        self, n_iterations: int = 10, n_per_iteration: int = 10_000, *, ninc: int = 64, alpha: float = 0.5
    ) -> None:
        """Start each channel's flow from a VEGAS grid adapted to ``alpha_i f`` in that channel's variables.

        Spends ``n_iterations * n_per_iteration`` integrand calls per channel (counted in :attr:`n_calls`). The last
        iteration's points go to the buffer, if there is one, with their VEGAS density.
        """
        rng = np.random.default_rng(self.seed + 1)
        for i in range(self.n_channels):
            last: dict[str, torch.Tensor] = {}

            def channel_fn(u: torch.Tensor, i: int = i, last: dict = last) -> torch.Tensor:
                u = u.to(self.device)
                x, log_jac = self._map(i, u)
                prior, f = self._prior(x), self._f(x)
                last.update(u=u.float(), x=x, log_jac=log_jac, prior=prior, f=f)
                return f * prior[:, i] * torch.exp(log_jac)

            def keep_density(y, u, jac, f, last: dict = last) -> None:
                last["log_vegas"] = torch.as_tensor(-np.log(jac), device=self.device)

            knots = vegas_knots_for(
                channel_fn,
                self.dim,
                self.flows[i].bins,
                n_iterations=n_iterations,
                n_per_iteration=n_per_iteration,
                ninc=ninc,
                alpha=alpha,
                rng=rng,
                on_batch=keep_density,
            )
            self.flows[i].init_from_knots(torch.as_tensor(knots))
            if self.buffer is not None:
                n = len(last["f"])
                self.buffer.store(
                    u=last["u"],
                    x=last["x"],
                    log_q=last["log_vegas"] - last["log_jac"],
                    log_jac=last["log_jac"],
                    channel=torch.full((n,), i, dtype=torch.long, device=self.device),
                    f=last["f"],
                    prior=last["prior"],
                )

    # -- integrating and sampling ----------------------------------------------------------------------------

    @torch.no_grad()
    def sample(self, n: int, *, chunk: int = 100_000) -> WeightedSample:
        """Draw ``n`` weighted events (``n`` integrand calls), split over channels ``∝ sigma_i``.

        The allocation is fixed before any point is drawn (from the training history), which keeps the estimate
        unbiased; see :class:`WeightedSample` for the weights.
        """
        n = positive_int(n, "n")
        counts = allocate(n, self.channel_sigmas(), self.active, uniform_fraction=0.0, minimum=2)
        xs, fs, ws, cs = [], [], [], []
        for i, n_i in enumerate(counts.tolist()):
            for start in range(0, n_i, chunk):
                m = min(chunk, n_i - start)
                sub = torch.zeros_like(counts)
                sub[i] = m
                batch = self._draw(sub)
                a = self._alpha_own(batch) * batch["f"] * torch.exp(-batch["log_q"])
                xs.append(batch["x"])
                fs.append(batch["f"])
                ws.append(a * n / n_i)
                cs.append(batch["channel"])
        return WeightedSample(torch.cat(xs), torch.cat(fs), torch.cat(ws), torch.cat(cs), self.n_channels)

    def integrate(self, n: int) -> IntegrationResult:
        """Estimate the integral from ``n`` fresh integrand calls (none of the training points are reused).

        Warns (:class:`~mlmc_course.nis.diagnostics.HeavyTailWarning`) when the weights are too heavy-tailed for
        the quoted error to be trusted; the result's ``diagnostics`` and repr say the same.
        """
        result = self.sample(n).result()
        if result.warning:
            warnings.warn(f"{self.integrand.name}: {result.warning}", HeavyTailWarning, stacklevel=2)
        return result

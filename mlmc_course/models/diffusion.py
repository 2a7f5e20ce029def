"""Conditional flow matching with an ODE sampler, and the forward noising of denoising diffusion.

Flow matching (Lipman et al., arXiv:2210.02747; Liu et al., arXiv:2209.03003; Tong et al., arXiv:2302.00482) learns a
time-dependent velocity field ``v(x, t)`` whose flow carries Gaussian noise at ``t = 0`` to the data at ``t = 1``.
Pair a noise point ``x0`` with a data point ``x1`` and move on a straight line,

    x_t = (1 - t) x0 + t x1 ,    u_t = dx_t/dt = x1 - x0 ;

regressing ``v(x_t, t)`` on ``u_t`` (mean squared error, ``t`` uniform) gives, at the minimum, the velocity whose flow
maps the noise distribution onto the data distribution. Sampling integrates ``dx/dt = v(x, t)`` from noise; the
density follows from the instantaneous change of variables, ``d log p(x_t)/dt = -div v(x_t, t)``.

Denoising diffusion (Ho et al., arXiv:2006.11239) uses a different Gaussian path, ``x_t = sqrt(abar_t) x_data +
sqrt(1 - abar_t) eps``, and learns the noise ``eps``; :func:`diffuse` is that forward process. Both are trained by
regression on a known Gaussian path, without simulating the ODE or SDE during training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import nn

from mlmc_course.models.layers import mlp
from mlmc_course.models.tensors import context_tensor, features_tensor, model_device, standard_normal_log_prob
from mlmc_course.validation import positive_int

Batch = tuple[torch.Tensor, ...]
Method = Literal["euler", "midpoint", "rk4"]


def cfm_interpolant(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Point and target velocity on the straight path from noise ``x0`` to data ``x1``.

    Args:
        x0, x1: noise and data, shape ``(n, d)``.
        t: times in [0, 1], shape ``(n, 1)``.

    Returns:
        ``x_t = (1 - t) x0 + t x1`` and ``u_t = x1 - x0``, each of shape ``(n, d)``.
    """
    return (1 - t) * x0 + t * x1, x1 - x0


def diffuse(x0: torch.Tensor, alpha_bar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The forward process of denoising diffusion: ``sqrt(abar) x0 + sqrt(1 - abar) eps`` (variance preserving).

    Args:
        x0: data, shape ``(n, d)``.
        alpha_bar: the signal fraction at each event's time, in [0, 1], shape ``(n, 1)`` or a scalar.
        eps: standard normal noise, shape ``(n, d)``.
    """
    return torch.sqrt(alpha_bar) * x0 + torch.sqrt(1 - alpha_bar) * eps


def cosine_alpha_bar(t: torch.Tensor, s: float = 0.008) -> torch.Tensor:
    """The cosine noise schedule of Nichol & Dhariwal (arXiv:2102.09672): abar(0) = 1 (data), abar(1) = 0 (noise)."""
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    return (f / math.cos(s / (1 + s) * math.pi / 2) ** 2).clamp(0.0, 1.0)


def odeint(
    f: Callable[[torch.Tensor, float], torch.Tensor],
    x: torch.Tensor,
    *,
    t0: float = 0.0,
    t1: float = 1.0,
    n_steps: int = 50,
    method: Method = "midpoint",
) -> torch.Tensor:
    """Integrate ``dx/dt = f(x, t)`` from ``t0`` to ``t1`` (either direction) in ``n_steps`` fixed steps.

    ``"euler"`` costs one evaluation of ``f`` per step (error ~ 1/n_steps), ``"midpoint"`` two (~ 1/n_steps^2),
    ``"rk4"`` four (~ 1/n_steps^4).
    """
    n_steps = positive_int(n_steps, "n_steps")
    h = (t1 - t0) / n_steps
    for k in range(n_steps):
        t = t0 + k * h
        if method == "euler":
            x = x + h * f(x, t)
        elif method == "midpoint":
            x = x + h * f(x + 0.5 * h * f(x, t), t + 0.5 * h)
        elif method == "rk4":
            k1 = f(x, t)
            k2 = f(x + 0.5 * h * k1, t + 0.5 * h)
            k3 = f(x + 0.5 * h * k2, t + 0.5 * h)
            k4 = f(x + h * k3, t + h)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        else:
            raise ValueError(f"method must be 'euler', 'midpoint' or 'rk4', got {method!r}")
    return x


class FlowMatching(nn.Module):
    """A velocity field ``v(x, t, c)`` trained by conditional flow matching, with an ODE sampler and log-density.

    Args:
        n_features: dimension of an event.
        n_context: number of conditioning variables (0: unconditional).
        hidden: hidden widths of the velocity network (SiLU activations: the velocity should be smooth in x and t).
        n_frequencies: the time enters as t and sin/cos(k pi t) for k = 1..n_frequencies.
    """

    def __init__(
        self, n_features: int, *, n_context: int = 0, hidden: Sequence[int] = (64, 64, 64), n_frequencies: int = 4
    ) -> None:
        super().__init__()
        self.n_features = positive_int(n_features, "n_features")
        self.n_context = int(n_context)
        self.register_buffer("frequencies", math.pi * torch.arange(1, positive_int(n_frequencies, "n_frequencies") + 1))
        n_time = 1 + 2 * n_frequencies
        self.net = mlp(self.n_features + n_time + self.n_context, self.n_features, hidden, activation=nn.SiLU)

    def velocity(self, x: torch.Tensor, t, context: torch.Tensor | None = None) -> torch.Tensor:
        """``v(x, t, c)``, shape ``(n, n_features)``; ``t`` is a number or a tensor of shape ``(n, 1)``."""
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
        t = t.expand(len(x), 1) if t.dim() == 0 else t.reshape(len(x), 1)
        wt = t * self.frequencies
        parts = [x, t, torch.sin(wt), torch.cos(wt)] + ([] if context is None else [context])
        return self.net(torch.cat(parts, dim=1))

    @torch.no_grad()
    def sample(self, n: int, context=None, *, n_steps: int = 50, method: Method = "midpoint") -> torch.Tensor:
        """``n`` events, shape ``(n, n_features)``: integrate the learned ODE from Gaussian noise at t = 0 to t = 1."""
        n, dev = positive_int(n, "n"), model_device(self)
        c = context_tensor(context, n, self.n_context, device=dev)
        x0 = torch.randn(n, self.n_features, device=dev)
        return odeint(lambda x, t: self.velocity(x, t, c), x0, n_steps=n_steps, method=method)

    def divergence(self, x: torch.Tensor, t, context: torch.Tensor | None = None) -> torch.Tensor:
        """Exact divergence sum_i dv_i/dx_i of the velocity, shape ``(n,)`` (one backward pass per feature)."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            v = self.velocity(x, t, context)
            div = torch.zeros(len(x), device=x.device)
            for i in range(self.n_features):
                div = div + torch.autograd.grad(v[:, i].sum(), x, retain_graph=i < self.n_features - 1)[0][:, i]
        return div.detach()

    def log_prob(self, x, context=None, *, n_steps: int = 50, method: Method = "midpoint") -> torch.Tensor:
        """log p(x), shape ``(n,)``, by integrating the ODE backwards to the noise, with -div v along the path.

        Exact up to the integration error of ``n_steps`` steps of ``method`` (and ``n_features`` backward passes
        per evaluation: fine in a few dimensions).
        """
        dev = model_device(self)
        x = features_tensor(x, self.n_features, device=dev).detach()
        c = context_tensor(context, len(x), self.n_context, device=dev)
        d = self.n_features

        def augmented(state: torch.Tensor, t: float) -> torch.Tensor:
            xs = state[:, :d]
            with torch.no_grad():
                v = self.velocity(xs, t, c)
            return torch.cat([v, self.divergence(xs, t, c)[:, None]], dim=1)

        state = torch.cat([x, torch.zeros(len(x), 1, device=dev)], dim=1)
        end = odeint(augmented, state, t0=1.0, t1=0.0, n_steps=n_steps, method=method)
        return standard_normal_log_prob(end[:, :d]) + end[:, d]


def flow_matching_loss(model: FlowMatching, batch: Batch) -> torch.Tensor:
    """Conditional flow-matching loss of a batch ``(x,)`` or ``(x, context)``: mean ``|v(x_t, t) - (x1 - x0)|^2``.

    Draws one noise point and one uniform time per event; use it with ``fit``.
    """
    x1 = batch[0]
    context = batch[1] if len(batch) > 1 else None
    x0 = torch.randn_like(x1)
    t = torch.rand(len(x1), 1, device=x1.device)
    xt, ut = cfm_interpolant(x0, x1, t)
    return ((model.velocity(xt, t, context) - ut) ** 2).sum(dim=1).mean()

"""Training losses for neural importance sampling: the variance of the weights and the KL divergence.

Samples ``x`` come from a sampling density ``q`` (the flow when the batch was drawn, or an older flow for buffered
training); ``g`` is the flow being trained, evaluated at the same points with gradients. Both losses are importance
weighted with ``g/q`` or ``f/q`` so that they estimate the same quantity whichever ``q`` drew the batch.

* variance: ``Var_g[f/g] = E_q[(f/g - I)^2 g/q]``, divided by ``I^2`` so that it reads as a squared relative
  standard deviation per sample; its minimum, zero, is at ``g = f/I``.
* KL: ``KL(p || g)`` with ``p = f/I``, ``= E_q[(f/(I q)) (log p - log g)]``; a maximum-likelihood fit of g to the
  f-weighted samples.
* stratified variance (multi-channel, arXiv:2311.01548): ``(sum_i sigma_i)^2 / I^2``, the variance of the total
  when channel i gets a share of the samples proportional to its standard deviation ``sigma_i``.

All arguments are float64 tensors of shape ``(n,)``: ``f`` (>= 0, may carry gradients through learned channel
weights), ``log_g`` (with gradients) and ``log_q`` (no gradients; ``None`` means ``q = g``, fresh samples).
"""

from __future__ import annotations

import torch


def _log_q(log_g: torch.Tensor, log_q: torch.Tensor | None) -> torch.Tensor:
    return log_g.detach() if log_q is None else log_q.detach()


def _variance(f: torch.Tensor, log_g: torch.Tensor, log_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Absolute variance of f/g under g and the integral estimate, both from samples of q."""
    integral = (f * torch.exp(-log_q)).mean()
    var = ((f * torch.exp(-log_g) - integral) ** 2 * torch.exp(log_g - log_q)).mean()
    return var, integral


def variance_loss(f: torch.Tensor, log_g: torch.Tensor, log_q: torch.Tensor | None = None) -> torch.Tensor:
    """Relative variance of the weights f/g, ``Var_g[f/g] / I^2``, estimated from samples of q."""
    var, integral = _variance(f, log_g, _log_q(log_g, log_q))
    return var / integral.detach().abs().clamp_min(torch.finfo(f.dtype).tiny) ** 2


def kl_loss(f: torch.Tensor, log_g: torch.Tensor, log_q: torch.Tensor | None = None) -> torch.Tensor:
    """``KL(f/I || g)`` estimated from samples of q; only g receives gradients."""
    log_q = _log_q(log_g, log_q)
    w = (f.detach() * torch.exp(-log_q)).clamp_min(0)
    integral = w.mean().clamp_min(torch.finfo(f.dtype).tiny)
    p = w / integral
    positive = f.detach() > 0
    log_p = torch.where(positive, torch.log(f.detach().clamp_min(torch.finfo(f.dtype).tiny)) - torch.log(integral), 0)
    return (p * torch.where(positive, log_p - log_g, 0)).mean()


def stratified_variance_loss(
    f: torch.Tensor,
    log_g: torch.Tensor,
    channel: torch.Tensor,
    n_channels: int,
    log_q: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(sum_i sigma_i)^2 / (sum_i I_i)^2`` over the channels present in the batch.

    ``f`` is the channel-weighted integrand ``alpha_i f`` of each sample's own channel ``channel`` (int64, shape
    ``(n,)``), ``log_g`` that channel's density.
    """
    log_q = _log_q(log_g, log_q)
    sigma_sum = f.new_zeros(())
    total = f.new_zeros(())
    for i in range(n_channels):
        sel = channel == i
        if int(sel.sum()) < 2:
            continue
        var, integral = _variance(f[sel], log_g[sel], log_q[sel])
        sigma_sum = sigma_sum + torch.sqrt(var + torch.finfo(f.dtype).eps * integral.detach() ** 2)
        total = total + integral.detach()
    return (sigma_sum / total.abs().clamp_min(torch.finfo(f.dtype).tiny)) ** 2


def multichannel_kl_loss(
    f: torch.Tensor,
    log_g: torch.Tensor,
    channel: torch.Tensor,
    n_channels: int,
    log_q: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sum over channels of ``I_i / I * KL(alpha_i f / I_i || g_i)``; trains the flows, not the channel weights."""
    log_q = _log_q(log_g, log_q)
    parts, weights = [], []
    for i in range(n_channels):
        sel = channel == i
        if int(sel.sum()) < 1:
            continue
        parts.append(kl_loss(f[sel], log_g[sel], log_q[sel]))
        weights.append((f[sel].detach() * torch.exp(-log_q[sel])).mean())
    if not parts:
        return log_g.sum() * 0
    w = torch.stack(weights)
    return (torch.stack(parts) * w / w.sum().clamp_min(torch.finfo(f.dtype).tiny)).sum()

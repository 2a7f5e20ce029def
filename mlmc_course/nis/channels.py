"""Multi-channel integration: learned channel weights and the stratified split of samples across channels.

With channel weights ``alpha_i(x) >= 0``, ``sum_i alpha_i(x) = 1``, the integral splits into one integral per
channel, each sampled from its own density ``g_i``:

    I = sum_i I_i,   I_i = E_{x ~ g_i}[alpha_i(x) f(x) / g_i(x)],

unbiased for any weights as long as ``g_i > 0`` wherever ``alpha_i f > 0`` (arXiv:2212.06172). The weights here
are a prior (e.g. squared diagrams) times a network correction, ``alpha_i ∝ prior_i exp(n_i(x))`` (MadNIS); the
network's last layer starts at zero, so training starts from the prior.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from mlmc_course.training import mlp
from mlmc_course.validation import positive_int


class ChannelWeights(nn.Module):
    """``alpha_i(x) = prior_i(x) exp(n_i(x)) / sum_j prior_j(x) exp(n_j(x))`` over the active channels.

    Args:
        dim: dimension of x.
        n_channels: number of channels.
        hidden: hidden widths of the correction network ``n(x)``; ``None`` for no network (alpha = prior).
    """

    def __init__(self, dim: int, n_channels: int, hidden: Sequence[int] | None = (32, 32)):
        super().__init__()
        self.n_channels = positive_int(n_channels, "n_channels")
        if hidden is None or n_channels == 1:
            self.net: nn.Module | None = None
        else:
            self.net = mlp(positive_int(dim, "dim"), n_channels, hidden)
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor, prior: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Channel weights at ``x`` (n, dim) from the prior (n, C) and the active-channel mask (C,); float64 (n, C).

        Where no active channel has prior weight, the active channels share the point equally, so that dropping a
        channel never leaves a region uncovered.
        """
        logits = prior.new_zeros(prior.shape) if self.net is None else self.net(x.float()).double()
        logits = logits - logits.max(dim=1, keepdim=True).values.detach()
        a = prior * torch.exp(logits) * active
        total = a.sum(dim=1, keepdim=True)
        fallback = active.to(prior.dtype).expand_as(prior) / active.sum()
        return torch.where(total > 0, a / total.clamp_min(torch.finfo(prior.dtype).tiny), fallback)


def allocate(
    n: int, sigmas: torch.Tensor, active: torch.Tensor, *, uniform_fraction: float = 0.0, minimum: int = 2
) -> torch.Tensor:
    """Split ``n`` samples over the channels: ``N_i ∝ sigma_i`` (optimal stratification) after a uniform share.

    Args:
        n: total number of samples.
        sigmas: standard deviation of each channel's weights, shape ``(C,)`` (NaN or 0 where unknown).
        active: boolean mask of the channels in use, shape ``(C,)``.
        uniform_fraction: share of ``n`` spread evenly over the active channels first.
        minimum: at least this many samples in each active channel (for an error estimate).

    Returns:
        int64 counts of shape ``(C,)`` summing to ``n`` (zero for inactive channels).
    """
    n = positive_int(n, "n")
    if not 0.0 <= uniform_fraction <= 1.0:
        raise ValueError(f"uniform_fraction must lie in [0, 1], got {uniform_fraction}")
    active = active.cpu()
    n_active = int(active.sum())
    if n_active == 0:
        raise ValueError("no active channel left to sample from")
    if n < minimum * n_active:
        raise ValueError(f"n = {n} is too small for {n_active} channels with at least {minimum} samples each")
    s = torch.nan_to_num(sigmas.detach().cpu().double(), nan=0.0).clamp_min(0) * active
    share = torch.full_like(s, 1.0 / n_active) * active
    if float(s.sum()) > 0 and uniform_fraction < 1.0:
        share = uniform_fraction * share + (1 - uniform_fraction) * s / s.sum()
    ideal = share * (n - minimum * n_active)
    counts = torch.floor(ideal).long() + minimum * active.long()
    # hand out what rounding left over, largest remainders first
    rest = n - int(counts.sum())
    order = torch.argsort(ideal - torch.floor(ideal), descending=True)
    order = order[active[order]]
    for i in range(rest):
        counts[order[i % len(order)]] += 1
    return counts

"""Rational-quadratic spline coupling flows on the unit hypercube (Durkan et al., arXiv:1906.04032).

The flow maps latent points ``z`` drawn uniformly from ``[0, 1]^d`` to ``x = G(z)`` in ``[0, 1]^d``; its density is
``g(x) = |det dG/dz|^-1``. Each coupling block transforms one subset of the coordinates with a monotone
rational-quadratic spline whose knots a small network computes from the other coordinates, so the Jacobian is
triangular and its determinant is a product of one-dimensional spline slopes. The spline itself is nflows'
``rational_quadratic_spline``; the coupling, the masks and the initialisation from a VEGAS grid are written here.

A new flow is the identity (uniform sampling): the last layer of every conditioner starts at zero with the bias of
an identity spline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from nflows.transforms.splines.rational_quadratic import rational_quadratic_spline
from torch import nn

from mlmc_course.training import mlp
from mlmc_course.validation import positive_int

MIN_BIN = 1e-3  # smallest bin width and height of a spline, as a fraction of [0, 1]
MIN_DERIVATIVE = 1e-3


def _inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


def coupling_masks(dim: int, blocks: int | None = None) -> list[torch.Tensor]:
    """Boolean masks (True = transformed) so that every coordinate is conditioned on every other one.

    Block pairs ``(m, ~m)`` follow the bits of the coordinate index: with ``ceil(log2 d)`` pairs any two coordinates
    differ in some bit, so each is transformed once while the other conditions it. For ``dim == 1`` every block
    transforms the single coordinate (unconditionally). Pairs repeat until there are ``blocks`` masks.
    """
    dim = positive_int(dim, "dim")
    n_bits = max(1, math.ceil(math.log2(dim)))
    if blocks is None:
        blocks = max(4, 2 * n_bits)
    blocks = positive_int(blocks, "blocks")
    if dim == 1:
        return [torch.ones(1, dtype=torch.bool) for _ in range(blocks)]
    index = torch.arange(dim)
    pattern: list[torch.Tensor] = []
    for bit in range(n_bits):
        m = ((index >> bit) & 1).bool()
        pattern += [m, ~m]
    return [pattern[i % len(pattern)].clone() for i in range(blocks)]


class SplineCoupling(nn.Module):
    """One coupling block: ``x_A -> spline(x_A; theta(x_B))`` on [0, 1], ``x_B`` unchanged.

    Args:
        mask: boolean tensor of shape ``(dim,)``; True marks the transformed coordinates ``A``.
        bins: number of spline bins K (each spline has 3K + 1 parameters).
        hidden: widths of the conditioner's hidden layers.
    """

    def __init__(self, mask: torch.Tensor, bins: int, hidden: Sequence[int]):
        super().__init__()
        self.bins = positive_int(bins, "bins")
        if bins * MIN_BIN >= 1:
            raise ValueError(f"bins must be below {int(1 / MIN_BIN)}, got {bins}")
        mask = torch.as_tensor(mask, dtype=torch.bool)
        self.n_trans = int(mask.sum())
        if self.n_trans == 0:
            raise ValueError("a coupling mask must transform at least one coordinate")
        self.register_buffer("trans_idx", torch.nonzero(mask).flatten())
        self.register_buffer("cond_idx", torch.nonzero(~mask).flatten())
        n_out = self.n_trans * (3 * self.bins + 1)
        if len(self.cond_idx) > 0:
            self.net: nn.Module | None = mlp(len(self.cond_idx), n_out, hidden)
            self.free = None
        else:
            self.net = None
            self.free = nn.Parameter(torch.zeros(n_out))
        self.reset_to_identity()

    def _last_bias(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.net is None:
            return self.free, None
        last = self.net[-1]
        return last.bias, last.weight

    def identity_parameters(self) -> torch.Tensor:
        """Unnormalised spline parameters of the identity map, shape ``(3K + 1,)``."""
        k = self.bins
        deriv = _inverse_softplus(torch.tensor(1.0 - MIN_DERIVATIVE))
        return torch.cat([torch.zeros(2 * k), deriv.repeat(k + 1)])

    @torch.no_grad()
    def set_parameters(self, params: torch.Tensor) -> None:
        """Make the block a fixed (unconditional) spline: ``params`` of shape ``(n_trans, 3K + 1)``."""
        bias, weight = self._last_bias()
        if weight is not None:
            weight.zero_()
        bias.copy_(params.reshape(-1).to(bias))

    def reset_to_identity(self) -> None:
        """Turn the block into the identity map (zero last layer, identity-spline bias)."""
        self.set_parameters(self.identity_parameters().repeat(self.n_trans, 1))

    def spline_parameters(self, x: torch.Tensor) -> torch.Tensor:
        """The unnormalised spline parameters for each point, shape ``(n, n_trans, 3K + 1)``."""
        if self.net is None:
            out = self.free.expand(x.shape[0], -1)
        else:
            out = self.net(x.index_select(1, self.cond_idx))
        return out.reshape(x.shape[0], self.n_trans, 3 * self.bins + 1)

    def forward(self, x: torch.Tensor, inverse: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply the block (or its inverse) to ``x`` of shape ``(n, dim)``; return ``(y, log|det dy/dx|)``."""
        if x.shape[0] == 0:
            return x, x.new_zeros(0)
        p = self.spline_parameters(x)
        k = self.bins
        xa = x.index_select(1, self.trans_idx).clamp(0.0, 1.0)
        ya, logdet = rational_quadratic_spline(
            xa,
            p[..., :k],
            p[..., k : 2 * k],
            p[..., 2 * k :],
            inverse=inverse,
            min_bin_width=MIN_BIN,
            min_bin_height=MIN_BIN,
            min_derivative=MIN_DERIVATIVE,
        )
        y = x.index_copy(1, self.trans_idx, ya.clamp(0.0, 1.0))
        return y, logdet.sum(dim=1)


class SplineFlow(nn.Module):
    """A normalizing flow on ``[0, 1]^dim`` with a uniform latent space: ``x = G(z)``, ``z ~ U[0, 1]^dim``.

    Args:
        dim: number of coordinates.
        bins: spline bins per coordinate and block.
        hidden: hidden-layer widths of each block's conditioner network.
        blocks: number of coupling blocks (default: enough for every coordinate to see every other, at least 4).
    """

    def __init__(self, dim: int, *, bins: int = 16, hidden: Sequence[int] = (64, 64), blocks: int | None = None):
        super().__init__()
        self.dim = positive_int(dim, "dim")
        self.bins = positive_int(bins, "bins")
        self.blocks = nn.ModuleList(SplineCoupling(m, bins, hidden) for m in coupling_masks(dim, blocks))

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampling direction: ``z`` of shape ``(n, dim)`` to ``x = G(z)`` and ``log|det dG/dz|``, shape ``(n,)``."""
        logdet = z.new_zeros(z.shape[0])
        for block in self.blocks:
            z, ld = block(z)
            logdet = logdet + ld
        return z, logdet

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Density direction: ``x`` to ``z = G^-1(x)`` and ``log|det dG^-1/dx|`` (= log g(x)), shape ``(n,)``."""
        logdet = x.new_zeros(x.shape[0])
        for block in reversed(self.blocks):
            x, ld = block(x, inverse=True)
            logdet = logdet + ld
        return x, logdet

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log g(x) for ``x`` of shape ``(n, dim)`` in [0, 1]^dim; differentiable in the flow's parameters."""
        return self.inverse(x)[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` points: ``x`` of shape ``(n, dim)`` and ``log g(x)`` of shape ``(n,)``."""
        param = next(self.parameters())
        z = torch.rand((n, self.dim), generator=generator, device=param.device, dtype=param.dtype)
        x, logdet = self(z)
        return x, -logdet

    @torch.no_grad()
    def init_from_knots(self, knots: torch.Tensor) -> None:
        """Start from a separable map, e.g. a VEGAS grid after bin reduction.

        Args:
            knots: shape ``(dim, K + 1)``, increasing from 0 to 1 in each row: coordinate ``i`` is mapped so that
                ``z_i = j / K`` goes to ``knots[i, j]`` (equal-probability bins, as in VEGAS), with slopes at the
                knots from the neighbouring bins. The first block pair carries the map; all others become the
                identity.
        """
        knots = torch.as_tensor(knots, dtype=torch.float64)
        k = self.bins
        if knots.shape != (self.dim, k + 1):
            raise ValueError(f"knots must have shape (dim, bins + 1) = ({self.dim}, {k + 1}), got {tuple(knots.shape)}")
        heights = knots.diff(dim=1)
        if bool((heights <= 0).any()) or not torch.allclose(knots[:, [0, -1]], knots.new_tensor([0.0, 1.0])):
            raise ValueError("each row of knots must increase strictly from 0 to 1")
        heights = heights.clamp_min(1.5 * MIN_BIN)
        heights = heights / heights.sum(dim=1, keepdim=True)
        slopes = heights * k  # dx/dz in each bin
        deriv = torch.cat([slopes[:, :1], 0.5 * (slopes[:, :-1] + slopes[:, 1:]), slopes[:, -1:]], dim=1)
        u_heights = torch.log((heights - MIN_BIN) / (1 - k * MIN_BIN))
        u_heights = u_heights - u_heights.mean(dim=1, keepdim=True)
        u_deriv = _inverse_softplus((deriv - MIN_DERIVATIVE).clamp_min(1e-6))
        params = torch.cat([torch.zeros(self.dim, k, dtype=torch.float64), u_heights, u_deriv], dim=1)
        for block in self.blocks:
            block.reset_to_identity()
        done = torch.zeros(self.dim, dtype=torch.bool)
        for block in self.blocks:
            idx = block.trans_idx.cpu()
            if bool(done[idx].any()):
                break
            block.set_parameters(params[idx])
            done[idx] = True
            if bool(done.all()):
                break

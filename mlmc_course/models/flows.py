"""Normalizing flows: an affine coupling flow written out by hand, and the spline and autoregressive flows of nflows.

A flow is an invertible map ``z = f(x)`` from data to Gaussian noise with a Jacobian that is cheap to compute, so the
density of the data follows from the change of variables

    log p(x) = log N(f(x); 0, 1) + log |det df/dx| .

Conventions (the same as nflows): ``forward``/``transform_to_noise`` go from data ``x`` to noise ``z`` and return
``log |det dz/dx|``; ``inverse`` goes from noise to data. Every model here has

* ``log_prob(x, context=None)``: the exact log-density, shape ``(n,)``, in nats per event (for ``x`` in the units
  the flow was trained on);
* ``sample(n, context=None)``: ``n`` draws, shape ``(n, n_features)``, without gradients.

``context`` (for conditional flows) is either one condition for all events, shape ``(n_context,)``, or one per event,
shape ``(n, n_context)``. Train any of them with the shared loop: ``fit(model, nll_loss, (x,))`` or
``fit(model, nll_loss, (x, context))``.

What is written here by hand is what the lessons explain (:class:`AffineCoupling`, :class:`CouplingFlow`); the
rational-quadratic spline and masked autoregressive flows come from nflows (Durkan et al., arXiv:1906.04032;
Papamakarios et al., arXiv:1705.07057), wrapped by :class:`NflowsFlow` so that all flows share one interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from mlmc_course.models.layers import mlp
from mlmc_course.models.tensors import context_tensor, features_tensor, model_device, standard_normal_log_prob
from mlmc_course.validation import positive_int

Batch = tuple[torch.Tensor, ...]


def nll_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Mean negative log-likelihood of a batch ``(x,)`` or ``(x, context)``: the loss ``fit`` trains a flow with."""
    x = batch[0]
    context = batch[1] if len(batch) > 1 else None
    return -model.log_prob(x, context).mean()


# ---------------------------------------------------------------------------------------------------------------------
# The affine coupling flow, by hand (Dinh, Sohl-Dickstein, Bengio, arXiv:1605.08803)
# ---------------------------------------------------------------------------------------------------------------------


class AffineCoupling(nn.Module):
    """One affine coupling block.

    With a binary mask ``m`` (1 for the features that pass unchanged and condition the others),

        z = m * x + (1 - m) * (x * exp(s) + t),    (s, t) = net(m * x, c),    log |det dz/dx| = sum (1 - m) * s .

    The Jacobian is triangular (the unchanged features do not depend on the others), so its determinant is the
    product of its diagonal, exp(sum of the active s). ``s`` is soft-clamped to ``(-scale_clamp, scale_clamp)`` for
    stable training, and the last layer starts at zero so that a fresh block is the identity.

    Args:
        mask: tensor of shape ``(n_features,)``, True (or 1) for the conditioning features; at least one of each.
        n_context: number of conditioning variables (0 for an unconditional block).
        hidden: widths of the conditioner network's hidden layers.
        scale_clamp: bound on ``|s|``.
    """

    def __init__(self, mask, *, n_context: int = 0, hidden: Sequence[int] = (64, 64), scale_clamp: float = 3.0):
        super().__init__()
        mask = torch.as_tensor(mask).to(torch.bool)
        if mask.dim() != 1 or mask.all() or not mask.any():
            raise ValueError(f"mask must be 1-D with at least one True and one False entry, got {mask.tolist()}")
        if scale_clamp <= 0:
            raise ValueError(f"scale_clamp must be positive, got {scale_clamp}")
        self.register_buffer("mask", mask.to(torch.float32))
        self.n_features, self.n_context, self.scale_clamp = len(mask), int(n_context), float(scale_clamp)
        self.net = mlp(self.n_features + self.n_context, 2 * self.n_features, hidden)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, x: torch.Tensor, context: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        h = x * self.mask
        raw_s, t = self.net(h if context is None else torch.cat([h, context], dim=1)).chunk(2, dim=1)
        active = 1.0 - self.mask
        return active * self.scale_clamp * torch.tanh(raw_s / self.scale_clamp), active * t

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Data to noise: returns ``z`` of shape ``(n, n_features)`` and ``log |det dz/dx|`` of shape ``(n,)``."""
        s, t = self._scale_shift(x, context)
        return x * torch.exp(s) + t, s.sum(dim=1)

    def inverse(self, z: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Noise to data: returns ``x`` and ``log |det dx/dz|`` (= minus the forward log-determinant)."""
        s, t = self._scale_shift(z, context)
        return (z - t) * torch.exp(-s), -s.sum(dim=1)


def alternating_masks(n_features: int, n_layers: int) -> list[torch.Tensor]:
    """Coupling masks that alternate between the even and the odd features, so every feature is transformed."""
    n_features, n_layers = positive_int(n_features, "n_features"), positive_int(n_layers, "n_layers")
    if n_features < 2:
        raise ValueError("a coupling flow needs at least 2 features; for one feature use an autoregressive spline")
    even = torch.arange(n_features) % 2 == 0
    return [even if i % 2 == 0 else ~even for i in range(n_layers)]


class CouplingFlow(nn.Module):
    """A RealNVP-style flow: ``n_layers`` affine coupling blocks with alternating masks and a standard normal base.

    Args:
        n_features: dimension of the data.
        n_layers: number of coupling blocks (use an even number so every feature is transformed equally often).
        n_context: number of conditioning variables (0 for an unconditional flow).
        hidden: hidden widths of each block's conditioner network.
    """

    def __init__(
        self, n_features: int, *, n_layers: int = 6, n_context: int = 0, hidden: Sequence[int] = (64, 64)
    ) -> None:
        super().__init__()
        self.n_features, self.n_context = positive_int(n_features, "n_features"), int(n_context)
        self.blocks = nn.ModuleList(
            AffineCoupling(m, n_context=self.n_context, hidden=hidden) for m in alternating_masks(n_features, n_layers)
        )

    def transform_to_noise(self, x, context=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``z = f(x)``, shape ``(n, n_features)``, and ``log |det dz/dx|``, shape ``(n,)``."""
        dev = model_device(self)
        x = features_tensor(x, self.n_features, device=dev)
        c = context_tensor(context, len(x), self.n_context, device=dev)
        log_det = torch.zeros(len(x), device=dev)
        for block in self.blocks:
            x, ld = block(x, c)
            log_det = log_det + ld
        return x, log_det

    def log_prob(self, x, context=None) -> torch.Tensor:
        """Exact log-density log p(x), shape ``(n,)``."""
        z, log_det = self.transform_to_noise(x, context)
        return standard_normal_log_prob(z) + log_det

    @torch.no_grad()
    def sample(self, n: int, context=None) -> torch.Tensor:
        """``n`` samples, shape ``(n, n_features)``: draw Gaussian noise and run the blocks backwards."""
        n, dev = positive_int(n, "n"), model_device(self)
        c = context_tensor(context, n, self.n_context, device=dev)
        x = torch.randn(n, self.n_features, device=dev)
        for block in reversed(self.blocks):
            x, _ = block.inverse(x, c)
        return x


# ---------------------------------------------------------------------------------------------------------------------
# nflows: rational-quadratic splines and masked autoregressive flows
# ---------------------------------------------------------------------------------------------------------------------


class NflowsFlow(nn.Module):
    """An ``nflows`` flow with the course's interface (``log_prob``, ``sample``, input checks, broadcast context).

    Build it with :func:`rq_spline_flow`, :func:`maf` or :func:`conditional_flow`; ``flow`` is the nflows object.
    """

    def __init__(self, flow, n_features: int, n_context: int = 0) -> None:
        super().__init__()
        self.flow, self.n_features, self.n_context = flow, int(n_features), int(n_context)

    def log_prob(self, x, context=None) -> torch.Tensor:
        """Exact log-density log p(x | context), shape ``(n,)``."""
        dev = model_device(self)
        x = features_tensor(x, self.n_features, device=dev)
        return self.flow.log_prob(x, context=context_tensor(context, len(x), self.n_context, device=dev))

    def transform_to_noise(self, x, context=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``z = f(x)``, shape ``(n, n_features)`` (Gaussian if the flow is good), and ``log |det dz/dx|``, ``(n,)``.

        (nflows' own ``Flow.transform_to_noise`` drops the log-determinant; this calls the transform it wraps.)
        """
        dev = model_device(self)
        x = features_tensor(x, self.n_features, device=dev)
        c = context_tensor(context, len(x), self.n_context, device=dev)
        return self.flow._transform(x, context=self.flow._embedding_net(c))

    @torch.no_grad()
    def sample(self, n: int, context=None) -> torch.Tensor:
        """``n`` samples, shape ``(n, n_features)``; with a context, one sample per context row."""
        n, dev = positive_int(n, "n"), model_device(self)
        c = context_tensor(context, n, self.n_context, device=dev)
        if c is None:
            return self.flow.sample(n)
        return self.flow.sample(1, context=c).reshape(n, self.n_features)


def _resnet_factory(hidden: int, n_blocks: int, n_context: int):
    from nflows.nn.nets import ResidualNet

    def make(n_in: int, n_out: int) -> nn.Module:
        return ResidualNet(n_in, n_out, hidden_features=hidden, context_features=n_context or None, num_blocks=n_blocks)

    return make


def rq_spline_flow(
    n_features: int,
    *,
    n_context: int = 0,
    n_layers: int = 4,
    hidden: int = 64,
    n_blocks: int = 2,
    n_bins: int = 8,
    tail_bound: float = 4.0,
    autoregressive: bool = False,
) -> NflowsFlow:
    """A neural spline flow (Durkan et al., arXiv:1906.04032) built from nflows.

    Each layer is a monotonic rational-quadratic spline with ``n_bins`` bins on ``[-tail_bound, tail_bound]`` (the
    identity outside), whose knots a residual network predicts from the other features: from the conditioning half
    (coupling, the default) or from the preceding features (``autoregressive=True``, needed for one feature).
    Layers are separated by a reversal of the feature order. Standardise the data so that it lies well inside the
    tail bound.
    """
    from nflows.distributions.normal import StandardNormal
    from nflows.flows.base import Flow
    from nflows.transforms.autoregressive import MaskedPiecewiseRationalQuadraticAutoregressiveTransform
    from nflows.transforms.base import CompositeTransform
    from nflows.transforms.coupling import PiecewiseRationalQuadraticCouplingTransform
    from nflows.transforms.permutations import ReversePermutation

    n_features, n_layers = positive_int(n_features, "n_features"), positive_int(n_layers, "n_layers")
    n_bins, hidden = positive_int(n_bins, "n_bins"), positive_int(hidden, "hidden")
    if tail_bound <= 0:
        raise ValueError(f"tail_bound must be positive, got {tail_bound}")
    if n_features == 1 and not autoregressive:
        raise ValueError("a coupling spline needs at least 2 features; use autoregressive=True for one feature")
    transforms = []
    if autoregressive:
        for i in range(n_layers):
            transforms.append(
                MaskedPiecewiseRationalQuadraticAutoregressiveTransform(
                    features=n_features,
                    hidden_features=hidden,
                    context_features=n_context or None,
                    num_bins=n_bins,
                    tails="linear",
                    tail_bound=tail_bound,
                    num_blocks=n_blocks,
                )
            )
            if n_features > 1 and i < n_layers - 1:
                transforms.append(ReversePermutation(n_features))
    else:
        for mask in alternating_masks(n_features, n_layers):
            transforms.append(
                PiecewiseRationalQuadraticCouplingTransform(
                    mask=(~mask).int(),
                    transform_net_create_fn=_resnet_factory(hidden, n_blocks, n_context),
                    num_bins=n_bins,
                    tails="linear",
                    tail_bound=tail_bound,
                )
            )
    flow = Flow(CompositeTransform(transforms), StandardNormal([n_features]))
    return NflowsFlow(flow, n_features, n_context)


def maf(n_features: int, *, n_context: int = 0, n_layers: int = 5, hidden: int = 64, n_blocks: int = 2) -> NflowsFlow:
    """A masked autoregressive flow (Papamakarios et al., arXiv:1705.07057) built from nflows.

    Each layer is affine, ``z_i = x_i exp(s_i(x_<i)) + t_i(x_<i)``, with a MADE network (arXiv:1502.03509); layers are
    separated by a reversal of the feature order. Density evaluation is one pass; sampling needs ``n_features``
    passes (the inverse is sequential).
    """
    from nflows.distributions.normal import StandardNormal
    from nflows.flows.base import Flow
    from nflows.transforms.autoregressive import MaskedAffineAutoregressiveTransform
    from nflows.transforms.base import CompositeTransform
    from nflows.transforms.permutations import ReversePermutation

    n_features, n_layers = positive_int(n_features, "n_features"), positive_int(n_layers, "n_layers")
    transforms = []
    for i in range(n_layers):
        transforms.append(
            MaskedAffineAutoregressiveTransform(
                features=n_features,
                hidden_features=positive_int(hidden, "hidden"),
                context_features=n_context or None,
                num_blocks=n_blocks,
            )
        )
        if n_features > 1 and i < n_layers - 1:
            transforms.append(ReversePermutation(n_features))
    return NflowsFlow(Flow(CompositeTransform(transforms), StandardNormal([n_features])), n_features, n_context)


def conditional_flow(
    n_features: int,
    n_context: int,
    *,
    kind: Literal["spline", "maf"] = "spline",
    n_layers: int = 4,
    hidden: int = 64,
    n_bins: int = 8,
    tail_bound: float = 4.0,
) -> NflowsFlow:
    """A flow for p(x | c): ``log_prob(x, context)`` and ``sample(n, context)``.

    Args:
        n_features: dimension of ``x`` (1 is allowed: then the spline's knots depend on the context only).
        n_context: dimension of the condition ``c`` (at least 1). Standardise it like the features.
        kind: ``"spline"`` (rational-quadratic spline; coupling for two or more features, autoregressive for one)
            or ``"maf"`` (affine masked autoregressive).
        n_layers, hidden: depth of the flow and width of its networks.
        n_bins, tail_bound: spline knots and the half-width of the interval they cover (splines only).

    Example::

        flow = conditional_flow(1, 3)                 # p(z | a, b, mT)
        fit(flow, nll_loss, to_tensors(z, params))    # z: (n, 1), params: (n, 3)
        z_new = flow.sample(10_000, context=[0.68, 0.98, 0.5])
    """
    n_context = positive_int(n_context, "n_context")
    if kind == "spline":
        return rq_spline_flow(
            n_features,
            n_context=n_context,
            n_layers=n_layers,
            hidden=hidden,
            n_bins=n_bins,
            tail_bound=tail_bound,
            autoregressive=n_features == 1,
        )
    if kind == "maf":
        return maf(n_features, n_context=n_context, n_layers=n_layers, hidden=hidden)
    raise ValueError(f"kind must be 'spline' or 'maf', got {kind!r}")


# ---------------------------------------------------------------------------------------------------------------------
# A fixed preprocessing bijection for bounded physics variables
# ---------------------------------------------------------------------------------------------------------------------


class BoxToReal:
    """Map each feature from its interval ``(low, high)`` to the real line: ``u = logit((x - low) / (high - low))``.

    Generative models with Gaussian noise put probability everywhere; a variable with hard edges (a mass window, a
    cosine, an N-subjettiness ratio) is easier to learn after this map, and samples mapped back always respect the
    edges. ``forward`` returns ``log |du/dx|`` so that a density learned for ``u`` gives the density in physical units:
    ``log p(x) = log p(u) + log |du/dx|``.

    Args:
        low, high: the interval of each feature, shape ``(n_features,)`` (physical units, e.g. GeV).
        margin: the fraction of the interval added on each side, so that values on the edge stay finite.
    """

    def __init__(self, low, high, *, margin: float = 1e-3) -> None:
        lo, hi = np.atleast_1d(np.asarray(low, float)), np.atleast_1d(np.asarray(high, float))
        if lo.shape != hi.shape or lo.ndim != 1 or not np.all(hi > lo):
            raise ValueError(f"need 1-D low < high of equal length, got low={lo.tolist()}, high={hi.tolist()}")
        if not 0 <= margin < 0.5:
            raise ValueError(f"margin must lie in [0, 0.5), got {margin}")
        width = hi - lo
        self.low = torch.as_tensor(lo - margin * width, dtype=torch.float32)
        self.high = torch.as_tensor(hi + margin * width, dtype=torch.float32)
        self.n_features = len(lo)

    def forward(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Physical ``x``, shape ``(n, n_features)``, to ``u`` on the real line, and ``log |du/dx|``, shape ``(n,)``."""
        x = features_tensor(x, self.n_features)
        y = (x - self.low) / (self.high - self.low)
        if (y <= 0).any() or (y >= 1).any():
            raise ValueError(
                "x lies outside the interval given to BoxToReal "
                f"(low={self.low.tolist()}, high={self.high.tolist()}); widen it or cut the events first"
            )
        u = torch.log(y) - torch.log1p(-y)
        log_det = (-torch.log(y) - torch.log1p(-y) - torch.log(self.high - self.low)).sum(dim=1)
        return u, log_det

    def inverse(self, u) -> torch.Tensor:
        """``u`` of shape ``(n, n_features)`` back to physical units, strictly inside ``(low, high)``."""
        u = features_tensor(u, self.n_features)
        return self.low + (self.high - self.low) * torch.sigmoid(u)

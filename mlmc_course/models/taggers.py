"""Top taggers in PyTorch, one per jet representation, small enough to train on a laptop CPU.

* :class:`DenseTagger`: a fully connected network on high-level features (standardised inside the model).
* :class:`CNNTagger`: a convolutional network on jet images (arXiv:1701.08784, "DeepTop", scaled down).
* :class:`ParticleFlowNetwork`: Deep Sets, f(sum_i Phi(p_i)), on point clouds (arXiv:1810.05165).
* :class:`AttentionTagger`: a transformer encoder without positional encoding on point clouds.
* :class:`PairAttentionTagger`: the same with ParT's pairwise interaction features added to the attention scores
  (arXiv:2202.03772, scaled down).
* :class:`EdgeConvTagger`: a graph network of EdgeConv blocks on dynamic k-nearest-neighbour graphs, first in
  (Delta eta, Delta phi), then in feature space (ParticleNet, arXiv:1902.08570, scaled down).
* :class:`LorentzTagger`: a Lorentz-invariant message-passing network on the constituents' four-momenta that reads
  only Minkowski products (LorentzNet, arXiv:2201.08187, scaled down).

Every tagger returns one logit per jet (``sigmoid(logit)`` is the top probability), is trained with
:func:`train_tagger`, which calls the course's shared loop :func:`mlmc_course.training.fit` with the binary
cross-entropy, and is evaluated with :func:`predict`. The point-cloud taggers are permutation invariant: they see
the constituents as a set, so their output does not depend on the order of the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mlmc_course.lorentz import minkowski_dot, minkowski_matrix
from mlmc_course.training import History, fit, mlp, to_tensors
from mlmc_course.validation import as_array, binary_labels, positive_int


class DenseTagger(nn.Module):
    """A fully connected network on jet features.

    Args:
        mean, std: per-feature mean and standard deviation of the training inputs, shape ``(n_features,)``;
            inputs are standardised with them inside the model, so it takes raw features (GeV and all).
        hidden: widths of the hidden layers.
    """

    def __init__(self, mean, std, hidden: Sequence[int] = (64, 64)) -> None:
        super().__init__()
        mean = as_array(mean, "mean", ndim=1)
        std = as_array(std, "std", shape=(len(mean),))
        if np.any(std <= 0):
            raise ValueError("std must be positive for every feature; drop constant features first")
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.net = mlp(len(mean), 1, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: features ``(batch, n_features)`` -> logits ``(batch,)``."""
        return self.net((x - self.mean) / self.std).squeeze(-1)


class CNNTagger(nn.Module):
    """Two blocks of two 3x3 convolutions and a 2x2 max-pool, then a small dense head.

    Args:
        size: image side in pixels (divisible by 4).
        channels: filters per convolution.
        hidden: width of the dense layer.
        scale: multiplies the input images (normalised images have pixels ~1e-3; ``size**2 / 10`` brings them
            to order one).
    """

    def __init__(self, size: int = 40, channels: int = 8, hidden: int = 64, scale: float | None = None) -> None:
        super().__init__()
        size = positive_int(size, "size")
        if size % 4:
            raise ValueError(f"size must be divisible by 4 (two 2x2 pools), got {size}")
        c = positive_int(channels, "channels")
        self.scale = float(scale if scale is not None else size * size / 10)
        self.features = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = mlp(c * (size // 4) ** 2, 1, (positive_int(hidden, "hidden"),))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images``: ``(batch, size, size)`` -> logits ``(batch,)``."""
        x = self.features(images.unsqueeze(1) * self.scale)
        return self.head(x.flatten(1)).squeeze(-1)


class _Standardise(nn.Module):
    """``(x - mean) / std`` with fixed per-feature statistics (buffers, saved with the model); identity if ``None``."""

    def __init__(self, n_features: int, mean=None, std=None) -> None:
        super().__init__()
        mean = np.zeros(n_features) if mean is None else as_array(mean, "mean", shape=(n_features,))
        std = np.ones(n_features) if std is None else as_array(std, "std", shape=(n_features,))
        if np.any(std <= 0):
            raise ValueError("std must be positive for every feature; drop constant features first")
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def point_stats(points, mask) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation over the real particles of a point cloud.

    Args:
        points: ``(n_jets, n, n_features)``; mask: ``(n_jets, n)``, True for real particles.

    Returns:
        ``mean`` and ``std``, each ``(n_features,)``, for the ``mean``/``std`` arguments of the point-cloud taggers.
    """
    points = as_array(points, "points", ndim=3)
    mask = as_array(mask, "mask", shape=points.shape[:2], dtype="bool")
    real = points[mask]
    if len(real) < 2:
        raise ValueError("need at least two real particles to compute statistics")
    return real.mean(axis=0), np.maximum(real.std(axis=0), 1e-6)


def masked_sum(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum ``values`` ``(batch, n, d)`` over the real particles (``mask`` ``(batch, n)``): a permutation-invariant
    pooling, shape ``(batch, d)``."""
    return (values * mask.unsqueeze(-1).to(values.dtype)).sum(dim=1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` ``(batch, n, d)`` over the real particles, shape ``(batch, d)``."""
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(values.dtype)
    return masked_sum(values, mask) / count


class ParticleFlowNetwork(nn.Module):
    """Deep Sets / particle-flow network: ``F(sum_i Phi(x_i))`` over the constituents of a jet.

    Args:
        n_features: inputs per constituent (3 for :func:`mlmc_course.representations.point_cloud`).
        phi_hidden, latent: the per-particle network Phi, ``n_features -> phi_hidden... -> latent``.
        f_hidden: the jet-level network F, ``latent -> f_hidden... -> 1``.
        mean, std: per-feature statistics of the training particles (:func:`point_stats`); the inputs are
            standardised with them inside the model. ``None``: use the inputs as they are.
    """

    def __init__(
        self,
        n_features: int = 3,
        phi_hidden: Sequence[int] = (64, 64),
        latent: int = 64,
        f_hidden: Sequence[int] = (64, 64),
        mean=None,
        std=None,
    ) -> None:
        super().__init__()
        n_features = positive_int(n_features, "n_features")
        self.scale = _Standardise(n_features, mean, std)
        self.phi = nn.Sequential(mlp(n_features, latent, phi_hidden), nn.ReLU())
        self.f = mlp(positive_int(latent, "latent"), 1, f_hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, n, n_features)``, ``mask``: ``(batch, n)`` -> logits ``(batch,)``."""
        return self.f(masked_sum(self.phi(self.scale(x)), mask)).squeeze(-1)


def _attention_sizes(n_features, dim, heads, hidden) -> tuple[int, int, int, int]:
    """Validate the sizes of an attention tagger; ``heads`` must divide ``dim``."""
    n_features, dim = positive_int(n_features, "n_features"), positive_int(dim, "dim")
    heads, hidden = positive_int(heads, "heads"), positive_int(hidden, "hidden")
    if dim % heads:
        raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
    return n_features, dim, heads, hidden


class AttentionTagger(nn.Module):
    """A transformer encoder over the constituents (no positional encoding), then a masked mean and a dense head.

    Args:
        n_features: inputs per constituent.
        dim: embedding width; ``heads`` must divide it.
        heads, layers: attention heads per layer and number of encoder layers.
        hidden: width of the feed-forward block and of the head.
        mean, std: per-feature input statistics, as for :class:`ParticleFlowNetwork`.
    """

    def __init__(
        self,
        n_features: int = 3,
        dim: int = 32,
        heads: int = 4,
        layers: int = 2,
        hidden: int = 64,
        mean=None,
        std=None,
    ) -> None:
        super().__init__()
        n_features, dim, heads, hidden = _attention_sizes(n_features, dim, heads, hidden)
        self.scale = _Standardise(n_features, mean, std)
        self.embed = mlp(n_features, dim, (hidden,))
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=hidden, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, positive_int(layers, "layers"), enable_nested_tensor=False)
        self.head = mlp(dim, 1, (hidden,))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, n, n_features)``, ``mask``: ``(batch, n)`` -> logits ``(batch,)``."""
        h = self.encoder(self.embed(self.scale(x)), src_key_padding_mask=~mask)
        return self.head(masked_mean(h, mask)).squeeze(-1)


def pair_features(x: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """The four pairwise features of ParT (arXiv:2202.03772) for every pair of constituents of a jet.

    For particles a and b with momentum fractions ``z_a = pT_a / pT_jet`` and angular distance
    ``Delta = sqrt(Delta eta^2 + Delta phi^2)``: ``ln Delta``, ``ln k_T`` with ``k_T = min(z_a, z_b) Delta``,
    ``ln z`` with ``z = min(z_a, z_b) / (z_a + z_b)``, and ``ln m^2`` with ``m^2 = 2 z_a z_b (cosh Delta eta -
    cos Delta phi)``, the pair's invariant mass squared in units of ``pT_jet^2`` (massless particles).

    Args:
        x: the *raw* point cloud of :func:`mlmc_course.representations.point_cloud`, ``(batch, n, 3)`` holding
            (log(pT/pT_jet), Delta eta, Delta phi); mask: ``(batch, n)``, True for real particles.

        eps: added under the logarithms (and the square root), so that a particle paired with itself stays finite.

    Returns:
        ``(batch, n, n, 4)``; zero wherever one of the two particles is padding.
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive (it keeps the logarithms finite), got {eps}")
    z = torch.exp(x[..., 0]) * mask
    deta = x[..., 1].unsqueeze(2) - x[..., 1].unsqueeze(1)
    dphi = torch.remainder(x[..., 2].unsqueeze(2) - x[..., 2].unsqueeze(1) + torch.pi, 2 * torch.pi) - torch.pi
    delta = torch.sqrt(deta**2 + dphi**2 + eps)
    z_a, z_b = z.unsqueeze(2), z.unsqueeze(1)
    z_min = torch.minimum(z_a, z_b)
    m2 = 2 * z_a * z_b * (torch.cosh(deta) - torch.cos(dphi))
    logs = [delta, z_min * delta + eps, z_min / (z_a + z_b + eps) + eps, m2 + eps]
    both = (mask.unsqueeze(2) & mask.unsqueeze(1)).unsqueeze(-1)
    return torch.where(both, torch.log(torch.stack(logs, dim=-1)), 0.0)


class _PairBiasedBlock(nn.Module):
    """Pre-norm multi-head self-attention with an additive bias per head and pair, then a feed-forward block.

    Written out because ``nn.TransformerEncoderLayer`` takes the bias only as a float ``src_mask``, and its fused
    inference path returned NaN for a per-head ``(batch * heads, n, n)`` mask in our trials.
    """

    def __init__(self, dim: int, heads: int, hidden: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm_attention, self.norm_ff = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.out = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.ff = mlp(dim, dim, (hidden,))

    def forward(self, h: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """``h``: ``(batch, n, dim)``; ``bias``: ``(batch, heads, n, n)``, -inf for padded keys."""
        b, n, d = h.shape
        q, k, v = self.qkv(self.norm_attention(h)).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        h = h + self.out(attended.transpose(1, 2).reshape(b, n, d))
        return h + self.ff(self.norm_ff(h))


class PairAttentionTagger(nn.Module):
    """Attention with pairwise interaction features, a small particle transformer in the spirit of ParT.

    Like :class:`AttentionTagger`, but every head adds a learned function of :func:`pair_features` (pair angle,
    k_T, momentum sharing and invariant mass) to its attention scores, ``softmax(q k^T / sqrt(d) + U)``. The
    pairs' invariant masses are what a top tagger looks for (the W and the top), and a plain transformer has to
    learn to compute them from the single-particle inputs.

    Args:
        n_features: inputs per constituent; the first three must be those of ``point_cloud`` (raw, not standardised).
        dim, heads, layers, hidden, mean, std: as for :class:`AttentionTagger`.
        pair_hidden: width of the per-pair network that maps the four pair features to one bias per head.
    """

    def __init__(
        self,
        n_features: int = 3,
        dim: int = 32,
        heads: int = 4,
        layers: int = 2,
        hidden: int = 64,
        pair_hidden: int = 8,
        mean=None,
        std=None,
    ) -> None:
        super().__init__()
        n_features, dim, heads, hidden = _attention_sizes(n_features, dim, heads, hidden)
        if n_features < 3:
            raise ValueError(f"n_features must be at least 3 (log pT fraction, Delta eta, Delta phi), got {n_features}")
        self.scale = _Standardise(n_features, mean, std)
        self.embed = mlp(n_features, dim, (hidden,))
        self.pair = mlp(4, heads, (positive_int(pair_hidden, "pair_hidden"),))
        self.blocks = nn.ModuleList(_PairBiasedBlock(dim, heads, hidden) for _ in range(positive_int(layers, "layers")))
        self.norm = nn.LayerNorm(dim)
        self.head = mlp(dim, 1, (hidden,))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, n, n_features)`` raw, ``mask``: ``(batch, n)`` -> logits ``(batch,)``."""
        bias = self.pair(pair_features(x, mask)).permute(0, 3, 1, 2)
        bias = bias.masked_fill(~mask[:, None, None, :], float("-inf"))
        h = self.embed(self.scale(x))
        for block in self.blocks:
            h = block(h, bias)
        return self.head(masked_mean(self.norm(h), mask)).squeeze(-1)


def knn_indices(coords: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest real neighbours of every particle (itself excluded), by Euclidean distance in ``coords``.

    Args:
        coords: ``(batch, n, d)``, e.g. (Delta eta, Delta phi) or learned features; mask: ``(batch, n)``.
        k: neighbours per particle.

    Returns:
        ``(index, valid)``, each ``(batch, n, k)``: the neighbours' positions in the jet, and False for slots that
        point at padding (a jet with fewer than ``k + 1`` real particles) or that belong to a padded particle.
    """
    n = coords.shape[1]
    k = positive_int(k, "k")
    dist = torch.cdist(coords, coords)
    blocked = ~mask.unsqueeze(1) | torch.eye(n, dtype=torch.bool, device=coords.device)
    dist = dist.masked_fill(blocked, float("inf"))
    kk = min(k, n)
    d, index = dist.topk(kk, dim=-1, largest=False)
    valid = torch.isfinite(d) & mask.unsqueeze(-1)
    if kk < k:  # fewer slots than k: pad with invalid neighbours so the shape is always (batch, n, k)
        pad = (0, k - kk)
        index = nn.functional.pad(index, pad)
        valid = nn.functional.pad(valid, pad, value=False)
    return index, valid


def knn_adjacency(coords: torch.Tensor, mask: torch.Tensor, k: int) -> torch.Tensor:
    """The k-nearest-neighbour graph as a boolean adjacency ``(batch, n, n)``: ``A[b, i, j]`` is True when real
    particle ``j`` is one of the ``k`` nearest real neighbours of real particle ``i`` (``j != i``)."""
    index, valid = knn_indices(coords, mask, k)
    adjacency = torch.zeros(mask.shape + mask.shape[-1:], dtype=torch.bool, device=coords.device)
    return adjacency.scatter(-1, index, valid) if index.shape[-1] else adjacency


def _gather_neighbours(h: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``h`` ``(batch, n, d)`` at ``index`` ``(batch, n, k)`` -> ``(batch, n, k, d)``, without a loop over jets."""
    b, n, d = h.shape
    offset = torch.arange(b, device=h.device).view(b, 1, 1) * n
    return h.reshape(b * n, d)[(index + offset).reshape(-1)].view(*index.shape, d)


class EdgeConv(nn.Module):
    """One EdgeConv block (arXiv:1801.07829): ``h_i' = ReLU(h_i W + mean_{j in kNN(i)} e_ij)`` with the edge network
    ``e_ij = ReLU(U ReLU(A [h_i, h_j - h_i] + a) + u)``.

    The first layer of the edge network is applied per particle, not per edge (``A [h_i, h_j - h_i] =
    (A_1 - A_2) h_i + A_2 h_j``), which saves ``k`` times its cost and gives the same function.

    Args:
        d_in, d_out: feature widths; hidden: width of the edge network's hidden layer.
    """

    def __init__(self, d_in: int, d_out: int, hidden: int = 32) -> None:
        super().__init__()
        self.centre = nn.Linear(d_in, hidden)  # (A_1 - A_2) h_i + a
        self.neighbour = nn.Linear(d_in, hidden, bias=False)  # A_2 h_j
        self.out = nn.Linear(hidden, d_out)
        self.shortcut = nn.Linear(d_in, d_out, bias=False)

    def forward(self, h: torch.Tensor, index: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``h``: ``(batch, n, d_in)``; ``index``, ``valid``: ``(batch, n, k)`` from :func:`knn_indices`."""
        first = self.centre(h).unsqueeze(2) + _gather_neighbours(self.neighbour(h), index)  # (batch, n, k, hidden)
        messages = torch.relu(self.out(torch.relu(first)))
        w = valid.unsqueeze(-1).to(h.dtype)
        pooled = (messages * w).sum(2) / w.sum(2).clamp(min=1)
        return torch.relu(self.shortcut(h) + pooled)


class EdgeConvTagger(nn.Module):
    """A ParticleNet-style graph network, sized for a CPU: EdgeConv blocks on dynamic k-NN graphs.

    The first block connects each particle to its ``k`` nearest neighbours in (Delta eta, Delta phi); every later
    block recomputes the graph in the feature space of the block before it (a *dynamic* graph: particles that the
    network finds alike become neighbours, wherever they are in the jet). Padded particles are never neighbours
    and are left out of the pooling; everything is batched (no loop over jets).

    Args:
        n_features: inputs per constituent; the first three must be those of ``point_cloud`` (raw, not standardised):
            features 1 and 2 (Delta eta, Delta phi) are the coordinates of the first graph.
        k: neighbours per particle.
        widths: output width of each EdgeConv block (one block per entry).
        hidden: width of the edge networks and of the head.
        mean, std: per-feature input statistics, as for :class:`ParticleFlowNetwork`.
    """

    def __init__(
        self,
        n_features: int = 3,
        k: int = 8,
        widths: Sequence[int] = (32, 32),
        hidden: int = 32,
        mean=None,
        std=None,
    ) -> None:
        super().__init__()
        n_features = positive_int(n_features, "n_features")
        if n_features < 3:
            raise ValueError(f"n_features must be at least 3 (log pT fraction, Delta eta, Delta phi), got {n_features}")
        if not widths:
            raise ValueError("widths must name at least one EdgeConv block")
        self.k = positive_int(k, "k")
        hidden = positive_int(hidden, "hidden")
        self.scale = _Standardise(n_features, mean, std)
        sizes = [n_features, *(positive_int(w, "width") for w in widths)]
        self.blocks = nn.ModuleList(EdgeConv(a, b, hidden) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.head = mlp(sizes[-1], 1, (hidden,))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: ``(batch, n, n_features)`` raw, ``mask``: ``(batch, n)`` -> logits ``(batch,)``."""
        coords, h = x[..., 1:3], self.scale(x)
        for block in self.blocks:
            h = block(h, *knn_indices(coords, mask, self.k))
            coords = h
        return self.head(masked_mean(h, mask)).squeeze(-1)


def _signed_log(x: torch.Tensor) -> torch.Tensor:
    """``sign(x) log(1 + |x|)``: LorentzNet's compression of Minkowski products that span many decades."""
    return torch.sign(x) * torch.log1p(x.abs())


class _LorentzBlock(nn.Module):
    """One Lorentz group equivariant block (LGEB, arXiv:2201.08187): scalars ``h`` and four-vectors ``v``.

    ``m_ij = ReLU(A h_i + B h_j + C (psi(<v_i, v_j>), psi(<v_i - v_j, v_i - v_j>)) + a)`` for every real pair, then
    ``v_i' = v_i + c mean_j (w . m_ij) v_j`` (a Lorentz vector again, and the last block skips it) and
    ``h_i' = h_i + phi_h(h_i, sum_j m_ij)``. The message network has one layer, applied per particle where it can,
    so that the cost per pair stays a few times ``hidden``.
    """

    def __init__(self, dim: int, hidden: int, c: float, update_vectors: bool = True) -> None:
        super().__init__()
        self.c = c
        self.receiver, self.sender = nn.Linear(dim, hidden), nn.Linear(dim, hidden, bias=False)
        self.pair = nn.Linear(2, hidden, bias=False)
        self.weight = nn.Linear(hidden, 1) if update_vectors else None  # the last block's vectors go unused
        self.node = mlp(dim + hidden, dim, (hidden,))

    def forward(self, h: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``h``: ``(batch, n, dim)``, ``v``: ``(batch, n, 4)``, ``mask``: ``(batch, n)`` -> updated ``h``, ``v``."""
        dots = minkowski_matrix(v, mask)
        diag = dots.diagonal(dim1=1, dim2=2)
        gaps = diag.unsqueeze(2) + diag.unsqueeze(1) - 2 * dots  # <v_i - v_j, v_i - v_j>
        pair = self.pair(torch.stack([_signed_log(dots), _signed_log(gaps)], dim=-1))
        both = mask.unsqueeze(2) & mask.unsqueeze(1)
        m = torch.relu(self.receiver(h).unsqueeze(2) + self.sender(h).unsqueeze(1) + pair)
        m = m * both.unsqueeze(-1).to(h.dtype)
        if self.weight is not None:
            count = mask.sum(1).clamp(min=1).to(h.dtype).view(-1, 1, 1)
            w = self.weight(m).squeeze(-1) * both.to(h.dtype)
            v = v + self.c * torch.einsum("bij,bjd->bid", w, v) / count
        h = h + self.node(torch.cat([h, m.sum(2)], dim=-1))
        return h, v * mask.unsqueeze(-1).to(v.dtype)


class LorentzTagger(nn.Module):
    """A Lorentz-invariant tagger in the spirit of LorentzNet (arXiv:2201.08187), sized for a CPU.

    It reads the constituents' four-momenta only through Minkowski products ``<p_i, p_j>`` (and ``<p_i, J>`` with
    the jet's four-momentum ``J = sum_i p_i``, a reference vector that transforms with the particles), so its output
    is unchanged when *all* four-momenta undergo the same Lorentz transformation (a test checks it to float
    precision). The scalars start from ``psi(<p_i, p_i>)`` and ``psi(<p_i, J>)``; each block passes messages built
    from Minkowski products and updates the four-vectors as combinations of each other (:class:`_LorentzBlock`).
    No beam vectors are used: they would fix a frame (boosts along z and rotations about z only); the jet's
    four-momentum ties the network to the jet instead, and ``<J, J>``, the jet mass squared, is among its inputs.

    Args:
        dim: width of the per-particle scalars; hidden: width of the message and node networks.
        layers: number of blocks; c: step size of the four-vector update (LorentzNet's 1e-3 keeps it stable).
        scale: GeV; four-momenta are divided by it first (products then order one for 100 GeV).
    """

    def __init__(self, dim: int = 16, hidden: int = 32, layers: int = 2, c: float = 1e-3, scale: float = 100.0):
        super().__init__()
        dim, hidden = positive_int(dim, "dim"), positive_int(hidden, "hidden")
        if not scale > 0:
            raise ValueError(f"scale must be positive (GeV), got {scale}")
        self.scale = float(scale)
        self.embed = mlp(3, dim, (hidden,))
        layers = positive_int(layers, "layers")
        self.blocks = nn.ModuleList(_LorentzBlock(dim, hidden, float(c), i < layers - 1) for i in range(layers))
        self.head = mlp(dim, 1, (hidden,))

    def forward(self, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``p4``: ``(batch, n, 4)`` (E, px, py, pz) in GeV, ``mask``: ``(batch, n)`` -> logits ``(batch,)``."""
        if p4.ndim != 3 or p4.shape[-1] != 4:
            raise ValueError(f"p4 must have shape (batch, n, 4) (E, px, py, pz), got {tuple(p4.shape)}")
        v = p4 / self.scale * mask.unsqueeze(-1).to(p4.dtype)
        jet = v.sum(1, keepdim=True)
        scalars = [minkowski_dot(v, v), minkowski_dot(v, jet), minkowski_dot(jet, jet).expand_as(mask)]
        h = self.embed(_signed_log(torch.stack(scalars, dim=-1)))
        for block in self.blocks:
            h, v = block(h, v, mask)
        return self.head(masked_mean(h, mask)).squeeze(-1)


def bce_loss(model: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Binary cross-entropy of ``model(*inputs)`` (logits) for a batch ``(*inputs, labels)``."""
    *inputs, labels = batch
    return nn.functional.binary_cross_entropy_with_logits(model(*inputs), labels.to(torch.float32))


def _inputs(inputs) -> tuple:
    return tuple(inputs) if isinstance(inputs, tuple | list) else (inputs,)


def train_tagger(
    model: nn.Module,
    inputs,
    labels,
    *,
    val: tuple | None = None,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    schedule: str = "constant",
    device=None,
    seed: int = 0,
    patience: int | None = None,
    progress: bool = True,
    desc: str = "tagger",
) -> History:
    """Train a tagger with the shared loop and the binary cross-entropy.

    Args:
        model: any tagger here (or a module with the same call signature).
        inputs: one array or a tuple of arrays, e.g. ``features``, ``images`` or ``(points, mask)``.
        labels: 1 for top, 0 for QCD, shape ``(n_jets,)``.
        val: ``(val_inputs, val_labels)`` for early stopping on the validation loss, or ``None``.
        epochs, batch_size, lr, schedule, seed, patience, progress: passed to :func:`mlmc_course.training.fit`.
        device: where to train (default: the model's device).
    """
    device = device if device is not None else next(model.parameters()).device
    model.to(device)
    y = binary_labels(labels)
    train = to_tensors(*_inputs(inputs), y, device=device)
    if any(len(t) != len(y) for t in train):
        raise ValueError(f"every input must have one row per label ({len(y)}), got {[len(t) for t in train]}")
    val_tensors = None
    if val is not None:
        val_inputs, val_labels = val
        val_tensors = to_tensors(*_inputs(val_inputs), binary_labels(val_labels, "val labels"), device=device)
    return fit(
        model,
        bce_loss,
        train,
        val=val_tensors,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        schedule=schedule,
        seed=seed,
        patience=patience,
        progress=progress,
        desc=desc,
    )


@torch.no_grad()
def predict(model: nn.Module, inputs, *, batch_size: int = 2048, device=None) -> np.ndarray:
    """Top probabilities ``sigmoid(model(*inputs))`` for every jet, shape ``(n_jets,)``, in batches."""
    device = device if device is not None else next(model.parameters()).device
    model.eval()
    tensors = to_tensors(*_inputs(inputs))
    n = len(tensors[0])
    out = []
    for start in range(0, n, positive_int(batch_size, "batch_size")):
        batch = tuple(t[start : start + batch_size].to(device) for t in tensors)
        out.append(torch.sigmoid(model(*batch)).cpu())
    return torch.cat(out).numpy().astype(np.float64)

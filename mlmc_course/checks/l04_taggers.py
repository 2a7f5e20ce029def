"""Checks for lesson 04 (Deep top taggers): permutation-invariant pooling, centring jet images, masked attention,
the k-nearest-neighbour graph of a padded jet, and the matrix of Minkowski products of its four-momenta."""

from __future__ import annotations

import numpy as np
import torch

from mlmc_course.checks.core import CheckFailed, as_numpy, call, check_rng, check_seed, require


def _padded_set(rng: np.random.Generator, batch: int = 6, n: int = 12, d: int = 5):
    """Per-particle values with a padding mask; padded rows hold non-zero junk (like Phi of a zero input)."""
    values = rng.normal(0, 1, (batch, n, d))
    counts = rng.integers(3, n - 2, batch)
    mask = np.arange(n)[None, :] < counts[:, None]
    values[~mask] = rng.normal(3.0, 1.0, (int((~mask).sum()), d))
    return values, mask


def masked_pool(answer, seed: int = 0) -> None:
    """``answer(values, mask)`` sums ``values`` ``(batch, n, d)`` over the real particles (``mask`` ``(batch, n)``),
    returning a tensor of shape ``(batch, d)``."""
    rng = check_rng(seed)
    values, mask = _padded_set(rng)
    batch, n, d = values.shape
    want = (values * mask[..., None]).sum(axis=1)

    def run(v, m, what):
        out = call(answer, torch.tensor(v, dtype=torch.float64), torch.tensor(m), what=what)
        if hasattr(out, "shape") and tuple(out.shape) == (batch, n * d):
            raise CheckFailed(
                f"your pooling returns shape {tuple(out.shape)}: a flattened list of the particles. A jet's summary "
                "must not depend on how many particles it has or their order: sum over the particle axis"
            )
        return as_numpy(out, "the pooled values", (batch, d))

    got = run(values, mask, "masked_pool(values, mask)")
    if np.allclose(got, values.sum(axis=1)):
        raise CheckFailed("you also summed the padded rows: multiply by the mask (or select the real particles) first")
    if np.allclose(got, values.mean(axis=1)):
        raise CheckFailed("you averaged over all rows, padding included; sum over the real particles only")
    mean = want / mask.sum(axis=1, keepdims=True)
    if np.allclose(got, mean):
        raise CheckFailed("you averaged the real particles; this exercise asks for the sum, as in a Deep Sets network")
    require(np.allclose(got, want, atol=1e-8), "the result should be the sum of values over the real particles")

    # Permutation invariance: shuffle the real particles of every jet.
    perm_values = values.copy()
    for b in range(batch):
        k = int(mask[b].sum())
        perm_values[b, :k] = values[b, rng.permutation(k)]
    require(
        np.allclose(run(perm_values, mask, "masked_pool on shuffled particles"), got, atol=1e-8),
        "the result changed when the particles were reordered: the pooling must be permutation invariant",
    )
    # More padding must change nothing.
    extra = np.concatenate([values, rng.normal(5, 1, (batch, 4, d))], axis=1)
    extra_mask = np.concatenate([mask, np.zeros((batch, 4), bool)], axis=1)
    out = call(answer, torch.tensor(extra), torch.tensor(extra_mask), what="masked_pool with more padding")
    require(
        np.allclose(as_numpy(out, "the pooled values", (batch, d)), got, atol=1e-8),
        "adding padded rows changed the result: padded rows must not contribute",
    )


def _jets(rng: np.random.Generator, batch: int = 8, n: int = 20):
    """Three-prong toy jets: (deta, dphi, pt, mask) of shape (batch, n), zero where padded."""
    counts = rng.integers(6, n - 3, batch)
    mask = np.arange(n)[None, :] < counts[:, None]
    prongs = rng.normal(0, 0.3, (batch, 3, 2)) + rng.normal(0, 0.2, (batch, 1, 2))
    which = rng.integers(0, 3, (batch, n))
    pos = np.take_along_axis(prongs, which[..., None].repeat(2, axis=-1), axis=1) + rng.normal(0, 0.05, (batch, n, 2))
    pt = rng.exponential(30.0, (batch, n)) * mask
    deta, dphi = pos[..., 0] * mask, pos[..., 1] * mask
    return deta, dphi, pt, mask


def centre_jet(answer, seed: int = 0) -> None:
    """``answer(deta, dphi, pt, mask)`` returns ``(deta, dphi)`` shifted so that the pT-weighted centroid of the
    real constituents is at (0, 0); padded entries stay 0."""
    rng = check_rng(seed)
    deta, dphi, pt, mask = _jets(rng)
    w = pt / pt.sum(axis=1, keepdims=True)
    ce, cp = (w * deta).sum(axis=1, keepdims=True), (w * dphi).sum(axis=1, keepdims=True)
    want_e, want_p = (deta - ce) * mask, (dphi - cp) * mask
    out = call(answer, deta.copy(), dphi.copy(), pt.copy(), mask.copy(), what="centre_jet(deta, dphi, pt, mask)")
    require(isinstance(out, tuple | list) and len(out) == 2, "centre_jet should return a tuple (deta, dphi)")
    got_e = as_numpy(out[0], "the centred deta", deta.shape)
    got_p = as_numpy(out[1], "the centred dphi", dphi.shape)
    if np.allclose(got_e, deta) and np.allclose(got_p, dphi):
        raise CheckFailed("the coordinates came back unchanged: subtract the pT-weighted centroid from each jet")
    mean_e = deta.sum(axis=1, keepdims=True) / mask.sum(axis=1, keepdims=True)
    if np.allclose(got_e[mask], (deta - mean_e)[mask]):
        raise CheckFailed("you subtracted the plain mean of the constituents; weight each constituent by its pT")
    if np.allclose(got_e[mask], (deta - deta.mean(axis=1, keepdims=True))[mask]):
        raise CheckFailed("you averaged over all slots, padding included, without pT weights; use sum(pt*deta)/sum(pt)")
    require(
        np.allclose(got_e[mask], want_e[mask], atol=1e-8) and np.allclose(got_p[mask], want_p[mask], atol=1e-8),
        "the real constituents are not shifted by the pT-weighted centroid, sum(pt * deta) / sum(pt) per jet",
    )
    require(
        np.allclose(got_e[~mask], 0) and np.allclose(got_p[~mask], 0),
        "padded entries moved away from 0: shift only the real constituents (multiply the result by the mask)",
    )
    centroid = (w * got_e).sum(axis=1)
    require(np.allclose(centroid, 0, atol=1e-8), "after centring, sum(pt * deta) should be 0 in every jet")


def attention_weights(answer, seed: int = 0) -> None:
    """``answer(q, k, mask)`` returns softmax(q k^T / sqrt(d)) over the real keys, shape ``(batch, n, n)``."""
    rng = check_rng(seed)
    batch, n, d = 4, 9, 8
    q = rng.normal(0, 1.5, (batch, n, d))
    k = rng.normal(0, 1.5, (batch, n, d))
    counts = rng.integers(3, n - 1, batch)
    mask = np.arange(n)[None, :] < counts[:, None]
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)

    def softmax(x, axis):
        with np.errstate(invalid="ignore"):  # an all-masked row gives NaN, as torch does
            e = np.exp(x - x.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)

    masked = np.where(mask[:, None, :], scores, -np.inf)
    want = softmax(masked, axis=-1)
    torch.manual_seed(check_seed(seed))
    out = call(answer, torch.tensor(q), torch.tensor(k), torch.tensor(mask), what="attention_weights(q, k, mask)")
    raw = out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out, dtype=float)
    require(raw.shape == (batch, n, n), f"the attention weights should have shape {(batch, n, n)}, got {raw.shape}")

    def same(a, b):
        return np.allclose(a, b, atol=1e-6, equal_nan=True)

    if same(raw, softmax(scores, axis=-1)):
        raise CheckFailed("padded particles receive attention: set their scores to -inf before the softmax")
    if same(raw, softmax(np.where(mask[:, None, :], scores * np.sqrt(d), -np.inf), axis=-1)):
        raise CheckFailed("the scores are not divided by sqrt(d): use q k^T / sqrt(d)")
    if same(raw, softmax(np.where(mask[:, :, None], scores, -np.inf), axis=1)) or same(raw, softmax(masked, axis=1)):
        raise CheckFailed("the softmax runs over the queries: each query's weights over the keys (last axis) sum to 1")
    got = as_numpy(raw, "the attention weights", (batch, n, n))
    require(
        np.allclose(got[~np.broadcast_to(mask[:, None, :], got.shape)], 0, atol=1e-8),
        "padded keys must get weight 0",
    )
    require(np.allclose(got.sum(axis=-1), 1, atol=1e-6), "each query's weights over the keys should sum to 1")
    require(np.allclose(got, want, atol=1e-6), "the weights should be softmax(q k^T / sqrt(d)) over the real keys")


def _padded_coords(rng: np.random.Generator, batch: int = 5, n: int = 12):
    """(Delta eta, Delta phi) of toy jets with 2..n-2 real particles; padded rows hold zeros (like the data) except
    where ``junk`` puts them right in the middle of the jet."""
    counts = rng.integers(2, n - 1, batch)
    counts[0] = 3  # one jet with fewer real particles than k + 1
    mask = np.arange(n)[None, :] < counts[:, None]
    coords = rng.normal(0, 0.3, (batch, n, 2))
    coords[~mask] = 0.0
    return coords, mask


def _want_knn(coords: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    batch, n, _ = coords.shape
    want = np.zeros((batch, n, n), bool)
    for b in range(batch):
        real = np.flatnonzero(mask[b])
        for i in real:
            others = real[real != i]
            dist = np.linalg.norm(coords[b, others] - coords[b, i], axis=-1)
            want[b, i, others[np.argsort(dist)[:k]]] = True
    return want


def knn_adjacency(answer, seed: int = 0) -> None:
    """``answer(coords, mask, k)`` returns the boolean adjacency ``(batch, n, n)`` of the k-nearest-neighbour graph
    of the real particles: ``A[b, i, j]`` True when real ``j != i`` is among the ``k`` nearest real neighbours of
    real ``i``."""
    rng = check_rng(seed)
    k = 4
    coords, mask = _padded_coords(rng)
    batch, n, _ = coords.shape
    want = _want_knn(coords, mask, k)

    def run(c, m, kk, what):
        out = call(answer, torch.tensor(c), torch.tensor(m), kk, what=what)
        got = as_numpy(out, "the adjacency", (len(c), c.shape[1], c.shape[1]))
        require(np.all((got == 0) | (got == 1)), "the adjacency should hold True/False (or 0/1) only")
        return got.astype(bool)

    got = run(coords, mask, k, "knn_adjacency(coords, mask, k)")
    if got[np.broadcast_to(np.eye(n, dtype=bool), got.shape) & mask[:, :, None]].any():
        raise CheckFailed("a particle is its own neighbour: exclude j = i (set the diagonal distance to infinity)")
    real_pair = mask[:, :, None] & mask[:, None, :]
    if (got & ~np.broadcast_to(mask[:, None, :], got.shape) & mask[:, :, None]).any():
        raise CheckFailed(
            "padded particles are neighbours of real ones: the padding sits at (0, 0), in the middle of the jet, so "
            "set the distance to padded particles to infinity before choosing the nearest"
        )
    if (got & ~mask[:, :, None]).any():
        raise CheckFailed("padded particles have neighbours: the rows of padded particles must be all False")
    far = np.zeros_like(want)
    for b in range(batch):
        real = np.flatnonzero(mask[b])
        for i in real:
            others = real[real != i]
            dist = np.linalg.norm(coords[b, others] - coords[b, i], axis=-1)
            far[b, i, others[np.argsort(-dist)[:k]]] = True
    if np.array_equal(got, far) and not np.array_equal(want, far):
        raise CheckFailed("you picked the k farthest particles; the graph connects each particle to its k nearest")
    degree = got.sum(-1)
    expected_degree = np.minimum(k, mask.sum(1, keepdims=True) - 1) * mask
    require(
        np.array_equal(degree, expected_degree),
        f"each real particle should have min(k, n_real - 1) neighbours (k = {k}), got row sums {degree[0].tolist()} "
        f"for a jet with {int(mask[0].sum())} real particles",
    )
    require(np.array_equal(got & real_pair, want), "the neighbours are not the k nearest in Euclidean distance")
    # The graph is a property of the set: shuffling the real particles permutes it the same way.
    perm = np.arange(n)
    real = np.flatnonzero(mask[1])
    perm[real] = rng.permutation(real)
    shuffled = run(coords[:, perm], mask[:, perm], k, "knn_adjacency on shuffled particles")
    require(
        np.array_equal(shuffled[1], got[1][np.ix_(perm, perm)]),
        "reordering the particles changed the graph beyond the same reordering of its rows and columns",
    )
    # A different k.
    require(
        np.array_equal(run(coords, mask, 2, "knn_adjacency with k = 2"), _want_knn(coords, mask, 2)),
        "with k = 2 the adjacency is not the 2 nearest real neighbours: use the k you are given",
    )


def _jet_four_momenta(rng: np.random.Generator, batch: int = 4, n: int = 9):
    """Massive toy constituents (E, px, py, pz) in GeV and a padding mask; padded rows hold junk four-vectors."""
    counts = rng.integers(3, n, batch)
    mask = np.arange(n)[None, :] < counts[:, None]
    p = rng.normal(0, 30.0, (batch, n, 3)) + np.array([0.0, 0.0, 80.0])
    mass = rng.uniform(0.1, 5.0, (batch, n))
    energy = np.sqrt(mass**2 + (p**2).sum(-1))
    p4 = np.concatenate([energy[..., None], p], axis=-1)
    p4[~mask] = rng.normal(50, 10, (int((~mask).sum()), 4))
    return p4, mask


def minkowski_matrix(answer, seed: int = 0) -> None:
    """``answer(p4, mask)`` returns ``<p_i, p_j> = E_i E_j - p_i . p_j`` for every pair of real constituents,
    ``(batch, n, n)``, zero where i or j is padding."""
    rng = check_rng(seed)
    p4, mask = _jet_four_momenta(rng)
    batch, n, _ = p4.shape
    metric = np.array([1.0, -1.0, -1.0, -1.0])
    raw = np.einsum("bid,bjd->bij", p4 * metric, p4)
    both = mask[:, :, None] & mask[:, None, :]
    want = raw * both
    out = call(answer, torch.tensor(p4), torch.tensor(mask), what="minkowski_matrix(p4, mask)")
    got = as_numpy(out, "the Minkowski products", (batch, n, n))
    scale = np.abs(want).max()

    def same(a, b):
        return np.allclose(a[both], b[both], rtol=1e-6, atol=1e-6 * scale)

    euclid = np.einsum("bid,bjd->bij", p4, p4)
    if same(got, euclid):
        raise CheckFailed("these are Euclidean dot products E_i E_j + p_i . p_j; the metric is diag(+1, -1, -1, -1)")
    if same(got, -raw):
        raise CheckFailed(
            "the sign is flipped (metric diag(-1, +1, +1, +1)): the course uses diag(+1, -1, -1, -1), so that "
            "<p, p> = m^2 > 0"
        )
    spatial = euclid - p4[..., :1] * np.swapaxes(p4[..., :1], 1, 2)
    if same(got, spatial) or same(got, -spatial):
        raise CheckFailed("you left out the energies: <p_i, p_j> = E_i E_j - p_i . p_j has a time component")
    require(same(got, want), "the products of real constituents are not E_i E_j - px_i px_j - py_i py_j - pz_i pz_j")
    require(
        np.allclose(got[~both], 0.0),
        "entries with a padded constituent should be 0; the padded rows hold junk here, so multiply by the mask",
    )
    masses = np.sqrt(np.maximum(np.diagonal(got, axis1=1, axis2=2)[mask], 0))
    require(
        np.allclose(masses**2, np.diagonal(want, axis1=1, axis2=2)[mask], rtol=1e-6),
        "the diagonal should hold the constituents' masses squared",
    )
    # Lorentz invariance: boost and rotate every four-momentum of a jet the same way.
    from mlmc_course.lorentz import random_lorentz

    lam = random_lorentz(rng, max_rapidity=1.0).numpy()
    boosted = p4 @ lam.T
    out = call(answer, torch.tensor(boosted), torch.tensor(mask), what="minkowski_matrix of boosted four-momenta")
    require(
        np.allclose(as_numpy(out, "the Minkowski products", (batch, n, n))[both], want[both], rtol=1e-6,
                    atol=1e-6 * scale),
        "the products changed under a Lorentz boost and rotation of the whole jet; they should be invariant",
    )  # fmt: skip

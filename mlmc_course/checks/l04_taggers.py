"""Checks for lesson 04 (Deep top taggers): permutation-invariant pooling, centring jet images, masked attention."""

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

"""The taggers: shapes, built-in symmetries, bad arguments, and that training with the shared loop learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlmc_course import lorentz as L
from mlmc_course.metrics import auc
from mlmc_course.metrics.classification import LANDSCAPE_RESULTS, results_table, score_tagger
from mlmc_course.models import taggers as T
from mlmc_course.training import count_parameters


def _clouds(seed: int, n_jets: int = 16, n: int = 10, d: int = 3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n_jets, n, d, generator=g)
    x[..., 0] = -x[..., 0].abs()  # log pT fractions are negative
    counts = torch.randint(2, n, (n_jets,), generator=g)
    mask = torch.arange(n)[None, :] < counts[:, None]
    return x * mask.unsqueeze(-1), mask


@pytest.mark.parametrize("cls", [T.ParticleFlowNetwork, T.AttentionTagger, T.PairAttentionTagger, T.EdgeConvTagger])
def test_point_cloud_taggers_are_permutation_invariant(cls):
    torch.manual_seed(0)
    model = cls().eval()
    x, mask = _clouds(1)
    with torch.no_grad():
        out = model(x, mask)
        assert out.shape == (16,)
        # Shuffle the real particles of each jet.
        shuffled = x.clone()
        for j in range(len(x)):
            real = torch.nonzero(mask[j]).squeeze(1)
            shuffled[j, real] = x[j, real[torch.randperm(len(real))]]
        torch.testing.assert_close(model(shuffled, mask), out, atol=1e-5, rtol=1e-5)
        # Extra padding, even with junk in the padded rows, changes nothing.
        junk = torch.full((16, 5, 3), 7.0)
        padded = torch.cat([x, junk], dim=1)
        padded_mask = torch.cat([mask, torch.zeros(16, 5, dtype=torch.bool)], dim=1)
        torch.testing.assert_close(model(padded, padded_mask), out, atol=1e-5, rtol=1e-5)
        # ... while changing a real particle does change the output.
        moved = x.clone()
        moved[:, 0] += 1.0
        assert (model(moved, mask) - out).abs().max() > 1e-3


def test_pair_features_are_the_pair_kinematics():
    """ln Delta, ln kT, ln z and ln m^2 of two massless particles, against their four-momenta."""
    pt_jet = 600.0
    z = torch.tensor([0.3, 0.1, 0.05])
    deta, dphi = torch.tensor([0.05, -0.2, 0.3]), torch.tensor([0.0, 0.25, -3.1])
    x = torch.stack([torch.log(z), deta, dphi], dim=-1)[None]
    mask = torch.tensor([[True, True, False]])
    f = T.pair_features(x, mask)
    assert f.shape == (1, 3, 3, 4)
    eta, phi = 0.4 + deta, 1.0 + dphi
    p = pt_jet * z
    p4 = torch.stack([p * torch.cosh(eta), p * torch.cos(phi), p * torch.sin(phi), p * torch.sinh(eta)], dim=-1)
    pair = p4[0] + p4[1]
    m2 = (pair[0] ** 2 - (pair[1:] ** 2).sum()) / pt_jet**2
    delta = torch.hypot(deta[0] - deta[1], dphi[0] - dphi[1])
    expected = torch.log(torch.stack([delta, 0.1 * delta, torch.tensor(0.1 / 0.4), m2]))
    torch.testing.assert_close(f[0, 0, 1].double(), expected.double(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(f[0, 1, 0], f[0, 0, 1])  # symmetric in the pair
    assert torch.all(f[0, 2] == 0) and torch.all(f[0, :, 2] == 0)  # padding gives zeros
    assert torch.isfinite(f).all()  # also a particle paired with itself
    with pytest.raises(ValueError, match="eps must be positive"):
        T.pair_features(x, mask, eps=0.0)
    # Delta phi wraps around: particles at phi = +3.1 and -3.1 are 0.083 apart, not 6.2.
    wrap = T.pair_features(torch.tensor([[[-1.0, 0.0, 3.1], [-1.0, 0.0, -3.1]]]), torch.ones(1, 2, dtype=torch.bool))
    assert torch.exp(wrap[0, 0, 1, 0]).item() == pytest.approx(2 * torch.pi - 6.2, abs=1e-3)


def test_masked_pooling():
    values = torch.arange(24, dtype=torch.float32).reshape(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    torch.testing.assert_close(T.masked_sum(values, mask), torch.stack([values[0, :2].sum(0), values[1].sum(0)]))
    torch.testing.assert_close(T.masked_mean(values, mask), torch.stack([values[0, :2].mean(0), values[1].mean(0)]))


def test_cnn_and_dense_shapes():
    torch.manual_seed(0)
    cnn = T.CNNTagger(size=16, channels=4, hidden=8)
    assert cnn(torch.rand(5, 16, 16)).shape == (5,)
    dense = T.DenseTagger(mean=[100.0, 0.5], std=[20.0, 0.1], hidden=(8,))
    assert dense(torch.tensor([[100.0, 0.5], [90.0, 0.4]])).shape == (2,)
    assert count_parameters(dense) == 2 * 8 + 8 + 8 + 1  # the buffers mean and std are not parameters


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: T.CNNTagger(size=30), "divisible by 4"),
        (lambda: T.AttentionTagger(dim=30, heads=4), "divisible by heads"),
        (lambda: T.PairAttentionTagger(dim=30, heads=4), "divisible by heads"),
        (lambda: T.PairAttentionTagger(n_features=2), "at least 3"),
        (lambda: T.DenseTagger(mean=[0.0, 1.0], std=[1.0, 0.0]), "std must be positive"),
        (lambda: T.DenseTagger(mean=[0.0, 1.0], std=[1.0]), "std must have shape"),
        (lambda: T.ParticleFlowNetwork(n_features=0), "n_features must be a positive integer"),
        (lambda: T.EdgeConvTagger(n_features=2), "at least 3"),
        (lambda: T.EdgeConvTagger(widths=()), "at least one EdgeConv block"),
        (lambda: T.EdgeConvTagger(k=0), "k must be a positive integer"),
        (lambda: T.LorentzTagger(scale=0.0), "scale must be positive"),
        (lambda: T.LorentzTagger(layers=0), "layers must be a positive integer"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_knn_graph_with_padding():
    """Nearest neighbours on a line: itself excluded, padding never a neighbour, short jets get what they have."""
    coords = torch.tensor([[[0.0, 0], [1, 0], [3, 0], [3.5, 0], [9, 0]], [[0.0, 0], [0.2, 0], [5, 0], [5, 0], [5, 0]]])
    mask = torch.tensor([[True, True, True, True, False], [True, True, False, False, False]])
    a = T.knn_adjacency(coords, mask, k=2)
    assert a.shape == (2, 5, 5) and a.dtype == torch.bool
    expected0 = [[0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0]]
    assert a[0].int().tolist() == expected0
    assert a[1].int().tolist() == [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]] + [[0] * 5] * 3  # one real neighbour only
    index, valid = T.knn_indices(coords, mask, k=7)  # more neighbours than slots
    assert index.shape == valid.shape == (2, 5, 7) and valid[0, :4].sum(-1).tolist() == [3, 3, 3, 3]


def _jet_p4(seed: int, n_jets: int = 6, n: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Massless toy jets around eta = 0.5, phi = 1 with pT 1-200 GeV, float64, zero-padded."""
    g = torch.Generator().manual_seed(seed)
    pt = 1 + 199 * torch.rand(n_jets, n, generator=g, dtype=torch.float64)
    eta = 0.5 + 0.3 * torch.randn(n_jets, n, generator=g, dtype=torch.float64)
    phi = 1.0 + 0.3 * torch.randn(n_jets, n, generator=g, dtype=torch.float64)
    mask = torch.arange(n)[None, :] < torch.randint(3, n + 1, (n_jets,), generator=g)[:, None]
    return L.p4_from_ptetaphi(pt, eta, phi) * mask.unsqueeze(-1), mask


def test_lorentz_helpers():
    rng = np.random.default_rng(0)
    lam = L.random_lorentz(rng, max_rapidity=2.0)
    metric = torch.diag(torch.tensor(L.METRIC, dtype=torch.float64))
    torch.testing.assert_close(lam.T @ metric @ lam, metric)  # preserves the metric
    p4, mask = _jet_p4(0)
    dots = L.minkowski_matrix(p4, mask)
    torch.testing.assert_close(dots, L.minkowski_matrix(L.transform(p4, lam), mask), rtol=1e-9, atol=1e-6)
    i, j = 0, 1
    pair = p4[0, i] + p4[0, j]
    torch.testing.assert_close(2 * dots[0, i, j], L.minkowski_dot(pair, pair))  # massless: m_ij^2 = 2 <p_i, p_j>
    assert torch.all(dots[~mask] == 0) and torch.all(dots.transpose(1, 2)[~mask] == 0)
    torch.testing.assert_close(
        dots.diagonal(dim1=1, dim2=2), torch.zeros_like(mask, dtype=dots.dtype), atol=1e-9, rtol=0
    )
    boosted = L.transform(torch.tensor([1.0, 0, 0, 0], dtype=torch.float64), L.boost_matrix([0.6, 0, 0]))
    torch.testing.assert_close(boosted, torch.tensor([1.25, -0.75, 0, 0], dtype=torch.float64))
    with pytest.raises(ValueError, match="beta must be"):
        L.boost_matrix([1.0, 0, 0])
    with pytest.raises(ValueError, match="p4 must have shape"):
        L.minkowski_matrix(p4[..., :3], mask)


def test_lorentz_tagger_is_lorentz_invariant_and_a_single_boost_breaks_it():
    torch.manual_seed(0)
    model = T.LorentzTagger().double().eval()
    p4, mask = _jet_p4(1)
    rng = np.random.default_rng(1)
    with torch.no_grad():
        out = model(p4, mask)
        assert out.shape == (6,)
        for _ in range(3):  # the same random boost and rotation for every four-momentum of a jet
            lam = L.random_lorentz(rng, max_rapidity=1.5)
            torch.testing.assert_close(model(L.transform(p4, lam), mask), out, rtol=1e-9, atol=1e-9)
        # Negative control: boost one constituent alone; the symmetry is broken, so the output must move.
        broken = p4.clone()
        broken[:, 0] = L.transform(p4[:, 0], L.boost_matrix([0.0, 0.5, 0.3]))
        assert (model(broken, mask) - out).abs().min() > 1e-4
        # Not invariant under a plain (non-Lorentz) change: scaling the energies alone.
        assert (model(p4 * torch.tensor([1.1, 1, 1, 1], dtype=torch.float64), mask) - out).abs().min() > 1e-6
        # Permutations and padding change nothing.
        perm = torch.randperm(12)
        keep = torch.argsort(~mask[:, perm].int(), dim=1, stable=True)  # real constituents first, shuffled
        shuffled_p4 = torch.stack([p4[b, perm][keep[b]] for b in range(6)])
        shuffled_mask = torch.stack([mask[b, perm][keep[b]] for b in range(6)])
        torch.testing.assert_close(model(shuffled_p4, shuffled_mask), out, rtol=1e-9, atol=1e-9)
        junk = torch.full((6, 4, 4), 50.0, dtype=torch.float64)
        padded = torch.cat([p4, junk], dim=1)
        padded_mask = torch.cat([mask, torch.zeros(6, 4, dtype=torch.bool)], dim=1)
        torch.testing.assert_close(model(padded, padded_mask), out, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="p4 must have shape"):
        model(p4[..., :3], mask)


@pytest.mark.parametrize("name", ["edgeconv", "lorentz"])
def test_graph_and_lorentz_taggers_take_a_finite_training_step(name):
    torch.manual_seed(0)
    if name == "edgeconv":
        model: torch.nn.Module = T.EdgeConvTagger(k=4, widths=(8, 8), hidden=8)
        inputs = _clouds(2)
    else:
        model = T.LorentzTagger(dim=8, hidden=8)
        p4, mask = _jet_p4(2, n_jets=16)
        inputs = (p4.float(), mask)
    labels = (torch.arange(16) % 2).float()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in model.parameters()]
    loss = T.bce_loss(model, (*inputs, labels))
    optimiser.zero_grad()
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    optimiser.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert torch.isfinite(model(*inputs)).all()


def test_training_learns_a_separable_toy():
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.integers(0, 2, n)
    # Signal jets have one particle with a large first feature; background ones do not.
    x = rng.normal(0, 1, (n, 8, 3)).astype(np.float32)
    x[y == 1, 0, 0] += 3.0
    mask = np.ones((n, 8), bool)
    mask[:, 6:] = rng.uniform(size=(n, 2)) < 0.5
    torch.manual_seed(0)
    model = T.ParticleFlowNetwork(phi_hidden=(16,), latent=16, f_hidden=(16,))
    history = T.train_tagger(
        model,
        (x[:1500], mask[:1500]),
        y[:1500],
        val=((x[1500:], mask[1500:]), y[1500:]),
        epochs=6,
        batch_size=64,
        lr=3e-3,
        progress=False,
    )
    assert history.val[-1] < history.val[0] < 0.75
    p = T.predict(model, (x[1500:], mask[1500:]), batch_size=128)
    assert p.shape == (500,) and np.all((p >= 0) & (p <= 1))
    assert auc(p, y[1500:]) > 0.9


def test_train_tagger_rejects_misaligned_inputs():
    model = T.DenseTagger(mean=[0.0], std=[1.0])
    with pytest.raises(ValueError, match="one row per label"):
        T.train_tagger(model, np.zeros((10, 1)), np.zeros(9, dtype=int), epochs=1, progress=False)
    with pytest.raises(ValueError, match="labels must be 0"):
        T.train_tagger(model, np.zeros((10, 1)), np.full(10, 2), epochs=1, progress=False)


def test_results_table_in_landscape_format():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 2000)
    good = rng.normal(2.0 * y, 1.0)
    row = score_tagger("toy", good, y, n_params=12_345, n_boot=20)
    assert 0.9 < row.auc.value < 0.95 and 0 < row.auc.error < 0.01
    assert row.r30.value > 10 and row.r30.error > 0
    table = results_table([row], reference=LANDSCAPE_RESULTS)
    lines = table.splitlines()
    assert lines[0] == "| tagger | AUC | R30 | parameters |"
    assert lines[2].startswith("| toy | 0.9") and "12.3k" in lines[2]
    assert any(line.startswith("| PFN (landscape) | 0.9819 | 891 |") for line in lines)
    # A perfect tagger lets no background through: R30 is only bounded, by the number of background jets.
    perfect = score_tagger("perfect", y.astype(float), y, n_boot=10)
    assert not np.isfinite(perfect.r30.value) and perfect.n_background == 2000
    assert "> 2000 (no background passes)" in results_table([perfect])

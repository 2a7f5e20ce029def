"""The taggers: shapes, built-in symmetries, bad arguments, and that training with the shared loop learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("cls", [T.ParticleFlowNetwork, T.AttentionTagger, T.PairAttentionTagger])
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
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


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

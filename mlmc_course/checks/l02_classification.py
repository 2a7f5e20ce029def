"""Checks for lesson 02 (Classification and the likelihood ratio)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, check_seed, require
from mlmc_course.data.toys import ResonanceToy


def _bce_reference(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0, -logits) * labels + np.logaddexp(0, logits) * (1 - labels)))


def bce_loss(answer, seed: int = 0) -> None:
    """``answer(logits, labels)``: mean binary cross-entropy of torch tensors, with p = sigmoid(logits)."""
    rng = check_rng(seed)
    logits = rng.normal(0, 3, 300)
    labels = (rng.random(300) < 0.5).astype(float)
    want = _bce_reference(logits, labels)
    z = torch.tensor(logits, requires_grad=True)
    out = call(answer, z, torch.tensor(labels), what="bce_loss(logits, labels)")
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"bce_loss should return a torch tensor, got {type(out).__name__}")
    value = out.detach()
    if value.numel() == 1 and not torch.isfinite(value):
        raise CheckFailed(
            "the loss is NaN or infinite: did you take the log of the raw logits? "
            "Turn logits into probabilities with a sigmoid first"
        )
    got = as_float(out, "bce_loss(...)")
    if abs(got + want) < 1e-6:
        raise CheckFailed("the sign is wrong: the cross-entropy is -[y log p + (1 - y) log(1 - p)], a positive number")
    if abs(got - _bce_reference(-logits, labels)) < 1e-6:
        raise CheckFailed("signal and background are swapped: p = sigmoid(logit) is the probability of label 1")
    require(abs(got - want) < 1e-6, f"bce_loss gives {got:.6f}, the binary cross-entropy is {want:.6f}")
    out.backward()
    require(z.grad is not None, "no gradient reached the logits; build the loss from torch operations")
    p = 1 / (1 + np.exp(-logits))
    require(
        np.allclose(z.grad.numpy(), (p - labels) / 300, rtol=1e-5, atol=1e-9),
        "the gradient with respect to the logits should be (sigmoid(z) - y) / n",
    )


def likelihood_ratio(answer, seed: int = 0) -> None:
    """``answer(s, n_sig, n_bkg)`` turns classifier outputs s (trained on n_sig signal and n_bkg background events)
    into the likelihood ratio p(x|S)/p(x|B)."""
    rng = check_rng(seed)
    ratio = np.exp(rng.normal(0, 1.5, 100))
    for n_sig, n_bkg in ((5000, 5000), (2000, 8000)):
        prior = n_sig / n_bkg
        s = prior * ratio / (1 + prior * ratio)  # the optimal classifier for these class sizes
        got = as_numpy(
            call(answer, s.copy(), n_sig, n_bkg, what="likelihood_ratio(s, n_sig, n_bkg)"),
            "likelihood_ratio(...)",
            (100,),
        )
        if np.allclose(got, 1 / ratio, rtol=1e-6) or np.allclose(got, (1 - s) / s, rtol=1e-6):
            raise CheckFailed("the ratio is upside down: s/(1 - s) estimates p(x|S)/p(x|B), not the inverse")
        if np.allclose(got, s, rtol=1e-6):
            raise CheckFailed("s itself is a probability, not a likelihood ratio: use s / (1 - s)")
        if n_sig != n_bkg and np.allclose(got, s / (1 - s), rtol=1e-6):
            raise CheckFailed(
                "with unequal class sizes s/(1 - s) = (n_sig/n_bkg) p(x|S)/p(x|B): divide out n_sig/n_bkg"
            )
        require(
            np.allclose(got, ratio, rtol=1e-6),
            f"for n_sig={n_sig}, n_bkg={n_bkg} the ratio does not match p(x|S)/p(x|B)",
        )


def auc(answer, seed: int = 0) -> None:
    """``answer(scores, labels)``: the area under the ROC curve, i.e. P(score of a signal > score of a background)
    with ties counted as one half."""
    rng = check_rng(seed)
    labels = (rng.random(400) < 0.4).astype(int)
    scores = np.round(rng.normal(labels * 1.0, 1.0), 1)  # rounded, so that there are ties
    want = roc_auc_score(labels, scores)
    got = as_float(call(answer, scores.copy(), labels.copy(), what="auc(scores, labels)"), "auc(...)")
    if abs(got - (1 - want)) < 1e-9:
        raise CheckFailed("you get 1 - AUC: signal (label 1) should score higher than background")
    strict = np.mean(scores[labels == 1][:, None] > scores[labels == 0][None, :])
    if abs(got - strict) < 1e-9:
        raise CheckFailed("ties are not counted: a signal-background pair with equal scores counts one half")
    require(abs(got - want) < 1e-9, f"auc gives {got:.6f}, the area under the ROC curve is {want:.6f}")


def train_ratio_classifier(answer, seed: int = 0) -> None:
    """``answer(x, y, seed)`` trains a classifier on the resonance toy and returns a function mapping x of shape
    (n, 2) to s in (0, 1). The check compares s/(1-s) with the exact likelihood ratio in the bulk of the data."""
    toy = ResonanceToy()
    s_seed = check_seed(seed)
    x, y = toy.sample(3000, 3000, seed=s_seed)
    predict = call(answer, x, y, s_seed, what="train_ratio_classifier(x, y, seed)")
    require(callable(predict), "train_ratio_classifier should return a function predict(x) -> s")
    x_test, y_test = toy.sample(2000, 2000, seed=s_seed + 7)
    s = as_numpy(call(predict, x_test, what="predict(x)"), "predict(x)", (4000,))
    if np.any(s < 0) or np.any(s > 1):
        raise CheckFailed("predict returns values outside (0, 1): did you forget the sigmoid on the network output?")
    exact = toy.likelihood_ratio(x_test)
    separation = roc_auc_score(y_test, s)
    require(
        separation > 0.55,
        f"predict does not separate signal (label 1) from background: AUC {separation:.2f} on fresh events, where "
        f"0.5 is guessing and the exact likelihood ratio reaches {roc_auc_score(y_test, exact):.2f}; are the labels "
        "paired with the right events, is s the probability of label 1, and does predict use the trained network?",
    )
    s = np.clip(s, 1e-6, 1 - 1e-6)
    bulk = (exact > 0.05) & (exact < 20)
    err = np.abs(np.log(s / (1 - s))[bulk] - np.log(exact[bulk]))
    require(
        np.median(err) < 0.35,
        f"s/(1-s) is far from the exact likelihood ratio (median |log ratio difference| {np.median(err):.2f}); "
        "train longer, standardise the inputs, and use the binary cross-entropy",
    )

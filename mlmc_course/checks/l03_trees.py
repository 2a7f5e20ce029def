"""Checks for lesson 03 (Trees and boosted decision trees): the best split, bootstrap samples, boosting
residuals and the background rejection R30."""

from __future__ import annotations

import numpy as np
from scipy import stats

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, check_seed, require


def _gini(y: np.ndarray) -> float:
    if len(y) == 0:
        return 0.0
    p = float(np.mean(y))
    return 1.0 - p**2 - (1 - p) ** 2


def _entropy(y: np.ndarray) -> float:
    if len(y) == 0:
        return 0.0
    p = np.array([np.mean(y), 1 - np.mean(y)])
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _split_scores(x: np.ndarray, y: np.ndarray, impurity) -> dict[str, np.ndarray]:
    """For every cut between sorted neighbours: the weighted impurity, and two wrong variants."""
    order = np.argsort(x)
    ys = y[order]
    n = len(y)
    weighted, unweighted, swapped = [], [], []
    for k in range(1, n):
        left, right = ys[:k], ys[k:]
        hl, hr = impurity(left), impurity(right)
        weighted.append(k / n * hl + (n - k) / n * hr)
        unweighted.append(hl + hr)
        swapped.append((n - k) / n * hl + k / n * hr)
    return {"weighted": np.array(weighted), "unweighted": np.array(unweighted), "swapped": np.array(swapped)}


def _split_data(rng: np.random.Generator, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A noisy one-feature sample on which the right and the typical wrong split rules pick different cuts."""
    for _ in range(100):
        x = rng.uniform(0, 200, n)
        p_signal = 1 / (1 + np.exp(-(x - rng.uniform(80, 120)) / 12))
        y = (rng.uniform(size=n) < p_signal).astype(int)
        ok = True
        for impurity in (_gini, _entropy):
            s = _split_scores(x, y, impurity)
            best = {int(np.argmin(v)) for v in s.values()}
            ok &= len(best) == 3 and np.sort(s["weighted"])[1] - s["weighted"].min() > 1e-6
        if ok:
            return x, y
    raise RuntimeError("could not make a split sample that separates the wrong answers")  # pragma: no cover


def _valid_cuts(x: np.ndarray) -> np.ndarray:
    """For every k = 1..n-1 (the first k sorted points go left): whether a cut ``x <= t`` can make that split,
    i.e. the k-th and (k+1)-th smallest values differ."""
    xs = np.sort(x)
    return xs[1:] > xs[:-1]


def _edge_cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """Small samples whose best cut leaves one point on a side, and one with a repeated value of x: the two
    events at x = 2 (one signal, one background) cannot be separated by a cut, although splitting them would
    score better (Gini 0.25, in whichever order they are sorted) than either real cut (1/3)."""
    x = rng.permutation(12).astype(float) * 10.0
    order = rng.permutation(4)
    tied_x, tied_y = np.array([1.0, 2.0, 2.0, 3.0])[order], np.array([0, 0, 1, 0])[order]
    return [
        (x, (x == 0).astype(int), "only the smallest x is signal"),
        (x, (x == x.max()).astype(int), "only the largest x is signal"),
        (tied_x, tied_y, f"x = {tied_x.tolist()} and y = {tied_y.tolist()}"),
    ]


def _check_split(answer, x, y, impurity, name: str, wrong_rules: bool, where: str = "") -> None:
    """One call of ``best_split``; ``wrong_rules``: also name the typical wrong weightings; ``where`` describes
    the sample in the messages."""
    on = f" {where}" if where else ""
    scores = _split_scores(x, y, impurity)
    out = call(answer, x.copy(), y.copy(), impurity, what=f"best_split(x, y, {name.lower()}){on}")
    require(
        isinstance(out, tuple | list) and len(out) == 2,
        "best_split should return a tuple (threshold, weighted impurity)",
    )
    require(
        out[0] is not None,
        f"best_split returned no threshold (None){on}: every candidate cut was skipped, or none scored below the "
        "starting value; loop over the cuts between neighbouring distinct values of x",
    )
    t = as_float(out[0], "the threshold")
    h = as_float(out[1], "the weighted impurity")
    k = int(np.sum(x <= t))  # number of points that go left
    require(
        0 < k < len(x),
        f"your threshold {t:.4g} puts every point on one side{on}; a split must leave points on both sides",
    )
    valid = _valid_cuts(x)
    if wrong_rules:
        if np.isclose(h, scores["unweighted"].min()) or k - 1 == int(np.argmin(scores["unweighted"])):
            raise CheckFailed(
                f"with the {name} your split minimises H(left) + H(right): weight each child by its share of the "
                "points, N_left/N H(left) + N_right/N H(right)"
            )
        if np.isclose(h, scores["swapped"].min()) or k - 1 == int(np.argmin(scores["swapped"])):
            raise CheckFailed(
                f"with the {name} your split weights each child by the other child's share of the points; "
                "the left child's impurity goes with N_left/N"
            )
    if not np.isclose(h, scores["weighted"][k - 1], atol=1e-9):
        if np.any(np.isclose(h, scores["weighted"][~valid], atol=1e-9)):
            raise CheckFailed(
                f"your impurity ({h:.6g}) belongs to a split between two equal values of x{on}, which no cut "
                "x <= threshold can make; skip the candidate cuts between repeated values"
            )
        raise CheckFailed(
            f"the impurity you return ({h:.6g}) is not the weighted {name} of the split your threshold makes "
            f"({scores['weighted'][k - 1]:.6g}){on}"
        )
    best = scores["weighted"][valid].min()
    require(
        np.isclose(h, best, atol=1e-9),
        f"with the {name} your cut at {t:.4g} is not the best{on}: the best weighted impurity is {best:.6g}, "
        f"yours {h:.6g} (are you maximising instead of minimising, or skipping candidate cuts?)",
    )


def best_split(answer, seed: int = 0) -> None:
    """``answer(x, y, impurity)`` returns ``(threshold, weighted_impurity)`` of the best cut ``x <= threshold``."""
    rng = check_rng(seed)
    x, y = _split_data(rng)
    for impurity, name in ((_gini, "Gini"), (_entropy, "entropy")):
        _check_split(answer, x, y, impurity, name, True)
    for xe, ye, what in _edge_cases(rng):
        _check_split(answer, xe, ye, _gini, "Gini", False, f"(on a sample where {what})")


def bootstrap_samples(answer, seed: int = 0) -> None:
    """``answer(n, n_models, rng)`` returns an integer array ``(n_models, n)`` of bootstrap indices."""
    n, n_models = 2000, 8
    out = call(answer, n, n_models, np.random.default_rng(check_seed(seed)), what="bootstrap_samples(n, n_models, rng)")
    idx = np.asarray(out)
    require(idx.shape == (n_models, n), f"expected shape (n_models, n) = ({n_models}, {n}), got {idx.shape}")
    require(idx.dtype.kind in "iu", f"the indices should be integers, got dtype {idx.dtype}")
    require(idx.min() >= 0 and idx.max() < n, "indices must lie in 0 ... n-1")
    unique = np.array([len(np.unique(row)) / n for row in idx])
    if np.all(unique == 1.0):
        raise CheckFailed(
            "every sample holds each event exactly once: that is a permutation (drawing without replacement); "
            "a bootstrap draws n events *with* replacement"
        )
    expected = 1 - (1 - 1 / n) ** n  # ~ 1 - 1/e = 0.632
    require(
        np.all(np.abs(unique - expected) < 0.04),
        f"a bootstrap sample should contain about {expected:.1%} of the distinct events, yours contain "
        f"{unique.min():.1%} ... {unique.max():.1%}: draw uniformly with replacement",
    )
    require(
        len({row.tobytes() for row in idx}) == n_models,
        "some models got identical samples: draw a new sample for every model",
    )
    counts = np.bincount(idx.ravel(), minlength=n) / n_models
    require(abs(counts.mean() - 1) < 1e-9 and counts.std() < 0.6, "every event should be equally likely to be drawn")
    # Few events and many models: each index should come up about equally often, the first and last included.
    small = np.asarray(
        call(answer, 5, 4000, np.random.default_rng(check_seed(seed) + 1), what="bootstrap_samples(5, 4000, rng)")
    )
    require(small.shape == (4000, 5), f"bootstrap_samples(5, 4000, rng) should have shape (4000, 5), got {small.shape}")
    require(small.dtype.kind in "iu", f"the indices should be integers, got dtype {small.dtype}")
    require(small.min() >= 0 and small.max() < 5, "with n = 5 the indices must lie in 0 ... 4")
    drawn = np.bincount(small.ravel(), minlength=5)
    never = [i for i in range(5) if not np.any(small == i)]
    require(not never, f"with n = 5, index {never} is never drawn: draw from all of 0 ... n-1 (rng.integers(0, n))")
    chi2 = stats.chisquare(drawn)
    require(
        chi2.pvalue > 1e-6,
        f"with n = 5 the indices are not drawn equally often (counts {drawn.tolist()}, chi^2 p-value "
        f"{chi2.pvalue:.2g}): every event should be equally likely",
    )
    again = call(answer, n, n_models, np.random.default_rng(check_seed(seed)), what="bootstrap_samples")
    require(
        np.array_equal(np.asarray(again), idx),
        "two calls with identically seeded generators differ: draw from the rng argument, not np.random",
    )


def boosting_residuals(answer, seed: int = 0) -> None:
    """``answer(raw_score, y)`` returns the negative gradient of the binary cross-entropy with respect to the raw
    (logit) score, shape ``(n,)``."""
    rng = check_rng(seed)
    f = rng.normal(0, 2, 200)
    y = rng.integers(0, 2, 200).astype(float)
    got = as_numpy(call(answer, f.copy(), y.copy(), what="boosting_residuals(raw_score, y)"), "the residuals", (200,))
    p = 1 / (1 + np.exp(-f))
    want = y - p
    if np.allclose(got, -want, atol=1e-8):
        raise CheckFailed("you returned the gradient p - y; boosting fits the *negative* gradient, y - p")
    if np.allclose(got, y - f, atol=1e-8):
        raise CheckFailed(
            "you returned y - F, the residual of a squared error on the raw score; for the cross-entropy the "
            "raw score goes through the sigmoid first: y - sigmoid(F)"
        )
    if np.allclose(got, (y - p) * p * (1 - p), atol=1e-8):
        raise CheckFailed("an extra factor p(1 - p): the gradient of the cross-entropy in the logit is just p - y")
    require(np.allclose(got, want, atol=1e-8), "the residuals should be y - sigmoid(raw_score) for every event")


def _roc(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    k = rng.uniform(3.0, 6.0)
    eff_s = np.linspace(0, 1, 2001)
    eff_b = eff_s**k
    return eff_s, eff_b, 0.3**-k


def r30(answer, seed: int = 0) -> None:
    """``answer(eff_s, eff_b)`` returns the background rejection 1/eps_B at eps_S = 0.3 from a ROC curve."""
    rng = check_rng(seed)
    eff_s, eff_b, want = _roc(rng)
    got = as_float(call(answer, eff_s.copy(), eff_b.copy(), what="r30(eff_s, eff_b)"), "R30")
    if abs(got - 1 / 0.3) < 0.05:
        raise CheckFailed("you returned 1/eps_S = 1/0.3; R30 is 1/eps_B at the cut where eps_S = 0.3")
    if abs(got - 1 / want) < 1e-3 * (1 / want) + 1e-9:
        raise CheckFailed("you returned the background efficiency eps_B; the rejection is its inverse, 1/eps_B")
    require(got > 1, f"a rejection 1/eps_B is at least 1, got {got:.4g}")
    require(
        abs(got - want) / want < 0.02,
        f"R30 should be {want:.4g} for this ROC curve (1/eps_B where eps_S = 0.3), got {got:.4g}",
    )
    # A coarse ROC (few working points) needs interpolation between neighbours, not the nearest point.
    coarse_s = np.array([0.0, 0.1, 0.25, 0.35, 0.6, 1.0])
    coarse_b = np.array([0.0, 0.001, 0.004, 0.012, 0.1, 1.0])
    want_coarse = 1 / np.interp(0.3, coarse_s, coarse_b)
    got = as_float(call(answer, coarse_s.copy(), coarse_b.copy(), what="r30 on a coarse ROC"), "R30")
    require(
        abs(got - want_coarse) / want_coarse < 0.02,
        f"on a ROC with working points only at eps_S = {coarse_s.tolist()}, interpolate eps_B linearly to "
        f"eps_S = 0.3: R30 should be {want_coarse:.4g}, got {got:.4g}",
    )

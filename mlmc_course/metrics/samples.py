"""How close is a generated sample to the real one? Metrics that can tell a good generator from a slightly wrong one.

* :func:`classifier_two_sample_test`: train a classifier to separate real from generated events; its AUC on held-out
  events is 0.5 for a perfect generator and grows as the classifier finds differences (the CaloChallenge metric).
* :func:`wasserstein_1d`, :func:`wasserstein_nd`, :func:`sliced_wasserstein`: earth mover's distances computed with
  POT (exact in 1D and for small samples in a few dimensions; averaged over random 1D projections for larger ones).
* :func:`mmd`: the maximum mean discrepancy with Gaussian kernels.
* :func:`held_out_log_likelihood`: the mean log-density of held-out data under a model that has one (flows, flow
  matching through its ODE, a VAE's importance-sampled estimate).

Samples are arrays (or tensors) of shape ``(n, n_features)``; 1-D arrays count as one feature.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from mlmc_course.metrics.classification import Estimate
from mlmc_course.validation import as_array, positive_int

# POT imports every array backend it finds; TensorFlow alone costs ~10 s and ~0.5 GB, and no metric here needs it.
for _backend in ("TENSORFLOW", "JAX", "CUPY"):
    os.environ.setdefault(f"POT_BACKEND_DISABLE_{_backend}", "1")


def _samples(x, name: str, n_features: int | None = None) -> np.ndarray:
    arr = as_array(x, name, ndim=(1, 2))
    if arr.ndim == 1:
        arr = arr[:, None]
    if len(arr) < 2:
        raise ValueError(f"{name} needs at least 2 events, got {len(arr)}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[1]} features but the other sample has {n_features}; compare like with like"
        )
    return arr


def _pair(real, generated) -> tuple[np.ndarray, np.ndarray]:
    r = _samples(real, "real")
    return r, _samples(generated, "generated", r.shape[1])


def _subsample(x: np.ndarray, max_n: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_n is None or len(x) <= max_n:
        return x
    return x[rng.choice(len(x), max_n, replace=False)]


# ---------------------------------------------------------------------------------------------------------------------
# Classifier two-sample test
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoSampleTest:
    """Result of a classifier two-sample test.

    Attributes:
        auc: mean held-out AUC over the folds (0.5: indistinguishable; 1: fully separable).
        error: its standard error, from the spread over the folds.
        fold_aucs: the AUC of each fold.
        null_sigma: the standard deviation the AUC would have for identical samples of these sizes,
            sqrt((n_r + n_g + 1) / (12 n_r n_g)) (Mann-Whitney).
        n_real, n_generated: sample sizes used.
    """

    auc: float
    error: float
    fold_aucs: tuple[float, ...]
    null_sigma: float
    n_real: int
    n_generated: int

    @property
    def significance(self) -> float:
        """How many null standard deviations the AUC lies above 0.5."""
        return (self.auc - 0.5) / self.null_sigma

    def __str__(self) -> str:
        return f"AUC = {self.auc:.3f} ± {self.error:.3f} (identical samples: 0.500 ± {self.null_sigma:.3f})"


def _make_classifier(classifier, seed: int):
    from sklearn.base import clone

    if classifier == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, early_stopping=True, random_state=seed)
    if classifier == "mlp":
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        net = MLPClassifier(hidden_layer_sizes=(64, 64), early_stopping=True, max_iter=200, random_state=seed)
        return make_pipeline(StandardScaler(), net)
    if hasattr(classifier, "fit") and hasattr(classifier, "predict_proba"):
        return clone(classifier)
    raise ValueError(f"classifier must be 'hgb', 'mlp' or a scikit-learn classifier, got {classifier!r}")


def classifier_two_sample_test(
    real,
    generated,
    *,
    classifier: Literal["hgb", "mlp"] | object = "hgb",
    n_folds: int = 5,
    max_n: int | None = 20_000,
    seed: int = 0,
    n_threads: int | None = 1,
) -> TwoSampleTest:
    """Can a classifier tell generated events from real ones? Its held-out AUC answers (Lopez-Paz & Oquab,
    arXiv:1610.06545; the CaloChallenge metric, arXiv:2410.21611).

    The two samples are labelled 0 (real) and 1 (generated) and split into ``n_folds`` stratified folds; a classifier
    trained on the other folds scores each fold. A perfect generator gives AUC = 0.5 within ``null_sigma``; an AUC
    below 0.5 by more than that means the classifier overfitted. The AUC only says *that* samples differ: look at
    the distributions to see *how*.

    Args:
        real, generated: samples of shape ``(n_real, n_features)`` and ``(n_generated, n_features)``.
        classifier: ``"hgb"`` (scikit-learn's histogram gradient boosting, fast and good in a few dimensions),
            ``"mlp"`` (a small neural network on standardised features) or any scikit-learn classifier.
        n_folds: number of cross-validation folds (at least 2).
        max_n: use at most this many events of each sample (drawn at random); ``None`` uses all.
        seed: seeds the subsampling, the folds and the classifier.
        n_threads: threads the classifier may use (``None``: all). One is the default because OpenMP threads
            competing for a busy machine (a shared server, Binder) can make gradient boosting fifty times slower.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    r, g = _pair(real, generated)
    if not isinstance(n_folds, int) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2, got {n_folds!r}")
    rng = np.random.default_rng(seed)
    r, g = _subsample(r, max_n, rng), _subsample(g, max_n, rng)
    if min(len(r), len(g)) < 5 * n_folds:
        raise ValueError(f"need at least {5 * n_folds} events per sample for {n_folds} folds, got {len(r)}, {len(g)}")
    x = np.concatenate([r, g])
    y = np.concatenate([np.zeros(len(r), int), np.ones(len(g), int)])
    aucs = []
    with threadpool_limits(limits=n_threads):
        for train, test in StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(x, y):
            clf = _make_classifier(classifier, seed)
            clf.fit(x[train], y[train])
            aucs.append(float(roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1])))
    null_sigma = float(np.sqrt((len(r) + len(g) + 1) / (12.0 * len(r) * len(g))))
    return TwoSampleTest(
        auc=float(np.mean(aucs)),
        error=float(np.std(aucs, ddof=1) / np.sqrt(n_folds)),
        fold_aucs=tuple(aucs),
        null_sigma=null_sigma,
        n_real=len(r),
        n_generated=len(g),
    )


# ---------------------------------------------------------------------------------------------------------------------
# Wasserstein distances (POT)
# ---------------------------------------------------------------------------------------------------------------------


def wasserstein_1d(x, y, *, p: int = 1) -> float:
    """The p-Wasserstein distance between two 1-D samples, in the units of the data (e.g. GeV for a jet mass).

    In one dimension optimal transport matches quantiles, W_p = (int_0^1 |F^-1(q) - G^-1(q)|^p dq)^(1/p); POT
    evaluates it exactly for samples of any sizes.
    """
    import ot

    a = as_array(x, "x", ndim=1)
    b = as_array(y, "y", ndim=1)
    if len(a) < 1 or len(b) < 1:
        raise ValueError("both samples need at least one value")
    if not isinstance(p, int) or p < 1:
        raise ValueError(f"p must be an integer >= 1, got {p!r}")
    return float(ot.wasserstein_1d(a, b, p=p)) ** (1.0 / p)


def wasserstein_nd(x, y, *, p: int = 1, max_n: int = 3000) -> float:
    """The exact p-Wasserstein distance between two samples in a few dimensions (Euclidean ground distance).

    Solves the discrete optimal transport problem with POT's network simplex (``ot.emd2``); the cost grows like
    n^2 in memory and faster in time, so samples above ``max_n`` events are refused: subsample, or use
    :func:`sliced_wasserstein`. Features should be on comparable scales (standardise first).
    """
    import ot

    a, b = _samples(x, "x"), None
    b = _samples(y, "y", a.shape[1])
    if max(len(a), len(b)) > max_n:
        raise ValueError(
            f"exact optimal transport on {len(a)} x {len(b)} events is slow and memory-hungry (limit {max_n}): "
            "pass a random subsample, raise max_n, or use sliced_wasserstein"
        )
    if not isinstance(p, int) or p < 1:
        raise ValueError(f"p must be an integer >= 1, got {p!r}")
    cost = ot.dist(a, b, metric="euclidean") ** p
    wa, wb = np.full(len(a), 1.0 / len(a)), np.full(len(b), 1.0 / len(b))
    return float(ot.emd2(wa, wb, cost, numItermax=10_000_000)) ** (1.0 / p)


def sliced_wasserstein(x, y, *, p: int = 1, n_projections: int = 200, seed: int = 0) -> float:
    """The sliced p-Wasserstein distance: W_p of 1-D projections along random directions, averaged (POT).

    Cheap for large samples in any dimension and zero only when the distributions agree; it is a lower bound of the
    full W_p that loses sensitivity as the dimension grows. ``seed`` fixes the directions.
    """
    import ot

    a = _samples(x, "x")
    b = _samples(y, "y", a.shape[1])
    n_projections = positive_int(n_projections, "n_projections")
    return float(ot.sliced_wasserstein_distance(a, b, n_projections=n_projections, p=p, seed=seed))


# ---------------------------------------------------------------------------------------------------------------------
# Maximum mean discrepancy
# ---------------------------------------------------------------------------------------------------------------------


def mmd(x, y, *, bandwidths=None, max_n: int = 2000, seed: int = 0) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy with a sum of Gaussian kernels (Gretton et al.,
    JMLR 13 (2012) 723).

    MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y) vanishes only for identical distributions; the unbiased estimate
    fluctuates around zero (it can be slightly negative) when they are.

    Args:
        x, y: samples of shape ``(n, n_features)`` and ``(m, n_features)``.
        bandwidths: kernel widths in the units of the data; ``None`` uses 1/16, 1/8, 1/4, 1/2 and 1 times the median
            distance between the pooled events (the narrow kernels see fine structure, such as a width that is a
            little too small; the median alone misses it).
        max_n: use at most this many events of each sample (the cost grows like n^2).
        seed: seeds the subsampling and the median estimate.
    """
    from scipy.spatial.distance import cdist

    a = _samples(x, "x")
    b = _samples(y, "y", a.shape[1])
    rng = np.random.default_rng(seed)
    a, b = _subsample(a, max_n, rng), _subsample(b, max_n, rng)
    if bandwidths is None:
        pool = _subsample(np.concatenate([a, b]), 1000, rng)
        median = float(np.median(cdist(pool, pool)[np.triu_indices(len(pool), 1)]))
        bandwidths = median * 2.0 ** np.arange(-4, 1)
    widths = as_array(bandwidths, "bandwidths", ndim=(0, 1)).ravel()
    if np.any(widths <= 0):
        raise ValueError(f"bandwidths must be positive, got {widths.tolist()}")

    def kernel(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        d2 = cdist(u, v, "sqeuclidean")
        return sum(np.exp(-d2 / (2 * h**2)) for h in widths)

    kxx, kyy, kxy = kernel(a, a), kernel(b, b), kernel(a, b)
    n, m = len(a), len(b)
    term_x = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    term_y = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(term_x + term_y - 2 * kxy.mean())


# ---------------------------------------------------------------------------------------------------------------------
# Held-out log-likelihood
# ---------------------------------------------------------------------------------------------------------------------


def held_out_log_likelihood(log_prob: Callable | object, x, context=None, *, batch_size: int = 4096) -> Estimate:
    """Mean log-density of held-out events under a model, with its standard error (nats per event).

    Higher is better; for data from a known density p the mean of log p is the best any model can reach (minus the
    entropy). Only models with a density have one: flows (exact), flow matching (through the ODE), a VAE (an
    importance-sampled lower estimate). A GAN has none.

    Args:
        log_prob: a model with a ``log_prob(x, context)`` method, or a callable ``log_prob(x, context)`` that returns
            one value per event.
        x: held-out events, shape ``(n, n_features)`` (array or tensor, in the units the model was trained on).
        context: the condition of each event, shape ``(n, n_context)``, for a conditional model.
        batch_size: events per call, to bound memory.
    """
    import torch

    fn = log_prob.log_prob if hasattr(log_prob, "log_prob") else log_prob
    if not callable(fn):
        raise TypeError(f"log_prob must be a model with .log_prob or a callable, got {type(log_prob).__name__}")
    data = _samples(x, "x")
    ctx = None if context is None else _samples(context, "context")
    if ctx is not None and len(ctx) != len(data):
        raise ValueError(f"context has {len(ctx)} rows but x has {len(data)}; pass one condition per event")
    batch_size = positive_int(batch_size, "batch_size")
    values = []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            xb = torch.as_tensor(data[start : start + batch_size], dtype=torch.float32)
            cb = None if ctx is None else torch.as_tensor(ctx[start : start + batch_size], dtype=torch.float32)
            out = fn(xb, cb)
            out = out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)
            if out.shape != (len(xb),):
                raise ValueError(
                    f"log_prob returned shape {out.shape}; it must return one value per event, ({len(xb)},)"
                )
            values.append(out.astype(float))
    ll = np.concatenate(values)
    if not np.all(np.isfinite(ll)):
        raise ValueError(f"{int(np.sum(~np.isfinite(ll)))} held-out events have a non-finite log-density")
    return Estimate(float(ll.mean()), float(ll.std(ddof=1) / np.sqrt(len(ll))))

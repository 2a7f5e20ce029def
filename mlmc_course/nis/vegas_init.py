"""VEGAS (Lepage 1978) with the ``vegas`` package: the baseline, and the grid that starts a flow (arXiv:2311.01548).

VEGAS samples each coordinate from its own piecewise-constant density with equal-probability bins, adapted to the
projections of f^2 on the axes. Its map is separable, so it cannot follow peaks off the axes (it sees 2^d peaks for
the camel's 2). A VEGAS grid is still a cheap, good first guess: :func:`grid_knots` reduces its many bins to the few
bins of a spline (bin reduction) and :meth:`SplineFlow.init_from_knots` starts the flow from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mlmc_course.data.integrands import Integrand
from mlmc_course.nis.results import IntegrationResult
from mlmc_course.validation import positive_int


def train_vegas_map(
    fn: Callable[[np.ndarray], np.ndarray],
    dim: int,
    *,
    n_iterations: int = 10,
    n_per_iteration: int = 10_000,
    ninc: int = 64,
    alpha: float = 0.5,
    rng: np.random.Generator,
    on_batch: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
):
    """Adapt a ``vegas.AdaptiveMap`` to ``fn`` by iterating: sample, train on ``(f * jac)^2``, adapt.

    Args:
        fn: integrand on the unit cube, ``(n, dim)`` array -> ``(n,)`` array of values >= 0.
        dim: dimension.
        n_iterations, n_per_iteration: adaptation iterations and integrand calls in each.
        ninc: VEGAS bins per axis.
        alpha: VEGAS damping (0: no adaptation, 0.5: the package default).
        rng: source of the uniform numbers.
        on_batch: called after each iteration with ``(y, x, jac, f)``, e.g. to store the samples.

    Returns:
        The adapted ``vegas.AdaptiveMap``.
    """
    import vegas

    dim = positive_int(dim, "dim")
    amap = vegas.AdaptiveMap([[0.0, 1.0]] * dim, ninc=positive_int(ninc, "ninc"))
    for _ in range(positive_int(n_iterations, "n_iterations")):
        y = rng.random((positive_int(n_per_iteration, "n_per_iteration"), dim))
        x = np.empty_like(y)
        jac = np.empty(len(y))
        amap.map(y, x, jac)
        f = np.asarray(fn(x), dtype=float)
        if on_batch is not None:
            on_batch(y, x, jac, f)
        amap.add_training_data(y, (f * jac) ** 2)
        amap.adapt(alpha=alpha)
    return amap


def grid_knots(amap, bins: int) -> np.ndarray:
    """Bin reduction: the VEGAS map evaluated at ``y = j / bins``, shape ``(dim, bins + 1)``.

    VEGAS bins all carry the same probability, so merging them into ``bins`` groups of equal probability keeps the
    density where the grid resolves it and needs no search; the spline then interpolates between the knots.
    """
    bins = positive_int(bins, "bins")
    grid = np.asarray(amap.extract_grid(), dtype=float)
    if grid.ndim != 2:
        raise ValueError("the VEGAS map must have the same number of bins on every axis")
    y_grid = np.linspace(0.0, 1.0, grid.shape[1])
    y_knots = np.linspace(0.0, 1.0, bins + 1)
    return np.stack([np.interp(y_knots, y_grid, g) for g in grid])


@dataclass
class VegasRun:
    """The outcome of :func:`run_vegas`: the final (non-adapting) iteration's estimate and its event weights."""

    result: IntegrationResult
    weights: np.ndarray
    seconds: float
    train_calls: int


def run_vegas(
    integrand: Integrand,
    n_train: int,
    n_eval: int,
    *,
    n_iterations: int = 20,
    alpha: float = 0.5,
    beta: float = 0.75,
    seed: int = 0,
) -> VegasRun:
    """Integrate with ``vegas.Integrator``: adapt with ``n_train`` calls, then estimate with ``n_eval`` more.

    The estimate comes from one iteration with adaptation off, so that it does not reuse training points. The event
    weights ``w_k = N wgt_k f(x_k)`` (mean = the estimate) are the ones to unweight; the error is VEGAS's stratified
    one, summed over hypercubes.

    Args:
        integrand: the function and its dimension.
        n_train: integrand calls for adaptation, spread over ``n_iterations`` (VEGAS may use slightly fewer).
        n_eval: calls for the final estimate.
        alpha: grid damping; beta: stratification damping (0 keeps the samples evenly over the hypercubes).
        seed: seed of the uniform numbers.
    """
    import vegas

    n_train, n_eval = positive_int(n_train, "n_train"), positive_int(n_eval, "n_eval")
    rng = np.random.default_rng(seed)
    calls = [0]

    def batch_f(x: np.ndarray) -> np.ndarray:
        calls[0] += len(x)
        return integrand(np.ascontiguousarray(x))

    start = time.perf_counter()
    integ = vegas.Integrator([[0.0, 1.0]] * integrand.dim, alpha=alpha, beta=beta, ran_array_generator=rng.random)
    integ(vegas.lbatchintegrand(batch_f), nitn=n_iterations, neval=n_train // n_iterations)
    train_calls = calls[0]
    integ.set(neval=n_eval, adapt=False)
    wf_parts, cube_parts = [], []
    for x, wgt, hcube in integ.random_batch(yield_hcube=True):
        wf_parts.append(wgt * batch_f(x))
        cube_parts.append(np.asarray(hcube).copy())
    wf, cube = np.concatenate(wf_parts), np.concatenate(cube_parts)
    seconds = time.perf_counter() - start
    # per hypercube h with n_h points: Var_h = (n_h sum (wf)^2 - (sum wf)^2) / (n_h - 1)
    _, inverse, n_h = np.unique(cube, return_inverse=True, return_counts=True)
    s1 = np.bincount(inverse, weights=wf)
    s2 = np.bincount(inverse, weights=wf**2)
    var = np.sum((n_h * s2 - s1**2) / np.maximum(n_h - 1, 1))
    n = len(wf)
    value, error = float(wf.sum()), float(np.sqrt(max(var, 0.0)))
    result = IntegrationResult(value, error, n, (value,), (error,), (n,))
    return VegasRun(result=result, weights=n * wf, seconds=seconds, train_calls=train_calls)


def vegas_knots_for(
    fn: Callable[[torch.Tensor], torch.Tensor],
    dim: int,
    bins: int,
    *,
    n_iterations: int,
    n_per_iteration: int,
    ninc: int,
    alpha: float,
    rng: np.random.Generator,
    on_batch: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
) -> np.ndarray:
    """Adapt a VEGAS map to the torch function ``fn`` and return its reduced knots, shape ``(dim, bins + 1)``."""

    def np_fn(x: np.ndarray) -> np.ndarray:
        return fn(torch.as_tensor(x)).detach().cpu().numpy()

    amap = train_vegas_map(
        np_fn,
        dim,
        n_iterations=n_iterations,
        n_per_iteration=n_per_iteration,
        ninc=ninc,
        alpha=alpha,
        rng=rng,
        on_batch=on_batch,
    )
    return grid_knots(amap, bins)

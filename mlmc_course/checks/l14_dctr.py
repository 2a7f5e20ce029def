"""Checks for lesson 14 (DCTR): the parameterised training set, the normalised likelihood, the parabola fit."""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, require


def dctr_training_set(answer, seed: int = 0) -> None:
    """``answer(x_nominal, x_varied, theta_varied, theta_nominal, rng)`` returns ``(x, theta, y)``: the events of
    both samples, a parameter vector per event (the varied events keep their own, the nominal events get values
    drawn from the varied ones) and labels (0 nominal, 1 varied)."""
    rng = check_rng(seed)
    n0, n1, k = 3000, 2000, 2
    x0 = rng.normal(0.0, 1.0, (n0, 3))
    x1 = rng.normal(0.3, 1.0, (n1, 3))
    # Parameters generated at a few points (as a scan would be), not uniformly: only resampling reproduces them.
    points = np.column_stack([rng.uniform(0.10, 0.18, 8), rng.uniform(0.5, 0.9, 8)])
    t1 = points[rng.integers(0, 8, n1)]
    t0 = np.array([0.1365, 0.68])
    what = "dctr_training_set(x_nominal, x_varied, theta_varied, theta_nominal, rng)"
    out = call(answer, x0.copy(), x1.copy(), t1.copy(), t0.copy(), np.random.default_rng(seed), what=what)
    require(isinstance(out, tuple) and len(out) == 3, "return a tuple (x, theta, y)")
    x = as_numpy(out[0], "x", (n0 + n1, 3))
    theta = as_numpy(out[1], "theta", (n0 + n1, k))
    y = as_numpy(out[2], "y", (n0 + n1,))
    require(set(np.unique(y).tolist()) <= {0.0, 1.0}, "labels must be 0 (nominal) and 1 (varied)")
    # Identify the rows: each event of x must be one of the inputs, with the right label.
    key0 = {tuple(r) for r in np.round(x0, 12)}
    key1 = {tuple(r) for r in np.round(x1, 12)}
    rows = [tuple(r) for r in np.round(x, 12)]
    from_nominal = np.array([r in key0 for r in rows])
    from_varied = np.array([r in key1 for r in rows])
    require(np.all(from_nominal | from_varied), "x must hold the nominal and varied events themselves")
    if np.all(y[from_nominal] == 1) and np.all(y[from_varied] == 0):
        raise CheckFailed(
            "the labels are swapped: nominal events get 0 and varied events 1, so that f/(1-f) is "
            "p(x | theta) / p(x | theta_0)"
        )
    require(np.all(y[from_nominal] == 0) and np.all(y[from_varied] == 1), "nominal events get label 0, varied ones 1")
    require(int(y.sum()) == n1, f"there should be {n1} events with label 1 (the varied ones), found {int(y.sum())}")
    order1 = {tuple(r): i for i, r in enumerate(np.round(x1, 12))}
    idx1 = np.array([order1[r] for r, v in zip(rows, from_varied, strict=True) if v])
    require(
        np.allclose(theta[from_varied], t1[idx1]),
        "each varied event must keep the parameters it was generated with (keep theta_varied aligned with x_varied)",
    )
    t_nom = theta[from_nominal]
    if np.allclose(t_nom, t0):
        raise CheckFailed(
            "every nominal event has theta_nominal: then theta alone tells the classes apart and the classifier "
            "learns nothing about x. Give the nominal events parameter values drawn from the varied ones"
        )
    known = {tuple(r) for r in np.round(points, 12)}
    on_points = np.mean([tuple(r) in known for r in np.round(t_nom, 12)])
    require(
        on_points > 0.999,
        "the nominal events' parameters must have the same distribution as the varied ones: draw them from "
        "theta_varied itself (here the varied events sit at a few parameter points; yours do not)",
    )
    for j in range(k):
        p = stats.ks_2samp(t_nom[:, j], t1[:, j]).pvalue
        require(p > 1e-4, f"parameter {j}: the nominal and varied distributions differ (KS p = {p:.2g})")
    again = call(answer, x0.copy(), x1.copy(), t1.copy(), t0.copy(), np.random.default_rng(seed), what=what)
    require(
        np.array_equal(np.asarray(again[1]), np.asarray(out[1])),
        "two calls with identically seeded generators differ: draw the random numbers from the rng you are given",
    )


def normalised_nll(answer, seed: int = 0) -> None:
    """``answer(log_w_target, log_w_nominal)`` returns -mean(log w on the target) + log(mean(w on the nominal))."""
    rng = check_rng(seed)
    lt = rng.normal(0.2, 0.5, 500)
    ln = rng.normal(-0.1, 0.6, 800)
    want = -lt.mean() + special.logsumexp(ln) - np.log(len(ln))
    got = as_float(call(answer, lt.copy(), ln.copy(), what="normalised_nll(log_w_target, log_w_nominal)"), "the NLL")
    if abs(got + want) < 1e-9:
        raise CheckFailed("the sign is flipped: return the negative log-likelihood, which the fit minimises")
    if abs(got - (-lt.mean())) < 1e-9:
        raise CheckFailed("the normalisation term log(mean(w_nominal)) is missing")
    if abs(got - (-lt.mean() + ln.mean())) < 1e-9:
        raise CheckFailed("log(mean(w)) is not mean(log w): exponentiate the nominal log-weights before averaging")
    if abs(got - (-lt.sum() + special.logsumexp(ln) - np.log(len(ln)))) < 1e-9:
        raise CheckFailed("use the mean of the target log-weights, not their sum (the answer is per event)")
    require(abs(got - want) < 1e-8, f"expected {want:.6f}, got {got:.6f}")
    # A constant shift c of all log-weights (a wrongly normalised classifier) must cancel.
    shifted = as_float(call(answer, lt + 3.0, ln + 3.0, what="normalised_nll"), "the NLL of shifted weights")
    require(abs(shifted - want) < 1e-8, "adding the same constant to every log w must not change the result")


def parabola_minimum(answer, seed: int = 0) -> None:
    """``answer(values, nll)`` fits a parabola to a scan of the total NLL and returns (best value, 1-sigma error)."""
    rng = check_rng(seed)
    best, sigma = rng.uniform(0.12, 0.16), rng.uniform(0.002, 0.006)
    values = np.linspace(best - 0.013, best + 0.019, 9)  # a coarse grid, not centred on the minimum
    nll = 1234.5 + 0.5 * ((values - best) / sigma) ** 2 + rng.normal(0, 1e-6, len(values))
    out = call(answer, values.copy(), nll.copy(), what="parabola_minimum(values, nll)")
    require(isinstance(out, tuple) and len(out) == 2, "return a tuple (best value, error)")
    got_best, got_err = as_float(out[0], "the best value"), as_float(out[1], "the error")
    if abs(got_best - values[np.argmin(nll)]) < 1e-12 and abs(got_best - best) > 1e-4:
        raise CheckFailed("you returned the best grid point; the minimum of the fitted parabola lies between points")
    require(abs(got_best - best) < 1e-5, f"the minimum should be at {best:.5f}, got {got_best:.5f}")
    if abs(got_err - sigma**2) < 1e-7:
        raise CheckFailed("that is the variance 1 / (2a); the error is its square root")
    if abs(got_err - sigma * np.sqrt(2)) < 1e-5:
        raise CheckFailed("that error is too large by sqrt(2): use Delta NLL = 1/2, not Delta NLL = 1")
    require(abs(got_err - sigma) < 1e-5, f"the 1-sigma error should be {sigma:.5f}, got {got_err:.5f}")

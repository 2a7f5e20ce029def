"""Checks for lesson 01 (Regression, losses and autodiff)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, require

HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


def gaussian_nll(answer, seed: int = 0) -> None:
    """``answer(pred, target, sigma)``: mean Gaussian negative log-likelihood of torch tensors, a scalar tensor
    that gradients flow through. Dropping the constant log(2 pi)/2 is accepted; dropping log(sigma) is not."""
    rng = check_rng(seed)
    n = 200
    target = rng.normal(0, 1, n)
    pred = target + rng.normal(0, 0.7, n)
    sigma = rng.uniform(0.2, 2.0, n)
    want = float(np.mean(-stats.norm.logpdf(target, loc=pred, scale=sigma)))
    p = torch.tensor(pred, dtype=torch.float64, requires_grad=True)
    out = call(answer, p, torch.tensor(target), torch.tensor(sigma), what="gaussian_nll(pred, target, sigma)")
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(
            f"gaussian_nll should return a torch tensor (a loss you can call .backward() on), got {type(out).__name__}"
        )
    got = as_float(out, "gaussian_nll(...)")
    diff = got - want
    if abs(got - np.mean(np.abs(target - pred))) < 1e-6:
        raise CheckFailed(
            "this is the mean absolute error; a Gaussian likelihood gives squared residuals (t - f)^2 / (2 sigma^2)"
        )
    no_log_sigma = want - np.mean(np.log(sigma))
    if min(abs(got - no_log_sigma), abs(got - no_log_sigma + HALF_LOG_2PI)) < 1e-6:
        raise CheckFailed(
            "the log(sigma) term is missing: with a different sigma per point it changes the fit "
            "(it is what stops a network from predicting huge sigmas)"
        )
    no_two = want + np.mean((target - pred) ** 2 / (2 * sigma**2))
    if min(abs(got - no_two), abs(got - no_two + HALF_LOG_2PI)) < 1e-6:
        raise CheckFailed("the squared residual should be divided by 2 sigma^2, not sigma^2")
    if abs(got - n * want) < 1e-6 * n:
        raise CheckFailed("return the mean over points, not the sum")
    require(
        min(abs(diff), abs(diff + HALF_LOG_2PI)) < 1e-6,
        f"gaussian_nll gives {got:.6f}, the Gaussian negative log-likelihood is {want:.6f} "
        "(mean of (t - f)^2 / (2 sigma^2) + log sigma + log(2 pi)/2)",
    )
    try:
        out.backward()
    except RuntimeError as err:
        raise CheckFailed(
            f"the loss is not differentiable ({err}); keep it a torch tensor, no .item() or numpy"
        ) from None
    grad = p.grad.numpy() if p.grad is not None else None
    require(grad is not None, "no gradient reached pred: build the loss from torch operations on the inputs")
    require(np.allclose(grad, (pred - target) / sigma**2 / n, rtol=1e-6), "the gradient with respect to pred is wrong")


def standardize(answer, seed: int = 0) -> None:
    """``answer(x_train, x_test)`` returns (z_train, z_test) scaled with the training set's mean and std."""
    rng = check_rng(seed)
    x_train = rng.normal([90.0, 0.5], [3.0, 0.1], (1000, 2))
    x_test = rng.normal([93.0, 0.6], [3.0, 0.1], (300, 2))
    out = call(answer, x_train.copy(), x_test.copy(), what="standardize(x_train, x_test)")
    require(isinstance(out, tuple) and len(out) == 2, "standardize should return a tuple (z_train, z_test)")
    z_train = as_numpy(out[0], "z_train", x_train.shape)
    z_test = as_numpy(out[1], "z_test", x_test.shape)
    mu, sd = x_train.mean(0), x_train.std(0)
    want_test = (x_test - mu) / sd
    both = np.concatenate([x_train, x_test])
    if np.allclose(z_test, (x_test - both.mean(0)) / both.std(0), rtol=1e-6):
        raise CheckFailed(
            "the mean and std include the test set: that leaks test data into training; compute them from x_train alone"
        )
    require(
        np.allclose(z_train, (x_train - mu) / sd, rtol=2e-3, atol=2e-3),
        "z_train should be (x_train - mean) / std with the mean and std of each column of x_train",
    )
    if np.allclose(z_test.mean(0), 0, atol=1e-6):
        raise CheckFailed(
            "z_test has exactly zero mean: you scaled the test set with its own statistics; "
            "use the training set's mean and std for every set"
        )
    require(
        np.allclose(z_test, want_test, rtol=2e-3, atol=2e-3),
        "z_test should be (x_test - mean_train) / std_train, column by column",
    )


def _poly_val_mse(x_tr, y_tr, x_va, y_va, degree):
    fit = np.polynomial.Polynomial.fit(x_tr, y_tr, degree)
    return float(np.mean((fit(x_va) - y_va) ** 2))


def _degree_case(rng, truth, n_train: int, noise: float):
    x_tr, x_va = rng.uniform(-2, 2, n_train), rng.uniform(-2, 2, 400)
    return x_tr, truth(x_tr) + rng.normal(0, noise, n_train), x_va, truth(x_va) + rng.normal(0, noise, 400)


def select_degree(answer, seed: int = 0) -> None:
    """``answer(x_train, y_train, x_val, y_val, max_degree)`` returns the polynomial degree (0..max_degree) with the
    lowest validation mean squared error."""
    rng = check_rng(seed)
    cubic = lambda x: 1.0 - 2.0 * x + 0.5 * x**3  # noqa: E731
    steep = lambda x: x**3 + x**2 - x  # noqa: E731  (every term matters: each lower degree is far worse)
    # A noisy cubic with few points (over-fitting is possible up to degree 12), then cases whose best degree is
    # the largest one allowed, so that a loop that stops early or goes too far shows.
    cases = [(_degree_case(rng, cubic, 25, 0.5), 12), (_degree_case(rng, steep, 30, 0.3), 3)]
    cases.append((_degree_case(rng, steep, 30, 0.3), 2))
    for (x_tr, y_tr, x_va, y_va), max_degree in cases:
        got = call(answer, x_tr, y_tr, x_va, y_va, max_degree, what=f"select_degree(..., max_degree={max_degree})")
        try:
            degree = int(got)
        except (TypeError, ValueError):
            raise CheckFailed(f"select_degree should return an integer degree, got {got!r}") from None
        require(0 <= degree <= max_degree, f"the degree must lie in 0..{max_degree}, got {degree}")
        val = [_poly_val_mse(x_tr, y_tr, x_va, y_va, d) for d in range(max_degree + 1)]
        best = min(val)
        if degree == max_degree and val[degree] > 1.2 * best:
            raise CheckFailed(
                "you chose the highest degree: that is what the training error prefers; "
                "pick the degree with the lowest error on the validation set"
            )
        if int(np.argmin(val)) == max_degree and val[degree] > 1.02 * best:
            raise CheckFailed(
                f"with max_degree={max_degree} the best degree is {max_degree} itself (validation MSE {best:.3f}), "
                f"you chose {degree}: try every degree from 0 to max_degree, range(max_degree + 1)"
            )
        require(
            val[degree] <= 1.02 * best,
            f"degree {degree} has validation MSE {val[degree]:.3f}, but degree {int(np.argmin(val))} reaches "
            f"{best:.3f}",
        )


def _network(rng, n=16, d=2, h=5):
    params = {
        "W1": rng.normal(0, 1, (h, d)),
        "b1": rng.normal(0, 1, h),
        "w2": rng.normal(0, 1, h),
        "b2": float(rng.normal()),
    }
    x, y = rng.normal(0, 1, (n, d)), rng.normal(0, 1, n)
    return params, x, y


def _torch_grads(params, x, y):
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    f = torch.tanh(torch.tensor(x) @ t["W1"].T + t["b1"]) @ t["w2"] + t["b2"]
    loss = torch.mean((f - torch.tensor(y)) ** 2)
    loss.backward()
    return {k: v.grad.numpy() for k, v in t.items()}


def backprop(answer, seed: int = 0) -> None:
    """``answer(params, x, y)`` returns the gradients of mean((f(x) - y)^2), f(x) = w2 . tanh(W1 x + b1) + b2, as a
    dict with the keys and shapes of ``params``."""
    rng = check_rng(seed)
    params, x, y = _network(rng)
    want = _torch_grads(params, x, y)
    got = call(answer, {k: np.copy(v) for k, v in params.items()}, x, y, what="backprop(params, x, y)")
    require(isinstance(got, dict) and set(got) >= set(params), f"return a dict with the keys {sorted(params)}")
    got = {k: as_numpy(got[k], f"the gradient of {k}", np.shape(params[k])) for k in params}
    close = {k: np.allclose(got[k], want[k], rtol=1e-6, atol=1e-9) for k in params}
    if all(close.values()):
        return
    if all(np.allclose(got[k], -want[k], rtol=1e-6, atol=1e-9) for k in params):
        raise CheckFailed("every gradient has the wrong sign: d/df (f - y)^2 = +2 (f - y)")
    if all(np.allclose(got[k], 0.5 * want[k], rtol=1e-6, atol=1e-9) for k in params):
        raise CheckFailed("every gradient is half the right size: the derivative of (f - y)^2 is 2 (f - y)")
    if close["w2"] and close["b2"] and not (close["W1"] and close["b1"]):
        raise CheckFailed(
            "the output layer is right but W1 and b1 are not: on the way back through tanh, multiply "
            "by its derivative 1 - tanh(z)^2"
        )
    wrong = ", ".join(k for k, ok in close.items() if not ok)
    raise CheckFailed(f"the gradients of {wrong} do not match torch.autograd")

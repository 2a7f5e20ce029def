"""Checks for lesson 06 (GANs and VAEs): the 1D Wasserstein distance, the GAN generator loss, the
reparameterisation trick and the negative ELBO."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import stats

from mlmc_course.checks.core import CheckFailed, as_float, as_numpy, call, check_rng, check_seed, require


def wasserstein_1d(answer, seed: int = 0) -> None:
    """``answer(x, y)`` returns W1 between two 1-D samples of equal size (a float, in the units of the data)."""
    rng = check_rng(seed)
    x, y = rng.normal(0.0, 1.0, 400), rng.normal(0.2, 1.6, 400)  # distributions whose CDFs cross
    got = as_float(call(answer, x.copy(), y.copy(), what="wasserstein_1d(x, y)"), "wasserstein_1d(x, y)")
    want = stats.wasserstein_distance(x, y)
    if np.isclose(got, np.mean(np.abs(x - y)), rtol=1e-6):
        raise CheckFailed("you compared the events in the order they came: sort both samples first (match quantiles)")
    if np.isclose(got, np.sqrt(np.mean((np.sort(x) - np.sort(y)) ** 2)), rtol=1e-6):
        raise CheckFailed(
            "that is W2 (root mean square of the quantile differences); W1 is the mean absolute difference"
        )
    if np.isclose(got, abs(x.mean() - y.mean()), rtol=1e-6):
        raise CheckFailed("that is the difference of the means: W1 compares whole distributions, quantile by quantile")
    require(np.isclose(got, want, rtol=1e-6), f"W1 should be {want:.4f} for these samples, got {got:.4f}")
    shift = as_float(call(answer, x.copy(), x + 0.3, what="wasserstein_1d(x, x + 0.3)"), "wasserstein_1d(x, x + 0.3)")
    require(np.isclose(shift, 0.3, rtol=1e-6), f"moving every event by 0.3 should cost exactly 0.3, got {shift:.4f}")
    shuffled = rng.permutation(x)
    same = as_float(call(answer, x.copy(), shuffled, what="wasserstein_1d(x, shuffled x)"), "W1 of a shuffled copy")
    require(abs(same) < 1e-9, f"a sample and a shuffled copy of it are the same distribution: W1 = 0, got {same:.4g}")


def generator_loss(answer, seed: int = 0) -> None:
    """``answer(d_fake_logits)`` returns the non-saturating generator loss -mean log D(G(z)) (a scalar tensor)."""
    rng = check_rng(seed)
    logits = torch.tensor(rng.normal(-1.0, 2.0, 64), dtype=torch.float32, requires_grad=True)
    out = call(answer, logits, what="generator_loss(d_fake_logits)")
    require(isinstance(out, torch.Tensor), f"return a torch tensor (so that it can be differentiated), got {type(out)}")
    got = as_float(out, "the generator loss")
    sp = torch.nn.functional.softplus
    with torch.no_grad():
        want, saturating, flipped = sp(-logits).mean().item(), -sp(logits).mean().item(), sp(logits).mean().item()
    if math.isclose(got, saturating, rel_tol=1e-4):
        raise CheckFailed(
            "that is the saturating loss mean log(1 - D(G(z))): its gradient vanishes when D rejects the fakes; "
            "minimise -mean log D(G(z)) instead"
        )
    if math.isclose(got, flipped, rel_tol=1e-4):
        raise CheckFailed(
            "you labelled the fakes 0, as the discriminator does; the generator wants its events called real (label 1)"
        )
    if math.isclose(got, sp(-logits).sum().item(), rel_tol=1e-4):
        raise CheckFailed("take the mean over the batch, not the sum")
    require(math.isclose(got, want, rel_tol=1e-4), f"expected -mean log sigmoid(logit) = {want:.4f}, got {got:.4f}")
    require(out.requires_grad, "the loss carries no gradient: compute it with torch operations on the logits")
    (grad,) = torch.autograd.grad(out, logits)
    want_grad = -torch.sigmoid(-logits.detach()) / len(logits)
    require(torch.allclose(grad, want_grad, atol=1e-6), "the gradient of your loss with respect to the logits is wrong")
    extreme = torch.tensor([-120.0, 0.0, 30.0])
    value = as_float(
        call(answer, extreme, what="generator_loss on logits (-120, 0, 30)"), "the loss at logit -120", finite=False
    )
    require(
        math.isfinite(value),
        f"the loss is {value} for a logit of -120: sigmoid underflows to 0 there and log(0) = -inf; "
        "use torch.nn.functional.softplus(-logits) (= -log sigmoid) or F.logsigmoid",
    )
    require(
        math.isclose(value, sp(-extreme).mean().item(), rel_tol=1e-4),
        f"for the logits (-120, 0, 30) the loss should be {sp(-extreme).mean().item():.4f}, got {value:.4f}",
    )


def reparameterize(answer, seed: int = 0) -> None:
    """``answer(mu, logvar)`` returns a draw from N(mu, exp(logvar)) through which gradients reach mu and logvar."""
    torch.manual_seed(check_seed(seed))
    n = 50_000
    mu = torch.full((n, 2), 1.5, requires_grad=True)
    logvar = torch.tensor([math.log(0.09), math.log(4.0)]).repeat(n, 1).requires_grad_(True)
    z = call(answer, mu, logvar, what="reparameterize(mu, logvar)")
    require(isinstance(z, torch.Tensor), f"return a torch tensor, got {type(z)}")
    require(tuple(z.shape) == (n, 2), f"z should have the shape of mu, (n, 2), got {tuple(z.shape)}")
    zs = as_numpy(z, "z")
    std = zs.std(axis=0)
    if np.allclose(std, [0.09, 4.0], rtol=0.05):
        raise CheckFailed("the spread is exp(logvar) = sigma^2: the standard deviation is exp(logvar / 2)")
    require(np.allclose(zs.mean(axis=0), 1.5, atol=0.05), f"the mean of z should be mu = 1.5, got {zs.mean(axis=0)}")
    require(
        np.allclose(std, [0.3, 2.0], rtol=0.05),
        f"the standard deviations should be exp(logvar / 2) = (0.3, 2.0), got {std.round(3)}",
    )
    require(
        z.requires_grad,
        "no gradient reaches mu and logvar: do not sample inside torch.no_grad() or with .sample(); write "
        "z = mu + sigma * eps with eps ~ N(0, 1)",
    )
    mu_grad, logvar_grad = torch.autograd.grad(z.sum(), [mu, logvar])
    require(torch.allclose(mu_grad, torch.ones_like(mu)), "dz/dmu should be 1: z = mu + sigma * eps")
    require(
        torch.allclose(logvar_grad, 0.5 * (z - mu).detach(), atol=1e-5),
        "dz/dlogvar should be sigma * eps / 2: scale standard normal noise by exp(logvar / 2)",
    )


def _elbo_inputs(rng: np.random.Generator, n: int = 20) -> dict[str, torch.Tensor]:
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return {
        "x": t(rng.normal(0, 1, (n, 3))),
        "x_mean": t(rng.normal(0, 1, (n, 3))),
        "log_sigma_x": t(rng.normal(-0.5, 0.3, 3)),
        "mu": t(rng.normal(0, 1, (n, 2))),
        "logvar": t(rng.normal(-1, 0.5, (n, 2))),
    }


def _elbo_parts(inp: dict[str, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    sigma = torch.exp(inp["log_sigma_x"])
    nll = (0.5 * ((inp["x"] - inp["x_mean"]) / sigma) ** 2 + inp["log_sigma_x"] + 0.5 * math.log(2 * math.pi)).sum(1)
    kl = 0.5 * (inp["mu"] ** 2 + torch.exp(inp["logvar"]) - inp["logvar"] - 1).sum(1)
    return nll.numpy(), kl.numpy()


def negative_elbo(answer, seed: int = 0) -> None:
    """``answer(x, x_mean, log_sigma_x, mu, logvar, beta)`` returns -ELBO per event, shape ``(n,)``:
    the Gaussian negative log-likelihood of x given the decoder (with its constants) plus beta times the KL term."""
    rng = check_rng(seed)
    inp = _elbo_inputs(rng)
    beta = 2.5
    out = call(answer, **{k: v.clone() for k, v in inp.items()}, beta=beta, what="negative_elbo(...)")
    if len(tuple(out.shape) if hasattr(out, "shape") else np.shape(out)) == 0:
        raise CheckFailed("return one value per event, shape (n,), not the batch mean")
    got = as_numpy(out, "negative_elbo(...)", (20,))
    nll, kl = _elbo_parts(inp)
    want = nll + beta * kl
    if np.allclose(got, nll - beta * kl, rtol=1e-4):
        raise CheckFailed("the KL term has the wrong sign: -ELBO = reconstruction NLL + beta * KL (the KL is a cost)")
    if np.allclose(got, nll + kl, rtol=1e-4):
        raise CheckFailed("multiply the KL term by beta")
    if np.allclose(got, want - 1.5 * math.log(2 * math.pi), rtol=1e-4):
        raise CheckFailed(
            "you dropped the 1/2 log(2 pi) of each feature: it does not change the gradients, but without it the "
            "ELBO is no longer a bound on log p(x), which we compare with the flows' exact likelihood"
        )
    squares = ((inp["x"] - inp["x_mean"]) ** 2).numpy()
    if any(np.allclose(got, r + beta * kl, rtol=1e-4) for r in (squares.mean(1), squares.sum(1))):
        raise CheckFailed(
            "the reconstruction term is the squared error; it should be the Gaussian negative log-likelihood with "
            "the decoder's width: sum over features of (x - x_mean)^2 / (2 sigma^2) + log sigma + log(2 pi)/2"
        )
    kl_std_as_var = 0.5 * (inp["mu"] ** 2 + torch.exp(2 * inp["logvar"]) - 2 * inp["logvar"] - 1).sum(1).numpy()
    if np.allclose(got, nll + beta * kl_std_as_var, rtol=1e-4):
        raise CheckFailed("logvar is log sigma^2, not log sigma: sigma^2 = exp(logvar)")
    require(
        np.allclose(got, want, rtol=1e-4, atol=1e-4),
        "expected sum_features [ (x - x_mean)^2 / (2 sigma^2) + log sigma + log(2 pi)/2 ] "
        "+ beta * 1/2 sum_latent (mu^2 + exp(logvar) - logvar - 1), summed per event",
    )
    zero_kl = {**inp, "mu": torch.zeros(20, 2), "logvar": torch.zeros(20, 2)}
    got0 = as_numpy(call(answer, **zero_kl, beta=beta, what="negative_elbo with q = prior"), "negative_elbo", (20,))
    require(np.allclose(got0, _elbo_parts(zero_kl)[0], rtol=1e-4), "when q(z|x) is the prior the KL term must be 0")

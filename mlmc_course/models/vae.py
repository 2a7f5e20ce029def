"""A variational autoencoder (Kingma & Welling, arXiv:1312.6114) with a Gaussian decoder and a beta knob.

The encoder gives a Gaussian q(z | x) = N(mu(x), diag sigma^2(x)); the decoder a Gaussian p(x | z) with mean
``decode(z)`` and a learned width per feature, ``sigma_x``. Training maximises the evidence lower bound

    log p(x) >= ELBO = E_q[log p(x | z)] - KL(q(z | x) || N(0, 1)) ,

i.e. minimises ``-ELBO = reconstruction NLL + beta * KL`` (beta = 1 is the true bound; beta > 1 pulls the latent
codes towards the prior, beta < 1 favours reconstruction: the beta-VAE of Higgins et al., ICLR 2017). The
expectation is estimated with one sample ``z = mu + sigma * eps`` (the reparameterisation trick), so gradients reach
the encoder.

Sampling draws ``z ~ N(0, 1)`` and then ``x ~ p(x | z)``. The decoder noise is part of the model whose ELBO was
trained; ``noise=False`` returns the decoder means only, a different model from the one the ELBO describes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from mlmc_course.models.layers import mlp
from mlmc_course.models.tensors import context_tensor, features_tensor, model_device
from mlmc_course.validation import positive_int

Batch = tuple[torch.Tensor, ...]


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """A differentiable draw from N(mu, exp(logvar)): ``mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, 1)``."""
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, 1)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1), shape ``(n,)``."""
    return 0.5 * (mu**2 + torch.exp(logvar) - logvar - 1.0).sum(dim=1)


def gaussian_nll(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """-log N(x; mean, sigma^2) summed over features, shape ``(n,)``, including the 1/2 log(2 pi) constants."""
    return (0.5 * ((x - mean) / torch.exp(log_sigma)) ** 2 + log_sigma + 0.5 * math.log(2 * math.pi)).sum(dim=1)


class VAE(nn.Module):
    """Encoder, decoder and decoder width for events of ``n_features`` variables.

    Args:
        n_features: dimension of an event.
        n_latent: dimension of the latent space.
        n_context: number of conditioning variables given to encoder and decoder (0: unconditional).
        hidden: hidden widths of both networks.
        beta: weight of the KL term in the loss (1: the evidence lower bound).
    """

    def __init__(
        self,
        n_features: int,
        *,
        n_latent: int = 2,
        n_context: int = 0,
        hidden: Sequence[int] = (64, 64),
        beta: float = 1.0,
    ) -> None:
        super().__init__()
        if beta < 0 or not math.isfinite(beta):
            raise ValueError(f"beta must be a non-negative number, got {beta}")
        self.n_features = positive_int(n_features, "n_features")
        self.n_latent = positive_int(n_latent, "n_latent")
        self.n_context, self.beta = int(n_context), float(beta)
        self.encoder = mlp(self.n_features + self.n_context, 2 * self.n_latent, hidden)
        self.decoder = mlp(self.n_latent + self.n_context, self.n_features, hidden)
        self.log_sigma_x = nn.Parameter(torch.full((self.n_features,), math.log(0.5)))

    def encode(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu`` and ``logvar`` of q(z | x), each of shape ``(n, n_latent)``."""
        h = self.encoder(x if context is None else torch.cat([x, context], dim=1))
        return h[:, : self.n_latent], h[:, self.n_latent :]

    def decode(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder mean, shape ``(n, n_features)``."""
        return self.decoder(z if context is None else torch.cat([z, context], dim=1))

    def negative_elbo(self, x, context=None, *, beta: float | None = None) -> torch.Tensor:
        """``reconstruction NLL + beta * KL`` per event, shape ``(n,)`` (one latent sample per event)."""
        dev = model_device(self)
        x = features_tensor(x, self.n_features, device=dev)
        c = context_tensor(context, len(x), self.n_context, device=dev)
        mu, logvar = self.encode(x, c)
        x_mean = self.decode(reparameterize(mu, logvar), c)
        b = self.beta if beta is None else beta
        return gaussian_nll(x, x_mean, self.log_sigma_x) + b * kl_to_standard_normal(mu, logvar)

    @torch.no_grad()
    def log_prob(self, x, context=None, *, n_samples: int = 64) -> torch.Tensor:
        """Importance-sampled estimate of log p(x), shape ``(n,)`` (Burda et al., arXiv:1509.00519).

        log (1/K sum_k p(x | z_k) p(z_k) / q(z_k | x)) with z_k ~ q(z | x): a lower estimate that tightens as
        ``n_samples`` grows, and for K = 1 the ELBO itself.
        """
        dev, k = model_device(self), positive_int(n_samples, "n_samples")
        x = features_tensor(x, self.n_features, device=dev)
        c = context_tensor(context, len(x), self.n_context, device=dev)
        mu, logvar = self.encode(x, c)
        std = torch.exp(0.5 * logvar)
        z = mu + std * torch.randn(k, *mu.shape, device=dev)  # (K, n, n_latent)
        flat = z.reshape(-1, self.n_latent)
        c_rep = None if c is None else c.repeat(k, 1)
        x_rep = x.repeat(k, 1)
        log_px_z = -gaussian_nll(x_rep, self.decode(flat, c_rep), self.log_sigma_x).reshape(k, -1)
        log_pz = (-0.5 * z**2 - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_qz = (-0.5 * ((z - mu) / std) ** 2 - torch.log(std) - 0.5 * math.log(2 * math.pi)).sum(-1)
        return torch.logsumexp(log_px_z + log_pz - log_qz, dim=0) - math.log(k)

    @torch.no_grad()
    def sample(self, n: int, context=None, *, noise: bool = True) -> torch.Tensor:
        """``n`` events, shape ``(n, n_features)``: z ~ N(0, 1), then x ~ N(decode(z), sigma_x^2) (or the mean only
        when ``noise`` is False)."""
        n, dev = positive_int(n, "n"), model_device(self)
        c = context_tensor(context, n, self.n_context, device=dev)
        mean = self.decode(torch.randn(n, self.n_latent, device=dev), c)
        return mean + torch.exp(self.log_sigma_x) * torch.randn_like(mean) if noise else mean


def vae_loss(model: VAE, batch: Batch) -> torch.Tensor:
    """Mean ``-ELBO`` (with the model's beta) of a batch ``(x,)`` or ``(x, context)``: the loss for ``fit``."""
    return model.negative_elbo(batch[0], batch[1] if len(batch) > 1 else None).mean()

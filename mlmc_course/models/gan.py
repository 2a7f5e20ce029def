"""A generative adversarial network (Goodfellow et al., arXiv:1406.2661) for tabular events.

A generator ``G`` maps Gaussian noise ``z`` (and an optional condition ``c``) to events; a discriminator ``D`` returns
the logit of the probability that an event is real. They play a two-player game: ``D`` minimises the binary
cross-entropy of real (label 1) against generated (label 0) events,

    L_D = -E_x log D(x) - E_z log(1 - D(G(z))) ,

and ``G`` tries to fool it. Minimising ``E_z log(1 - D(G(z)))`` (the original, *saturating* loss) gives vanishing
gradients early in training, when ``D`` easily rejects the fakes; the *non-saturating* loss ``-E_z log D(G(z))`` has
the same fixed point and strong gradients there, and is what everyone uses.

Mode collapse: nothing in the game forces ``G`` to cover every mode of the data. If ``G`` puts all its samples where
``D`` is currently fooled, ``D`` adapts, ``G`` hops to another spot, and the pair can cycle without ever covering
the whole distribution. Watch the fraction of samples in each mode (and the two-sample metrics), not only the loss.

The GAN trains with its own two-step update (:func:`train_gan`, built on the shared
:func:`~mlmc_course.training.iterate_minibatches`), because ``fit`` has one player.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from mlmc_course.models.layers import mlp
from mlmc_course.models.tensors import context_tensor, features_tensor, model_device
from mlmc_course.training import iterate_minibatches
from mlmc_course.validation import positive_int

GeneratorLoss = Literal["non_saturating", "saturating"]


class GAN(nn.Module):
    """Generator and discriminator for events of ``n_features`` variables (optionally conditioned on ``n_context``).

    Args:
        n_features: dimension of an event.
        n_latent: dimension of the Gaussian noise fed to the generator.
        n_context: number of conditioning variables, given to both networks (0: unconditional).
        hidden: hidden widths of both networks.
    """

    def __init__(
        self, n_features: int, *, n_latent: int = 8, n_context: int = 0, hidden: Sequence[int] = (64, 64)
    ) -> None:
        super().__init__()
        self.n_features = positive_int(n_features, "n_features")
        self.n_latent = positive_int(n_latent, "n_latent")
        self.n_context = int(n_context)
        self.generator = mlp(self.n_latent + self.n_context, self.n_features, hidden, activation=nn.LeakyReLU)
        self.discriminator = mlp(self.n_features + self.n_context, 1, hidden, activation=nn.LeakyReLU)

    def generate(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Events ``G(z, c)``, shape ``(n, n_features)``, from noise of shape ``(n, n_latent)`` (differentiable)."""
        return self.generator(z if context is None else torch.cat([z, context], dim=1))

    def discriminate(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of ``D(x, c)``, shape ``(n,)``: large for events the discriminator believes are real."""
        return self.discriminator(x if context is None else torch.cat([x, context], dim=1)).squeeze(1)

    @torch.no_grad()
    def sample(self, n: int, context=None) -> torch.Tensor:
        """``n`` generated events, shape ``(n, n_features)``."""
        n, dev = positive_int(n, "n"), model_device(self)
        c = context_tensor(context, n, self.n_context, device=dev)
        return self.generate(torch.randn(n, self.n_latent, device=dev), c)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with real events labelled 1 and generated ones 0 (mean over both batches)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: GeneratorLoss = "non_saturating") -> torch.Tensor:
    """The generator's loss from the discriminator's logits on generated events.

    ``"non_saturating"``: -log D(G(z)) = softplus(-logit); ``"saturating"``: log(1 - D(G(z))) = -softplus(logit).
    """
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"kind must be 'non_saturating' or 'saturating', got {kind!r}")


@dataclass
class GANHistory:
    """Per-epoch means: the two losses and the discriminator's mean output on real and on generated events."""

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    d_real: list[float] = field(default_factory=list)
    d_fake: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[float]]:
        """The loss curves in the form :func:`mlmc_course.plotting.loss_plot` takes."""
        return {"discriminator": self.d_loss, "generator": self.g_loss}


def train_gan(
    gan: GAN,
    x,
    context=None,
    *,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.5, 0.999),
    loss: GeneratorLoss = "non_saturating",
    seed: int = 0,
    progress: bool = True,
    desc: str = "GAN",
) -> GANHistory:
    """Train ``gan`` in place by alternating one discriminator and one generator step per mini-batch.

    Args:
        gan: the model.
        x: training events, shape ``(n, n_features)`` (array or tensor).
        context: their conditions, shape ``(n, n_context)``, for a conditional GAN.
        epochs, batch_size, lr: the usual knobs (Adam for both players, with ``betas``).
        loss: the generator loss, ``"non_saturating"`` (default) or ``"saturating"``.
        seed: seeds the shuffling and the noise.
        progress: show a tqdm progress bar.
    """
    from tqdm.auto import tqdm

    epochs, dev = positive_int(epochs, "epochs"), model_device(gan)
    if lr <= 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr}")
    generator_loss(torch.zeros(1), loss)  # fail early on an unknown loss name
    data = features_tensor(x, gan.n_features, device=dev)
    c = context_tensor(context, len(data), gan.n_context, device=dev)  # None for an unconditional GAN
    tensors = [data] if c is None else [data, c]
    gen = torch.Generator().manual_seed(seed)
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=lr, betas=betas)
    history = GANHistory()
    gan.train()
    for _ in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
        sums, count = torch.zeros(4), 0
        for batch in iterate_minibatches(tensors, batch_size, generator=gen):
            real = batch[0]
            c = batch[1] if len(batch) > 1 else None
            z = torch.randn(len(real), gan.n_latent, generator=gen).to(dev)
            fake = gan.generate(z, c)
            real_logits, fake_logits = gan.discriminate(real, c), gan.discriminate(fake.detach(), c)
            d_loss = discriminator_loss(real_logits, fake_logits)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            g_loss = generator_loss(gan.discriminate(fake, c), loss)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
                raise FloatingPointError("a GAN loss became NaN or infinite; lower the learning rate")
            with torch.no_grad():
                stats = [d_loss, g_loss, torch.sigmoid(real_logits).mean(), torch.sigmoid(fake_logits).mean()]
                sums += torch.stack([s.detach().cpu() for s in stats]) * len(real)
            count += len(real)
        d_l, g_l, d_r, d_f = (sums / count).tolist()
        history.d_loss.append(d_l)
        history.g_loss.append(g_l)
        history.d_real.append(d_r)
        history.d_fake.append(d_f)
    gan.eval()
    return history

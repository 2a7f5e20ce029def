"""Building blocks shared by the models of several lessons: a fully connected network and a feature standardisation
that is saved with its model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mlmc_course.validation import as_array, positive_int


def mlp(n_in: int, n_out: int, hidden: Sequence[int] = (64, 64), *, activation=torch.nn.ReLU, dropout: float = 0.0):
    """A fully connected network ``n_in -> hidden... -> n_out`` with optional dropout after each hidden layer."""
    positive_int(n_in, "n_in")
    positive_int(n_out, "n_out")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
    layers: list[torch.nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, positive_int(h, "hidden width")), activation()]
        if dropout > 0:
            layers.append(torch.nn.Dropout(dropout))
        width = h
    layers.append(torch.nn.Linear(width, n_out))
    return torch.nn.Sequential(*layers)


class Standardise(torch.nn.Module):
    """``(x - mean) / std`` per feature, with ``mean`` and ``std`` buffers: they travel with the model's
    ``state_dict`` (saved, loaded and moved to its device with it), so a trained model takes raw inputs.

    Build it from the training inputs with :meth:`fit_to` (or pass ``mean`` and ``std``, shape ``(n_features,)``);
    ``inverse`` undoes it. Features whose spread is below ``min_std`` are scaled by ``min_std`` instead.
    """

    def __init__(self, mean, std, *, min_std: float = 1e-6) -> None:
        super().__init__()
        mean = as_array(mean, "mean", ndim=1)
        std = as_array(std, "std", shape=(len(mean),))
        if np.any(std < 0):
            raise ValueError("std must not be negative")
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(np.maximum(std, min_std), dtype=torch.float32))

    @classmethod
    def fit_to(cls, x, *, min_std: float = 1e-6) -> Standardise:
        """The standardisation of the training inputs ``x``, shape ``(n, n_features)``."""
        x = as_array(x, "x", ndim=2)
        if len(x) < 2:
            raise ValueError(f"need at least two events to estimate a spread, got {len(x)}")
        return cls(x.mean(axis=0), x.std(axis=0), min_std=min_std)

    @property
    def n_features(self) -> int:
        return len(self.mean)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Raw features from standardised ones."""
        return z * self.std + self.mean

"""A generative surrogate of the toy calorimeter of :mod:`mlmc_course.data.calo` (lesson 12)."""

from __future__ import annotations

import numpy as np
import torch

from mlmc_course.data.calo import Geometry, Showers, cells_from_low_level, low_level_features
from mlmc_course.models.flows import conditional_flow
from mlmc_course.models.layers import Standardise
from mlmc_course.validation import as_array


class ShowerSurrogate(torch.nn.Module):
    """A conditional spline flow for the calorimeter cells given the incident energy.

    The flow (:func:`mlmc_course.models.flows.conditional_flow`) models the :func:`low_level_features` of the cells
    (``asinh``-compressed energy fractions), standardised with the training sample's mean and spread; its context is
    the standardised ``log E``. The standardisation is a :class:`~mlmc_course.models.layers.Standardise` submodule,
    so it is saved and loaded with the flow. ``sample(energy, temperature=...)`` scales the Gaussian noise by
    ``temperature``: below 1 the showers come out "too narrow" (too little shower-to-shower variation), the
    deliberately bad surrogate of lesson 12.

    Train with the course loop: ``fit(model.flow, nll_loss, model.training_tensors(showers))`` (move the tensors to
    the flow's device first when it is not the CPU).
    """

    def __init__(self, geometry: Geometry | None = None, *, n_layers: int = 4, hidden: int = 64, n_bins: int = 8):
        super().__init__()
        self.geometry = geometry or Geometry()
        n_cells = self.geometry.n_layers * self.geometry.n_rings
        self.flow = conditional_flow(n_cells, 1, n_layers=n_layers, hidden=hidden, n_bins=n_bins, tail_bound=5.0)
        self.scaler = Standardise(np.zeros(1 + n_cells), np.ones(1 + n_cells))  # fixed by training_tensors
        self.register_buffer("fitted_flag", torch.zeros((), dtype=torch.bool))

    @property
    def fitted(self) -> bool:
        """Whether :meth:`training_tensors` has fixed the standardisation."""
        return bool(self.fitted_flag)

    def standardise(self, showers: Showers) -> tuple[torch.Tensor, torch.Tensor]:
        """``(cells, context)`` float32 tensors (on the CPU) of standardised features, e.g. for a validation set."""
        if not self.fitted:
            raise RuntimeError("call training_tensors(showers) first: it fixes the standardisation")
        if showers.geometry != self.geometry:
            raise ValueError("the showers' geometry differs from the surrogate's")
        x = torch.as_tensor(low_level_features(showers), dtype=torch.float32)
        with torch.no_grad():
            z = self.scaler(x.to(self.scaler.mean.device)).cpu()
        return z[:, 1:], z[:, :1]

    def training_tensors(self, showers: Showers) -> tuple[torch.Tensor, torch.Tensor]:
        """Fix the standardisation on ``showers`` and return their ``(cells, context)`` tensors (on the CPU)."""
        fitted = Standardise.fit_to(low_level_features(showers))
        self.scaler.mean.copy_(fitted.mean)
        self.scaler.std.copy_(fitted.std)
        self.fitted_flag.fill_(True)
        return self.standardise(showers)

    @torch.no_grad()
    def sample(self, energy, *, temperature: float = 1.0) -> Showers:
        """One shower per incident energy (GeV, shape ``(n,)``); ``temperature`` scales the flow's noise."""
        if not self.fitted:
            raise RuntimeError("call training_tensors(showers) and train the flow before sampling")
        if not 0 < temperature <= 2:
            raise ValueError(f"temperature must lie in (0, 2], got {temperature}")
        energy = as_array(energy, "energy", ndim=1)
        if np.any(energy <= 0):
            raise ValueError("incident energies must be positive (GeV)")
        device = next(self.flow.parameters()).device
        mean, std = self.scaler.mean.double().cpu().numpy(), self.scaler.std.double().cpu().numpy()
        log_e = (np.log(energy) - mean[0]) / std[0]
        context = torch.as_tensor(log_e[:, None], dtype=torch.float32, device=device)
        noise = temperature * torch.randn(len(energy), self.flow.n_features, device=device)
        # nflows: the noise-to-data direction of the transform is its inverse
        cells, _ = self.flow.flow._transform.inverse(noise, context=context)
        features = np.column_stack([log_e, cells.cpu().double().numpy()]) * std + mean
        return cells_from_low_level(features, self.geometry)

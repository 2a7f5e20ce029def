"""A toy sampling calorimeter for electromagnetic showers: the "simulation" that lesson 12's surrogates learn.

Geometry: ``n_layers`` longitudinal layers (edges in radiation lengths X0) times ``n_rings`` concentric rings
around the shower axis (edges in Molière radii R_M), like the (z, r) binning of the CaloChallenge data sets
(arXiv:2410.21611) without the angular bins. A shower of incident energy E (GeV, log-uniform in [1, 100]) is made
in four steps, each a textbook parameterisation:

1. **Longitudinal profile** (Longo 1975; Grindhammer & Peters, hep-ex/0001020): the deposited energy per depth
   ``t`` (X0) follows a Gamma density ``dE/dt = E b (b t)^(alpha - 1) e^(-b t) / Gamma(alpha)`` with ``b = 0.5`` and
   shower maximum ``t_max = (alpha - 1)/b = ln(E / E_c) - 0.5`` (electrons; ``E_c`` = 8 MeV, a lead/tungsten
   absorber). ``t_max`` fluctuates from shower to shower by 10 % (log-normal), which correlates all layers.
2. **Lateral profile**: in each layer the energy spreads as ``f(r) = 2 r R^2 / (r^2 + R^2)^2`` (fraction inside r:
   ``r^2 / (r^2 + R^2)``) with a core radius ``R`` (R_M) that grows with depth, ``R = 0.1 + 0.35 t / t_max``, and a
   per-shower 10 % jitter. Energy beyond the last ring or layer leaks out.
3. **Sampling fluctuations**: the active layers see a Gamma-distributed share of each cell's energy with variance
   ``E_cell * 0.01 GeV``, i.e. a stochastic resolution of about 10 %/sqrt(E/GeV) on the total.
4. **Electronic noise**: Gaussian, 5 MeV per cell (so cells can read slightly negative, as before zero suppression).

Cell energies are calibrated (GeV, the sampling fraction divided out). Everything is seeded by the generator passed
in; :func:`simulate_showers` is pure NumPy and vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from mlmc_course.validation import as_array, positive_int

CRITICAL_ENERGY = 0.008  # GeV
B_LONG = 0.5  # longitudinal Gamma rate, 1/X0
SAMPLING_QUANTUM = 0.01  # GeV: variance of a cell's visible energy = E_cell * SAMPLING_QUANTUM (10 %/sqrt(E))
NOISE = 0.005  # GeV per cell
E_RANGE = (1.0, 100.0)  # GeV


@dataclass(frozen=True)
class Geometry:
    """Layer edges in radiation lengths and ring edges in Molière radii (both start at 0 and increase)."""

    layer_edges: tuple[float, ...] = (0.0, 3.0, 6.0, 10.0, 15.0, 24.0)
    ring_edges: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.5)

    def __post_init__(self) -> None:
        for name in ("layer_edges", "ring_edges"):
            e = np.asarray(getattr(self, name), dtype=float)
            if e.ndim != 1 or len(e) < 2 or e[0] != 0 or np.any(np.diff(e) <= 0):
                raise ValueError(f"{name} must start at 0 and increase, got {getattr(self, name)}")

    @property
    def n_layers(self) -> int:
        return len(self.layer_edges) - 1

    @property
    def n_rings(self) -> int:
        return len(self.ring_edges) - 1

    @property
    def ring_centres(self) -> np.ndarray:
        """Radius of each ring's middle (R_M), shape ``(n_rings,)``."""
        e = np.asarray(self.ring_edges)
        return 0.5 * (e[1:] + e[:-1])


@dataclass(frozen=True)
class Showers:
    """Calorimeter showers: ``energy`` ``(n,)`` (incident, GeV) and ``cells`` ``(n, n_layers, n_rings)`` (GeV)."""

    energy: np.ndarray
    cells: np.ndarray
    geometry: Geometry = field(default_factory=Geometry)

    def __post_init__(self) -> None:
        e = as_array(self.energy, "energy", ndim=1)
        c = as_array(self.cells, "cells", shape=(len(e), self.geometry.n_layers, self.geometry.n_rings))
        if np.any(e <= 0):
            raise ValueError("incident energies must be positive (GeV)")
        object.__setattr__(self, "energy", e)
        object.__setattr__(self, "cells", c)

    def __len__(self) -> int:
        return len(self.energy)


def simulate_showers(n: int, rng: np.random.Generator, *, energy=None, geometry: Geometry | None = None) -> Showers:
    """Simulate ``n`` electron showers.

    Args:
        n: number of showers.
        rng: the generator every random number comes from.
        energy: incident energies (GeV), a number or shape ``(n,)``; ``None`` draws them log-uniformly in
            :data:`E_RANGE`.
        geometry: the cell layout (default :class:`Geometry`).
    """
    n = positive_int(n, "n")
    geometry = geometry or Geometry()
    if energy is None:
        energy = np.exp(rng.uniform(np.log(E_RANGE[0]), np.log(E_RANGE[1]), n))
    energy = as_array(energy, "energy")
    if energy.shape not in ((), (n,)):
        raise ValueError(f"energy must be a number or have shape ({n},), got shape {energy.shape}")
    energy = np.broadcast_to(energy, (n,)).astype(float)
    if np.any(energy <= 10 * CRITICAL_ENERGY):
        raise ValueError(f"incident energies must be well above the critical energy ({CRITICAL_ENERGY} GeV)")
    # 1. longitudinal: fraction of the energy deposited in each layer
    t_max = (np.log(energy / CRITICAL_ENERGY) - 0.5) * np.exp(0.1 * rng.standard_normal(n))
    alpha = 1.0 + B_LONG * t_max
    depth = np.asarray(geometry.layer_edges)
    cdf = special.gammainc(alpha[:, None], B_LONG * depth[None, :])
    layer_fraction = np.diff(cdf, axis=1)  # (n, n_layers)
    # 2. lateral: fraction of a layer's energy in each ring, with a core radius growing with depth
    centre = 0.5 * (depth[1:] + depth[:-1])
    core = (0.1 + 0.35 * centre[None, :] / t_max[:, None]) * np.exp(0.1 * rng.standard_normal((n, 1)))
    r2 = np.asarray(geometry.ring_edges) ** 2
    inside = r2[None, None, :] / (r2[None, None, :] + core[:, :, None] ** 2)
    ring_fraction = np.diff(inside, axis=2)  # (n, n_layers, n_rings)
    mean_cells = energy[:, None, None] * layer_fraction[:, :, None] * ring_fraction
    # 3. sampling fluctuations: Gamma with mean E_cell and variance E_cell * SAMPLING_QUANTUM
    shape = np.maximum(mean_cells / SAMPLING_QUANTUM, 1e-12)
    cells = rng.gamma(shape, SAMPLING_QUANTUM)
    # 4. electronic noise
    cells = cells + NOISE * rng.standard_normal(cells.shape)
    return Showers(energy=energy, cells=cells, geometry=geometry)


def total_energy(cells) -> np.ndarray:
    """Energy summed over all cells (GeV), shape ``(n,)``, for ``cells`` of shape ``(n, n_layers, n_rings)``."""
    return as_array(cells, "cells", ndim=3).sum(axis=(1, 2))


def layer_energies(cells) -> np.ndarray:
    """Energy per layer (GeV), shape ``(n, n_layers)``."""
    return as_array(cells, "cells", ndim=3).sum(axis=2)


def shower_width(cells, geometry: Geometry | None = None) -> np.ndarray:
    """Energy-weighted mean radius per layer (R_M), shape ``(n, n_layers)``, from ring centres.

    Cells below zero (noise) count as zero; a layer without energy gets width 0.
    """
    cells = as_array(cells, "cells", ndim=3)
    geometry = geometry or Geometry()
    if cells.shape[1:] != (geometry.n_layers, geometry.n_rings):
        raise ValueError(f"cells must have shape (n, {geometry.n_layers}, {geometry.n_rings}), got {cells.shape}")
    w = np.clip(cells, 0.0, None)
    total = w.sum(axis=2)
    return np.where(total > 0, (w * geometry.ring_centres).sum(axis=2) / np.where(total > 0, total, 1.0), 0.0)


def high_level_features(showers: Showers) -> np.ndarray:
    """The CaloChallenge's "high-level" view: log incident energy, E_total/E_inc, layer fractions of the incident
    energy and the per-layer widths, shape ``(n, 2 + 2 n_layers)``."""
    e = showers.energy
    return np.column_stack(
        [
            np.log(e),
            total_energy(showers.cells) / e,
            layer_energies(showers.cells) / e[:, None],
            shower_width(showers.cells, showers.geometry),
        ]
    )


def low_level_features(showers: Showers, scale: float = 0.01) -> np.ndarray:
    """Every cell as a fraction of the incident energy, compressed by ``asinh(x / scale)``, plus log E_inc:
    shape ``(n, 1 + n_layers n_rings)``. ``asinh`` is linear near zero (noise, also negative) and logarithmic for
    large values, so a classifier or a flow sees both the core and the halo."""
    e = showers.energy
    fractions = showers.cells.reshape(len(e), -1) / e[:, None]
    return np.column_stack([np.log(e), np.arcsinh(fractions / scale)])


def cells_from_low_level(features, geometry: Geometry | None = None, scale: float = 0.01) -> Showers:
    """Invert :func:`low_level_features`: showers from features of shape ``(n, 1 + n_layers n_rings)``."""
    geometry = geometry or Geometry()
    f = as_array(features, "features", shape=(None, 1 + geometry.n_layers * geometry.n_rings))
    e = np.exp(f[:, 0])
    cells = np.sinh(f[:, 1:]) * scale * e[:, None]
    return Showers(energy=e, cells=cells.reshape(len(e), geometry.n_layers, geometry.n_rings), geometry=geometry)

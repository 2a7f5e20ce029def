"""A sample buffer for buffered training (MadNIS, arXiv:2311.01548).

Each integrand call is expensive, so the points of recent online steps are kept together with the density ``q`` that
drew them. Extra optimisation steps on these stored points reuse the integrand values; the losses weight them with
``g/q`` (see :mod:`mlmc_course.nis.losses`), so the gradients stay those of the current flow.
"""

from __future__ import annotations

import torch

from mlmc_course.validation import positive_int


class SampleBuffer:
    """First-in-first-out storage of up to ``capacity`` samples, each a set of named tensors sharing dimension 0."""

    def __init__(self, capacity: int):
        self.capacity = positive_int(capacity, "capacity")
        self._data: dict[str, torch.Tensor] = {}

    @property
    def size(self) -> int:
        """Number of stored samples."""
        return 0 if not self._data else len(next(iter(self._data.values())))

    def store(self, **fields: torch.Tensor) -> None:
        """Append a batch (fields of equal length, the same names each time); drop the oldest beyond capacity."""
        lengths = {len(v) for v in fields.values()}
        if len(lengths) != 1:
            raise ValueError(f"all fields must have the same length, got { ({k: len(v) for k, v in fields.items()}) }")
        if self._data and set(fields) != set(self._data):
            raise ValueError(f"fields must be {sorted(self._data)}, got {sorted(fields)}")
        for key, value in fields.items():
            value = value.detach()
            joined = value if key not in self._data else torch.cat([self._data[key], value])
            self._data[key] = joined[-self.capacity :]

    def sample(self, n: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """``n`` stored samples drawn uniformly with replacement."""
        if self.size == 0:
            raise ValueError("the buffer is empty; store samples before drawing from it")
        device = next(iter(self._data.values())).device
        idx = torch.randint(self.size, (positive_int(n, "n"),), generator=generator, device=device)
        return {k: v[idx] for k, v in self._data.items()}

    def filter(self, keep: torch.Tensor) -> None:
        """Keep only the samples where the boolean ``keep`` (shape ``(size,)``) is True."""
        if keep.shape != (self.size,):
            raise ValueError(f"keep must have shape ({self.size},), got {tuple(keep.shape)}")
        self._data = {k: v[keep] for k, v in self._data.items()}

    def fields(self) -> dict[str, torch.Tensor]:
        """All stored samples (read-only view)."""
        return dict(self._data)

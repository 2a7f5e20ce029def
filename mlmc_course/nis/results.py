"""What an integration returns: the estimate with its error, and weighted samples."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from mlmc_course.nis.diagnostics import WeightDiagnostics, weight_diagnostics


@dataclass(frozen=True)
class IntegrationResult:
    """A Monte Carlo estimate of an integral.

    Attributes:
        value: the estimate, sum of the channel estimates.
        error: its standard error, ``sqrt(sum_i Var_i / N_i)``.
        n_calls: integrand calls spent on this estimate.
        channel_values, channel_errors, channel_calls: the same per channel (one entry for single-channel).
        diagnostics: tail diagnostics of the event weights (largest weight / mean, ESS, unweighting efficiency at
            0.1% overweight, Pareto k), when the result came from a weighted sample.
    """

    value: float
    error: float
    n_calls: int
    channel_values: tuple[float, ...]
    channel_errors: tuple[float, ...]
    channel_calls: tuple[int, ...]
    diagnostics: WeightDiagnostics | None = None

    @property
    def warning(self) -> str:
        """Why the quoted error cannot be trusted ('' when the weights look well behaved or were not kept)."""
        return self.diagnostics.warning() if self.diagnostics is not None else ""

    @property
    def rel_std(self) -> float:
        """Relative standard deviation per call, ``error * sqrt(n_calls) / |value|``: independent of n_calls."""
        return self.error * math.sqrt(self.n_calls) / abs(self.value) if self.value != 0 else math.inf

    def pull(self, truth: float) -> float:
        """``(value - truth) / error``: about N(0, 1) for an unbiased estimate with a correct error."""
        return (self.value - truth) / self.error if self.error > 0 else math.copysign(math.inf, self.value - truth)

    def __str__(self) -> str:
        text = f"{self.value:.6g} +- {self.error:.2g} ({self.n_calls:,} calls, rel. std {self.rel_std:.3g})"
        if self.diagnostics is not None:
            text += f"\n  {self.diagnostics}"
        if self.warning:
            text += f"\n  WARNING: {self.warning}"
        return text

    def __repr__(self) -> str:
        return f"IntegrationResult({self})"


def channel_result(a: torch.Tensor, channel: torch.Tensor, n_channels: int) -> IntegrationResult:
    """Combine per-sample channel weights ``a = alpha_i f / g_i`` (float64, shape ``(n,)``) into an estimate.

    ``I = sum_i mean_{k in i} a_k`` and ``Var = sum_i var_{k in i}(a) / N_i`` (sample variance, ddof = 1).
    """
    values, errors, calls = [], [], []
    for i in range(n_channels):
        ai = a[channel == i]
        n = len(ai)
        calls.append(n)
        values.append(float(ai.mean()) if n else 0.0)
        errors.append(float(ai.var() / n) ** 0.5 if n > 1 else (math.inf if n == 1 else 0.0))
    return IntegrationResult(
        value=sum(values),
        error=math.sqrt(sum(e**2 for e in errors)),
        n_calls=sum(calls),
        channel_values=tuple(values),
        channel_errors=tuple(errors),
        channel_calls=tuple(calls),
    )


@dataclass
class WeightedSample:
    """Weighted events from an importance sampler.

    Attributes:
        x: points, float64 of shape ``(n, dim)`` in ``[0, 1]^dim``.
        f: integrand values, shape ``(n,)``.
        weight: event weights ``(N / N_i) alpha_i f / g_i``, shape ``(n,)``; their mean estimates the integral and
            they are the weights to unweight.
        channel: the channel that drew each point, int64 of shape ``(n,)``.
        n_channels: number of channels.
    """

    x: torch.Tensor
    f: torch.Tensor
    weight: torch.Tensor
    channel: torch.Tensor
    n_channels: int

    def result(self) -> IntegrationResult:
        """The stratified estimate from these samples."""
        n = len(self.weight)
        counts = torch.bincount(self.channel, minlength=self.n_channels).to(self.weight.dtype)
        a = self.weight * counts[self.channel] / n
        result = channel_result(a, self.channel, self.n_channels)
        return replace(result, diagnostics=self.diagnostics())

    def diagnostics(self) -> WeightDiagnostics:
        """Tail diagnostics of the weights (see :mod:`~mlmc_course.nis.diagnostics`)."""
        return weight_diagnostics(self.weight)

"""Input handling shared by every generative model of the package: events and conditions as float32 tensors with
clear errors, the device of a model, and the standard normal log-density."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


def features_tensor(x, n_features: int, name: str = "x", *, device=None) -> torch.Tensor:
    """``x`` as a float32 tensor of shape ``(n, n_features)``, or a ValueError that says how to fix it.

    Accepts NumPy arrays, lists and tensors (kept on their device unless ``device`` is given); a 1-D input is read as
    ``n`` events of one feature when ``n_features == 1``.
    """
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise TypeError(f"{name} must hold numbers, got dtype {t.dtype}")
    t = t.to(torch.float32)
    if t.dim() == 1 and n_features == 1:
        t = t[:, None]
    if t.dim() != 2 or t.shape[1] != n_features:
        raise ValueError(
            f"{name} must have shape (n, {n_features}) (events x features), got {tuple(t.shape)}"
            + ("; add a feature axis with x[:, None]" if t.dim() == 1 else "")
        )
    if not torch.isfinite(t).all():
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} holds {bad} NaN or infinite value(s); remove or fix them first")
    return t.to(device) if device is not None else t


def context_tensor(context, n: int, n_context: int, *, device=None) -> torch.Tensor | None:
    """The condition for ``n`` events, shape ``(n, n_context)``, or ``None`` for an unconditional model.

    Args:
        context: ``None`` (only when ``n_context == 0``); one condition for all events, shape ``(n_context,)`` or
            ``(1, n_context)``; or one per event, shape ``(n, n_context)``.
        n: number of events.
        n_context: number of conditioning variables the model was built with.
    """
    if n_context == 0:
        if context is not None:
            raise ValueError("this model is unconditional (n_context=0); call it without context")
        return None
    if context is None:
        raise ValueError(f"this model is conditional: pass context of shape ({n}, {n_context}) or ({n_context},)")
    c = context if isinstance(context, torch.Tensor) else torch.as_tensor(np.asarray(context, dtype=np.float32))
    if c.dim() == 0:
        c = c.reshape(1, 1)
    elif c.dim() == 1:
        c = c[:, None] if n_context == 1 else c[None, :]
    c = features_tensor(c, n_context, "context")
    if c.shape[0] == 1 and n != 1:
        c = c.expand(n, n_context)
    if c.shape[0] != n:
        raise ValueError(f"context has {c.shape[0]} rows but there are {n} events; pass one row or one per event")
    return c.to(device) if device is not None else c


def model_device(module: nn.Module) -> torch.device:
    """The device of a model's first parameter (where its inputs must live)."""
    return next(module.parameters()).device


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, 1) summed over features: shape ``(n,)`` for ``z`` of shape ``(n, d)``."""
    return -0.5 * (z**2).sum(dim=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)

"""The one training loop that every torch lesson uses.

``fit`` runs mini-batch gradient descent on a loss ``loss_fn(model, batch) -> scalar tensor``, keeps the weights
with the best validation loss, and returns the loss history. Models with two players (GANs) call
:func:`iterate_minibatches` and write their own two-step update; everything else uses :func:`fit`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from mlmc_course.models.layers import mlp  # noqa: F401  (defined in models.layers; lessons import it from here too)
from mlmc_course.validation import positive_int

Batch = tuple[torch.Tensor, ...]


@dataclass
class History:
    """Per-epoch mean losses; ``best_epoch`` is 1-based (0 when there is no validation set)."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    best_epoch: int = 0

    def as_dict(self) -> dict[str, list[float]]:
        """The curves in the form :func:`mlmc_course.plotting.loss_plot` takes."""
        return {"train": self.train, "validation": self.val} if self.val else {"train": self.train}


def to_tensors(*arrays, device=None, dtype=torch.float32) -> Batch:
    """Turn arrays into tensors on ``device`` (float32 unless the array holds integers or booleans)."""
    out = []
    for a in arrays:
        t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
        if t.is_floating_point():
            t = t.to(dtype)
        out.append(t.to(device) if device is not None else t)
    return tuple(out)


def iterate_minibatches(
    tensors: Sequence[torch.Tensor], batch_size: int, *, shuffle: bool = True, generator: torch.Generator | None = None
) -> Iterator[Batch]:
    """Yield tuples of aligned mini-batches of ``tensors`` (all of the same first dimension)."""
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"all tensors must have the same length, got {[len(t) for t in tensors]}")
    batch_size = positive_int(batch_size, "batch_size")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    order = order.to(tensors[0].device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        yield tuple(t[idx] for t in tensors)


def _mean_loss(model, loss_fn, tensors, batch_size) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in iterate_minibatches(tensors, batch_size, shuffle=False):
            total += float(loss_fn(model, batch)) * len(batch[0])
            count += len(batch[0])
    return total / count


def fit(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module, Batch], torch.Tensor],
    train: Sequence[torch.Tensor],
    *,
    val: Sequence[torch.Tensor] | None = None,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    schedule: str = "constant",
    patience: int | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` with Adam (AdamW when ``weight_decay`` > 0) and return the loss history.

    Args:
        model: the network; it is trained in place and, when ``val`` is given, left with the weights of the
            epoch with the lowest validation loss.
        loss_fn: ``loss_fn(model, batch)`` returns the mean loss of a batch (a scalar tensor).
        train: tensors of equal first dimension, e.g. ``(x, y)``; move them to the model's device first.
        val: validation tensors in the same layout, or ``None``.
        epochs, batch_size, lr, weight_decay: the usual optimisation knobs.
        schedule: ``"constant"`` keeps ``lr``; ``"cosine"`` lowers it along half a cosine from ``lr`` to zero over
            ``epochs`` (one step per epoch), which lets a small network settle into a minimum instead of
            hopping around it at the end.
        patience: stop when the validation loss has not improved for this many epochs.
        seed: seeds the shuffling so that two runs with the same seed agree.
        progress: show a tqdm progress bar.
    """
    from tqdm.auto import tqdm

    epochs = positive_int(epochs, "epochs")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if lr <= 0 or not math.isfinite(lr):
        raise ValueError(f"lr must be a positive number, got {lr}")
    generator = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if weight_decay > 0:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if schedule == "cosine" else None
    history = History()
    best, best_state, since_best = math.inf, None, 0
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        total, count = 0.0, 0
        for batch in iterate_minibatches(train, batch_size, generator=generator):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"the loss became {loss.item()} in epoch {epoch + 1}; lower the learning rate or check "
                    "the inputs for NaN and very large values"
                )
            loss.backward()
            opt.step()
            total += loss.item() * len(batch[0])
            count += len(batch[0])
        history.train.append(total / count)
        if cosine is not None:
            cosine.step()
        if val is not None:
            v = _mean_loss(model, loss_fn, val, max(batch_size, 1024))
            history.val.append(v)
            if v < best:
                best, since_best, history.best_epoch = v, 0, epoch + 1
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
            bar.set_postfix(train=f"{history.train[-1]:.4g}", val=f"{v:.4g}")
            if patience is not None and since_best >= patience:
                break
        else:
            bar.set_postfix(train=f"{history.train[-1]:.4g}")
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

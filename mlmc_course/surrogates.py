"""Matrix-element surrogates for e+e- -> q qbar g, and unweighting with an exact correction.

Kinematics: the energy fractions ``x1, x2`` of quark and antiquark (``x_i = 2 E_i / sqrt(s)``, ``x3 = 2 - x1 - x2``
for the gluon) span the Dalitz triangle ``0 <= x1, x2 <= 1 <= x1 + x2``. The pair invariants over ``s`` are

    y13 = 1 - x2,   y23 = 1 - x1,   y12 = 1 - x3 = x1 + x2 - 1 ,

and a resolution cut ``y_ij > y_cut`` on all three (the JADE three-jet region) keeps the matrix element finite.

Every array of phase-space points has shape ``(n, 2)`` holding ``(x1, x2)``. Matrix elements are returned as the
normalised differential cross section ``(1 / sigma_0) d^2 sigma / dx1 dx2`` (dimensionless), so that their integral
over the resolved region is the three-jet fraction ``R_3``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from mlmc_course.config import threads
from mlmc_course.models.layers import mlp
from mlmc_course.training import History, fit, to_tensors
from mlmc_course.validation import as_array, positive_int

C_F = 4.0 / 3.0
ALPHA_S = 0.118
Y_CUT = 0.01

SurrogateKind = Literal["direct", "weighted", "ratio"]


def _check_y_cut(y_cut: float) -> float:
    if not 0.0 < y_cut < 1.0 / 3.0:
        raise ValueError(f"y_cut must lie in (0, 1/3) so that the three-jet region is not empty, got {y_cut}")
    return float(y_cut)


def _points(x, name: str = "x") -> np.ndarray:
    """Validate Dalitz points of shape (n, 2) strictly inside the triangle (away from its singular edges)."""
    arr = as_array(x, name, shape=(None, 2))
    x1, x2 = arr[:, 0], arr[:, 1]
    outside = (x1 < 0) | (x2 < 0) | (x1 >= 1) | (x2 >= 1) | (x1 + x2 < 1)
    if np.any(outside):
        i = int(np.argmax(outside))
        raise ValueError(
            f"{name} holds {int(outside.sum())} point(s) outside the Dalitz region 0 <= x1, x2 < 1 <= x1 + x2, "
            f"e.g. (x1, x2) = ({x1[i]:.4g}, {x2[i]:.4g}); the matrix element is singular at x1 = 1 or x2 = 1"
        )
    return arr


def pair_invariants(x) -> np.ndarray:
    """The scaled invariants ``(y12, y13, y23) = (x1 + x2 - 1, 1 - x2, 1 - x1)``, shape ``(n, 3)``."""
    arr = as_array(x, "x", shape=(None, 2))
    x1, x2 = arr[:, 0], arr[:, 1]
    return np.column_stack([x1 + x2 - 1.0, 1.0 - x2, 1.0 - x1])


def resolved(x, y_cut: float = Y_CUT) -> np.ndarray:
    """Boolean mask ``(n,)``: True where all three pairs are resolved, ``y_ij > y_cut``."""
    return np.all(pair_invariants(x) > _check_y_cut(y_cut), axis=1)


def me_qqg(x, alpha_s: float = ALPHA_S) -> np.ndarray:
    """Tree-level e+e- -> q qbar g: ``(alpha_s C_F / 2 pi) (x1^2 + x2^2) / ((1 - x1)(1 - x2))``, shape ``(n,)``."""
    arr = _points(x)
    x1, x2 = arr[:, 0], arr[:, 1]
    return alpha_s * C_F / (2 * math.pi) * (x1**2 + x2**2) / ((1 - x1) * (1 - x2))


def me_eikonal(x, alpha_s: float = ALPHA_S) -> np.ndarray:
    """Soft-gluon (eikonal) limit of :func:`me_qqg`: ``(alpha_s C_F / 2 pi) 2 / ((1 - x1)(1 - x2))``, shape ``(n,)``.

    It carries both singularities (soft: x1, x2 -> 1; collinear: one of them -> 1), so
    ``me_qqg / me_eikonal = (x1^2 + x2^2) / 2`` is smooth and bounded on the whole Dalitz triangle.
    """
    arr = _points(x)
    return alpha_s * C_F / (2 * math.pi) * 2.0 / ((1 - arr[:, 0]) * (1 - arr[:, 1]))


def three_jet_rate(y_cut: float = Y_CUT, alpha_s: float = ALPHA_S) -> float:
    """The exact integral of :func:`me_qqg` over the resolved region (the O(alpha_s) JADE three-jet fraction).

    ``R3 = (C_F alpha_s / 2 pi) [(3 - 6y) ln(y / (1 - 2y)) + 2 ln^2(y / (1 - y)) + 5/2 - 6y - 9y^2/2
    + 4 Li2(y / (1 - y)) - pi^2 / 3]`` with ``y = y_cut``.
    """
    from scipy.special import spence

    y = _check_y_cut(y_cut)
    li2 = float(spence(1.0 - y / (1.0 - y)))  # scipy's spence(z) is Li2(1 - z)
    bracket = (
        (3 - 6 * y) * math.log(y / (1 - 2 * y))
        + 2 * math.log(y / (1 - y)) ** 2
        + 2.5
        - 6 * y
        - 4.5 * y**2
        + 4 * li2
        - math.pi**2 / 3
    )
    return alpha_s * C_F / (2 * math.pi) * bracket


def resolved_area(y_cut: float = Y_CUT) -> float:
    """Area of the resolved region in the (x1, x2) plane: a right triangle with legs ``1 - 3 y_cut``."""
    return 0.5 * (1.0 - 3.0 * _check_y_cut(y_cut)) ** 2


def sample_resolved(n: int, rng: np.random.Generator, y_cut: float = Y_CUT) -> np.ndarray:
    """``n`` points drawn uniformly over the resolved region, shape ``(n, 2)``; each carries the weight
    ``resolved_area(y_cut) * |M|^2`` as a Monte Carlo estimate of the cross section."""
    n = positive_int(n, "n")
    y = _check_y_cut(y_cut)
    a = rng.uniform(size=(n, 2))
    flip = a.sum(axis=1) > 1.0
    np.subtract(1.0, a, out=a, where=flip[:, None])  # fold the unit square onto the triangle a1 + a2 <= 1
    # (1 - x1, 1 - x2) = (y23, y13) = y + (1 - 3y) a, so that y23 + y13 <= 1 - y; done in place to save memory
    a *= -(1.0 - 3.0 * y)
    a += 1.0 - y
    return a


def relative_error(pred, exact) -> np.ndarray:
    """``pred / exact - 1`` for positive exact values, shape ``(n,)``."""
    p = as_array(pred, "pred", ndim=1)
    e = as_array(exact, "exact", shape=(len(p),))
    if np.any(e <= 0):
        raise ValueError("exact must be positive to form a relative error")
    return p / e - 1.0


class MESurrogate(torch.nn.Module):
    """A network that predicts ``|M|^2`` from ``(x1, x2)``, shape ``(n, 2) -> (n,)``.

    The inputs are the logarithms of the singular invariants, ``ln(1 - x1)`` and ``ln(1 - x2)``, standardised.
    ``kind="ratio"`` learns ``ln(|M|^2 / |M|^2_eikonal)``, a smooth O(1) function (the k-factor trick): the output
    is the eikonal approximation times ``exp(net)``, positive by construction. ``kind="direct"`` and ``"weighted"``
    learn ``|M|^2`` itself (in units of ``scale``); they differ only in the training loss.
    """

    def __init__(self, kind: SurrogateKind, hidden: Sequence[int] = (64, 64), *, alpha_s: float = ALPHA_S):
        super().__init__()
        if kind not in ("direct", "weighted", "ratio"):
            raise ValueError(f"kind must be 'direct', 'weighted' or 'ratio', got {kind!r}")
        self.kind = kind
        self.prefactor = alpha_s * C_F / (2 * math.pi)
        self.net = mlp(2, 1, hidden, activation=torch.nn.SiLU)
        self.register_buffer("feature_mean", torch.zeros(2))
        self.register_buffer("feature_std", torch.ones(2))
        self.register_buffer("scale", torch.ones(()))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(ln(1 - x1), ln(1 - x2))`` standardised, shape ``(n, 2)``."""
        return (torch.log1p(-x) - self.feature_mean) / self.feature_std

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output before it is turned into a matrix element, shape ``(n,)``."""
        return self.net(self.features(x))[:, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.raw(x)
        if self.kind == "ratio":
            eikonal = self.prefactor * 2.0 / ((1 - x[:, 0]) * (1 - x[:, 1]))
            return eikonal * torch.exp(out)
        return self.scale * out

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The training loss for ``kind``: MSE in units of ``scale`` (direct), relative MSE (weighted, i.e. MSE with
        weights ``1 / |M|^2``, squared) or MSE of the log-ratio to the eikonal approximation (ratio)."""
        if self.kind == "ratio":
            eikonal = self.prefactor * 2.0 / ((1 - x[:, 0]) * (1 - x[:, 1]))
            return torch.mean((self.raw(x) - torch.log(target / eikonal)) ** 2)
        pred = self.forward(x)
        if self.kind == "weighted":
            return torch.mean(((pred - target) / target) ** 2)
        return torch.mean(((pred - target) / self.scale) ** 2)

    def predict(self, x, batch_size: int = 8192) -> np.ndarray:
        """Evaluate on NumPy points ``(n, 2)``; returns float64 ``(n,)``."""
        arr = _points(x)
        self.eval()
        device = self.feature_mean.device
        points = torch.from_numpy(arr.astype(np.float32))
        out = np.empty(len(arr))
        with torch.inference_mode():
            for start in range(0, len(arr), batch_size):
                out[start : start + batch_size] = self(points[start : start + batch_size].to(device)).cpu().numpy()
        return out


def train_surrogate(
    x,
    me,
    kind: SurrogateKind,
    *,
    hidden: Sequence[int] = (64, 64),
    epochs: int = 40,
    batch_size: int = 512,
    lr: float = 3e-3,
    val_fraction: float = 0.2,
    seed: int = 0,
    progress: bool = False,
) -> tuple[MESurrogate, History]:
    """Fit a :class:`MESurrogate` to matrix-element values with the shared training loop.

    Args:
        x: training points ``(n, 2)`` in the Dalitz region.
        me: the exact ``|M|^2`` at those points, shape ``(n,)``, positive.
        kind: ``"direct"``, ``"weighted"`` or ``"ratio"`` (see :class:`MESurrogate`).
        val_fraction: the last fraction of the points is held out to pick the best epoch.
        seed: seeds the initial weights and the batch order.
    """
    arr = _points(x)
    target = as_array(me, "me", shape=(len(arr),))
    if np.any(target <= 0):
        raise ValueError("me must be positive: pass the exact matrix element at the training points")
    if not 0.0 < val_fraction < 0.5:
        raise ValueError(f"val_fraction must lie in (0, 0.5), got {val_fraction}")
    torch.manual_seed(seed)
    model = MESurrogate(kind, hidden)
    feats = np.log1p(-arr)
    model.feature_mean.copy_(torch.as_tensor(feats.mean(axis=0), dtype=torch.float32))
    model.feature_std.copy_(torch.as_tensor(feats.std(axis=0), dtype=torch.float32))
    model.scale.fill_(float(target.std()))
    n_val = max(1, int(val_fraction * len(arr)))
    xt, yt = to_tensors(arr, target)
    history = fit(
        model,
        lambda m, batch: m.loss(*batch),
        (xt[:-n_val], yt[:-n_val]),
        val=(xt[-n_val:], yt[-n_val:]),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        desc=f"{kind} surrogate",
    )
    return model, history


@dataclass(frozen=True)
class UnweightingResult:
    """Cross sections (same unit as ``volume * |M|^2``) and efficiencies of surrogate-based unweighting.

    Attributes:
        sigma_surrogate, error_surrogate: the cross section the surrogate alone predicts (biased by its errors).
        sigma, error: the corrected cross section, unbiased for any positive surrogate.
        efficiency: first-stage unweighting efficiency ``<s> / s_max`` (accepted / tried).
        correction_efficiency: second-stage efficiency ``<w> / max(w)`` for the correction weights
            ``w = exact / surrogate`` of the accepted events (1 for a perfect surrogate).
        n_tried, n_exact_calls: points tried, and exact matrix elements evaluated (only the accepted ones).
        accepted: the accepted points ``(n_acc, 2)``; weights: their correction weights ``(n_acc,)``.
    """

    sigma_surrogate: float
    error_surrogate: float
    sigma: float
    error: float
    efficiency: float
    correction_efficiency: float
    n_tried: int
    n_exact_calls: int
    accepted: np.ndarray
    weights: np.ndarray


def unweight_and_correct(
    x,
    surrogate: Callable[[np.ndarray], np.ndarray],
    exact: Callable[[np.ndarray], np.ndarray],
    volume: float,
    rng: np.random.Generator,
    *,
    s_max: float | None = None,
) -> UnweightingResult:
    """Unweight points with a surrogate, then correct the accepted events with exact / surrogate weights.

    The points ``x`` ``(n, 2)`` are uniform over a region of area ``volume``. An event is accepted with probability
    ``s(x) / s_max``; the exact matrix element ``f`` is evaluated only for accepted events, which get the weight
    ``w = f / s``. Then ``volume * s_max * (1/n) sum_accepted w`` is an unbiased estimate of ``volume * <f>`` for any
    surrogate with ``s > 0`` wherever ``f > 0`` and ``s <= s_max``; dropping ``w`` gives the surrogate's own,
    biased, cross section.

    Args:
        surrogate, exact: callables mapping points ``(m, 2)`` to values ``(m,)``.
        s_max: the bound on the surrogate; the maximum over ``x`` when ``None``.
    """
    pts = as_array(x, "x", shape=(None, 2))
    n = len(pts)
    if n < 2:
        raise ValueError("unweighting needs at least two points")
    if not volume > 0:
        raise ValueError(f"volume must be positive, got {volume}")
    s = as_array(surrogate(pts), "surrogate(x)", shape=(n,))
    if np.any(s <= 0):
        raise ValueError(
            f"the surrogate is <= 0 at {int(np.sum(s <= 0))} point(s): unweighting needs s > 0 wherever the exact "
            "matrix element is non-zero (predict a logarithm or a ratio to a positive approximation)"
        )
    s_max = float(s.max()) if s_max is None else float(s_max)
    if s_max < s.max():
        raise ValueError(f"s_max = {s_max:.4g} is below the surrogate's maximum {s.max():.4g}; raise it")
    accept = rng.uniform(size=n) < s / s_max
    n_acc = int(accept.sum())
    f = as_array(exact(pts[accept]), "exact(x)", shape=(n_acc,))
    w = f / s[accept]
    # Each tried point contributes q = volume * s_max * (w if accepted, else 0) to the mean; the uncorrected
    # estimate has w = 1. Their means and standard errors follow from sums over the accepted events alone.
    scale = volume * s_max
    p_acc = n_acc / n
    sigma = scale * float(w.sum()) / n
    var = max(scale**2 * float(np.sum(w**2)) / n - sigma**2, 0.0) * n / (n - 1)
    var_uncorrected = scale**2 * p_acc * (1 - p_acc) * n / (n - 1)
    return UnweightingResult(
        sigma_surrogate=scale * p_acc,
        error_surrogate=math.sqrt(var_uncorrected / n),
        sigma=sigma,
        error=math.sqrt(var / n),
        efficiency=p_acc,
        correction_efficiency=float(w.mean() / w.max()) if len(w) else float("nan"),
        n_tried=n,
        n_exact_calls=int(accept.sum()),
        accepted=pts[accept],
        weights=w,
    )


def export_onnx(model: torch.nn.Module, path: str | Path) -> Path:
    """Export ``model`` (points ``(n, 2)`` -> ``(n,)``) to ONNX with a dynamic batch size, via ``torch.onnx``."""
    import logging
    import warnings

    path = Path(path)
    model = model.eval().cpu()
    example = torch.full((4, 2), 0.6)
    onnx_logger = logging.getLogger("torch.onnx")
    old_level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)  # silence notes about optional torchvision operators
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter warns about opset versions it upgrades to
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=["x"],
                output_names=["me"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                verbose=False,
            )
    finally:
        onnx_logger.setLevel(old_level)
    return path


def time_per_call(fn: Callable[[], object], *, min_time: float = 0.2, max_repeats: int = 10_000) -> float:
    """CPU seconds per call of ``fn`` (one warm-up call, then repeats until ``min_time`` CPU seconds passed).

    CPU time rather than wall time, so that other jobs on a shared machine inflate the numbers less; it counts the
    calling process's threads only, so single-threaded engines compare fairly.
    """
    fn()
    repeats, start = 0, time.process_time()
    while repeats < max_repeats:
        fn()
        repeats += 1
        if time.process_time() - start >= min_time:
            break
    return (time.process_time() - start) / repeats


def timing_table(model: MESurrogate, onnx_path: str | Path, batch_sizes: Sequence[int], *, seed: int = 0) -> list[dict]:
    """Time the exact formula (NumPy), the PyTorch surrogate and the ONNX Runtime surrogate at equal batch sizes.

    Torch and ONNX Runtime are both limited to one thread. Returns one dict per batch size with seconds per call
    and per point for each engine.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    rows = []
    with threads(1):
        for n in batch_sizes:
            n = positive_int(n, "batch size")
            pts = sample_resolved(n, rng)
            x32 = pts.astype(np.float32)
            xt = torch.as_tensor(x32)
            model.eval()
            with torch.inference_mode():
                t_torch = time_per_call(lambda xt=xt: model(xt))
            t_onnx = time_per_call(lambda x32=x32: session.run(None, {"x": x32}))
            t_exact = time_per_call(lambda pts=pts: me_qqg(pts))
            rows.append({"batch": n, "exact": t_exact, "torch": t_torch, "onnxruntime": t_onnx})
    return rows


def timing_markdown(rows: list[dict]) -> str:
    """The rows of :func:`timing_table` as a markdown table (microseconds per point)."""
    lines = [
        "| batch size | exact formula [us/point] | PyTorch [us/point] | ONNX Runtime [us/point] | PyTorch / ONNX |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = {k: 1e6 * r[k] / r["batch"] for k in ("exact", "torch", "onnxruntime")}
        lines.append(
            f"| {r['batch']:,} | {per['exact']:.3g} | {per['torch']:.3g} | {per['onnxruntime']:.3g} "
            f"| {r['torch'] / r['onnxruntime']:.2f} |"
        )
    return "\n".join(lines)

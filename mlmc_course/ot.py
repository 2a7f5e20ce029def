"""Optimal transport: move simulated events onto data instead of reweighting them.

* 1D: the optimal map for any convex cost is quantile matching, T(x) = Q^{-1}(P(x)), with P the source's and Q
  the target's cumulative distribution (:func:`quantile_map`).
* Discrete samples in any dimension: the exact plan (a linear programme, POT's ``ot.emd``) and the entropic
  (Sinkhorn) plan (``ot.sinkhorn``), and the barycentric map that turns a plan into a map (:func:`barycentric_map`).
* Continuous maps: by Brenier's theorem the optimal map for the squared distance is the gradient of a convex
  potential. :class:`ICNN` is an input-convex network (Amos et al., arXiv:1609.07152), and :func:`train_neural_ot`
  learns T = grad g with the min-max objective of Makkuva et al. (arXiv:1908.10962), the method that Pollard and
  Windischhofer use to calibrate simulation (arXiv:2107.08648).

POT imports every array backend it finds; TensorFlow alone costs seconds and ~0.5 GB, so this module turns POT's
TensorFlow, JAX and CuPy backends off (environment variables ``POT_BACKEND_DISABLE_*``) before importing it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

for _backend in ("TENSORFLOW", "JAX", "CUPY"):
    os.environ.setdefault(f"POT_BACKEND_DISABLE_{_backend}", "1")

import numpy as np  # noqa: E402
import ot  # noqa: E402
import torch  # noqa: E402

from mlmc_course.validation import as_array, positive_int  # noqa: E402


def quantile_map(x, source, target) -> np.ndarray:
    """The 1D optimal transport map T(x) = Q^{-1}(P(x)) estimated from samples.

    P is the empirical CDF of ``source`` (interpolated between the sorted values, at plotting positions
    (i + 1/2) / n) and Q^{-1} the empirical quantile function of ``target``; values outside the source's range
    map to the target's extremes.

    Args:
        x: points to map, ``(n,)``.
        source: a sample of the distribution x comes from, ``(n_source,)``.
        target: a sample of the distribution to map onto, ``(n_target,)``.
    """
    x = as_array(x, "x", ndim=1)
    src = np.sort(as_array(source, "source", ndim=1))
    tgt = np.sort(as_array(target, "target", ndim=1))
    if len(src) < 2 or len(tgt) < 2:
        raise ValueError("source and target need at least two values each")
    u = np.interp(x, src, (np.arange(len(src)) + 0.5) / len(src))
    return np.interp(u, (np.arange(len(tgt)) + 0.5) / len(tgt), tgt)


def wasserstein_1d(a, b, p: int = 1, weights_a=None, weights_b=None) -> float:
    """The p-Wasserstein distance between two 1D samples (POT's ``ot.wasserstein_1d``, which returns W_p^p).

    Weights (non-negative, any total, e.g. event weights) are normalised to unit sum, as a distance between
    distributions needs; POT itself expects normalised weights.
    """
    a, b = as_array(a, "a", ndim=1), as_array(b, "b", ndim=1)
    wa = None if weights_a is None else _normalised(weights_a, "weights_a", len(a))
    wb = None if weights_b is None else _normalised(weights_b, "weights_b", len(b))
    if p < 1:
        raise ValueError(f"p must be at least 1, got {p}")
    return float(ot.wasserstein_1d(a, b, wa, wb, p=p)) ** (1.0 / p)


def _normalised(w, name: str, n: int) -> np.ndarray:
    w = as_array(w, name, shape=(n,))
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"{name} must be non-negative with a positive sum (negative event weights: reweight first)")
    return w / w.sum()


def _points(x, name: str) -> np.ndarray:
    return as_array(x, name, ndim=2)


@dataclass(frozen=True)
class Plan:
    """A transport plan ``(n_x, n_y)`` between weighted point clouds and its cost sum_ij plan_ij |x_i - y_j|^2."""

    plan: np.ndarray
    cost: float


def exact_plan(x, y, a=None, b=None) -> Plan:
    """The exact optimal plan for the squared Euclidean cost (network simplex, ``ot.emd``).

    Args:
        x: source points ``(n_x, d)``; y: target points ``(n_y, d)``.
        a, b: their weights (default uniform), each summing to one.
    """
    x, y = _points(x, "x"), _points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    a = ot.unif(len(x)) if a is None else as_array(a, "a", shape=(len(x),))
    b = ot.unif(len(y)) if b is None else as_array(b, "b", shape=(len(y),))
    cost = ot.dist(x, y)
    plan = ot.emd(a, b, cost)
    return Plan(plan, float(np.sum(plan * cost)))


def sinkhorn_plan(x, y, reg: float, a=None, b=None, n_iter: int = 1000) -> Plan:
    """The entropic plan (Sinkhorn iterations, ``ot.sinkhorn``) for the squared Euclidean cost.

    ``reg`` is the entropic regularisation in units of the cost (squared distance): a blur of about sqrt(reg).
    """
    x, y = _points(x, "x"), _points(y, "y")
    if not reg > 0:
        raise ValueError(f"reg must be positive, got {reg}")
    a = ot.unif(len(x)) if a is None else as_array(a, "a", shape=(len(x),))
    b = ot.unif(len(y)) if b is None else as_array(b, "b", shape=(len(y),))
    cost = ot.dist(x, y)
    plan = ot.sinkhorn(a, b, cost, reg, numItermax=positive_int(n_iter, "n_iter"), method="sinkhorn_log")
    return Plan(plan, float(np.sum(plan * cost)))


def barycentric_map(plan, y) -> np.ndarray:
    """Turn a plan into a map: T(x_i) = sum_j plan_ij y_j / sum_j plan_ij, shape ``(n_x, d)``."""
    pi = as_array(plan, "plan", ndim=2)
    y = _points(y, "y")
    if pi.shape[1] != len(y):
        raise ValueError(f"the plan has {pi.shape[1]} columns but there are {len(y)} target points")
    rows = pi.sum(1, keepdims=True)
    if np.any(rows <= 0):
        raise ValueError("a row of the plan sums to zero: that source point is not transported anywhere")
    return pi @ y / rows


def gaussian_map(mean_x, cov_x, mean_y, cov_y):
    """The exact optimal map between two Gaussians, T(x) = m_y + A (x - m_x) with
    A = S_x^{-1/2} (S_x^{1/2} S_y S_x^{1/2})^{1/2} S_x^{-1/2}; returns (A, function)."""
    from scipy.linalg import sqrtm

    mx, my = as_array(mean_x, "mean_x", ndim=1), as_array(mean_y, "mean_y", ndim=1)
    sx = as_array(cov_x, "cov_x", shape=(len(mx), len(mx)))
    sy = as_array(cov_y, "cov_y", shape=(len(my), len(my)))
    root = np.real(sqrtm(sx))
    inv_root = np.linalg.inv(root)
    a = inv_root @ np.real(sqrtm(root @ sy @ root)) @ inv_root

    def transport(x):
        return my + (as_array(x, "x", shape=(None, len(mx))) - mx) @ a.T

    return a, transport


# ----------------------------------------------------------------------------------------------------------------
# Neural optimal transport with input-convex networks


class ICNN(torch.nn.Module):
    """An input-convex network g(x), convex in x ``(n, dim)``; returns ``(n,)``.

    z_1 = softplus(W_0 x + b_0), z_{l+1} = softplus(U_l z_l + W_l x + b_l), g = u . z_L + w . x + q |x|^2 / 2,
    with U_l, u >= 0 (clamped after every update by :meth:`clamp`) and q = softplus(raw) > 0. Softplus is convex
    and increasing, so every layer stays convex in x. The quadratic term starts at q = 1, so grad g starts close to
    the identity map.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        dim = positive_int(dim, "dim")
        widths = [positive_int(h, "hidden width") for h in hidden]
        if not widths:
            raise ValueError("an ICNN needs at least one hidden layer")
        self.from_x = torch.nn.ModuleList([torch.nn.Linear(dim, h) for h in widths] + [torch.nn.Linear(dim, 1)])
        self.from_z = torch.nn.ModuleList(
            [torch.nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:], strict=True)]
            + [torch.nn.Linear(widths[-1], 1, bias=False)]
        )
        with torch.no_grad():
            for layer in self.from_z:
                layer.weight.uniform_(0.0, 1.0 / layer.weight.shape[1])
            self.from_x[-1].weight.mul_(0.1)
        self.raw_quadratic = torch.nn.Parameter(torch.tensor(float(np.log(np.e - 1))))

    def clamp(self) -> None:
        """Project the z-path weights onto >= 0 (keeps g convex); call after every optimiser step."""
        with torch.no_grad():
            for layer in self.from_z:
                layer.weight.clamp_(min=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        softplus = torch.nn.functional.softplus
        z = softplus(self.from_x[0](x))
        for wz, wx in zip(self.from_z[:-1], self.from_x[1:-1], strict=True):
            z = softplus(wz(z) + wx(x))
        out = self.from_z[-1](z) + self.from_x[-1](x)
        return out.squeeze(1) + 0.5 * softplus(self.raw_quadratic) * (x**2).sum(1)

    def gradient(self, x: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """grad_x g, ``(n, dim)``: for the transport potential, the transported points."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self(x).sum(), x, create_graph=create_graph)
        return grad


@dataclass
class NeuralOT:
    """A learned transport map T = grad g from the source to the target, with f the target-side potential."""

    g: ICNN
    f: ICNN
    history: dict[str, list[float]] = field(default_factory=dict)

    def transport(self, x, batch_size: int = 4096) -> np.ndarray:
        """T(x) for source points ``(n, dim)`` (NumPy in, NumPy out)."""
        x = as_array(x, "x", ndim=2)
        out = [
            self.g.gradient(torch.as_tensor(x[i : i + batch_size], dtype=torch.float32)).numpy()
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(out).astype(np.float64)


def train_neural_ot(
    source,
    target,
    *,
    hidden: Sequence[int] = (64, 64),
    steps: int = 2000,
    inner_steps: int = 5,
    batch_size: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> NeuralOT:
    """Learn the optimal (squared-distance) map from ``source`` to ``target`` samples with two ICNNs.

    The objective (Makkuva et al.) is min_f max_g V(f, g) with
    V = E_target[f(Y)] + E_source[<X, grad g(X)> - f(grad g(X))]. For fixed f the inner maximum is reached when
    grad g(x) = grad f*(x) and gives V = E f(Y) + E f*(X), the dual of the transport problem; its minimum over
    convex f is reached at the Brenier potential, and then T = grad g pushes the source onto the target.
    Each outer step makes ``inner_steps`` Adam steps on g and one on f. This is a two-player game like a GAN, so it
    has its own loop rather than :func:`mlmc_course.training.fit`. The thread count is the course's
    (:func:`mlmc_course.config.setup`): one thread in the ci and lecture modes suits these tiny networks.

    Args:
        source, target: samples ``(n_source, dim)`` and ``(n_target, dim)``.
        hidden: ICNN hidden widths; steps: outer steps; inner_steps: g steps per f step; batch_size, lr, seed.
        progress: show a tqdm bar.
    """
    from tqdm.auto import tqdm

    xs = torch.as_tensor(as_array(source, "source", ndim=2), dtype=torch.float32)
    ys = torch.as_tensor(as_array(target, "target", shape=(None, xs.shape[1])), dtype=torch.float32)
    steps, inner_steps = positive_int(steps, "steps"), positive_int(inner_steps, "inner_steps")
    batch_size = positive_int(batch_size, "batch_size")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    g, f = ICNN(xs.shape[1], hidden), ICNN(xs.shape[1], hidden)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_f = torch.optim.Adam(f.parameters(), lr=lr, betas=(0.5, 0.9))

    def batch(data):
        return data[torch.randint(len(data), (batch_size,), generator=gen)]

    def value(x, y, create_graph):
        t = g.gradient(x, create_graph=create_graph)
        return f(y).mean() + ((x * t).sum(1) - f(t)).mean()

    history: dict[str, list[float]] = {"value": []}
    for _ in tqdm(range(steps), desc="neural OT", disable=not progress, leave=False):
        for _ in range(inner_steps):
            opt_g.zero_grad(set_to_none=True)
            (-value(batch(xs), batch(ys), create_graph=True)).backward()
            opt_g.step()
            g.clamp()
        opt_f.zero_grad(set_to_none=True)
        v = value(batch(xs), batch(ys), create_graph=False)
        if not torch.isfinite(v):
            raise FloatingPointError("the transport objective became NaN or infinite; lower lr")
        v.backward()
        opt_f.step()
        f.clamp()
        history["value"].append(v.item())
    g.eval()
    f.eval()
    return NeuralOT(g=g, f=f, history=history)


__all__ = [
    "ICNN",
    "NeuralOT",
    "Plan",
    "barycentric_map",
    "exact_plan",
    "gaussian_map",
    "quantile_map",
    "sinkhorn_plan",
    "train_neural_ot",
    "wasserstein_1d",
]

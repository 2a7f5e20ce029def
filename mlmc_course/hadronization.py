"""The Lund symmetric fragmentation function, its exact sampler, a flow that learns it, and a string-breaking toy.

In the Lund string model a hadron takes the fraction ``z`` of the light-cone momentum left on the string, drawn from

    f(z) ∝ (1/z) (1 - z)^a exp(-b mT^2 / z),    0 < z < 1,

with ``mT^2 = m^2 + pT^2`` the hadron's transverse mass squared (GeV^2) and Pythia's ``StringZ:aLund`` = a
(dimensionless) and ``StringZ:bLund`` = b (GeV^-2); Pythia 8's Monash tune has a = 0.68, b = 0.98 GeV^-2
(arXiv:1404.5630). Everything here takes ``mT`` in GeV.

* :func:`lund_f`, :func:`lund_pdf`, :func:`lund_cdf`: the function, normalised density and distribution function;
* :func:`lund_z_peak` and :func:`sample_lund`: the maximum in closed form and exact rejection sampling;
* :func:`chi2_vs_exact`: a binned chi-square of any z sample against the exact density;
* :class:`LundFlow`: a conditional normalizing flow for ``p(z | a, b, mT)`` (MLHAD-style, arXiv:2203.04983);
* :func:`string_multiplicity`: a one-dimensional string-breaking toy that turns any z sampler into hadron counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

from mlmc_course.validation import as_array, positive_int

A_LUND = 0.68  # Pythia 8 Monash StringZ:aLund
B_LUND = 0.98  # Pythia 8 Monash StringZ:bLund, GeV^-2
M_T = 0.5  # GeV, a typical pion transverse mass: sqrt(m_pi^2 + <pT^2>) with <pT^2> = 2 (0.335 GeV)^2
PARAM_RANGES = {"a": (0.3, 1.5), "b": (0.5, 1.5), "mT": (0.3, 1.0)}  # what LundFlow is trained on


def _params(a, b, m_t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b, m_t = (as_array(v, name) for v, name in ((a, "a"), (b, "b (GeV^-2)"), (m_t, "mT (GeV)")))
    if np.any(a <= 0):
        raise ValueError("a must be positive (Pythia's StringZ:aLund lies in 0..2)")
    if np.any(b <= 0):
        raise ValueError("b must be positive (Pythia's StringZ:bLund, in GeV^-2, lies in 0.2..2)")
    if np.any(m_t <= 0):
        raise ValueError("mT must be a positive transverse mass in GeV")
    return a, b, m_t


def lund_f(z, a: float = A_LUND, b: float = B_LUND, m_t: float = M_T) -> np.ndarray:
    """The unnormalised Lund symmetric function ``(1/z) (1 - z)^a exp(-b mT^2 / z)``; zero at z = 0 and z = 1.

    ``z`` has any shape with values in [0, 1]; ``a``, ``b``, ``m_t`` are numbers or broadcast against ``z``.
    """
    z = as_array(z, "z")
    if np.any((z < 0) | (z > 1)):
        raise ValueError("z is a light-cone momentum fraction and must lie in [0, 1]")
    a, b, m_t = _params(a, b, m_t)
    inside = (z > 0) & (z < 1)
    zs = np.where(inside, z, 0.5)
    return np.where(inside, np.exp(-np.log(zs) + a * np.log1p(-zs) - b * m_t**2 / zs), 0.0)


def lund_z_peak(a: float = A_LUND, b: float = B_LUND, m_t: float = M_T) -> np.ndarray:
    """Where f(z) is largest: the root in (0, 1) of ``(1 - a) z^2 - (1 + c) z + c = 0`` with ``c = b mT^2``.

    (From ``d/dz log f = -1/z - a/(1 - z) + c/z^2 = 0``.) Works element-wise on arrays.
    """
    a, b, m_t = _params(a, b, m_t)
    c = b * m_t**2
    one_minus_a = 1.0 - a
    disc = np.sqrt((1 + c) ** 2 - 4 * one_minus_a * c)
    # the stable form of the smaller root (1 + c - disc) / (2 (1 - a)), which also holds at a = 1
    return 2 * c / (1 + c + disc)


_U_GRID = np.linspace(-30.0, 30.0, 24001)  # logit(z) grid for the integrals


def _cumulative(a: float, b: float, m_t: float) -> np.ndarray:
    """``int_0^z(u) f dz`` on :data:`_U_GRID`, by the trapezoidal rule in ``u = logit z``.

    With ``dz = z (1 - z) du`` the integrand ``(1 - z)^(a + 1) exp(-b mT^2 / z)`` is smooth and vanishes at both ends,
    where the trapezoidal rule converges exponentially fast; the result is accurate to ~1e-10 relative.
    """
    z = 1.0 / (1.0 + np.exp(-_U_GRID))
    integrand = np.exp((a + 1) * np.log1p(-np.minimum(z, 1 - 1e-300)) - b * m_t**2 / np.maximum(z, 1e-300))
    steps = 0.5 * (integrand[1:] + integrand[:-1]) * np.diff(_U_GRID)
    return np.concatenate([[0.0], np.cumsum(steps)])


def lund_norm(a: float = A_LUND, b: float = B_LUND, m_t: float = M_T) -> float:
    """``N = int_0^1 f(z) dz`` (scalars only), by the trapezoidal rule in ``logit z``."""
    a, b, m_t = (float(v) for v in _params(a, b, m_t))
    return float(_cumulative(a, b, m_t)[-1])


def lund_pdf(z, a: float = A_LUND, b: float = B_LUND, m_t: float = M_T) -> np.ndarray:
    """The normalised density ``f(z) / N`` for scalar parameters; ``z`` of any shape in [0, 1]."""
    return lund_f(z, a, b, m_t) / lund_norm(a, b, m_t)


def lund_cdf(z, a: float = A_LUND, b: float = B_LUND, m_t: float = M_T) -> np.ndarray:
    """``P(Z <= z)`` for scalar parameters; ``z`` of any shape in [0, 1]."""
    z = as_array(z, "z")
    if np.any((z < 0) | (z > 1)):
        raise ValueError("z must lie in [0, 1]")
    a, b, m_t = (float(v) for v in _params(a, b, m_t))
    cumulative = _cumulative(a, b, m_t)
    with np.errstate(divide="ignore"):
        u = np.log(z) - np.log1p(-z)
    return np.interp(u, _U_GRID, cumulative / cumulative[-1], left=0.0, right=1.0)


def sample_lund(n: int, a=A_LUND, b=B_LUND, m_t=M_T, *, rng: np.random.Generator) -> np.ndarray:
    """``n`` exact draws of z from the Lund function, shape ``(n,)``, by rejection from a uniform proposal.

    The envelope is the exact maximum ``f(z_peak)`` (:func:`lund_z_peak`), so accepted points follow f exactly.
    ``a``, ``b``, ``m_t`` are numbers or arrays of shape ``(n,)`` (one parameter point per draw, as for training a
    conditional model).
    """
    n = positive_int(n, "n")
    a, b, m_t = (np.broadcast_to(v, (n,)).astype(float) for v in _params(a, b, m_t))
    f_max = lund_f(lund_z_peak(a, b, m_t), a, b, m_t)
    out = np.empty(n)
    todo = np.arange(n)
    while len(todo):
        z = rng.uniform(0.0, 1.0, len(todo))
        keep = rng.uniform(0.0, 1.0, len(todo)) * f_max[todo] < lund_f(z, a[todo], b[todo], m_t[todo])
        out[todo[keep]] = z[keep]
        todo = todo[~keep]
    return out


@dataclass(frozen=True)
class Chi2Result:
    """A binned chi-square of a sample against expected bin probabilities."""

    chi2: float
    ndf: int
    p_value: float
    observed: np.ndarray
    expected: np.ndarray

    def __str__(self) -> str:
        return f"chi2/ndf = {self.chi2:.1f}/{self.ndf} (p = {self.p_value:.3g})"


def chi2_vs_exact(z, a: float = A_LUND, b: float = B_LUND, m_t: float = M_T, *, n_bins: int = 40) -> Chi2Result:
    """Pearson chi-square of a z sample against the exact Lund density, in ``n_bins`` bins of equal exact probability.

    Equal-probability bins keep every expected count at ``n / n_bins``; ``ndf = n_bins - 1`` (the total is fixed).
    """
    z = as_array(z, "z", ndim=1)
    if np.any((z <= 0) | (z >= 1)):
        raise ValueError("z must lie strictly inside (0, 1)")
    n_bins = positive_int(n_bins, "n_bins")
    if len(z) < 5 * n_bins:
        raise ValueError(f"need at least 5 events per bin ({5 * n_bins} for {n_bins} bins), got {len(z)}")
    grid = np.linspace(0.0, 1.0, 4001)
    cdf = lund_cdf(grid, a, b, m_t)
    edges = np.interp(np.linspace(0, 1, n_bins + 1), cdf, grid)
    edges[0], edges[-1] = 0.0, 1.0
    observed = np.histogram(z, bins=edges)[0].astype(float)
    expected = np.diff(lund_cdf(edges, a, b, m_t)) * len(z)
    chi2 = float(np.sum((observed - expected) ** 2 / expected))
    return Chi2Result(chi2, n_bins - 1, float(stats.chi2.sf(chi2, n_bins - 1)), observed, expected)


class LundFlow(torch.nn.Module):
    """A conditional flow for ``p(z | a, b, mT)`` (MLHAD-style) with the preprocessing it needs.

    The flow works on ``u = logit(z)`` (real-valued, so samples always land in (0, 1)), shifted and scaled to about
    unit width. f(z) depends on b and mT only through ``c = b mT^2``, so the context is ``(a, log c)``, each mapped
    linearly from the range spanned by :data:`PARAM_RANGES` to [-1, 1]. Densities are returned for z itself:
    ``log p(z) = log p(u) + log |du/dz|``.

    Train with the course loop: ``fit(model.flow, nll_loss, model.training_tensors(z, a, b, m_t))``.
    """

    U_SHIFT, U_SCALE = 1.0, 1.5

    def __init__(self, *, n_layers: int = 2, hidden: int = 32, n_bins: int = 16):
        super().__init__()
        from mlmc_course.models.flows import conditional_flow

        self.flow = conditional_flow(1, 2, n_layers=n_layers, hidden=hidden, n_bins=n_bins, tail_bound=5.0)
        (a_lo, a_hi), (b_lo, b_hi), (m_lo, m_hi) = (PARAM_RANGES[k] for k in ("a", "b", "mT"))
        self.low = np.array([a_lo, np.log(b_lo * m_lo**2)])
        self.high = np.array([a_hi, np.log(b_hi * m_hi**2)])

    def _encode(self, z) -> tuple[torch.Tensor, torch.Tensor]:
        z = as_array(z, "z", ndim=1)
        if np.any((z <= 0) | (z >= 1)):
            raise ValueError("z must lie strictly inside (0, 1)")
        u = (np.log(z) - np.log1p(-z) + self.U_SHIFT) / self.U_SCALE
        log_du_dz = -np.log(z) - np.log1p(-z) - np.log(self.U_SCALE)
        return torch.as_tensor(u, dtype=torch.float32)[:, None], torch.as_tensor(log_du_dz)

    def context(self, a, b, m_t, n: int) -> torch.Tensor:
        """The flow's context for ``n`` draws, shape ``(n, 2)``; the parameters are numbers or arrays ``(n,)``."""
        a, b, m_t = (np.broadcast_to(v, (n,)).astype(float) for v in _params(a, b, m_t))
        for name, v in (("a", a), ("b", b), ("mT", m_t)):
            lo, hi = PARAM_RANGES[name]
            if np.any((v < lo - 1e-9) | (v > hi + 1e-9)):
                raise ValueError(f"{name} outside the training range [{lo}, {hi}]; the flow would extrapolate")
        raw = np.column_stack([a, np.log(b * m_t**2)])
        return torch.as_tensor(2 * (raw - self.low) / (self.high - self.low) - 1, dtype=torch.float32)

    def training_tensors(self, z, a, b, m_t) -> tuple[torch.Tensor, torch.Tensor]:
        """``(u, context)`` for :func:`mlmc_course.training.fit` with :func:`mlmc_course.models.flows.nll_loss`."""
        u, _ = self._encode(z)
        return u, self.context(a, b, m_t, len(u))

    def log_pdf(self, z, a=A_LUND, b=B_LUND, m_t=M_T) -> np.ndarray:
        """The learned ``log p(z | a, b, mT)``, shape ``(n,)`` for ``z`` of shape ``(n,)``."""
        u, log_du_dz = self._encode(z)
        with torch.no_grad():
            log_p_u = self.flow.log_prob(u, self.context(a, b, m_t, len(u))).cpu().double()
        return (log_p_u + log_du_dz).numpy()

    @torch.no_grad()
    def sample(self, n: int, a=A_LUND, b=B_LUND, m_t=M_T) -> np.ndarray:
        """``n`` draws of z, shape ``(n,)``, strictly inside (0, 1)."""
        n = positive_int(n, "n")
        u = self.flow.sample(n, self.context(a, b, m_t, n)).cpu().double()[:, 0]
        z = torch.sigmoid(u * self.U_SCALE - self.U_SHIFT).numpy()
        return np.clip(z, 1e-12, 1 - 1e-12)


def string_multiplicity(
    sample_z: Callable[[int], np.ndarray],
    n_strings: int,
    *,
    energy: float = 91.2,
    m_t: float = M_T,
    w_min: float = 1.0,
    max_steps: int = 500,
) -> np.ndarray:
    """Hadron multiplicities of ``n_strings`` one-dimensional strings broken by a z sampler, shape ``(n_strings,)``.

    A toy of the Lund iteration (one string end only, every hadron with the same transverse mass): a string
    with light-cone momenta ``W+ = W- = energy`` (GeV; mass ``energy``) repeatedly emits a hadron with
    ``p+ = z W+`` and ``p- = mT^2 / (z W+)``, leaving ``W+ -> W+ - p+`` and ``W- -> W- - p-``. When the remaining
    mass squared ``W+ W-`` would fall below ``w_min^2`` (GeV^2), the rest of the string becomes one last hadron.

    Args:
        sample_z: ``sample_z(m)`` returns m momentum fractions in (0, 1), e.g. ``lambda m: sample_lund(m, rng=rng)``.
        n_strings: number of strings.
        energy, m_t, w_min: in GeV.
        max_steps: safety bound on the number of breaks.
    """
    n_strings = positive_int(n_strings, "n_strings")
    if not 0 < m_t < w_min < energy:
        raise ValueError(f"need 0 < mT < w_min < energy, got mT={m_t}, w_min={w_min}, energy={energy}")
    w_plus, w_minus = np.full(n_strings, float(energy)), np.full(n_strings, float(energy))
    count = np.zeros(n_strings, dtype=int)
    active = np.arange(n_strings)
    for _ in range(max_steps):
        if not len(active):
            return count
        z = as_array(sample_z(len(active)), "sample_z(m)", shape=(len(active),))
        if np.any((z <= 0) | (z >= 1)):
            raise ValueError("sample_z returned values outside (0, 1)")
        p_plus = z * w_plus[active]
        left_plus, left_minus = w_plus[active] - p_plus, w_minus[active] - m_t**2 / p_plus
        done = (left_minus <= 0) | (left_plus * left_minus < w_min**2)
        count[active] += 1  # a hadron from this break, or the last one made of what is left
        w_plus[active], w_minus[active] = left_plus, left_minus
        active = active[~done]
    raise RuntimeError(f"strings still unbroken after {max_steps} steps; is sample_z returning tiny z?")

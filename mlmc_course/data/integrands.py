"""Toy integrands on the unit hypercube, each with its integral, for lesson 09 (neural importance sampling).

Every integrand is an :class:`Integrand`: a torch function of points ``x`` of shape ``(n, dim)`` in ``[0, 1]^dim``
returning ``f(x)`` of shape ``(n,)``, together with its integral over the hypercube. The integral is exact (closed
form, from error functions) for the Gaussian, camel, annulus and ring-plus-line, and a one-dimensional adaptive
quadrature for Drell-Yan (``integral_error`` holds its error estimate). Integrands with natural channels offer
prior channel weights (``channel_prior``: for a sum of parts ``f = sum_i f_i``, ``alpha_i = f_i / sum_j f_j``);
Drell-Yan also offers a phase-space mapping per channel (``channel_maps``).

* :func:`gaussian` — one narrow Gaussian, any dimension;
* :func:`camel` — two Gaussians on the diagonal (the i-flow benchmark, arXiv:2001.05486), d = 2, 4, 8, 16, ...;
* :func:`annulus` — a thin Gaussian ring in 2D;
* :func:`ring_plus_line` — the ring plus a narrow ridge along the diagonal: two structures, two channels;
* :func:`drell_yan` — u ubar -> gamma*/Z -> l+ l- with toy PDFs, in (m_ll, rapidity, cos theta), in pb.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mlmc_course.validation import as_array, positive_int

TorchFn = Callable[[torch.Tensor], torch.Tensor]
ChannelMap = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Integrand:
    """A function on ``[0, 1]^dim`` and its integral.

    Attributes:
        name: short label, e.g. ``"camel d4"``.
        dim: number of integration variables.
        function: ``f(x)`` for a float64 tensor ``x`` of shape ``(n, dim)``; returns shape ``(n,)``, f >= 0.
        integral: the exact integral over the unit hypercube (or a quadrature reference, see ``reference``).
        integral_error: uncertainty of ``integral`` (0 for closed forms).
        reference: how ``integral`` was obtained.
        channel_prior: optional ``x -> (n, n_channels)`` prior channel weights, each >= 0, rows summing to 1.
        channel_maps: optional phase-space mapping per channel, ``u -> (x, log|dx/du|)`` from ``[0, 1]^dim`` onto
            ``[0, 1]^dim`` (identity where a channel needs none).
    """

    name: str
    dim: int
    function: TorchFn
    integral: float
    integral_error: float = 0.0
    reference: str = "closed form"
    channel_prior: TorchFn | None = None
    channel_maps: tuple[ChannelMap, ...] | None = None

    @property
    def n_channels(self) -> int:
        """Number of natural channels (1 for integrands that are not sums of parts)."""
        if self.channel_maps is not None:
            return len(self.channel_maps)
        if self.channel_prior is None:
            return 1
        return int(self.channel_prior(torch.full((1, self.dim), 0.5, dtype=torch.float64)).shape[1])

    def __call__(self, x):
        """Evaluate f at ``x`` of shape ``(n, dim)`` in ``[0, 1]^dim``.

        A NumPy array in gives a NumPy array out (for the ``vegas`` package); a tensor gives a float64 tensor on
        the same device.
        """
        is_numpy = not isinstance(x, torch.Tensor)
        xt = torch.as_tensor(as_array(x, "x", shape=(None, self.dim))) if is_numpy else x
        _check_points(xt, self.dim, self.name)
        values = self.function(xt.to(torch.float64))
        return values.cpu().numpy() if is_numpy else values

    def prior_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Prior channel weights at ``x``, shape ``(n, n_channels)``, float64; uniform when there is no prior."""
        if self.channel_prior is None:
            n = self.n_channels
            return torch.full((x.shape[0], n), 1.0 / n, dtype=torch.float64, device=x.device)
        return self.channel_prior(x.to(torch.float64))


def _check_points(x: torch.Tensor, dim: int, name: str) -> None:
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name}: x must have shape (n, {dim}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: x must be a floating-point tensor, got {x.dtype}")
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name}: x holds NaN or infinity; points must lie in [0, 1]^{dim}")
    if x.numel() and (bool((x < 0).any()) or bool((x > 1).any())):
        raise ValueError(f"{name}: points must lie in [0, 1]^{dim}, got values in [{x.min():.3g}, {x.max():.3g}]")


def _erf_interval(center: float, sigma: float) -> float:
    """Integral over [0, 1] of the unit-normalised Gaussian N(t; center, sigma)."""
    s = sigma * math.sqrt(2.0)
    return 0.5 * (math.erf((1.0 - center) / s) + math.erf(center / s))


def _gauss_nd(x: torch.Tensor, center: float, sigma: float) -> torch.Tensor:
    d = x.shape[1]
    norm = (2.0 * math.pi * sigma**2) ** (-0.5 * d)
    return norm * torch.exp(-((x - center) ** 2).sum(dim=1) / (2.0 * sigma**2))


def _check_width(value: float, name: str, high: float) -> float:
    value = float(value)
    if not 0.0 < value < high:
        raise ValueError(f"{name} must lie in (0, {high}), got {value}")
    return value


def gaussian(dim: int, *, center: float = 0.5, sigma: float = 0.1) -> Integrand:
    """A unit-normalised isotropic Gaussian N(x; center, sigma^2 I) in ``dim`` dimensions, cut to the hypercube."""
    dim = positive_int(dim, "dim")
    sigma = _check_width(sigma, "sigma", 1.0)
    if not 0.0 <= center <= 1.0:
        raise ValueError(f"center must lie in [0, 1], got {center}")
    return Integrand(
        name=f"gaussian d{dim}",
        dim=dim,
        function=lambda x: _gauss_nd(x, center, sigma),
        integral=_erf_interval(center, sigma) ** dim,
    )


def camel(dim: int, *, width: float = 0.2) -> Integrand:
    """Two Gaussians centred at (1/3, ..., 1/3) and (2/3, ..., 2/3), each of weight 1/2 (i-flow, arXiv:2001.05486).

    ``f(x) = 1/2 (width sqrt(pi))^-d [exp(-|x - 1/3|^2 / width^2) + exp(-|x - 2/3|^2 / width^2)]``, i.e. each
    Gaussian has standard deviation ``width / sqrt(2)`` per axis. The peaks sit on the diagonal, so an axis-aligned
    grid (VEGAS) sees 2^d peaks where there are 2.
    """
    dim = positive_int(dim, "dim")
    width = _check_width(width, "width", 1.0)
    sigma = width / math.sqrt(2.0)

    def f(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (_gauss_nd(x, 1.0 / 3.0, sigma) + _gauss_nd(x, 2.0 / 3.0, sigma))

    # By symmetry both peaks lose the same mass at the faces of the cube.
    return Integrand(
        name=f"camel d{dim}",
        dim=dim,
        function=f,
        integral=_erf_interval(1.0 / 3.0, sigma) ** dim,
    )


def _ring_norm(radius: float, width: float) -> float:
    """Integral over the whole plane of exp(-(r - radius)^2 / (2 width^2))."""
    a = radius / (math.sqrt(2.0) * width)
    return 2.0 * math.pi * width * (width * math.exp(-(a**2)) + radius * math.sqrt(math.pi / 2.0) * (1.0 + math.erf(a)))


def _ring(x: torch.Tensor, radius: float, width: float) -> torch.Tensor:
    r = torch.sqrt(((x - 0.5) ** 2).sum(dim=1))
    return torch.exp(-((r - radius) ** 2) / (2.0 * width**2)) / _ring_norm(radius, width)


def _check_ring(radius: float, width: float) -> tuple[float, float]:
    radius = _check_width(radius, "radius", 0.5)
    width = _check_width(width, "width", 0.5)
    if radius + 9.0 * width > 0.5:
        raise ValueError(
            f"the ring must stay inside the square for the closed-form integral: need radius + 9 width <= 0.5, "
            f"got {radius} + 9 * {width}"
        )
    return radius, width


def annulus(*, radius: float = 0.3, width: float = 0.02) -> Integrand:
    """A thin ring in 2D: a Gaussian in the distance r from (1/2, 1/2), unit integral.

    ``f(x) = exp(-(r - radius)^2 / (2 width^2)) / N`` with N its integral over the plane; with
    ``radius + 9 width <= 0.5`` less than 1e-17 of it lies outside the square, so the integral is 1.
    """
    radius, width = _check_ring(radius, width)
    return Integrand(name="annulus", dim=2, function=lambda x: _ring(x, radius, width), integral=1.0)


def _normalise_parts(parts: torch.Tensor) -> torch.Tensor:
    """alpha_i = f_i / sum_j f_j, uniform where every part vanishes."""
    total = parts.sum(dim=1, keepdim=True)
    uniform = torch.full_like(parts, 1.0 / parts.shape[1])
    return torch.where(total > 0, parts / total.clamp_min(torch.finfo(parts.dtype).tiny), uniform)


def _line_integral(sigma: float) -> float:
    """Integral over the unit square of N(x2 - x1; 0, sigma): u = x2 - x1 has the triangle density 1 - |u|."""
    return math.erf(1.0 / (math.sqrt(2.0) * sigma)) - 2.0 * sigma / math.sqrt(2.0 * math.pi) * (
        1.0 - math.exp(-1.0 / (2.0 * sigma**2))
    )


def ring_plus_line(*, radius: float = 0.3, width: float = 0.02, line_width: float = 0.01) -> Integrand:
    """A ring (:func:`annulus`) plus a narrow ridge along the diagonal x1 = x2: a two-channel problem.

    ``f = f_ring + f_line`` with ``f_line(x) = N(x2 - x1; 0, line_width) / 2``. The ridge's projection on each axis
    is flat, so a separable grid (VEGAS) cannot adapt to it; the two parts are the natural channels.
    """
    radius, width = _check_ring(radius, width)
    line_width = _check_width(line_width, "line_width", 0.5)

    def parts(x: torch.Tensor) -> torch.Tensor:
        u = x[:, 1] - x[:, 0]
        line = 0.5 * torch.exp(-(u**2) / (2.0 * line_width**2)) / (math.sqrt(2.0 * math.pi) * line_width)
        return torch.stack([_ring(x, radius, width), line], dim=1)

    return Integrand(
        name="ring+line",
        dim=2,
        function=lambda x: parts(x).sum(dim=1),
        integral=1.0 + 0.5 * _line_integral(line_width),
        channel_prior=lambda x: _normalise_parts(parts(x)),
    )


# ---------------------------------------------------------------------------------------------------------------
# Drell-Yan: u ubar -> gamma*/Z -> l+ l- at leading order, with toy parton densities.

M_Z = 91.1876  # GeV
GAMMA_Z = 2.4952  # GeV
SIN2_W = 0.2312
ALPHA_EM = 1.0 / 128.0
GEV2_TO_PB = 0.3893794e9  # (hbar c)^2 in pb GeV^2
N_COLOURS = 3


def toy_pdfs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Toy up-quark and anti-up densities ``(u(x), ubar(x))``, not a fit: x u = 2 x^0.5 (1-x)^3 (valence-like)
    plus the sea x ubar = 0.15 x^-0.2 (1-x)^7 (also added to u)."""
    sea = 0.15 * x ** (-0.2) * (1.0 - x) ** 7
    return (2.0 * x**0.5 * (1.0 - x) ** 3 + sea) / x, sea / x


def _dy_couplings(s: torch.Tensor | np.ndarray):
    """The angular coefficients A0(s), A1(s) of d sigma / d cos = pi alpha^2 / (2 s N_c) [A0 (1+c^2) + A1 c]
    for u ubar -> l+ l- via photon and Z, in the notation of Ellis, Stirling and Webber, "QCD and collider physics"."""
    kappa = 1.0 / (4.0 * SIN2_W * (1.0 - SIN2_W))
    q_u, v_u, a_u = 2.0 / 3.0, 0.5 - 4.0 / 3.0 * SIN2_W, 0.5
    v_l, a_l = -0.5 + 2.0 * SIN2_W, -0.5
    denom = (s - M_Z**2) ** 2 + (GAMMA_Z * M_Z) ** 2
    chi1 = kappa * s * (s - M_Z**2) / denom
    chi2 = kappa**2 * s**2 / denom
    a0 = q_u**2 - 2.0 * q_u * v_l * v_u * chi1 + (a_l**2 + v_l**2) * (a_u**2 + v_u**2) * chi2
    a1 = -4.0 * q_u * a_l * a_u * chi1 + 8.0 * a_l * v_l * a_u * v_u * chi2
    return a0, a1


def _dy_squared_diagrams(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The Z-only and photon-only parts of A0(s): the squared diagrams without their interference."""
    kappa = 1.0 / (4.0 * SIN2_W * (1.0 - SIN2_W))
    v_u, a_u, v_l, a_l = 0.5 - 4.0 / 3.0 * SIN2_W, 0.5, -0.5 + 2.0 * SIN2_W, -0.5
    chi2 = kappa**2 * s**2 / ((s - M_Z**2) ** 2 + (GAMMA_Z * M_Z) ** 2)
    return (a_l**2 + v_l**2) * (a_u**2 + v_u**2) * chi2, torch.full_like(s, (2.0 / 3.0) ** 2)


@dataclass(frozen=True)
class DrellYanSetup:
    """Kinematic range of the Drell-Yan integrand: collider energy and dilepton mass window (GeV)."""

    sqrt_s: float = 13000.0
    m_low: float = 60.0
    m_high: float = 120.0


def _dy_point(u: torch.Tensor, setup: DrellYanSetup):
    """Map the unit cube onto (m, y, cos theta) with flat densities; return those and the Jacobian."""
    m = setup.m_low + (setup.m_high - setup.m_low) * u[:, 0]
    y_max = torch.log(setup.sqrt_s / m)
    y = y_max * (2.0 * u[:, 1] - 1.0)
    cos = 2.0 * u[:, 2] - 1.0
    jac = (setup.m_high - setup.m_low) * 2.0 * y_max * 2.0
    return m, y, cos, jac


def _dy_density(m, y, cos, setup: DrellYanSetup):
    """d sigma / (dm dy dcos) in pb / GeV."""
    s_had = setup.sqrt_s**2
    s = m**2
    tau_sqrt = m / setup.sqrt_s
    x1, x2 = tau_sqrt * torch.exp(y), tau_sqrt * torch.exp(-y)
    u1, ub1 = toy_pdfs(x1)
    u2, ub2 = toy_pdfs(x2)
    a0, a1 = _dy_couplings(s)
    pref = math.pi * ALPHA_EM**2 / (2.0 * s * N_COLOURS)
    forward = u1 * ub2 * (a0 * (1 + cos**2) + a1 * cos)
    backward = ub1 * u2 * (a0 * (1 + cos**2) - a1 * cos)
    # d tau dy = dx1 dx2 and d tau = 2 m dm / s_had.
    return GEV2_TO_PB * pref * (forward + backward) * 2.0 * m / s_had


def _bw_map(u: torch.Tensor, setup: DrellYanSetup) -> tuple[torch.Tensor, torch.Tensor]:
    """Breit-Wigner mapping of the mass variable: m^2 = M^2 + M Gamma tan(rho), rho flat."""
    lo = math.atan((setup.m_low**2 - M_Z**2) / (M_Z * GAMMA_Z))
    hi = math.atan((setup.m_high**2 - M_Z**2) / (M_Z * GAMMA_Z))
    rho = lo + (hi - lo) * u[:, 0]
    m2 = M_Z**2 + M_Z * GAMMA_Z * torch.tan(rho)
    m = torch.sqrt(m2)
    x0 = ((m - setup.m_low) / (setup.m_high - setup.m_low)).clamp(0.0, 1.0)
    # dm/du = (hi - lo) * M Gamma / cos^2(rho) / (2 m); x0 = (m - m_low) / (m_high - m_low)
    log_jac = (
        math.log(hi - lo) + math.log(M_Z * GAMMA_Z) - 2.0 * torch.log(torch.cos(rho)) - torch.log(2.0 * m)
    ) - math.log(setup.m_high - setup.m_low)
    return torch.cat([x0[:, None], u[:, 1:]], dim=1), log_jac


def _power_map(u: torch.Tensor, setup: DrellYanSetup) -> tuple[torch.Tensor, torch.Tensor]:
    """Mapping with density proportional to 1/m^2 in the mass (the photon propagator)."""
    a, b = 1.0 / setup.m_low, 1.0 / setup.m_high
    m = 1.0 / (a + (b - a) * u[:, 0])
    x0 = ((m - setup.m_low) / (setup.m_high - setup.m_low)).clamp(0.0, 1.0)
    log_jac = math.log(a - b) + 2.0 * torch.log(m) - math.log(setup.m_high - setup.m_low)
    return torch.cat([x0[:, None], u[:, 1:]], dim=1), log_jac


@functools.lru_cache(maxsize=8)
def _dy_reference(setup: DrellYanSetup, nodes: int = 160) -> tuple[float, float]:
    """The cross section by Gauss-Legendre quadrature and its error estimate.

    cos theta by two-point Gauss-Legendre (exact for the quadratic angular dependence), then the rapidity and the
    Breit-Wigner angle rho (m^2 = M^2 + M Gamma tan rho, which flattens the peak) with ``nodes`` points each; the
    error is the change from ``nodes // 2`` points.
    """

    from scipy.special import roots_legendre

    def rule(n: int) -> float:
        t, w = roots_legendre(n)
        lo = math.atan((setup.m_low**2 - M_Z**2) / (M_Z * GAMMA_Z))
        hi = math.atan((setup.m_high**2 - M_Z**2) / (M_Z * GAMMA_Z))
        rho = torch.as_tensor(lo + (hi - lo) * (t + 1) / 2)
        m = torch.sqrt(M_Z**2 + M_Z * GAMMA_Z * torch.tan(rho))
        dm_drho = M_Z * GAMMA_Z / torch.cos(rho) ** 2 / (2.0 * m) * (hi - lo) / 2
        y_max = torch.log(setup.sqrt_s / m)
        tt, ww = torch.as_tensor(t), torch.as_tensor(w)
        y = y_max[:, None] * tt[None, :]
        total = torch.zeros((), dtype=torch.float64)
        for cos in (-1.0 / math.sqrt(3.0), 1.0 / math.sqrt(3.0)):
            dens = _dy_density(m[:, None].expand_as(y), y, torch.full_like(y, cos), setup)
            total = total + (ww[:, None] * dm_drho[:, None] * ww[None, :] * y_max[:, None] * dens).sum()
        return float(total)

    fine = rule(nodes)
    return fine, abs(fine - rule(nodes // 2))


def drell_yan(setup: DrellYanSetup | None = None) -> Integrand:
    """pp -> gamma*/Z -> l+ l- through u ubar annihilation at leading order with :func:`toy_pdfs`, in pb.

    Variables (unit cube): ``x0`` -> dilepton mass m in [m_low, m_high] GeV, ``x1`` -> rapidity y of the pair in
    [-ln(sqrt(s)/m), ln(sqrt(s)/m)], ``x2`` -> cos theta of the lepton in [-1, 1], all flat; f includes the
    Jacobian, so its integral is the cross section (pb) in the mass window.

    Channels (``channel_maps`` and ``channel_prior``): the Z channel maps the mass with a Breit-Wigner, the photon
    channel with a 1/m^2 density; their prior weights are the squared propagators, as in single-diagram
    enhancement. The integral is a quadrature reference (:func:`_dy_reference`).
    """
    setup = setup or DrellYanSetup()
    if not 0 < setup.m_low < setup.m_high < setup.sqrt_s:
        raise ValueError(f"need 0 < m_low < m_high < sqrt_s, got {setup}")

    def f(u: torch.Tensor) -> torch.Tensor:
        m, y, cos, jac = _dy_point(u, setup)
        return _dy_density(m, y, cos, setup) * jac

    def prior(u: torch.Tensor) -> torch.Tensor:
        # single-diagram enhancement: alpha_i = |M_i|^2 / sum_j |M_j|^2 (interference left out)
        m = setup.m_low + (setup.m_high - setup.m_low) * u[:, 0]
        return _normalise_parts(torch.stack(_dy_squared_diagrams(m**2), dim=1))

    value, error = _dy_reference(setup)
    return Integrand(
        name="drell-yan",
        dim=3,
        function=f,
        integral=value,
        integral_error=error,
        reference="Gauss-Legendre quadrature, 160 x 160 nodes (error: change from 80 x 80)",
        channel_prior=prior,
        channel_maps=(lambda u: _bw_map(u, setup), lambda u: _power_map(u, setup)),
    )


def get(name: str) -> Integrand:
    """An integrand by its benchmark name: ``"gaussian d<k>"``, ``"camel d<k>"``, ``"annulus"``, ``"ring+line"``,
    ``"drell-yan"``."""
    if name.startswith(("camel d", "gaussian d")):
        family, _, d = name.partition(" d")
        if d.isdigit() and int(d) > 0:
            return camel(int(d)) if family == "camel" else gaussian(int(d))
    table = {"annulus": annulus, "ring+line": ring_plus_line, "drell-yan": drell_yan, "moving-bw d3": moving_resonance}
    family, _, d = name.partition(" d")
    if family in _STRESS and d.isdigit() and int(d) > 0:
        return _STRESS[family](int(d))
    if name in table:
        return table[name]()
    raise ValueError(
        f"unknown integrand {name!r}: use 'gaussian d<k>', 'camel d<k>' (e.g. 'camel d4'), 'annulus', 'ring+line' "
        "or 'drell-yan'"
    )


# -- the stress suite (issue 14): integrands chosen to break importance samplers ------------------------------------


def _rotation(dim: int, seed: int) -> np.ndarray:
    """A fixed random rotation (QR of a Gaussian matrix with the signs fixed), so the axes of a Gaussian are oblique."""
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


def _chi2_tail(dim: int, radius_in_sigmas: float) -> float:
    """Mass of a standard normal in ``dim`` dimensions outside the ball of the given radius: a bound on the mass a
    Gaussian loses at the cube's faces when its largest standard deviation fits that many times into the margin."""
    from scipy.stats import chi2

    return float(chi2.sf(radius_in_sigmas**2, dim))


def _gaussian_mixture(
    name: str, centers: np.ndarray, covariances: list[np.ndarray], weights: np.ndarray, why: str
) -> Integrand:
    """``sum_k w_k N(x; mu_k, C_k)``; every Gaussian lies so far inside the cube that the integral is ``sum w_k``
    up to the chi-square tail outside the largest ball around ``mu_k`` that fits inside (``integral_error``)."""
    dim = centers.shape[1]
    inv = [torch.as_tensor(np.linalg.inv(c)) for c in covariances]
    log_norm = [-0.5 * (dim * math.log(2 * math.pi) + math.log(np.linalg.det(c))) for c in covariances]
    mus = [torch.as_tensor(m) for m in centers]
    lost = 0.0
    for w, mu, c in zip(weights, centers, covariances, strict=True):
        margin = float(min(mu.min(), (1 - mu).min()))
        lost += float(w) * _chi2_tail(dim, margin / math.sqrt(float(np.linalg.eigvalsh(c).max())))

    def f(x: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(x.shape[0])
        for w, mu, p, ln in zip(weights, mus, inv, log_norm, strict=True):
            d = x - mu.to(x)
            total = total + float(w) * torch.exp(ln - 0.5 * ((d @ p.to(x)) * d).sum(dim=1))
        return total

    return Integrand(
        name=name,
        dim=dim,
        function=f,
        integral=float(np.sum(weights)) - lost / 2,
        integral_error=lost / 2,
        reference=f"closed form up to the Gaussian tails outside the cube (<= {lost:.1e}); {why}",
    )


def correlated_gaussian(dim: int = 4, *, sigma_max: float = 0.05, sigma_min: float = 0.005, seed: int = 1) -> Integrand:
    """A narrow Gaussian at the centre with oblique axes (a fixed random rotation), widths ``sigma_min..sigma_max``.

    Why it is hard: its projections on the axes are wide but the mass sits in a thin oblique needle, so a separable
    map (VEGAS) wastes most points; the weights of a poorly adapted flow have a heavy tail (the issue-14 failure).
    """
    dim = positive_int(dim, "dim")
    rot = _rotation(dim, seed)
    widths = np.geomspace(sigma_max, sigma_min, dim)
    cov = rot @ np.diag(widths**2) @ rot.T
    return _gaussian_mixture(
        f"corr-gauss d{dim}", np.full((1, dim), 0.5), [cov], np.ones(1), "an oblique needle VEGAS cannot align with"
    )


def multi_peak(dim: int = 6, *, seed: int = 2) -> Integrand:
    """Four Gaussians of unequal weight (0.4, 0.3, 0.2, 0.1) and width, at random places off the diagonal.

    Why it is hard: a mode-seeking sampler (reverse KL, or a variance loss started from a few peaks) finds the big
    peaks and misses the small ones, whose rare points then carry huge weights; VEGAS sees 4^d phantom peaks.
    """
    dim = positive_int(dim, "dim")
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.25, 0.75, size=(4, dim))
    widths = np.array([0.04, 0.03, 0.05, 0.02])
    covs = []
    for k, s in enumerate(widths):
        rot = _rotation(dim, seed + 10 + k)
        covs.append(rot @ np.diag((s * np.geomspace(1.0, 0.5, dim)) ** 2) @ rot.T)
    return _gaussian_mixture(
        f"multi-peak d{dim}", centers, covs, np.array([0.4, 0.3, 0.2, 0.1]), "unequal separated modes"
    )


def boundary_peak(dim: int = 4, *, sigma: float = 0.02) -> Integrand:
    """A narrow isotropic Gaussian centred on a corner-and-face point ``(0, 1, 0.5, 0, ...)``, cut by the cube.

    Why it is hard: half (or more) of each peak lies outside the cube, so the integrand is largest exactly at the
    boundary, where a spline flow's density is least flexible and where a wrong tail gives the largest weights.
    Exact: a product of error functions.
    """
    dim = positive_int(dim, "dim")
    sigma = _check_width(sigma, "sigma", 0.5)
    center = np.array([(0.0, 1.0, 0.5)[i % 3] for i in range(dim)])
    integral = math.prod(_erf_interval(float(c), sigma) for c in center)
    mu = torch.as_tensor(center)

    def f(x: torch.Tensor) -> torch.Tensor:
        norm = (2.0 * math.pi * sigma**2) ** (-0.5 * dim)
        return norm * torch.exp(-((x - mu.to(x)) ** 2).sum(dim=1) / (2.0 * sigma**2))

    return Integrand(name=f"boundary-peak d{dim}", dim=dim, function=f, integral=integral)


def _sphere_area(dim: int) -> float:
    return 2.0 * math.pi ** (dim / 2) / math.gamma(dim / 2)


def thin_shell(dim: int = 3, *, radius: float = 0.3, width: float = 0.01) -> Integrand:
    """``exp(-(r - radius)^2 / (2 width^2))`` with ``r`` the distance to the cube's centre: a thin spherical shell.

    Why it is hard: the mass lies on a curved (dim - 1)-dimensional surface of width ``width``; no separable map
    follows it and a flow must bend every coordinate. The integral is a 1D quadrature in r (``integral_error``
    from scipy's estimate; the shell ends 20 widths inside the cube).
    """
    from scipy.integrate import quad

    dim = positive_int(dim, "dim")
    if dim < 2 or radius + 20 * width > 0.5:
        raise ValueError(f"need dim >= 2 and radius + 20 width <= 0.5, got dim={dim}, {radius=}, {width=}")
    area = _sphere_area(dim)
    value, error = quad(
        lambda r: area * r ** (dim - 1) * math.exp(-((r - radius) ** 2) / (2 * width**2)),
        max(0.0, radius - 20 * width),
        radius + 20 * width,
        epsabs=0,
        epsrel=1e-12,
        points=[radius],
    )

    def f(x: torch.Tensor) -> torch.Tensor:
        r = torch.sqrt(((x - 0.5) ** 2).sum(dim=1))
        return torch.exp(-((r - radius) ** 2) / (2 * width**2))

    return Integrand(
        name=f"shell d{dim}",
        dim=dim,
        function=f,
        integral=value,
        integral_error=error,
        reference="adaptive quadrature in r (scipy.integrate.quad)",
    )


def simplex_corner(dim: int = 4, *, edge: float = 0.9) -> Integrand:
    """``1 + x_0`` on the simplex ``sum x_i < edge``, zero elsewhere: it vanishes on ``1 - edge^d / d!`` of the cube.

    Why it is hard: 97% of the cube (d = 4) gives f = 0, and the edge of the support is an oblique hyperplane, a
    discontinuity no separable grid can follow; a sampler must put almost all its points in a small corner.
    Exact: ``edge^d / d! + edge^(d+1) / (d+1)!``.
    """
    dim = positive_int(dim, "dim")
    edge = _check_width(edge, "edge", 1.0 + 1e-12)

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.where(x.sum(dim=1) < edge, 1.0 + x[:, 0], 0.0)

    integral = edge**dim / math.factorial(dim) + edge ** (dim + 1) / math.factorial(dim + 1)
    return Integrand(name=f"simplex d{dim}", dim=dim, function=f, integral=integral)


def small_ball(dim: int = 5, *, radius: float = 0.3) -> Integrand:
    """The indicator of a ball of radius ``radius`` at the centre: zero on 99% of the cube in 5D.

    Why it is hard: the support is 1.3% of the cube with a round boundary; a flow's tails outside it are wasted
    calls, and VEGAS's grid puts the corners of its box in the empty region. Exact: the ball's volume.
    """
    dim = positive_int(dim, "dim")
    radius = _check_width(radius, "radius", 0.5 + 1e-12)

    def f(x: torch.Tensor) -> torch.Tensor:
        return (((x - 0.5) ** 2).sum(dim=1) < radius**2).to(x.dtype)

    volume = math.pi ** (dim / 2) / math.gamma(dim / 2 + 1) * radius**dim
    return Integrand(name=f"ball d{dim}", dim=dim, function=f, integral=volume)


def moving_resonance(*, width: float = 0.005) -> Integrand:
    """A Breit-Wigner in ``x_0`` whose mass moves with ``x_1`` (``m = 0.3 + 0.4 x_1``), times ``1 + x_1 x_2``.

    Why it is hard: the resonance is a thin oblique band in the (x_0, x_1) plane (width ``width``), so its projection
    on ``x_0`` is flat and VEGAS cannot resolve it, while the Cauchy tails give large weights to a sampler that is
    too narrow. The ``x_0`` integral is closed form (arctan); the rest is Gauss-Legendre in ``x_1`` (error: change
    from half the nodes).
    """
    g = _check_width(width, "width", 0.5) / 2

    def f(x: torch.Tensor) -> torch.Tensor:
        m = 0.3 + 0.4 * x[:, 1]
        bw = (g / math.pi) / ((x[:, 0] - m) ** 2 + g**2)
        return bw * (1.0 + x[:, 1] * x[:, 2])

    def inner(x1: np.ndarray) -> np.ndarray:
        m = 0.3 + 0.4 * x1
        return (np.arctan((1 - m) / g) + np.arctan(m / g)) / math.pi * (1 + 0.5 * x1)

    def rule(nodes: int) -> float:
        t, w = np.polynomial.legendre.leggauss(nodes)
        return float(0.5 * np.sum(w * inner(0.5 * (t + 1))))

    value = rule(200)
    return Integrand(
        name="moving-bw d3",
        dim=3,
        function=f,
        integral=value,
        integral_error=abs(value - rule(100)),
        reference="arctan in x0, Gauss-Legendre (200 nodes) in x1; error: change from 100 nodes",
    )


def tilted_step(dim: int = 3) -> Integrand:
    """2 above the plane ``sum x_i = dim / 2``, 0.1 below it: a 20-fold discontinuity across an oblique plane.

    Why it is hard: the jump is not aligned with any axis, so a grid or spline smooths across it and leaves a
    band of mis-sampled points on either side; by symmetry each side has volume 1/2, so the integral is 1.05.
    """
    dim = positive_int(dim, "dim")

    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.where(x.sum(dim=1) > dim / 2, 2.0, 0.1).to(x.dtype)

    return Integrand(name=f"step d{dim}", dim=dim, function=f, integral=1.05)


STRESS_SUITE = (
    "corr-gauss d4",
    "corr-gauss d8",
    "multi-peak d6",
    "boundary-peak d4",
    "shell d3",
    "shell d4",
    "simplex d4",
    "ball d5",
    "moving-bw d3",
    "step d3",
    "drell-yan",
)
"""Names (for :func:`get`) of the stress suite: integrands the sampler's defaults were not tuned on."""

_STRESS = {
    "corr-gauss": correlated_gaussian,
    "multi-peak": multi_peak,
    "boundary-peak": boundary_peak,
    "shell": thin_shell,
    "simplex": simplex_corner,
    "ball": small_ball,
    "step": tilted_step,
}


def stress_suite() -> list[Integrand]:
    """The integrands of :data:`STRESS_SUITE`, each documented with why it breaks samplers."""
    return [get(name) for name in STRESS_SUITE]

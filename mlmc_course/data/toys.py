"""Toy problems whose right answers are known in closed form.

* :func:`z_lineshape`: a regression target, the e+e- -> mu+mu- cross section near the Z pole (nb), measured
  with Gaussian noise (and, optionally, a few outliers).
* :class:`ResonanceToy`: a two-class problem (a Z-like resonance over a falling background, with a decay-angle
  variable) whose densities, and so the exact likelihood ratio, are known analytically.
* :class:`KinematicToy`: simulation and "data" in (pT, eta) with a known density ratio (lesson 13's reweighting).
* :class:`DetectorToy`: a particle-level sample smeared by a Gaussian detector (lesson 13's unfolding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from mlmc_course.validation import as_array, positive_int

M_Z = 91.1876  # GeV
GAMMA_Z = 2.4952  # GeV
SIGMA_PEAK_MUMU = 1.9934  # nb, the pole cross section sigma^0_mumu = 12 pi Gamma_ee Gamma_mumu / (m_Z^2 Gamma_Z^2)


def z_cross_section(sqrt_s) -> np.ndarray:
    """Relativistic Breit-Wigner for e+e- -> Z -> mu+mu- (no photon exchange, no radiative corrections).

    sigma(s) = sigma0 * s Gamma_Z^2 / ((s - m_Z^2)^2 + s^2 Gamma_Z^2 / m_Z^2), in nb, with ``sqrt_s`` in GeV.
    """
    e = as_array(sqrt_s, "sqrt_s")
    if np.any(e <= 0):
        raise ValueError("sqrt_s must be positive (GeV)")
    s = e**2
    return SIGMA_PEAK_MUMU * s * GAMMA_Z**2 / ((s - M_Z**2) ** 2 + s**2 * GAMMA_Z**2 / M_Z**2)


def z_lineshape(
    n: int,
    *,
    low: float = 84.0,
    high: float = 98.0,
    rel_noise: float = 0.05,
    outlier_fraction: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy measurements of the Z line shape at random energies.

    Args:
        n: number of measurements.
        low, high: range of sqrt(s) in GeV.
        rel_noise: relative Gaussian error of each measurement.
        outlier_fraction: fraction of points replaced by wild values (a broken luminosity block, say),
            drawn uniformly between 0 and twice the peak.
        seed: random seed.

    Returns:
        ``sqrt_s`` (GeV) and ``sigma`` (nb), each of shape ``(n,)``.
    """
    n = positive_int(n, "n")
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high, got low={low}, high={high}")
    if not 0 <= outlier_fraction < 0.5:
        raise ValueError(f"outlier_fraction must lie in [0, 0.5), got {outlier_fraction}")
    rng = np.random.default_rng(seed)
    sqrt_s = rng.uniform(low, high, n)
    truth = z_cross_section(sqrt_s)
    sigma = truth * (1 + rel_noise * rng.standard_normal(n))
    bad = rng.random(n) < outlier_fraction
    sigma[bad] = rng.uniform(0, 2 * SIGMA_PEAK_MUMU, bad.sum())
    return sqrt_s, sigma


@dataclass(frozen=True)
class ResonanceToy:
    """Signal: a Gaussian mass peak with a (1 + cos^2 theta) decay angle; background: a falling exponential
    mass spectrum, flat in cos theta. Both truncated to ``m_low < m < m_high``.

    Features ``x[:, 0]`` = mass in GeV, ``x[:, 1]`` = cos theta. Labels: 1 = signal, 0 = background.
    """

    m_low: float = 60.0
    m_high: float = 140.0
    mass: float = 91.0
    width: float = 8.0
    slope: float = 30.0  # GeV, background decay length in mass

    def _sig_mass(self):
        a, b = (self.m_low - self.mass) / self.width, (self.m_high - self.mass) / self.width
        return stats.truncnorm(a, b, loc=self.mass, scale=self.width)

    def _bkg_norm(self) -> float:
        return self.slope * (np.exp(-self.m_low / self.slope) - np.exp(-self.m_high / self.slope))

    def mass_density(self, m, label: int) -> np.ndarray:
        """The normalised mass density p(m | label) in 1/GeV, for masses ``m`` of shape ``(n,)`` in GeV."""
        m = as_array(m, "m", ndim=1)
        inside = (m > self.m_low) & (m < self.m_high)
        if label == 1:
            p = self._sig_mass().pdf(m)
        elif label == 0:
            p = np.exp(-m / self.slope) / self._bkg_norm()
        else:
            raise ValueError(f"label must be 0 (background) or 1 (signal), got {label!r}")
        return np.where(inside, p, 0.0)

    def cos_density(self, c, label: int) -> np.ndarray:
        """The normalised density p(cos theta | label) for ``c`` of shape ``(n,)``: 3/8 (1 + c^2) or 1/2."""
        c = as_array(c, "c", ndim=1)
        if label == 1:
            p = 3.0 / 8.0 * (1 + c**2)
        elif label == 0:
            p = np.full_like(c, 0.5, dtype=float)
        else:
            raise ValueError(f"label must be 0 (background) or 1 (signal), got {label!r}")
        return np.where(np.abs(c) <= 1, p, 0.0)

    def density(self, x, label: int) -> np.ndarray:
        """The normalised density p(x | label) = p(m | label) p(cos theta | label) for ``x`` of shape ``(n, 2)``."""
        x = as_array(x, "x", shape=(None, 2))
        return self.mass_density(x[:, 0], label) * self.cos_density(x[:, 1], label)

    def likelihood_ratio(self, x) -> np.ndarray:
        """The exact ratio p(x | signal) / p(x | background), shape ``(n,)``."""
        return self.density(x, 1) / self.density(x, 0)

    def sample(self, n_sig: int, n_bkg: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_sig`` signal and ``n_bkg`` background events, shuffled.

        Returns:
            ``x`` of shape ``(n_sig + n_bkg, 2)`` (float32) and labels of shape ``(n_sig + n_bkg,)``.
        """
        n_sig, n_bkg = positive_int(n_sig, "n_sig"), positive_int(n_bkg, "n_bkg")
        rng = np.random.default_rng(seed)
        m_s = self._sig_mass().rvs(n_sig, random_state=rng)
        c_s = _sample_one_plus_cos2(n_sig, rng)
        u = rng.random(n_bkg)
        e_lo, e_hi = np.exp(-self.m_low / self.slope), np.exp(-self.m_high / self.slope)
        m_b = -self.slope * np.log(e_lo - u * (e_lo - e_hi))
        c_b = rng.uniform(-1, 1, n_bkg)
        x = np.concatenate([np.stack([m_s, c_s], 1), np.stack([m_b, c_b], 1)]).astype(np.float32)
        y = np.concatenate([np.ones(n_sig, np.int64), np.zeros(n_bkg, np.int64)])
        order = rng.permutation(len(y))
        return x[order], y[order]


def _sample_one_plus_cos2(n: int, rng: np.random.Generator) -> np.ndarray:
    """Inverse-CDF sampling of p(c) = 3/8 (1 + c^2) on [-1, 1]: solve c^3 + 3c = 8u - 4 (Cardano)."""
    q = 8 * rng.random(n) - 4
    root = np.sqrt(q**2 / 4 + 1)
    return np.cbrt(q / 2 + root) + np.cbrt(q / 2 - root)


def gaussian_nll_reference(pred, target, sigma) -> float:
    """Mean negative log-likelihood of Gaussian errors, used by the checks as the reference value."""
    pred, target, sigma = (as_array(a, n) for a, n in ((pred, "pred"), (target, "target"), (sigma, "sigma")))
    return float(np.mean(-stats.norm.logpdf(target, loc=pred, scale=sigma)))


__all__ = ["M_Z", "GAMMA_Z", "z_cross_section", "z_lineshape", "ResonanceToy"]


@dataclass(frozen=True)
class KinematicToy:
    """Simulation and "data" in two variables, (pT in GeV, eta), with densities known in closed form.

    pT follows a Gamma distribution (shape ``k``, scale ``scale_sim`` or ``scale_data``); given pT, eta is Gaussian
    with a width that falls linearly with pT (slopes differ), so the two differ in both variables and their
    correlation. An optional ``eta_max`` cuts the *simulation* to |eta| < eta_max: a hole in its coverage.
    """

    k: float = 2.0
    scale_sim: float = 20.0
    scale_data: float = 24.0
    eta_width: float = 1.5
    slope_sim: float = 0.004
    slope_data: float = 0.008
    eta_max: float | None = None

    def _eta_sigma(self, pt: np.ndarray, slope: float) -> np.ndarray:
        return np.maximum(self.eta_width - slope * pt, 0.5)

    def _trunc(self, sigma: np.ndarray) -> np.ndarray:
        if self.eta_max is None:
            return np.ones_like(sigma)
        return 2 * stats.norm.cdf(self.eta_max / sigma) - 1

    def density(self, x, which: str) -> np.ndarray:
        """p(x | sim) or p(x | data) for ``x`` of shape ``(n, 2)``."""
        x = as_array(x, "x", shape=(None, 2))
        pt, eta = x[:, 0], x[:, 1]
        if which == "sim":
            sigma = self._eta_sigma(pt, self.slope_sim)
            p = stats.gamma.pdf(pt, self.k, scale=self.scale_sim) * stats.norm.pdf(eta, 0, sigma) / self._trunc(sigma)
            if self.eta_max is not None:
                p = np.where(np.abs(eta) < self.eta_max, p, 0.0)
            return p
        if which == "data":
            sigma = self._eta_sigma(pt, self.slope_data)
            return stats.gamma.pdf(pt, self.k, scale=self.scale_data) * stats.norm.pdf(eta, 0, sigma)
        raise ValueError(f"which must be 'sim' or 'data', got {which!r}")

    def ratio(self, x) -> np.ndarray:
        """The exact weight p_data / p_sim, ``(n,)`` (infinite where the simulation has a hole)."""
        with np.errstate(divide="ignore"):
            return self.density(x, "data") / self.density(x, "sim")

    def sample(self, n: int, which: str, *, seed: int = 0) -> np.ndarray:
        """``n`` events ``(n, 2)`` = (pT [GeV], eta), float32."""
        n = positive_int(n, "n")
        if which not in ("sim", "data"):
            raise ValueError(f"which must be 'sim' or 'data', got {which!r}")
        rng = np.random.default_rng(seed)
        scale, slope = (self.scale_sim, self.slope_sim) if which == "sim" else (self.scale_data, self.slope_data)
        pt = rng.gamma(self.k, scale, n)
        sigma = self._eta_sigma(pt, slope)
        if which == "sim" and self.eta_max is not None:
            lo, hi = -self.eta_max / sigma, self.eta_max / sigma
            eta = stats.truncnorm.rvs(lo, hi, loc=0, scale=sigma, random_state=rng)
        else:
            eta = rng.normal(0, sigma)
        return np.column_stack([pt, eta]).astype(np.float32)


@dataclass(frozen=True)
class DetectorToy:
    """A particle-level variable t ~ N(mu, sigma) seen through a Gaussian detector, r = t + N(0, resolution)."""

    resolution: float = 0.5

    def sample(self, n: int, mu: float, sigma: float, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs: particle level ``(n, 1)`` and detector level ``(n, 1)``, float32."""
        n = positive_int(n, "n")
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        rng = np.random.default_rng(seed)
        truth = rng.normal(mu, sigma, n)
        reco = truth + rng.normal(0, self.resolution, n)
        return truth[:, None].astype(np.float32), reco[:, None].astype(np.float32)

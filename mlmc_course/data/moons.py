"""Two moons: the two-dimensional toy on which the generative lessons start."""

from __future__ import annotations

import numpy as np

from mlmc_course.validation import positive_int


def two_moons(n: int, *, noise: float = 0.05, seed: int = 0, standardise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Sample the two-moons distribution (scikit-learn's ``make_moons``).

    Args:
        n: number of points.
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: random seed.
        standardise: shift and scale to zero mean and unit variance per coordinate (the exact constants of
            the noise-free distribution, so that every sample uses the same map).

    Returns:
        ``x`` of shape ``(n, 2)`` (float32) and the moon label of each point, shape ``(n,)``.
    """
    from sklearn.datasets import make_moons

    n = positive_int(n, "n")
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must lie in [0, 1), got {noise}")
    x, label = make_moons(n_samples=n, noise=noise, random_state=np.random.RandomState(seed))
    if standardise:
        x = (x - MOONS_MEAN) / MOONS_STD
    return x.astype(np.float32), label.astype(np.int64)


# Mean and standard deviation of the noise-free two moons, computed once from 10^7 points.
MOONS_MEAN = np.array([0.5, 0.25])
MOONS_STD = np.array([0.8660, 0.4942])

"""mlmc-course: machine learning for Monte Carlo event generators.

The helper package that every lesson imports. It holds what a lesson explains once and then reuses:
datasets, reference models, the shared training loop, metrics, plotting and the graded checks.
"""

from mlmc_course.config import MODES, RunConfig, device, seed_everything, setup

__version__ = "0.1.0"
__all__ = ["MODES", "RunConfig", "device", "seed_everything", "setup", "__version__"]

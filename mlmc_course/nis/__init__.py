"""Neural importance sampling (lesson 09): MadNIS-style flows, channels, VEGAS and unweighting.

One module per concept: :mod:`~mlmc_course.nis.flows` (rational-quadratic spline coupling flows),
:mod:`~mlmc_course.nis.losses` (variance and KL), :mod:`~mlmc_course.nis.channels` (channel weights, stratified
allocation), :mod:`~mlmc_course.nis.vegas_init` (VEGAS baseline and grid initialisation),
:mod:`~mlmc_course.nis.buffer` (buffered training), :mod:`~mlmc_course.nis.integrator` (the sampler),
:mod:`~mlmc_course.nis.unweighting` (unweighting and its efficiency), :mod:`~mlmc_course.nis.results`,
:mod:`~mlmc_course.nis.diagnostics` (weight-tail diagnostics and the heavy-tail warning).
"""

from mlmc_course.nis.buffer import SampleBuffer
from mlmc_course.nis.channels import ChannelWeights, allocate
from mlmc_course.nis.diagnostics import HeavyTailWarning, WeightDiagnostics, pareto_k, weight_diagnostics
from mlmc_course.nis.flows import SplineCoupling, SplineFlow, coupling_masks
from mlmc_course.nis.integrator import IntegrandError, NISIntegrator, TrainingHistory, as_integrand
from mlmc_course.nis.losses import (
    kl_loss,
    multichannel_kl_loss,
    stratified_variance_loss,
    variance_loss,
)
from mlmc_course.nis.results import IntegrationResult, WeightedSample
from mlmc_course.nis.unweighting import (
    UnweightingReport,
    bootstrap_max,
    overweight_max,
    unweight,
    unweighting_efficiency,
)
from mlmc_course.nis.vegas_init import VegasRun, grid_knots, run_vegas, train_vegas_map

__all__ = [
    "ChannelWeights",
    "HeavyTailWarning",
    "IntegrandError",
    "IntegrationResult",
    "NISIntegrator",
    "SampleBuffer",
    "SplineCoupling",
    "SplineFlow",
    "TrainingHistory",
    "UnweightingReport",
    "VegasRun",
    "WeightDiagnostics",
    "WeightedSample",
    "allocate",
    "as_integrand",
    "bootstrap_max",
    "coupling_masks",
    "grid_knots",
    "kl_loss",
    "multichannel_kl_loss",
    "overweight_max",
    "pareto_k",
    "run_vegas",
    "stratified_variance_loss",
    "train_vegas_map",
    "unweight",
    "unweighting_efficiency",
    "variance_loss",
    "weight_diagnostics",
]

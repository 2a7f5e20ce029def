"""The link between lessons and package: wherever the package has its own version of an exercise's function (which
later cells of the lesson import), that version passes the lesson's graded checks, public and hidden.

``TWINS`` maps each such exercise to the package's function, through a small explicit adapter where the signatures
differ; ``DIFFERENT`` says why a namesake in the package is not the same function. Every namesake that
:func:`mlmc_course.grading.release.twins` finds must be in one of the two.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch

from mlmc_course.grading.harness import run_answer, run_checks
from mlmc_course.grading.lesson import read_lesson
from mlmc_course.grading.release import twins
from tests.conftest import ROOT


def _package(location: str):
    module, name = location.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def same(location: str) -> Callable[[], Callable]:
    """The package's function as it is: same arguments, same result."""
    return lambda: _package(location)


# --- adapters (the package's function, called the way the exercise is) ------------------------------------------


def _nll_per_point():  # 01: mean NLL of (n,) tensors with sigma; the package sums log N over features, log sigma
    from mlmc_course.models.vae import gaussian_nll

    return lambda pred, target, sigma: gaussian_nll(target[:, None], pred[:, None], torch.log(sigma)[:, None]).mean()


def _bce_of_logits():  # 02: the package's loss takes a model and a batch; here the model is the identity
    from mlmc_course.models.taggers import bce_loss

    return lambda logits, labels: bce_loss(lambda z: z.to(torch.float32), (logits, labels))


def _weights(prior: Callable[[int, int], float]):  # 02, 13, 16: s/(1 - s) times the ratio of the class sizes
    from mlmc_course.reweight.weights import weights_from_probabilities

    return lambda s, n_a, n_b: weights_from_probabilities(s, prior_ratio=prior(n_a, n_b))


def _ensemble():  # 05: the package takes the members themselves and returns an EnsemblePrediction
    from mlmc_course.uncertainty import ensemble_predict

    def predict(make_member, x, n_members):
        out = ensemble_predict([make_member(seed) for seed in range(n_members)], x)
        return out.mean, out.total

    return predict


def _coverage():  # 05: the package returns a Coverage with the fraction and its binomial error
    from mlmc_course.uncertainty import coverage

    return lambda y, mean, std, level: coverage(y, mean, std, level).fraction


def _negative_elbo():  # 06: reconstruction NLL + beta KL from the package's two terms
    from mlmc_course.models.vae import gaussian_nll, kl_to_standard_normal

    return lambda x, x_mean, log_sigma_x, mu, logvar, beta: (
        gaussian_nll(x, x_mean, log_sigma_x) + beta * kl_to_standard_normal(mu, logvar)
    )


def _flow_log_prob():  # 07: the package's base density plus the flow's log-determinant
    from mlmc_course.models.tensors import standard_normal_log_prob

    def log_prob(x, to_noise):
        z, log_det = to_noise(x)
        return standard_normal_log_prob(z) + log_det

    return log_prob


class _Conditioner(torch.nn.Module):
    """The exercise's conditioner, returning (s, t), as the package block's network, returning (s | t)."""

    def __init__(self, conditioner):
        super().__init__()
        self.conditioner = conditioner

    def forward(self, h):
        return torch.cat(self.conditioner(h), dim=1)


def _coupling(direction: str):  # 07: the package's block with the given conditioner; its soft clamp made inert
    from mlmc_course.models.flows import AffineCoupling

    def block(x, mask, conditioner):
        layer = AffineCoupling(mask, hidden=(1,), scale_clamp=1e6)  # |s| << 1e6: tanh(s / c) c = s to 1e-12
        layer.net = _Conditioner(conditioner)
        return layer(x) if direction == "forward" else layer.inverse(x)[0]

    return lambda: block


def _euler():  # 08: the package's fixed-step integrator with Euler steps
    from mlmc_course.models.diffusion import odeint

    return lambda velocity, x0, n_steps: odeint(velocity, x0, n_steps=n_steps, method="euler")


def _divergence():  # 08: FlowMatching.divergence, for a velocity that is not a FlowMatching network
    from mlmc_course.models.diffusion import FlowMatching

    def divergence(velocity, x, t):
        model = SimpleNamespace(velocity=lambda xs, ts, context: velocity(xs, ts), n_features=x.shape[1])
        return FlowMatching.divergence(model, x, t)

    return divergence


def _variance():  # 09: the package's loss is the variance relative to I^2; its helper gives the variance itself
    from mlmc_course.nis.losses import _variance

    return lambda f, g: _variance(f, torch.log(g), torch.log(g).detach())[0]  # q = g, frozen: the g/q form


def _unweight():  # 09: the package also returns the new weights
    from mlmc_course.nis.unweighting import unweight

    return lambda weights, rng: unweight(weights, rng)[0]


def _unweight_and_correct():  # 10: the package returns an UnweightingResult
    from mlmc_course.surrogates import unweight_and_correct

    def run(x, surrogate, exact, volume, rng):
        out = unweight_and_correct(x, surrogate, exact, volume, rng)
        return out.sigma, out.error

    return run


def _valence_integral():  # 11: the package integrates tabulated x f(x), flavours in columns, on a grid it is given
    import numpy as np

    from mlmc_course.pdf import sum_rule_integral

    def integral(xf, x_min):
        x = np.geomspace(x_min, 1.0, 4000)
        return float(sum_rule_integral(np.asarray(xf(x))[:, None], x)[0])

    return integral


def _normalised_nll():  # 14: the package works on tensors
    from mlmc_course.dctr import normalised_nll

    return lambda target, nominal: float(normalised_nll(torch.as_tensor(target), torch.as_tensor(nominal)))


def _dctr_training_set():  # 14: the package draws the nominal events' parameters; the rest is bookkeeping
    import numpy as np

    from mlmc_course.dctr import assign_nominal_parameters

    def training_set(x_nominal, x_varied, theta_varied, theta_nominal, rng):
        theta = np.concatenate([assign_nominal_parameters(theta_varied, len(x_nominal), rng), theta_varied])
        y = np.concatenate([np.zeros(len(x_nominal)), np.ones(len(x_varied))])
        return np.concatenate([x_nominal, x_varied]), theta, y

    return training_set


def _weighted_w1():  # 15: the package's W_p with weights on the first sample
    from mlmc_course.ot import wasserstein_1d

    return lambda a, w, b: wasserstein_1d(a, b, weights_a=w)


TWINS: dict[tuple[str, str, str], Callable[[], Callable]] = {
    ("01_regression", "gaussian_nll", "mlmc_course.models.vae.gaussian_nll"): _nll_per_point,
    ("02_classification", "bce_loss", "mlmc_course.models.taggers.bce_loss"): _bce_of_logits,
    ("02_classification", "likelihood_ratio", "mlmc_course.reweight.weights.weights_from_probabilities"): lambda: (
        _weights(lambda n_sig, n_bkg: n_bkg / n_sig)
    ),
    ("02_classification", "auc", "mlmc_course.metrics.classification.auc"): same(
        "mlmc_course.metrics.classification.auc"
    ),
    ("04_taggers", "masked_pool", "mlmc_course.models.taggers.masked_sum"): same(
        "mlmc_course.models.taggers.masked_sum"
    ),
    ("04_taggers", "knn_adjacency", "mlmc_course.models.taggers.knn_adjacency"): same(
        "mlmc_course.models.taggers.knn_adjacency"
    ),
    ("04_taggers", "minkowski_matrix", "mlmc_course.lorentz.minkowski_matrix"): same(
        "mlmc_course.lorentz.minkowski_matrix"
    ),
    ("05_uncertainties", "gaussian_nll", "mlmc_course.uncertainty.gaussian_nll"): same(
        "mlmc_course.uncertainty.gaussian_nll"
    ),
    ("05_uncertainties", "ensemble_predict", "mlmc_course.uncertainty.ensemble_predict"): _ensemble,
    ("05_uncertainties", "coverage", "mlmc_course.uncertainty.coverage"): _coverage,
    ("06_gans_vaes", "wasserstein_1d", "mlmc_course.metrics.samples.wasserstein_1d"): same(
        "mlmc_course.metrics.samples.wasserstein_1d"
    ),
    ("06_gans_vaes", "wasserstein_1d", "mlmc_course.ot.wasserstein_1d"): same("mlmc_course.ot.wasserstein_1d"),
    ("06_gans_vaes", "generator_loss", "mlmc_course.models.gan.generator_loss"): same(
        "mlmc_course.models.gan.generator_loss"
    ),
    ("06_gans_vaes", "reparameterize", "mlmc_course.models.vae.reparameterize"): same(
        "mlmc_course.models.vae.reparameterize"
    ),
    ("06_gans_vaes", "negative_elbo", "mlmc_course.models.vae.kl_to_standard_normal"): _negative_elbo,
    ("07_flows", "flow_log_prob", "mlmc_course.models.tensors.standard_normal_log_prob"): _flow_log_prob,
    ("07_flows", "affine_coupling", "mlmc_course.models.flows.AffineCoupling"): _coupling("forward"),
    ("07_flows", "affine_coupling_inverse", "mlmc_course.models.flows.AffineCoupling"): _coupling("inverse"),
    ("08_diffusion", "diffuse", "mlmc_course.models.diffusion.diffuse"): same("mlmc_course.models.diffusion.diffuse"),
    ("08_diffusion", "cfm_target", "mlmc_course.models.diffusion.cfm_interpolant"): same(
        "mlmc_course.models.diffusion.cfm_interpolant"
    ),
    ("08_diffusion", "euler_sample", "mlmc_course.models.diffusion.odeint"): _euler,
    ("08_diffusion", "divergence", "mlmc_course.models.diffusion.FlowMatching"): _divergence,
    ("09_nis", "variance_loss", "mlmc_course.nis.losses.variance_loss"): _variance,
    ("09_nis", "unweight", "mlmc_course.nis.unweighting.unweight"): _unweight,
    ("10_surrogates", "resolved", "mlmc_course.surrogates.resolved"): same("mlmc_course.surrogates.resolved"),
    ("10_surrogates", "eikonal_me", "mlmc_course.surrogates.me_eikonal"): same("mlmc_course.surrogates.me_eikonal"),
    ("10_surrogates", "unweight_and_correct", "mlmc_course.surrogates.unweight_and_correct"): _unweight_and_correct,
    ("11_pdfs", "valence_integral", "mlmc_course.pdf.sum_rule_integral"): _valence_integral,
    ("11_pdfs", "mc_replicas", "mlmc_course.pdf.mc_replicas"): same("mlmc_course.pdf.mc_replicas"),
    ("11_pdfs", "closure_pulls", "mlmc_course.pdf.pulls"): same("mlmc_course.pdf.pulls"),
    ("11_pdfs", "effective_exponents", "mlmc_course.pdf.effective_exponents"): same(
        "mlmc_course.pdf.effective_exponents"
    ),
    ("12_hadronization", "lund_f", "mlmc_course.hadronization.lund_f"): same("mlmc_course.hadronization.lund_f"),
    ("13_reweighting", "classifier_weights", "mlmc_course.reweight.weights.weights_from_probabilities"): lambda: (
        _weights(lambda n_sim, n_data: n_sim / n_data)
    ),
    ("13_reweighting", "effective_sample_size", "mlmc_course.reweight.weights.effective_sample_size"): same(
        "mlmc_course.reweight.weights.effective_sample_size"
    ),
    ("13_reweighting", "clip_weights", "mlmc_course.reweight.weights.clip_weights"): same(
        "mlmc_course.reweight.weights.clip_weights"
    ),
    ("14_dctr", "normalised_nll", "mlmc_course.dctr.normalised_nll"): _normalised_nll,
    ("14_dctr", "parabola_minimum", "mlmc_course.dctr.parabola_minimum"): same("mlmc_course.dctr.parabola_minimum"),
    ("14_dctr", "dctr_training_set", "mlmc_course.dctr.assign_nominal_parameters"): _dctr_training_set,
    ("15_optimal_transport", "quantile_map", "mlmc_course.ot.quantile_map"): same("mlmc_course.ot.quantile_map"),
    ("15_optimal_transport", "wasserstein_1d_weighted", "mlmc_course.ot.wasserstein_1d"): _weighted_w1,
    ("15_optimal_transport", "barycentric_map", "mlmc_course.ot.barycentric_map"): same(
        "mlmc_course.ot.barycentric_map"
    ),
    ("16_sbi", "carl_ratio", "mlmc_course.reweight.weights.weights_from_probabilities"): lambda: _weights(
        lambda n_num, n_den: n_den / n_num
    ),
    ("16_sbi", "rascal_loss", "mlmc_course.sbi.rascal_terms"): same("mlmc_course.sbi.rascal_terms"),
}

DIFFERENT: dict[tuple[str, str, str], str] = {
    ("01_regression", "gaussian_nll", "mlmc_course.uncertainty.gaussian_nll"): (
        "lesson 05's NumPy version with log variances; lesson 01 asks for a torch loss with sigma (its twin above)"
    ),
    ("05_uncertainties", "gaussian_nll", "mlmc_course.models.vae.gaussian_nll"): (
        "the VAE's torch NLL per event with log sigma, summed over features; lesson 05's twin is uncertainty's"
    ),
    ("03_trees", "r30", "mlmc_course.metrics.classification.rejection_at"): (
        "builds the ROC curve from scores and labels itself; the exercise reads a ROC curve it is given"
    ),
    ("04_taggers", "centre_jet", "mlmc_course.representations.relative_coordinates"): (
        "centres on the axis of the summed four-momenta, from absolute eta and phi; the exercise centres on the "
        "pT-weighted centroid of relative coordinates"
    ),
    ("12_hadronization", "rejection_sample", "mlmc_course.hadronization.sample_lund"): (
        "samples the Lund function only, by its own method; the exercise is a rejection sampler for any f"
    ),
    ("15_optimal_transport", "sinkhorn", "mlmc_course.ot.sinkhorn_plan"): (
        "takes points and builds the squared Euclidean cost, runs POT's log-domain solver to a tolerance; the "
        "exercise iterates a given cost matrix a given number of times"
    ),
    ("16_sbi", "joint_log_ratio", "mlmc_course.sbi.joint_log_ratio"): (
        "takes the latent z and computes the terms f0, f1, f2 itself; the exercise is given the terms"
    ),
    ("16_sbi", "joint_score", "mlmc_course.sbi.joint_score"): (
        "takes the latent z and computes the terms f0, f1, f2 itself; the exercise is given the terms"
    ),
}


def _question(lesson: str, name: str):
    source = read_lesson(ROOT / "lessons" / f"{lesson}.py")
    return source, next(q for q in source.questions if q.name == name)


def test_every_namesake_in_the_package_is_tested_or_explained():
    known = set(TWINS) | set(DIFFERENT)
    missing = [
        f"{t.lesson}/{t.question}: {location}"
        for t in twins(ROOT)
        for location in t.locations
        if (t.lesson, t.question, location) not in known
    ]
    assert not missing, "add these to TWINS (with an adapter) or DIFFERENT (with the reason):\n" + "\n".join(missing)
    assert not set(TWINS) & set(DIFFERENT)


# Twins that fail their lesson's check: findings for the package's owners, kept visible here until fixed (strict, so
# that the test says when a fix lands and the mark must go).
FINDINGS: dict[tuple[str, str, str], str] = {}  # twin -> why it fails its lesson's check (xfail, strict)


def _cases():
    for key in TWINS:
        marks = [pytest.mark.xfail(strict=True, reason=FINDINGS[key])] if key in FINDINGS else []
        yield pytest.param(key, marks=marks, id=f"{key[0]}::{key[1]}::{key[2].rsplit('.', 1)[1]}")


@pytest.mark.parametrize("key", _cases())
def test_the_package_version_passes_the_lessons_checks(key):
    lesson, name, location = key
    _package(location)  # the twin exists under that name
    source, q = _question(lesson, name)
    env = run_answer(source, [])
    env[_function_name(q)] = TWINS[key]()
    run_checks(env, q.checks + q.hidden)


def _function_name(question) -> str:
    import ast

    tree = ast.parse(question.solution[0])
    return next(node.name for node in tree.body if isinstance(node, ast.FunctionDef))

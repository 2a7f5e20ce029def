"""OmniFold (arXiv:1911.09107): iterative unfolding by classifier reweighting, with any classifier."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmc_course.reweight.weights import Classifier, _weights, weights_from_probabilities
from mlmc_course.validation import as_array, positive_int, same_length


@dataclass
class OmniFoldResult:
    """Weights after each iteration: ``pull`` (step 1, on simulated events at detector level) and ``push``
    (step 2, particle-level weights, the unfolded result), each ``(iterations, n_sim)``."""

    pull: np.ndarray
    push: np.ndarray


def omnifold(
    sim_truth,
    sim_reco,
    data_reco,
    classifier: Classifier,
    *,
    iterations: int = 2,
    sim_weights=None,
    data_weights=None,
) -> OmniFoldResult:
    """Unfold ``data_reco`` by iteratively reweighting the simulation (OmniFold, arXiv:1911.09107).

    Each iteration n does two steps, starting from nu_0 = ``sim_weights``:

    1. detector level: train data (class 1) against simulation weighted by nu_{n-1} (class 0); the pulled weights
       are omega_n = nu_{n-1} * s / (1 - s) at each simulated event's detector-level values;
    2. particle level: train simulation weighted by omega_n (class 1) against the same events weighted by nu_{n-1}
       (class 0), on their particle-level values; the pushed weights are nu_n = nu_{n-1} * s / (1 - s).

    Step 2 turns per-event detector-level weights into a function of the particle-level values alone, which is
    what an unfolded result must be.

    Args:
        sim_truth, sim_reco: the simulated events at particle and detector level, ``(n_sim, d_truth)`` and
            ``(n_sim, d_reco)``, row i being the same event.
        data_reco: the measured events ``(n_data, d_reco)``.
        classifier: a :data:`Classifier`, e.g. ``keras_classifier(hidden=(32, 32))``.
        iterations: number of iterations (each trains two classifiers).
        sim_weights, data_weights: initial weights (default 1).
    """
    truth = as_array(sim_truth, "sim_truth", ndim=2)
    reco = as_array(sim_reco, "sim_reco", ndim=2)
    same_length(sim_truth=truth, sim_reco=reco)
    data = as_array(data_reco, "data_reco", shape=(None, reco.shape[1]))
    iterations = positive_int(iterations, "iterations")
    nu = np.ones(len(truth)) if sim_weights is None else _weights(sim_weights, "sim_weights", len(truth))
    wd = np.ones(len(data)) if data_weights is None else _weights(data_weights, "data_weights", len(data))
    pulls, pushes = [], []
    for _ in range(iterations):
        step1 = classifier(reco, data, nu, wd)
        omega = nu * weights_from_probabilities(step1(reco))
        step2 = classifier(truth, truth, nu, omega)
        nu = nu * weights_from_probabilities(step2(truth))
        pulls.append(omega)
        pushes.append(nu)
    return OmniFoldResult(np.array(pulls), np.array(pushes))

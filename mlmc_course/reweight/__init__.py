"""Reweighting simulation to data with a classifier, and iterative unfolding the OmniFold way.

Weighting simulated events by the classifier's density ratio w(x) = p_data(x) / p_sim(x) makes every distribution
of the simulation match the data, in all variables the classifier saw at once. One module per concept:

* :mod:`~mlmc_course.reweight.weights`: weights from probabilities, effective sample size, normalisation, clipping;
* :mod:`~mlmc_course.reweight.histograms`: weighted histograms with errors and the comparison of two samples;
* :mod:`~mlmc_course.reweight.classifier`: a small Keras classifier (TensorFlow imported only when trained);
* :mod:`~mlmc_course.reweight.omnifold`: OmniFold (arXiv:1911.09107), which takes any classifier.

The toys with known density ratios (:class:`~mlmc_course.data.toys.KinematicToy`,
:class:`~mlmc_course.data.toys.DetectorToy`) live with the other toys in :mod:`mlmc_course.data.toys`.
"""

from mlmc_course.reweight.classifier import KerasClassifier, keras_classifier, train_keras_classifier
from mlmc_course.reweight.histograms import Comparison, compare_histograms, comparison_plot, weighted_histogram
from mlmc_course.reweight.omnifold import OmniFoldResult, omnifold
from mlmc_course.reweight.weights import (
    Classifier,
    clip_weights,
    effective_sample_size,
    normalise,
    weights_from_probabilities,
)

__all__ = [
    "Classifier",
    "Comparison",
    "KerasClassifier",
    "OmniFoldResult",
    "clip_weights",
    "compare_histograms",
    "comparison_plot",
    "effective_sample_size",
    "keras_classifier",
    "normalise",
    "omnifold",
    "train_keras_classifier",
    "weighted_histogram",
    "weights_from_probabilities",
]

"""Metrics: classifier performance (ROC, AUC, background rejection) and, in later lessons, sample quality."""

from mlmc_course.metrics.classification import auc, bootstrap, rejection_at, roc_curve

__all__ = ["auc", "bootstrap", "rejection_at", "roc_curve"]

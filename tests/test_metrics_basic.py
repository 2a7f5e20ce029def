from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mlmc_course.metrics import auc, bootstrap, rejection_at, roc_curve


def test_gaussian_scores_give_the_analytic_auc_and_r30():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 100000)
    s = rng.normal(y * 1.0, 1.0)
    assert abs(auc(s, y) - stats.norm.cdf(1 / np.sqrt(2))) < 0.003
    cut = stats.norm.ppf(0.7, loc=1.0)  # keeps 30% of signal
    r30 = 1 / stats.norm.sf(cut)
    assert abs(rejection_at(s, y, 0.3) / r30 - 1) < 0.03


def test_roc_curve_runs_from_strict_to_loose():
    eff_s, eff_b, _ = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    assert eff_s[-1] == 1 and eff_b[-1] == 1 and eff_s[0] == 0


def test_bootstrap_spread_scales_like_one_over_root_n():
    rng = np.random.default_rng(1)
    small = bootstrap(auc, rng.normal(np.repeat([0, 1], 500)), np.repeat([0, 1], 500), n_boot=60)
    large = bootstrap(auc, rng.normal(np.repeat([0, 1], 8000)), np.repeat([0, 1], 8000), n_boot=60)
    assert 2.5 < small.error / large.error < 6


def test_metric_input_errors():
    with pytest.raises(ValueError, match="only one class"):
        auc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="same length"):
        auc([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        auc([np.nan, 0.2], [0, 1])
    with pytest.raises(ValueError, match="eff_s"):
        rejection_at([0.1, 0.2], [0, 1], 1.5)

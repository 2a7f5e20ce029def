from __future__ import annotations

import numpy as np
import pytest
import torch

from mlmc_course.validation import as_array, binary_labels, in_range, positive_int, same_length


def test_as_array_accepts_lists_and_tensors():
    assert as_array([1, 2], "x").dtype == np.float64
    assert as_array(torch.ones(2, requires_grad=True), "x").shape == (2,)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        ([[1, 2], [3]], {}, "ragged"),
        (["a"], {}, "numeric"),
        (np.ones(3), {"ndim": 2}, "must have 2 dimension"),
        (np.ones((3, 2)), {"shape": (None, 3)}, r"must have shape \(n, 3\), got \(3, 2\)"),
        ([1.0, np.nan], {}, "1 NaN or infinite"),
        (np.ones(2), {"dtype": "int"}, "integers"),
    ],
)
def test_as_array_errors_say_what_is_wrong(value, kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        as_array(value, "x", **kwargs)


def test_labels_ranges_and_lengths():
    assert binary_labels([0, 1, 1.0]).tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match="0 \\(background\\) or 1"):
        binary_labels([0, 2])
    with pytest.raises(ValueError, match="non-integer"):
        binary_labels([0.5, 1])
    with pytest.raises(ValueError, match="must lie in"):
        in_range(np.array([0.5, 1.5]), "p", 0, 1)
    with pytest.raises(ValueError, match="same length"):
        same_length(a=np.ones(2), b=np.ones(3))
    with pytest.raises(ValueError, match="positive integer"):
        positive_int(0, "n")
    with pytest.raises(ValueError, match="positive integer"):
        positive_int(True, "n")

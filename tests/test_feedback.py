"""A failed check shows its message first and no doctest or traceback lines; otter's scoring is unchanged."""

from __future__ import annotations

import shutil

import otter
import pytest

from mlmc_course.checks import l02_classification as checks  # noqa: F401  (the tests call `checks.<name>`)
from mlmc_course.grading.feedback import failure_message, readable
from tests.conftest import ROOT

UPSIDE_DOWN = "the ratio is upside down"


@pytest.fixture
def grader(tmp_path, monkeypatch):
    """An otter grader on a copy of lesson 02's student notebook, as a student's kernel has it."""
    shutil.copy(ROOT / "notebooks" / "02_classification.ipynb", tmp_path)
    monkeypatch.chdir(tmp_path)
    return readable(otter.Notebook("02_classification.ipynb"))


def likelihood_ratio(s, n_sig, n_bkg):
    """The recorded wrong answer of lesson 02: upside down."""
    return (1.0 - s) / s * (n_sig / n_bkg)


def test_a_failed_check_shows_its_message_first_and_no_doctest(grader):
    result = grader.check("likelihood_ratio")
    plain, page = repr(result), result._repr_html_()
    assert plain.splitlines()[0].startswith(UPSIDE_DOWN), plain
    assert page.index(UPSIDE_DOWN) < page.index("likelihood_ratio:"), "the message must come before the status"
    for noise in ("Trying:", "Expecting nothing", "*****", "Traceback", "doctest", "CheckFailed"):
        assert noise not in plain and noise not in page, noise
    # otter's own output (what the wrapper replaces) buries the message under the doctest log
    raw = result._result.summary()
    assert "Trying:" in raw and raw.strip().splitlines()[-1].strip().endswith("not the inverse")


def test_scoring_and_passing_output_are_otters(grader):
    wrong = grader.check("likelihood_ratio")
    assert (wrong.score, wrong.possible, wrong.passed_all) == (0, 2, False)

    def likelihood_ratio(s, n_sig, n_bkg):
        return s / (1.0 - s) * (n_bkg / n_sig)

    right = grader.check("likelihood_ratio", global_env={**globals(), "likelihood_ratio": likelihood_ratio})
    assert (right.score, right.possible, right.passed_all) == (2, 2, True)
    assert repr(right) == "likelihood_ratio results: All test cases passed!"  # as the solutions' nbval expects


def test_the_check_sees_the_callers_names(grader):
    """otter finds the notebook's globals by walking the stack; through the wrapper it must still find them."""
    assert grader.check("likelihood_ratio").messages[0].startswith(UPSIDE_DOWN)


LOG = """❌ Test case failed
Trying:
    checks.auc(auc)
Expecting nothing
**********************************************************************
Line 1, in auc 0
Failed example:
    checks.auc(auc)
Exception raised:
    Traceback (most recent call last):
      File "doctest.py", line 1353, in __run
        exec(compile(example.source, filename, "single",
      File "<doctest auc 0[0]>", line 1, in <module>
        checks.auc(auc)
    {exc}
"""


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        ("mlmc_course.checks.core.CheckFailed: auc gives 0.5", "auc gives 0.5"),
        ("mlmc_course.checks.core.CheckFailed: two\n    lines", "two\nlines"),
        ("AssertionError: shape (3,) expected", "shape (3,) expected"),
        ("NameError: name 'auc' is not defined", "NameError: name 'auc' is not defined"),
    ],
)
def test_failure_message_from_otters_log(exc, message):
    assert failure_message(LOG.format(exc=exc)) == message


def test_failure_message_of_a_chained_exception_is_the_last_one():
    chained = LOG.format(
        exc="ValueError: inner\n\n    The above exception was the direct cause of the following "
        'exception:\n\n    Traceback (most recent call last):\n      File "x.py", line 1, in f\n'
        "        g()\n    mlmc_course.checks.core.CheckFailed: auc raised ValueError: inner"
    )
    assert failure_message(chained) == "auc raised ValueError: inner"

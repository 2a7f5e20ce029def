"""Every graded check accepts its solution under three seeds and rejects every recorded wrong answer and the stub,
each time with a :class:`CheckFailed` (the one exception type of the checks) carrying the recorded message."""

from __future__ import annotations

import pytest

from mlmc_course.checks.core import CheckFailed
from mlmc_course.grading.harness import all_cases, run_answer, run_checks, stub_sources
from mlmc_course.grading.lesson import LessonFormatError, read_lesson
from tests.conftest import ROOT

CASES = list(all_cases(ROOT))
WRONG = [(lesson, q, i) for lesson, q in CASES for i in range(len(q.wrong))]

# Lessons in which every recorded wrong answer must say which message it gets (``# EXPECT:`` lines); in the
# others an ``EXPECT`` is checked where one is recorded. Add a lesson's number when its wrong cells are done.
EXPECT_EVERYWHERE = tuple(f"{n:02d}" for n in range(17))  # every lesson records the message of each wrong answer


def _id(case) -> str:
    lesson, q = case[:2]
    return f"{lesson.stem}::{q.name}" + (f"::wrong{case[2]}" if len(case) > 2 else "")


def _failure(env: dict, checks: list[str]) -> BaseException | None:
    """The exception the checks raise on an answer (None when they pass)."""
    try:
        run_checks(env, checks)
    except Exception as err:  # noqa: BLE001  (which type it is, is what the tests look at)
        return err
    return None


@pytest.mark.parametrize("case", CASES, ids=_id)
@pytest.mark.parametrize("offset", [0, 1, 2])
def test_solution_passes(case, offset):
    lesson, q = case
    env = run_answer(lesson, q.solution)
    run_checks(env, q.checks + q.hidden, offset=offset)


@pytest.mark.parametrize("case", WRONG, ids=_id)
def test_wrong_answer_rejected_by_public_check(case):
    lesson, q, i = case
    wrong = q.wrong[i]
    err = _failure(run_answer(lesson, [wrong.source]), q.checks)
    assert err is not None, f"the public check accepts the wrong answer '{wrong.description}'"
    assert isinstance(err, CheckFailed), (
        f"the check rejected '{wrong.description}' with {type(err).__name__}: {err}; a check must fail with "
        "CheckFailed and a message (use checks.core.call, as_float, as_numpy, require)"
    )
    message = str(err)
    assert len(message) > 15, f"the check rejected '{wrong.description}' without a helpful message: {message!r}"
    for part in wrong.expect:
        assert part in message, f"'{wrong.description}' should be told {part!r}; the check said: {message}"
    if lesson.stem[:2] in EXPECT_EVERYWHERE:
        assert wrong.expect, (
            f"record the message '{wrong.description}' must get: a line '# EXPECT: <part of it>' under '# WRONG:' "
            f"(the check says: {message})"
        )


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_stub_rejected(case):
    lesson, q = case
    err = _failure(run_answer(lesson, stub_sources(q)), q.checks)
    assert isinstance(err, CheckFailed), f"the stub is not rejected with CheckFailed: {err!r}"
    assert "not written yet" in str(err) or "NotImplementedError" in str(err)


def test_lessons_that_must_record_every_message_exist():
    stems = {lesson.stem[:2] for lesson, _ in CASES}
    assert set(EXPECT_EVERYWHERE) <= stems, set(EXPECT_EVERYWHERE) - stems


WRONG_CELLS = """# %% tags=["parameters"]
MODE = "ci"

# %% [markdown] tags=["question"] name="one" points=1
# **Exercise.** Return one.

# %% tags=["solution"]
def one():
    # BEGIN SOLUTION
    return 1
    # END SOLUTION
    # HINT: one


# %% tags=["wrong"]
# WRONG: two
{body}

# %% tags=["check"]
assert one() == 1
"""


def test_expect_lines_are_read_from_right_under_the_wrong_line(tmp_path):
    path = tmp_path / "97_expect.py"
    path.write_text(WRONG_CELLS.format(body="# EXPECT: should be 1\n# EXPECT: got 2\ndef one():\n    return 2"))
    (wrong,) = read_lesson(path).questions[0].wrong
    assert wrong.description == "two" and wrong.expect == ["should be 1", "got 2"]
    path.write_text(WRONG_CELLS.format(body="def one():\n    return 2"))
    assert read_lesson(path).questions[0].wrong[0].expect == []


def test_a_misplaced_expect_line_is_an_error(tmp_path):
    path = tmp_path / "97_expect.py"
    path.write_text(WRONG_CELLS.format(body="def one():\n    # EXPECT: should be 1\n    return 2"))
    with pytest.raises(LessonFormatError, match="belong right under"):
        read_lesson(path)

"""Every graded check accepts its solution under three seeds and rejects every recorded wrong answer and the stub."""

from __future__ import annotations

import pytest

from mlmc_course.grading.harness import all_cases, run_answer, run_checks, stub_sources
from tests.conftest import ROOT

CASES = list(all_cases(ROOT))
WRONG = [(lesson, q, i) for lesson, q in CASES for i in range(len(q.wrong))]


def _id(case) -> str:
    lesson, q = case[:2]
    return f"{lesson.stem}::{q.name}" + (f"::wrong{case[2]}" if len(case) > 2 else "")


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
    env = run_answer(lesson, [wrong.source])
    with pytest.raises(AssertionError) as info:
        run_checks(env, q.checks)
    message = str(info.value)
    assert len(message) > 15, f"the check rejected '{wrong.description}' without a helpful message: {message!r}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_stub_rejected(case):
    lesson, q = case
    env = run_answer(lesson, stub_sources(q))
    with pytest.raises(AssertionError, match="not written yet|NotImplementedError"):
        run_checks(env, q.checks)

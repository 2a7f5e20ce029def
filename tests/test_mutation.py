"""The mutation tester: its operators, its verdicts on weak and strong checks, and the equivalents it honours;
then the committed report (``reports/mutation.md``): fresh for its lessons, and a seeded sample of their mutants
still killed or documented as equivalent."""

from __future__ import annotations

import pytest

from mlmc_course.grading.lesson import read_lesson
from mlmc_course.grading.mutate import (
    equivalents,
    lesson_digest,
    markdown,
    mutants_of,
    read_report,
    score_lesson,
    solution_lines,
)
from tests.conftest import ROOT

REPORT = ROOT / "reports" / "mutation.md"
SAMPLE, SAMPLE_SEED = 25, 2024  # mutants per lesson in CI, and the seed that draws them

SOLUTION = '''def f(x, n: int = 3) -> float:
    """Docstring: 1 + 2 is not mutated."""
    # BEGIN SOLUTION
    total = np.sum(x[: n - 1] * 2.0, axis=0)
    if total > 0 and n > 1:
        total = np.sqrt(total) + np.maximum(n, total) / total
    return -total if total < 0 else total
    # END SOLUTION
    # HINT: a hint
'''


def test_every_operator_class_makes_compilable_mutants_inside_the_solution_only():
    ids = {m.id for m in mutants_of(SOLUTION)}
    assert solution_lines(SOLUTION) == (3, 8)
    expected = {
        "L1:12 remove axis=",
        "L1:19 Mult->Div",
        "L1:19 drop right of Mult",
        "L1:21 slice upper +1",
        "L1:23 Sub->Add",
        "L1:27 Constant 1->2",
        "L1:32 Constant 2.0->4.0",
        "L1:42 Constant 0->1",
        "L4:11 remove USub",
        "L4:21 Lt->LtE",
        "L4:21 Lt->GtE",
        "L1:23 swap operands of Sub",
        "L1:12 call sum->mean",
        "L2:7 And->Or",
        "L3:16 drop sqrt()",
        "L3:33 call maximum->minimum",
        "L3:33 swap arguments 1,2",
        "L3:33 swap operands of Div",
    }
    assert expected <= ids, expected - ids
    assert not any(m.id.startswith("L0") or "Docstring" in m.source.split('"""')[0] for m in mutants_of(SOLUTION))
    for m in mutants_of(SOLUTION):
        compile(m.source, m.id, "exec")
        assert m.source != SOLUTION


LESSON = """# %% [markdown]
# # 98 · Mutation test lesson

# %% tags=["parameters"]
MODE = "lecture"

# %% tags=["setup"]
from mlmc_course.checks.core import require

# %% [markdown] tags=["question"] name="area" points=1
# **Exercise.** The area of a rectangle.


# %% tags=["solution"]
def area(a, b):
    # BEGIN SOLUTION
    width = a * 1
    return width * b
    # END SOLUTION
    # HINT: multiply


# %% tags=["wrong"]
# WRONG: adds
def area(a, b):
    return a + b


# %% tags=["mutants"]
# EQUIVALENT L1:* Mult->Div: multiplying or dividing by one is the same
# EQUIVALENT L1:* drop right of Mult: a * 1 is a

# %% tags=["check"]
require(area(2, 3) == 6, "2 by 3 should be 6")
{extra_check}

# %% [markdown] tags=["question"] name="count" points=1
# **Exercise.** Count to three.


# %% tags=["solution"]
def count():
    # BEGIN SOLUTION
    i = 0
    while i < 3:
        i += 1
    return i
    # END SOLUTION
    # HINT: loop


# %% tags=["wrong"]
# WRONG: two
def count():
    return 2


# %% tags=["check"]
require(count() == 3, "count to three")
"""


def _lesson(tmp_path, extra_check=""):
    path = tmp_path / "98_mutation.py"
    path.write_text(LESSON.replace("{extra_check}", extra_check))
    return path


def test_weak_checks_let_mutants_survive_and_strong_ones_kill_them(tmp_path):
    weak = score_lesson(_lesson(tmp_path), timeout=2)
    status = {o.mutant: o.status for o in weak.outcomes}
    assert status["area: L1:16 Constant 1->2"] == "killed"
    assert status["area: L1:12 Mult->Div"] == "equivalent"  # a / 1 == a * 1, listed in the source
    assert status["area: L2:11 drop left of Mult"] == "killed"
    assert status["count: L3:8 Add->Sub"] == "timeout"  # i -= 1 never reaches 3
    assert status["count: L2:10 Lt->LtE"] == "killed"
    assert status["count: L1:8 Constant 0->1"] == "survived"  # starting at 1 still ends at 3: not listed
    assert 0 < weak.score <= 1 and weak.count("equivalent") == 2


def test_the_report_lists_survivors_and_the_equivalents_are_read_from_the_source(tmp_path):
    from mlmc_course.grading.lesson import read_lesson

    path = _lesson(tmp_path)
    eq = equivalents(read_lesson(path))
    assert eq == {
        "area": [
            ("L1:* Mult->Div", "multiplying or dividing by one is the same"),
            ("L1:* drop right of Mult", "a * 1 is a"),
        ]
    }
    score = score_lesson(path, timeout=2)
    text = markdown([score], "test")
    assert "| 98_mutation |" in text and ("No mutant survives." in text) == (score.count("survived") == 0)


def test_a_sample_is_seeded_and_smaller(tmp_path):
    path = _lesson(tmp_path)
    a = score_lesson(path, sample=3, seed=1, timeout=2)
    b = score_lesson(path, sample=3, seed=1, timeout=2)
    assert [o.mutant for o in a.outcomes] == [o.mutant for o in b.outcomes] and len(a.outcomes) == 3


def test_a_malformed_equivalent_line_is_an_error(tmp_path):
    from mlmc_course.grading.lesson import read_lesson

    path = tmp_path / "98_bad.py"
    path.write_text(LESSON.replace("{extra_check}", "").replace(": a * 1 is a", ""))
    with pytest.raises(ValueError, match="needs '# EQUIVALENT <pattern>: <reason>'"):
        equivalents(read_lesson(path))


def test_a_check_that_crashes_instead_of_failing_is_told_apart(tmp_path):
    path = tmp_path / "98_mutation.py"
    path.write_text(
        LESSON.replace("{extra_check}", "").replace(
            'require(area(2, 3) == 6, "2 by 3 should be 6")', 'assert area(2, 3) == 6, "2 by 3 should be 6"'
        )
    )
    status = {o.mutant: o.status for o in score_lesson(path, timeout=2).outcomes}
    assert status["area: L1:16 Constant 1->2"] == "crashed"  # a bare assert is not CheckFailed: no message
    assert status["count: L2:10 Lt->LtE"] == "killed"


def test_reasons_run_on_over_indented_comment_lines_and_unused_patterns_are_listed(tmp_path):
    path = tmp_path / "98_mutation.py"
    text = LESSON.replace("{extra_check}", "").replace(
        "# EQUIVALENT L1:* drop right of Mult: a * 1 is a",
        "# EQUIVALENT L1:* drop right of Mult: a * 1\n#   is a\n# EQUIVALENT L2:* Mult->Div: claimed, but killed",
    )
    path.write_text(text)
    eq = equivalents(read_lesson(path))
    assert eq["area"][1] == ("L1:* drop right of Mult", "a * 1 is a")
    score = score_lesson(path, timeout=2)
    assert score.unused == ["area: L2:* Mult->Div"]
    assert "L2:* Mult->Div" in markdown([score], "test")
    assert score_lesson(path, sample=3, timeout=2).unused == []  # a sample cannot tell


def test_the_report_round_trips_and_the_digest_follows_the_sources(tmp_path):
    from mlmc_course.grading.mutate import report_command, write_report

    path = _lesson(tmp_path)
    score = score_lesson(path, timeout=2)
    write_report([score], tmp_path / "out" / "report.md", "the command", "2 CPU cores")
    (back,) = read_report(tmp_path / "out" / "report.md")
    assert back == score and report_command(tmp_path / "out" / "report.md") == "the command"
    assert lesson_digest(read_lesson(path)) == score.digest
    path.write_text(path.read_text().replace("width * b", "b * width"))
    assert lesson_digest(read_lesson(path)) != score.digest


# ---------------------------------------------------------------------------------------------------------------
# The committed report and the CI sample: the lessons in reports/mutation.md are the ones whose checks are done.

COMMITTED = read_report(REPORT) if REPORT.with_suffix(".json").exists() else []


def _source(lesson: str):
    return ROOT / "lessons" / f"{lesson}.py"


def test_the_committed_report_exists_and_meets_the_target():
    from mlmc_course.grading.mutate import report_command

    assert COMMITTED, f"{REPORT} is missing: run the mutation test and commit its report"
    command = report_command(REPORT)
    for s in COMMITTED:
        assert s.lesson[:2] in command.split(), f"{s.lesson} is in the report but not in its command {command!r}"
        assert s.score >= 0.99, f"{s.lesson}: mutation score {s.score:.1%} < 99%"
        assert not s.count("survived", "crashed"), f"{s.lesson}: surviving or crashing mutants in the report"
        assert not s.unused, f"{s.lesson}: equivalent patterns that match no surviving mutant: {s.unused}"


@pytest.mark.parametrize("score", COMMITTED, ids=lambda s: s.lesson)
def test_the_committed_report_is_fresh(score):
    from mlmc_course.grading.mutate import report_command

    digest = lesson_digest(read_lesson(_source(score.lesson)))
    assert digest == score.digest, (
        f"{score.lesson}'s solutions, checks, equivalents or mutants changed since reports/mutation.md was "
        f"written: rerun `{report_command(REPORT)}` and commit the report"
    )


@pytest.mark.slow
@pytest.mark.parametrize("lesson", [s.lesson for s in COMMITTED])
def test_a_sample_of_the_mutants_is_killed_or_documented_equivalent(lesson):
    score = score_lesson(_source(lesson), sample=SAMPLE, seed=SAMPLE_SEED, timeout=60)
    bad = [f"{o.mutant} ({o.status}) {o.detail}" for o in score.outcomes if o.status in ("survived", "crashed")]
    assert len(score.outcomes) == SAMPLE and not bad, "\n".join(bad)

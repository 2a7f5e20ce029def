"""What a student sees when ``grader.check`` fails: the check's own message first, no doctest or traceback.

otter-grader runs each test case as a doctest and shows its verbose log: "Trying: / Expecting nothing / *** /
Traceback ... doctest.py ...", with the message written for the student (``CheckFailed``'s) on the last line.
The grader cell of every generated notebook therefore reads

    grader = readable(otter.Notebook("NN_name.ipynb"))

:func:`readable` leaves otter in charge of running, logging and scoring (``grade`` and otter's own tools see the
unchanged results); it only wraps what ``grader.check`` returns in a :class:`CheckReport`, whose display puts
each failed test's message first. A passing check displays exactly as otter shows it, so the solutions' nbval
reference outputs do not change.

Why a wrapper and not a patch of otter's classes: it touches only the notebook's own ``grader`` object, so otter
keeps working unchanged everywhere else, and an otter upgrade that renames its display methods cannot break it.
"""

from __future__ import annotations

import html
import re
import sys
from typing import Any

TRACEBACK = "Traceback (most recent call last):"
# Exception types whose message is written for the student: show the message without the type.
STUDENT_FACING = ("CheckFailed", "AssertionError")
_TYPE_RE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?:: (?P<message>.*))?$", re.DOTALL)


def failure_message(doctest_log: str) -> str:
    """The one message of a failed otter test case, from otter's doctest log (``TestCaseResult.message``).

    A ``CheckFailed`` or ``AssertionError`` gives its message alone; any other exception gives ``Type: message``
    (``NameError: name 'auc' is not defined``); a doctest whose output differed says what it printed.
    """
    text = doctest_log.replace("❌ Test case failed", "").strip("\n")
    if "Exception raised:" in text:
        block = text.split("Exception raised:", 1)[1].splitlines()
        block = [line[4:] if line.startswith("    ") else line.lstrip() for line in block]
        last_tb = max((i for i, line in enumerate(block) if line.strip() == TRACEBACK), default=-1)
        rest = block[last_tb + 1 :]
        # frames are indented ("  File ...", "    code"); the exception starts at the first unindented line
        start = next((i for i, line in enumerate(rest) if line and not line.startswith(" ")), None)
        if start is not None:
            exc = "\n".join(rest[start:]).strip()
            m = _TYPE_RE.match(exc)
            if m:
                name = m["type"].rsplit(".", 1)[-1]
                if name in STUDENT_FACING and m["message"]:
                    return m["message"].strip()
                return f"{name}: {m['message'].strip()}" if m["message"] else name
            return exc
    if "Got:" in text:
        got = text.split("Got:", 1)[1].strip()
        return f"the check printed output it was not expected to print: {got}"
    lines = [line for line in text.splitlines() if line.strip() and not set(line.strip()) <= {"*"}]
    return lines[-1].strip() if lines else "the check failed"


class CheckReport:
    """The result of ``grader.check(...)``: otter's test file result, displayed message first when it failed.

    Every attribute (``score``, ``possible``, ``passed_all``, ``summary()``, ``test_case_results``, ...) is
    otter's, so code that scores a check reads the same numbers.
    """

    def __init__(self, result: Any):
        self._result = result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)

    @property
    def messages(self) -> list[str]:
        """One message per failed test case, in order (empty when the check passed)."""
        return [failure_message(t.message or "") for t in self._result.test_case_results if not t.passed]

    def _status(self) -> str:
        results = self._result.test_case_results
        passed = sum(t.passed for t in results)
        return (
            f"check {self._result.name}: {passed} of {len(results)} test cases passed. "
            "Change your function above and run this cell again."
        )

    def __repr__(self) -> str:
        if self._result.passed_all:
            return repr(self._result)
        return "\n".join([*self.messages, self._status()])

    def _repr_html_(self) -> str:
        if self._result.passed_all:
            return self._result._repr_html_()
        lines = "".join(
            f'<p style="color: #b00020; font-weight: bold; margin: 0 0 0.3em 0;">{html.escape(m)}</p>'
            for m in self.messages
        )
        status = f'<p style="color: #555; font-size: 90%; margin: 0;">{html.escape(self._status())}</p>'
        return f'<div class="mlmc-check-failed">{lines}{status}</div>'


def readable(grader: Any) -> Any:
    """Make ``grader.check`` (an ``otter.Notebook``) return a :class:`CheckReport`; returns ``grader``.

    otter's ``check`` runs the tests in its caller's global namespace, which it finds by walking up the stack;
    the wrapper passes the notebook's globals explicitly, so the tests see the same names as before.
    """
    check = grader.check

    def readable_check(question: str, global_env: dict[str, Any] | None = None) -> CheckReport:
        env = global_env if global_env is not None else sys._getframe(1).f_globals
        return CheckReport(check(question, global_env=env))

    readable_check.__doc__ = check.__doc__
    grader.check = readable_check
    return grader

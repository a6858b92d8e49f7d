"""What later tests meet instead of a function that hung (``kata.hangs`` finds the hangs).

The function that hung is then replaced, in the question's later tests, by a stand-in, and the
rule that decides whether a later test fails at once is: **a later call fails at once only when
it reaches the same endless loop; a call that returns, raises or works elsewhere before that
behaves as usual** (a check of the arguments before the loop, a case the loop handles):

- after a Python loop, the stand-in calls the function with a short time limit
  (``HUNG_BUDGET``, at most a quarter of the test's): if, when it runs out, the call is inside
  the loop that hung before, the test fails with a message that names the earlier test; if it
  is elsewhere, the call gets the rest of the test's own time;
- after compiled code, nothing can be tried twice (the graph cannot be interrupted, and a new
  worker costs seconds): a ``tf.function`` that hung is still traced, so that what its Python
  checks at tracing raise is raised as usual, but its graph is not run again: the call fails at
  once. A Python function stuck in another C call fails at once.

The stand-in goes where later tests reach the function by name: on the function itself (a
module's function, a class's method); for a function made inside another one (``make_x``
returns ``x``), on what that one returns, or on that one itself when it made and called the
function in the same call.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType

import pytest

from kata.hangs import Hang, code_of, learner_frames, readable

HUNG_BUDGET = 1.0
"""Seconds a function that hung in a Python loop gets in a later call before it is checked."""


def hung_message(qualname: str, hang: Hang, command: str, again: float = 0) -> str:
    """Why a function fails at once: it hung in an earlier test (``again``: and here, for that
    many seconds, in the same loop)."""
    at = f", at {hang.where}" if hang.where else ""
    if again:
        verdict = (
            f"and here it was in the same loop again after {again:g} s, so it fails at once here "
            "instead of waiting out the time limit"
        )
    elif hang.compiled:
        verdict = "so its graph is not run again: it fails at once here"
    else:
        verdict = "so it fails at once here"
    return (
        f"`{readable(qualname)} did not finish in an earlier test ({hang.test}: no result within "
        f"{hang.seconds:g} s{at}), {verdict}. Fix that endless loop first: {command}"
    )


class StandIns:
    """The functions that hung so far, and what later tests meet instead of each."""

    def __init__(
        self, target_dir: Path, hangs: list[Hang], command: Callable[[int | None, str], str]
    ):
        self.target_dir = target_dir
        self.hangs = hangs
        self.command = command
        """(question, test) -> the command that runs that test"""
        self.watching = False
        """whether a stand-in's short time limit runs (stand-ins inside it call through)"""

    def add(self, hang: Hang) -> None:
        self.hangs.append(hang)
        names = {module for module, _ in self.placements(hang)}
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "") in names:
                self.apply(module)

    def placements(self, hang: Hang) -> list[tuple[str, str]]:
        """(module, qualified name) of the functions that get a stand-in for ``hang``.

        After a Python loop, the function with the loop; after compiled code, the
        ``tf.function``, or every learner's function that was running a C call (none of them
        can be tried again).
        """
        if hang.inside_python and hang.loop:
            chosen = [(hang.loop[0], hang.loop[1])]
        elif hang.compiled or hang.inside_python:
            chosen = hang.functions[:1]
        else:
            chosen = hang.functions
        return chosen

    def reachable(self, hang: Hang, module: str, qualname: str) -> tuple[str, bool] | None:
        """Where later tests reach ``qualname`` by name: (a qualified name without ``<locals>``,
        whether it is the function that made it and the stand-in goes on what it returns)."""
        if ".<locals>." not in qualname:
            return qualname, False
        maker = qualname.rsplit(".<locals>.", 1)[0]
        if (module, maker) in hang.functions:  # made and called in one call of its maker
            return self.reachable(hang, module, maker)
        if ".<locals>." in maker:
            return None
        return maker, True

    def apply(self, module: ModuleType) -> None:
        """Put a stand-in on every function of ``module`` that hung (see the module's rule)."""
        for hang in self.hangs:
            for module_name, qualname in self.placements(hang):
                if module_name != getattr(module, "__name__", None):
                    continue
                self.replace_made(module, qualname, hang)
                place = self.reachable(hang, module_name, qualname)
                if place is None:
                    continue
                path, makes_it = place
                owner, _, attribute = path.rpartition(".")
                holder = module
                for part in filter(None, owner.split(".")):
                    holder = getattr(holder, part, None)
                raw = getattr(holder, "__dict__", {}).get(attribute) if holder is not None else None
                if raw is None or getattr(raw, "_kata_hung", False):
                    continue
                kind = type(raw) if isinstance(raw, (staticmethod, classmethod)) else None
                current = raw.__func__ if kind else raw
                if makes_it:
                    standin = self.maker(current, qualname, hang)
                else:
                    standin = self.standin(current, qualname, hang, not isinstance(holder, type))
                standin._kata_hung = True
                try:
                    setattr(holder, attribute, kind(standin) if kind else standin)
                except (AttributeError, TypeError):
                    pass

    def replace_made(self, module: ModuleType, qualname: str, hang: Hang) -> None:
        """Module-level names bound to a made function that hung (``add = make_adder()``)."""
        if ".<locals>." not in qualname:
            return
        for name, value in list(vars(module).items()):
            code = code_of(getattr(value, "python_function", value))
            if getattr(code, "co_qualname", None) == qualname and not getattr(
                value, "_kata_hung", False
            ):
                standin = self.standin(value, qualname, hang)
                standin._kata_hung = True
                setattr(module, name, standin)

    def maker(self, original, qualname: str, hang: Hang):
        """A stand-in for a function that makes the one that hung: what it returns gets one."""
        standins = self
        filename = getattr(code_of(original), "co_filename", None)

        @functools.wraps(original, updated=())
        def makes(*args, **kwargs):
            result = original(*args, **kwargs)
            code = code_of(getattr(result, "python_function", result))
            if code is not None and (code.co_qualname, code.co_filename) == (qualname, filename):
                return standins.standin(result, qualname, hang)
            return result

        return makes

    def standin(self, original, qualname: str, hang: Hang, traced: bool = True):
        """The function that hung, as later tests meet it (the rule in the module's docstring).

        ``traced``: a ``tf.function`` that hung is traced before it fails (not one taken from a
        class, which would need its instance bound first)."""
        standins = self
        test = hang.test.split("[")[0]

        def fail(again: float = 0):
            __tracebackhide__ = True
            text = hung_message(qualname, hang, standins.command(hang.question, test), again)
            pytest.fail(text, pytrace=False)

        @functools.wraps(original, updated=())
        def hung(*args, **kwargs):
            __tracebackhide__ = True
            if not hang.inside_python:
                trace = getattr(original, "get_concrete_function", None)
                if hang.compiled and traced and callable(trace):
                    trace(*args, **kwargs)  # what the Python checks raise at tracing, as usual
                fail()
            if standins.watching:
                return original(*args, **kwargs)
            if not hasattr(signal, "setitimer") or (
                threading.current_thread() is not threading.main_thread()
            ):
                fail()
            return standins.call_watched(original, args, kwargs, hang, fail)

        return hung

    def call_watched(self, original, args, kwargs, hang: Hang, fail):
        """Call ``original`` with a short time limit; in the loop that hung then: ``fail``."""
        __tracebackhide__ = True
        budget = min(HUNG_BUDGET, hang.seconds / 4)
        left = signal.getitimer(signal.ITIMER_REAL)[0]  # the test's own time; 0: no limit
        previous = signal.getsignal(signal.SIGALRM)
        start = time.monotonic()

        def check(signum, frame):
            __tracebackhide__ = True
            if self.in_loop(frame, hang):
                fail(again=round(time.monotonic() - start, 1))
            signal.signal(signal.SIGALRM, previous)  # elsewhere: the rest of the test's time
            rest = left - (time.monotonic() - start)
            if left and rest > 0:
                signal.setitimer(signal.ITIMER_REAL, rest)
            elif left and callable(previous):
                previous(signum, frame)

        self.watching = True
        signal.signal(signal.SIGALRM, check)
        signal.setitimer(signal.ITIMER_REAL, min(budget, left) if left else budget)
        try:
            return original(*args, **kwargs)
        finally:
            self.watching = False
            if signal.getsignal(signal.SIGALRM) is check:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                if left:
                    rest = left - (time.monotonic() - start)
                    signal.setitimer(signal.ITIMER_REAL, max(rest, 0.001))

    def in_loop(self, frame: FrameType | None, hang: Hang) -> bool:
        """Whether the learner's code in ``frame``'s stack is inside the loop that hung."""
        if not hang.loop:
            return True
        module, qualname, first, last = hang.loop
        for f in learner_frames(frame, self.target_dir):
            same = (f.f_globals.get("__name__", ""), f.f_code.co_qualname) == (module, qualname)
            if same and first <= f.f_lineno <= last:
                return True
        return False

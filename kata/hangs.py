"""Tests that never finish: an endless loop fails one test, not the whole run.

Every test has a time limit (pytest-timeout, method "signal"). The ``Watchdog`` takes over
pytest-timeout's timer through its public hooks and adds a second one:

- a SIGALRM at the limit interrupts Python code: the test fails with a ``Hang`` that says where
  the learner's code was, and every learner's function that was running is replaced by one that
  fails at once, so the question's other tests do not wait for the same loop again;
- a watchdog thread, ``HANG_GRACE`` seconds later, catches a test stuck in compiled code (a
  TensorFlow graph cannot be interrupted): it hands the ``Hang`` to the controller and ends the
  process (``HANG_EXIT``); pytest-xdist then starts a new worker, which is told which functions
  hung, and the run goes on.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType, ModuleType

import pytest

from kata.loading import question_of_nodeid
from kata.paths import inside, relative

HANG_GRACE = float(os.environ.get("KATA_HANG_GRACE", "10"))
"""Seconds after a test's time limit before the watchdog decides it hangs outside Python."""
HANG_EXIT = 70
"""The exit code of a worker that the watchdog ended."""


@dataclass
class Hang:
    """A test that did not finish within its time limit, and what it was running.

    It crosses processes (a worker's crash note, the input of the next worker, a test report's
    ``kata_hang``) as the plain dict of ``to_json``.
    """

    question: int | None
    nodeid: str
    test: str
    """the test's name with its parameters, e.g. ``test_adds[2-3]``"""
    seconds: float
    where: str
    """``line 3 of exercises/q08_x.py (in add)``, or empty if no learner's frame was running"""
    functions: list[tuple[str, str]] = field(default_factory=list)
    """(module, qualified name) of each learner's function that was running, innermost first"""
    message: str = ""
    inside_python: bool = True

    def to_json(self) -> dict:
        data = asdict(self)
        data["functions"] = [list(pair) for pair in self.functions]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Hang:
        fields = {**data, "functions": [tuple(pair) for pair in data.get("functions", [])]}
        return cls(**fields)


def timeout_message(seconds: float, where: str, inside_python: bool) -> str:
    """What a learner reads about a test that ran out of time."""
    if inside_python:
        text = f" It was running {where}." if where else ""
        hint = "An endless loop? Check the loop's exit condition."
    else:
        text = (
            " It was stuck in compiled code that cannot be interrupted (a TensorFlow graph,"
            " or another C extension)" + (f", called from {where}." if where else ".")
        )
        hint = (
            "An endless loop in a compiled function? A `while` on tensors becomes a "
            "tf.while_loop: check its exit condition. The test process was replaced and "
            "the other tests went on."
        )
    return f"Timeout: the test did not finish within {seconds:g} s.{text} {hint}"


def hung_message(qualname: str, hang: Hang, command: str) -> str:
    """Why a function fails at once: it hung in an earlier test."""
    at = f", at {hang.where}" if hang.where else ""
    return (
        f"`{qualname}` did not finish in an earlier test ({hang.test}: no result within "
        f"{hang.seconds:g} s{at}), so it fails at once here. Fix that endless loop first: "
        f"{command}"
    )


TIMER = pytest.StashKey[threading.Timer]()
HANG = pytest.StashKey[Hang]()
"""On a test item: the hang that its SIGALRM raised (for the test's report)."""


class Watchdog:
    """The worker's time limits (a pytest plugin object), and the functions that hung so far."""

    def __init__(
        self,
        target_dir: Path,
        rootpath: Path,
        hangs: list[Hang],
        command: Callable[[int | None, str], str],
        on_stuck: Callable[[str, Hang], None],
    ):
        self.target_dir = target_dir
        self.rootpath = rootpath
        self.hangs = hangs
        self.command = command
        """(question, test) -> the command that runs that test"""
        self.on_stuck = on_stuck
        """(nodeid, hang): tell the controller, just before this process ends"""

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_timeout_set_timer(self, item, settings):
        """A SIGALRM for Python loops, and a watchdog thread for a test stuck in TensorFlow."""
        if (
            settings.method != "signal"
            or not hasattr(signal, "SIGALRM")
            or threading.current_thread() is not threading.main_thread()
        ):
            return None
        seconds = settings.timeout
        main = threading.get_ident()
        fired = threading.Event()

        def handler(signum, frame):
            __tracebackhide__ = True
            fired.set()
            hang = self.record(item.nodeid, seconds, frame, inside_python=True)
            self.add(hang)
            item.stash[HANG] = hang
            pytest.fail(hang.message, pytrace=False)

        def watchdog():
            if fired.is_set():
                return
            frame = sys._current_frames().get(main)
            self.stuck(self.record(item.nodeid, seconds, frame, inside_python=False))

        timer = threading.Timer(seconds + HANG_GRACE, watchdog)
        timer.daemon = True
        item.stash[TIMER] = timer
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        timer.start()
        return True

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_timeout_cancel_timer(self, item):
        timer = item.stash.get(TIMER, None)
        if timer is None:
            return None
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        timer.cancel()
        del item.stash[TIMER]
        return True

    def learner_frames(self, frame: FrameType | None) -> list[FrameType]:
        frames = []
        while frame is not None:
            if inside(frame.f_code.co_filename, self.target_dir):
                frames.append(frame)
            frame = frame.f_back
        return frames  # innermost first

    def record(self, nodeid: str, seconds: float, frame, inside_python: bool) -> Hang:
        frames = self.learner_frames(frame)
        functions: list[tuple[str, str]] = []
        for f in frames:
            qualname = getattr(f.f_code, "co_qualname", f.f_code.co_name).split(".<locals>")[0]
            module = f.f_globals.get("__name__", "")
            if qualname != "<module>" and (module, qualname) not in functions:
                functions.append((module, qualname))
        where = ""
        if frames:
            f = frames[0]
            where = (
                f"line {f.f_lineno} of {relative(f.f_code.co_filename, self.rootpath)} "
                f"(in {f.f_code.co_name})"
            )
        meta = question_of_nodeid(nodeid)
        return Hang(
            question=meta[0] if meta else None,
            nodeid=nodeid,
            test=nodeid.split("::")[-1],
            seconds=seconds,
            where=where,
            functions=functions,
            message=timeout_message(seconds, where, inside_python),
            inside_python=inside_python,
        )

    def add(self, hang: Hang) -> None:
        self.hangs.append(hang)
        for module in list(sys.modules.values()):
            name = getattr(module, "__name__", "")
            if any(name == m for m, _ in hang.functions):
                self.apply(module)

    def apply(self, module: ModuleType) -> None:
        """Replace every function of ``module`` that hung with one that fails at once."""
        for hang in self.hangs:
            for module_name, qualname in hang.functions:
                if module_name != getattr(module, "__name__", None):
                    continue
                owner, _, attribute = qualname.rpartition(".")
                holder = module
                for part in filter(None, owner.split(".")):
                    holder = getattr(holder, part, None)
                current = getattr(holder, attribute, None) if holder is not None else None
                if current is None or getattr(current, "_kata_hung", False):
                    continue
                try:
                    setattr(holder, attribute, self.failing(qualname, hang))
                except (AttributeError, TypeError):
                    pass

    def failing(self, qualname: str, hang: Hang):
        """A stand-in for a function that hung in an earlier test: it fails at once."""
        command = self.command

        def hung(*args, **kwargs):
            __tracebackhide__ = True
            test = hang.test.split("[")[0]
            pytest.fail(hung_message(qualname, hang, command(hang.question, test)), pytrace=False)

        hung._kata_hung = True
        return hung

    def stuck(self, hang: Hang) -> None:
        """The watchdog's verdict: end this process cleanly, so that the run can go on."""
        hang.inside_python = False
        self.on_stuck(hang.nodeid, hang)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(HANG_EXIT)

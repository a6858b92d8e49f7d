"""Tests that never finish: an endless loop costs one timeout, not one in every test.

Every test has a time limit (pytest-timeout, method "signal"). The ``Watchdog`` takes over
pytest-timeout's timer through its public hooks and adds a second one:

- a SIGALRM at the limit interrupts Python code: the test fails with a ``Hang`` that says where
  the learner's code was (file, line, function, and the loop around that line);
- a watchdog thread, ``HANG_GRACE`` seconds later, catches a test stuck in compiled code (a
  TensorFlow graph cannot be interrupted). It walks the stuck thread's Python frames
  (``sys._current_frames()``) out to the learner's code: the ``tf.function`` whose graph runs
  (and, in its graph, the line of each tensor ``while``, as autograph recorded it), and the
  learner's Python functions that called it. It hands the ``Hang`` to the controller and ends
  the process (``HANG_EXIT``); pytest-xdist then starts a new worker, which is told which
  functions hung, and the run goes on.

What later tests meet instead of a function that hung is ``kata.standins``'s job.
"""

from __future__ import annotations

import ast
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType

import pytest

from kata.loading import question_of_nodeid
from kata.paths import inside, relative

HANG_GRACE = float(os.environ.get("KATA_HANG_GRACE", "10"))
"""Seconds after a test's time limit before the watchdog decides it hangs outside Python."""
HANG_EXIT = 70
"""The exit code of a worker that the watchdog ended."""
WHILE_OPS = ("While", "StatelessWhile")
"""The graph operations that a tensor ``while`` (``tf.while_loop``) becomes."""


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
    compiled: bool = False
    """whether the innermost function is a ``tf.function`` whose graph was running"""
    loop: list[int] = field(default_factory=list)
    """[first, last] line of the loop in the innermost function where a Python hang was"""

    def to_json(self) -> dict:
        data = asdict(self)
        data["functions"] = [list(pair) for pair in self.functions]
        return data

    @classmethod
    def from_json(cls, data: dict) -> Hang:
        fields = {**data, "functions": [tuple(pair) for pair in data.get("functions", [])]}
        return cls(**fields)


def readable(qualname: str) -> str:
    """``make_x.<locals>.x`` -> ``x`` (made in ``make_x``) as a learner reads it."""
    *outer, name = qualname.split(".<locals>.")
    return f"{name}` (made in `{outer[-1]}`)" if outer else qualname + "`"


def timeout_message(seconds: float, where: str, inside_python: bool, compiled: str = "") -> str:
    """What a learner reads about a test that ran out of time.

    ``compiled`` names the ``tf.function`` whose graph was running, if one of the learner's.
    """
    if inside_python:
        text = f" It was running {where}." if where else ""
        hint = "An endless loop? Check the loop's exit condition."
    else:
        if compiled:
            text = (
                f" It was stuck in `{readable(compiled)}, compiled into a TensorFlow graph "
                "(a tf.function) that cannot be interrupted" + (f", at {where}." if where else ".")
            )
        else:
            text = (
                " It was stuck in compiled code that cannot be interrupted (a TensorFlow graph,"
                " or another C extension)" + (f", called from {where}." if where else ".")
            )
        hint = (
            "An endless loop in a compiled function? A `while` on tensors becomes a "
            "tf.while_loop: check its exit condition."
        )
    return f"Timeout: the test did not finish within {seconds:g} s.{text} {hint}"


REPLACED = " The test process was replaced and the other tests went on."
"""What the controller adds to a compiled hang's message when a new worker took over."""


TIMER = pytest.StashKey[threading.Timer]()
HANG = pytest.StashKey[Hang]()
"""On a test item: the hang that its SIGALRM raised (for the test's report)."""


def code_of(function) -> object | None:
    """The code object of a Python function or method, or None."""
    function = getattr(function, "__func__", function)
    return getattr(function, "__code__", None)


def loop_lines(filename: str, line: int, first_line: int) -> tuple[int, int] | None:
    """First and last line of the innermost ``while``/``for`` around ``line`` in the function
    that starts at ``first_line``, or None."""
    try:
        tree = ast.parse(Path(filename).read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.While, ast.For, ast.AsyncFor)):
            end = node.end_lineno or node.lineno
            inner = best is None or end - node.lineno < best[1] - best[0]
            if first_line <= node.lineno <= line <= end and inner:
                best = (node.lineno, end)
    return best


def learner_frames(frame: FrameType | None, target_dir: Path) -> list[FrameType]:
    """The frames of ``frame``'s stack that run code under ``target_dir``, innermost first."""
    frames = []
    while frame is not None:
        if inside(frame.f_code.co_filename, target_dir):
            frames.append(frame)
        frame = frame.f_back
    return frames


class Watchdog:
    """The worker's time limits (a pytest plugin object): each hang is recorded and handed on."""

    def __init__(
        self,
        target_dir: Path,
        rootpath: Path,
        on_hang: Callable[[Hang], None],
        on_stuck: Callable[[str, Hang], None],
    ):
        self.target_dir = target_dir
        self.rootpath = rootpath
        self.on_hang = on_hang
        """(hang): a test hung in Python code; later tests meet a stand-in (``kata.standins``)"""
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
            self.on_hang(hang)
            item.stash[HANG] = hang
            pytest.fail(hang.message, pytrace=False)

        def watchdog():
            if fired.is_set():
                return
            frame = sys._current_frames().get(main)
            try:
                hang = self.record(item.nodeid, seconds, frame, inside_python=False)
            except Exception:  # noqa: BLE001 - the process must end whatever we find
                hang = self.record(item.nodeid, seconds, None, inside_python=False)
            self.stuck(hang)

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

    # --- where the learner's code was ---

    def compiled_function(self, frame: FrameType | None) -> dict | None:
        """Where the graph that the stuck thread runs comes from, found in the frames of
        TensorFlow's Python code that called it: the learner's ``tf.function`` (its module,
        qualified name, file) and the lines of the graph's tensor ``while`` loops in the
        learner's files (autograph records each graph operation's line of source). A graph of
        a library's ``tf.function`` (Keras's ``fit``) that runs the learner's code has loops
        but no learner's function (``qualname`` empty). None if neither is found."""
        function = graph = None
        while frame is not None and function is None:
            owner = frame.f_locals.get("self") if "tensorflow" in frame.f_code.co_filename else None
            if owner is not None and type(owner).__module__.startswith("tensorflow"):
                if graph is None and type(owner).__name__ == "ConcreteFunction":
                    graph = getattr(owner, "graph", None)
                python_function = getattr(owner, "python_function", None)
                code = code_of(python_function)
                if code is not None and inside(code.co_filename, self.target_dir):
                    function = python_function
            frame = frame.f_back
        code = code_of(function)
        loops: dict[str, set[int]] = {}  # file -> lines
        names: dict[str, str] = {}
        for op in graph.get_operations() if graph is not None else ():
            if op.type in WHILE_OPS:
                own = [f for f in op.traceback if inside(f.filename, self.target_dir)]
                if own and (code is None or own[-1].filename == code.co_filename):
                    loops.setdefault(own[-1].filename, set()).add(own[-1].lineno)
                    names.setdefault(own[-1].filename, own[-1].name)
        if code is not None:
            return {
                "module": getattr(function, "__module__", "") or "",
                "qualname": code.co_qualname,
                "name": names.get(code.co_filename, code.co_name),
                "file": code.co_filename,
                "lines": sorted(loops.get(code.co_filename, ())) or [code.co_firstlineno],
            }
        if loops:
            file = next(iter(loops))
            module = next(
                (m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == file),
                None,
            )
            return {
                "module": getattr(module, "__name__", ""),
                "qualname": "",
                "name": names[file],
                "file": file,
                "lines": sorted(loops[file]),
            }
        return None

    def record(self, nodeid: str, seconds: float, frame, inside_python: bool) -> Hang:
        frames = learner_frames(frame, self.target_dir)
        functions: list[tuple[str, str]] = []
        for f in frames:
            if f.f_code.co_qualname != "<module>":
                pair = (f.f_globals.get("__name__", ""), f.f_code.co_qualname)
                if pair not in functions:
                    functions.append(pair)
        where, compiled, loop = "", None, []
        if frames:
            f = frames[0]
            where = (
                f"line {f.f_lineno} of {relative(f.f_code.co_filename, self.rootpath)} "
                f"(in {f.f_code.co_name})"
            )
        if not inside_python:
            compiled = self.compiled_function(frame)
        if compiled is not None:
            if compiled["qualname"]:
                functions.insert(0, (compiled["module"], compiled["qualname"]))
            elif compiled["module"]:  # the learner's function in a library's graph
                functions.insert(0, (compiled["module"], compiled["name"]))
            lines = compiled["lines"]
            where = (
                f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))} of "
                f"{relative(compiled['file'], self.rootpath)} (in {compiled['name']})"
            )
        elif inside_python:
            for f in frames:  # the innermost loop the learner's code was in
                code = f.f_code
                lines = loop_lines(code.co_filename, f.f_lineno, code.co_firstlineno)
                if lines is not None or not loop:
                    first, last = lines or (f.f_lineno, f.f_lineno)
                    loop = [f.f_globals.get("__name__", ""), code.co_qualname, first, last]
                if lines is not None:
                    break
        meta = question_of_nodeid(nodeid)
        return Hang(
            question=meta[0] if meta else None,
            nodeid=nodeid,
            test=nodeid.split("::")[-1],
            seconds=seconds,
            where=where,
            functions=functions,
            message=timeout_message(
                seconds,
                where,
                inside_python,
                compiled["qualname"] or compiled["name"] if compiled else "",
            ),
            inside_python=inside_python,
            compiled=bool(compiled and compiled["qualname"]),
            loop=loop,
        )

    def stuck(self, hang: Hang) -> None:
        """The watchdog's verdict: end this process cleanly, so that the run can go on."""
        hang.inside_python = False
        self.on_stuck(hang.nodeid, hang)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(HANG_EXIT)

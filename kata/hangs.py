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

import ast
import functools
import os
import signal
import sys
import threading
import time
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
HUNG_BUDGET = 1.0
"""Seconds a function that hung in a Python loop gets in a later call before it is checked."""
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
        self.watching = False
        """whether a stand-in's short time limit runs (stand-ins inside it call through)"""

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

    def learner_frames(self, frame: FrameType | None) -> list[FrameType]:
        frames = []
        while frame is not None:
            if inside(frame.f_code.co_filename, self.target_dir):
                frames.append(frame)
            frame = frame.f_back
        return frames  # innermost first

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
        frames = self.learner_frames(frame)
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

    # --- what later tests meet instead ---

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
        watchdog = self
        filename = getattr(code_of(original), "co_filename", None)

        @functools.wraps(original, updated=())
        def makes(*args, **kwargs):
            result = original(*args, **kwargs)
            code = code_of(getattr(result, "python_function", result))
            if code is not None and (code.co_qualname, code.co_filename) == (qualname, filename):
                return watchdog.standin(result, qualname, hang)
            return result

        return makes

    def standin(self, original, qualname: str, hang: Hang, traced: bool = True):
        """The function that hung, as later tests meet it (the rule in the module's docstring).

        ``traced``: a ``tf.function`` that hung is traced before it fails (not one taken from a
        class, which would need its instance bound first)."""
        watchdog = self
        test = hang.test.split("[")[0]

        def fail(again: float = 0):
            __tracebackhide__ = True
            text = hung_message(qualname, hang, watchdog.command(hang.question, test), again)
            pytest.fail(text, pytrace=False)

        @functools.wraps(original, updated=())
        def hung(*args, **kwargs):
            __tracebackhide__ = True
            if not hang.inside_python:
                trace = getattr(original, "get_concrete_function", None)
                if hang.compiled and traced and callable(trace):
                    trace(*args, **kwargs)  # what the Python checks raise at tracing, as usual
                fail()
            if watchdog.watching:
                return original(*args, **kwargs)
            if not hasattr(signal, "setitimer") or (
                threading.current_thread() is not threading.main_thread()
            ):
                fail()
            return watchdog.call_watched(original, args, kwargs, hang, fail)

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
        for f in self.learner_frames(frame):
            same = (f.f_globals.get("__name__", ""), f.f_code.co_qualname) == (module, qualname)
            if same and first <= f.f_lineno <= last:
                return True
        return False

    def stuck(self, hang: Hang) -> None:
        """The watchdog's verdict: end this process cleanly, so that the run can go on."""
        hang.inside_python = False
        self.on_stuck(hang.nodeid, hang)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(HANG_EXIT)

"""The kata's pytest plugin: which code the tests run against, and what the run is worth.

- ``pytest exercises/`` and ``pytest exercises/q08_convolution.py`` run the matching tests in
  ``tests/`` against the learner's files; ``solutions/`` likewise against the reference;
  ``--target`` names any other folder (the integrity check uses a fresh copy of the stubs).
  The file named on the command line is the one tested, whatever else lies beside it.
- The fixture ``target`` is the module under test, imported on first use. A file that does not
  import fails only its own question's tests, with a short message.
- Every test has a time limit (pytest-timeout). An endless Python loop fails its test; after
  that, the functions that were running fail at once in the question's other tests. A test stuck
  inside TensorFlow (a compiled graph cannot be interrupted) is ended by a watchdog: the tests run
  in a worker process (pytest-xdist, one worker) that is replaced, and the run goes on.
- Slow tests (``@pytest.mark.slow``) are skipped unless ``--slow`` is given (or ``-m`` selects).
- After the run, a table shows the exam score; ``--score-json`` writes it for graders.
- ``--hint`` shows the next hint for each function whose tests fail (``kata/hints.py``).
- ``--plain`` (or the environment variable ``NO_COLOR``): no colours and no lines redrawn in
  place, for screen readers and CI logs. The tests then see ``KATA_PLAIN=1`` in their
  environment: a progress bar prints a line per 10 % instead of redrawing itself
  (``kata/plain.py``).

Only public APIs of pytest, pytest-timeout and pytest-xdist are used: hooks, ``config.stash``,
``ExceptionInfo.traceback``, extra attributes of ``TestReport`` (they travel between processes).
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
import types
from pathlib import Path

import pytest

from kata import guard, naming, statements
from kata import hints as hinting
from kata import plain as plainmode
from kata import score as scoring
from kata.testing import Unanswered

HANG_GRACE = float(os.environ.get("KATA_HANG_GRACE", "10"))
"""Seconds after a test's time limit before the watchdog decides it hangs outside Python."""
HANG_EXIT = 70
"""The exit code of a worker that the watchdog ended."""
MAX_WORKER_RESTARTS = 20
SLOW_REASON = "slow: run with --slow (training takes minutes)"

KATA = pytest.StashKey["Runner | Scorer"]()
SCORER = pytest.StashKey["Scorer"]()
CLI = pytest.StashKey[dict]()
TIMER = pytest.StashKey[object]()
HANG = pytest.StashKey[dict]()
USED = pytest.StashKey[set]()
HINTBOOK = pytest.StashKey["hinting.HintBook"]()

# TensorFlow's C++ log lines (CUDA probing on machines without a GPU) would fill every failure's
# captured stderr; Python exceptions still come through.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_addoption(parser):
    group = parser.getgroup("kata")
    group.addoption(
        "--target",
        default=None,
        help="code under test: 'exercises' (default), 'solutions' or a folder of qNN_*.py files",
    )
    group.addoption("--slow", action="store_true", help="also run slow tests (training)")
    group.addoption("--score-json", metavar="PATH", help="write the exam score as JSON")
    group.addoption("--no-score", action="store_true", help="do not print the score table")
    group.addoption(
        "--hint",
        nargs="?",
        const="next",
        default=None,
        metavar="all",
        help="show the next hint for each function whose tests fail (--hint=all: every hint)",
    )
    group.addoption(
        "--plain",
        action="store_true",
        help="no colours, no progress redrawn in place (also when NO_COLOR is set)",
    )


# --- the command line ---------------------------------------------------------------------


def _target_dir_of(path: Path, rootpath: Path) -> Path | None:
    for name in naming.TARGET_NAMES:
        base = rootpath / name
        if path == base or base in path.parents:
            return base
    return None


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _list_tests(rootpath: Path, number: int) -> str:
    names = [n for f in naming.test_files(rootpath / "tests", number) for n in naming.test_names(f)]
    return "\n  ".join(names)


def _rewrite_argument(arg: str, invocation: Path, rootpath: Path, cli: dict) -> list[str] | None:
    """``exercises/q08_x.py[::test]`` -> the matching test modules, or None if not a target path."""
    file_part, sep, test_part = arg.partition("::")
    path = (invocation / file_part).resolve()
    target_dir = _target_dir_of(path, rootpath)
    if target_dir is None:
        return None
    cli["targets"].add(target_dir)
    rel = path.relative_to(target_dir)
    if not rel.parts:
        return [str(rootpath / "tests")]
    first = target_dir / rel.parts[0]
    match = naming.BELONGS.match(rel.parts[0])
    if not match:
        raise pytest.UsageError(
            f"{arg}: not a question of the kata; questions are files named qNN_topic.py"
        )
    number = int(match["number"])
    tests = naming.test_files(rootpath / "tests", number)
    if not tests:
        raise pytest.UsageError(f"{arg}: question {number} has no tests in the kata yet")
    if not first.exists():
        raise pytest.UsageError(f"{arg}: no such file")
    if naming.stem(first) != naming.canonical_name(rootpath / "tests", number):
        cli["files"][number] = first  # the named file is the one tested
    if not sep:
        return [str(t) for t in tests]
    name = test_part.split("::")[0].split("[")[0]
    owners = [t for t in tests if name in naming.test_names(t)]
    if not owners:
        raise pytest.UsageError(
            f"{arg}: question {number} has no test `{name}`. Its tests are:\n  "
            + _list_tests(rootpath, number)
        )
    cli["named"].add(number)
    return [f"{owners[0]}::{test_part}"]


_DEBUG_FLAGS = ("--pdb", "--trace", "-s", "--capture=no", "--co", "--collect-only", "--fixtures")


def _wants_in_process(args: list[str]) -> bool:
    """Debugging, collecting only, or an explicit -n: no worker process of ours."""
    for arg in args:
        if arg in _DEBUG_FLAGS or arg.startswith(("--pdbcls", "--numprocesses", "--dist", "-n")):
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Turn ``exercises/q08_convolution.py`` into ``tests/test_q08_*.py --target exercises``.

    Also: tests run in a replaceable worker process (xdist, one worker) when they are the kata's,
    and pytest-benchmark stays out of a learner's run (no header, no .benchmarks folder).
    """
    rootpath = early_config.rootpath
    invocation = Path(early_config.invocation_params.dir)
    _hint_value_is_a_path(early_config.known_args_namespace, args)
    positional = list(early_config.known_args_namespace.file_or_dir or [])
    cli = {"targets": set(), "files": {}, "named": set()}
    early_config.stash[CLI] = cli
    if not positional and _target_dir_of(invocation, rootpath):
        positional = ["."]  # `pytest` run inside exercises/ means the whole folder
        args.append(".")
    replacement = {}
    for arg in positional:
        new = _rewrite_argument(arg, invocation, rootpath, cli)
        if new is not None:
            replacement[arg] = new
    if len(cli["targets"]) > 1:
        raise pytest.UsageError("run exercises/ and solutions/ in separate runs")
    if replacement:
        (target_dir,) = cli["targets"]
        given = early_config.known_args_namespace.target
        if given and Path(given).resolve() != target_dir and given != target_dir.name:
            raise pytest.UsageError(f"--target {given} contradicts the path {target_dir.name}/")
        args[:] = [p for arg in args for p in replacement.get(arg, [arg])]
        args.append(f"--target={target_dir}")
    tests_dir = (rootpath / "tests").resolve()
    kata_run = all(
        arg in replacement or _inside((invocation / arg.partition("::")[0]).resolve(), tests_dir)
        for arg in positional
    ) and (positional or _inside(invocation, tests_dir) or invocation == rootpath)
    cli["kata_run"] = kata_run
    if not kata_run:
        return
    manager = early_config.pluginmanager
    if not any(a.startswith("--benchmark") or a == "benchmark" for a in args):
        manager.set_blocked("benchmark")
    if (
        "PYTEST_XDIST_WORKER" not in os.environ
        and manager.has_plugin("xdist")
        and not _wants_in_process(args)
    ):
        args[:] += ["-n", "1", f"--max-worker-restart={MAX_WORKER_RESTARTS}"]


def _hint_value_is_a_path(namespace, args: list[str]) -> None:
    """``pytest --hint exercises/q08.py``: argparse takes the path for the hint's value."""
    value = getattr(namespace, "hint", None)
    if value is None or value in hinting.MODES:
        return
    if value.startswith("-") or not any(ch in value for ch in "/.") and "::" not in value:
        raise pytest.UsageError(f"--hint={value}: say --hint (the next hint) or --hint=all")
    for index in range(len(args) - 1):
        if args[index] == "--hint" and args[index + 1] == value:
            args[index : index + 2] = ["--hint=next", value]
            break
    namespace.hint = "next"
    namespace.file_or_dir = [*(namespace.file_or_dir or []), value]


def plain_requested(config) -> bool:
    """``--plain``, or the NO_COLOR convention (https://no-color.org): any non-empty value."""
    return bool(config.getoption("plain", False) or os.environ.get("NO_COLOR"))


def _resolve_target(config) -> Path:
    value = config.getoption("target") or os.environ.get("KATA_TARGET") or "exercises"
    path = Path(value)
    if not path.is_absolute():
        candidate = config.rootpath / value
        path = candidate if candidate.exists() else Path.cwd() / value
    path = path.resolve()
    if not path.is_dir():
        raise pytest.UsageError(f"--target {value}: no such folder")
    return path


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): limit for one test (pytest-timeout)")
    cli = config.stash.get(CLI, {"files": {}, "named": set()})
    target_dir = _resolve_target(config)
    workerinput = getattr(config, "workerinput", None)
    distributed = workerinput is None and config.getoption("dist", "no") != "no"
    scorer = None
    if workerinput is None:
        scorer = Scorer(config, target_dir, cli, distributed)
        config.stash[SCORER] = scorer
        config.pluginmanager.register(scorer, "kata-scorer")
        config.stash[HINTBOOK] = hinting.HintBook(config.rootpath, config.getoption("hint"))
        if plain_requested(config):
            plainmode.configure(config)
    if not distributed:
        runner = Runner(config, target_dir, cli, scorer, workerinput)
        config.stash[KATA] = runner
        config.pluginmanager.register(runner, "kata-runner")
        statements.configure(config, runner.run_dir)  # statements after their experiments


def pytest_unconfigure(config):
    plainmode.unconfigure(config)
    statements.unconfigure(config)
    scorer = config.stash.get(SCORER, None)
    if scorer is not None and scorer.run_dir is not None:
        shutil.rmtree(scorer.run_dir, ignore_errors=True)


# --- which file is question N ---------------------------------------------------------------


def module_path(target_dir: Path, rootpath: Path, number: int, named: dict) -> Path | None:
    """The file or package under test for question ``number``.

    The file named on the command line wins; else the usual name (from the question's tests);
    else the only file that belongs to the question.
    """
    if number in named:
        return named[number]
    usual = naming.canonical_name(rootpath / "tests", number)
    for path in (target_dir / f"{usual}.py", target_dir / str(usual)):
        if usual and naming.is_question_file(path) and path.exists():
            return path
    found = naming.candidates(target_dir, number)
    return found[0] if len(found) == 1 else None


def question_of_nodeid(nodeid: str) -> tuple[int, str] | None:
    """``tests/test_q08_x.py::test_y[case]`` -> (8, "test_y"); None for other tests."""
    if nodeid in guard.CLAIMED:  # the grader's control tests: never part of the score
        return None
    path, _, rest = nodeid.partition("::")
    parts = Path(path).parts
    if len(parts) != 2 or parts[0] != "tests":
        return None
    number = naming.question_of_test_file(Path(path))
    if number is None or not rest:
        return None
    return number, rest.split("::")[-1].split("[")[0]


# --- the side that runs tests (in-process, or in the xdist worker) ---------------------------


class Runner:
    """Imports the code under test, keeps time limits and shapes failure messages."""

    def __init__(self, config, target_dir: Path, cli: dict, scorer, workerinput):
        self.config = config
        self.rootpath = config.rootpath
        self.target_dir = target_dir
        self.named_files = dict(cli.get("files", {}))
        self.scorer = scorer  # in-process: the same process keeps the score
        self.modules: dict[int, object] = {}
        self.import_errors: dict[int, str] = {}
        shared = (workerinput or {}).get("kata", {})
        self.run_dir = Path(shared["run_dir"]) if shared.get("run_dir") else None
        self.worker_id = (workerinput or {}).get("workerid", "main")
        self.hangs: list[dict] = list(shared.get("hangs", []))
        self.seen: dict[str, int] = {}  # "question::test function" -> cases before deselection
        self.slow: set[str] = set()

    # --- paths and questions ---

    def rel(self, path) -> str:
        return scoring.relative(Path(path), self.rootpath)

    def question_of(self, item) -> int | None:
        meta = question_of_nodeid(item.nodeid)
        return meta[0] if meta else None

    def module_path(self, question: int) -> Path | None:
        return module_path(self.target_dir, self.rootpath, question, self.named_files)

    def command(self, question: int, test: str | None = None) -> str:
        path = self.module_path(question) or self.target_dir
        where = scoring.as_typed(path, Path(self.config.invocation_params.dir))
        return f"pytest {where}" + (f"::{test}" if test else "")

    # --- importing the module under test ---

    def load(self, question: int):
        __tracebackhide__ = True
        if question in self.modules:
            return self.modules[question]
        if question in self.import_errors:
            pytest.fail(self.import_errors[question], pytrace=False)
        path = self.module_path(question)
        if path is None:
            found = naming.candidates(self.target_dir, question)
            usual = naming.canonical_name(self.rootpath / "tests", question)
            if found:
                names = ", ".join(p.name for p in found)
                message = (
                    f"{self.rel(self.target_dir)}/ has several files for question {question} "
                    f"({names}) and none is named {usual}.py: name the one to test, e.g. "
                    f"`pytest {self.rel(found[0])}`"
                )
            else:
                message = (
                    f"{self.rel(self.target_dir)}/ has no file for question {question} "
                    f"(expected {usual}.py); restore it with `python -m kata.stubs {usual}`"
                )
            self.import_errors[question] = message
            pytest.fail(message, pytrace=False)
        try:
            module = import_target(self.target_dir, path)
        except pytest.fail.Exception as exc:  # a timeout while importing
            self.import_errors[question] = f"importing {self.rel(path)} did not finish: {exc}"
            raise
        except BaseException as exc:  # noqa: BLE001 - any error in a learner's file
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.import_errors[question] = import_error_message(self, path, exc)
        if question in self.import_errors:  # failed outside the except: no chained traceback
            pytest.fail(self.import_errors[question], pytrace=False)
        self.modules[question] = module
        self.apply_hangs(module)
        return module

    # --- collection ---

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config, items):
        run_slow = config.getoption("slow") or bool(config.option.markexpr)
        skip_slow = pytest.mark.skip(reason=SLOW_REASON)
        for item in items:
            meta = question_of_nodeid(item.nodeid)
            if meta is None:
                continue
            key = f"{meta[0]}::{meta[1]}"
            self.seen[key] = self.seen.get(key, 0) + 1
            if item.get_closest_marker("slow") and not run_slow:
                item.add_marker(skip_slow)
                self.slow.add(item.nodeid)

    def pytest_collection_finish(self, session):
        selected = {i.nodeid for i in session.items if self.question_of(i) is not None}
        # TensorFlow's import takes seconds (a minute on a crowded machine): do it now, outside
        # every test's time limit, when a selected test will want it anyway.
        wants_tf = any("tf" in getattr(i, "fixturenames", ()) for i in session.items)
        if wants_tf and not session.config.option.collectonly:
            try:
                import_tensorflow_quietly()
            except ImportError:
                pass  # the tests that need it will say so
        info = {"seen": self.seen}
        if self.scorer is not None:
            self.scorer.add_collection(info, selected)
        elif self.run_dir is not None:
            path = self.run_dir / f"collection-{self.worker_id}.json"
            path.write_text(json.dumps(info))

    # --- time limits ---

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
            hang = self.hang_record(item, seconds, frame, inside_python=True)
            self.add_hang(hang)
            item.stash[HANG] = hang
            pytest.fail(hang["message"], pytrace=False)

        def watchdog():
            if fired.is_set():
                return
            frame = sys._current_frames().get(main)
            hang = self.hang_record(item, seconds, frame, inside_python=False)
            self.stuck(item, hang)

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

    def learner_frames(self, frame) -> list:
        frames = []
        while frame is not None:
            path = Path(frame.f_code.co_filename)
            if self.target_dir in path.parents:
                frames.append(frame)
            frame = frame.f_back
        return frames  # innermost first

    def hang_record(self, item, seconds, frame, inside_python: bool) -> dict:
        frames = self.learner_frames(frame)
        functions = []
        for f in frames:
            qualname = getattr(f.f_code, "co_qualname", f.f_code.co_name).split(".<locals>")[0]
            module = f.f_globals.get("__name__", "")
            if qualname != "<module>" and [module, qualname] not in functions:
                functions.append([module, qualname])
        where = ""
        if frames:
            f = frames[0]
            where = f"line {f.f_lineno} of {self.rel(f.f_code.co_filename)} (in {f.f_code.co_name})"
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
        test = item.nodeid.split("::")[-1]
        return {
            "question": self.question_of(item),
            "nodeid": item.nodeid,
            "test": test,
            "seconds": seconds,
            "where": where,
            "functions": functions,
            "message": f"Timeout: the test did not finish within {seconds:g} s.{text} {hint}",
        }

    def add_hang(self, hang: dict) -> None:
        self.hangs.append(hang)
        for module in list(sys.modules.values()):
            name = getattr(module, "__name__", "")
            if any(name == m for m, _ in hang["functions"]):
                self.apply_hangs(module)

    def apply_hangs(self, module) -> None:
        """Replace every function of ``module`` that hung with one that fails at once."""
        for hang in self.hangs:
            for module_name, qualname in hang["functions"]:
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
                    setattr(holder, attribute, _failing(qualname, hang, self))
                except (AttributeError, TypeError):
                    pass

    def stuck(self, item, hang: dict) -> None:
        """The watchdog's verdict: end this process cleanly, so that the run can go on."""
        hang["inside_python"] = False
        if self.run_dir is not None:  # an xdist worker: the controller reports and replaces us
            path = self.run_dir / f"crash-{self.worker_id}.json"
            path.write_text(json.dumps(hang))
        elif self.scorer is not None:  # in-process: report what we have, then stop
            self.scorer.finish_after_hang(item, hang)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(HANG_EXIT)

    # --- reports ---

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if self.question_of(item) is None:
            return report
        excinfo = call.excinfo
        statements.mark_report(report, excinfo)  # an answer judged at grading
        if excinfo is not None and report.failed:
            if excinfo.errisinstance(Unanswered):
                report.kata_outcome = "unanswered"
            elif excinfo.errisinstance(NotImplementedError):
                short = self.not_implemented_message(excinfo)
                if short:
                    report.longrepr = short
            elif _shows_traceback(excinfo) and not item.config.getoption("fulltrace"):
                report.longrepr = _trimmed_repr(item, excinfo)
        if report.sections:
            report.sections = _without_library_noise(report.sections)
        hang = item.stash.get(HANG, None)
        if hang is not None and report.failed:
            report.kata_hang = hang
            del item.stash[HANG]
        if report.skipped and item.nodeid in self.slow:
            report.kata_slow = True
        if report.failed:
            functions = self.failing_functions(item, excinfo)
            if functions:
                report.kata_functions = functions
        return report

    def failing_functions(self, item, excinfo) -> list[list[str]]:
        """The learner's functions a failure is about, as [hint file, qualified name] pairs.

        The function where the error was raised, if it was raised in the code under test;
        else every function of that code the test used.
        """
        tests_dir = self.rootpath / "tests"
        innermost = None
        tb = excinfo.tb if excinfo is not None else None
        while tb is not None:  # the raw traceback, outermost frame first
            code = tb.tb_frame.f_code
            if self.target_dir in Path(code.co_filename).parents:
                innermost = code
            tb = tb.tb_next
        if innermost is not None:
            # a nested function's hints are filed as "outer.inner" (see HintBook.add)
            name = getattr(innermost, "co_qualname", innermost.co_name).replace(".<locals>", "")
            key = hinting.file_key(Path(innermost.co_filename), self.target_dir, tests_dir)
            return [[key, name]] if key and name != "<module>" else []
        found = []
        for file, name in sorted(item.stash.get(USED, set()), key=str):
            key = hinting.file_key(Path(file), self.target_dir, tests_dir) if file else None
            if key and [key, name] not in found:
                found.append([key, name])
        return found

    def not_implemented_message(self, excinfo) -> str | None:
        return not_implemented_message(excinfo, self.target_dir, self.rootpath)


def not_implemented_message(excinfo, target_dir: Path, rootpath: Path) -> str | None:
    """``exercises/q08_x.py:12: `feature_map` is not implemented yet: <the stub's hint>``.

    Inside a tf.function the traceback shows TensorFlow's generated code, not the learner's
    function; TensorFlow names that function in the message ("in user code: File ...").
    """
    text = str(excinfo.value)
    if "in user code:" in text:
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', text)
        inside = [f for f in frames if target_dir in Path(f[0]).parents]
        hint = re.findall(r"NotImplementedError: (.*)", text)
        if inside:
            path, line, name = inside[-1]
            what = hint[-1].strip() if hint else "this"
            where = scoring.relative(Path(path), rootpath)
            return f"{where}:{line}: `{name}` is not implemented yet: {what}"
    for entry in reversed(excinfo.traceback):
        path = Path(str(entry.path))
        if target_dir in path.parents:
            where = f"{scoring.relative(path, rootpath)}:{entry.lineno + 1}"
            return f"{where}: `{entry.name}` is not implemented yet: {text or 'this'}"
    return None


# TensorFlow's C++ start-up lines (absl log format), whatever TF_CPP_MIN_LOG_LEVEL says.
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IWE]\d{4} [\d:.]+\s+\d+ \S+\.(cc|h):\d+\] .*)$"
)


def _without_library_noise(sections):
    """Captured output without TensorFlow's start-up lines; sections left empty are dropped."""
    kept = []
    for title, content in sections:
        lines = [line for line in content.splitlines() if not _NOISE.match(line)]
        if any(line.strip() for line in lines):
            kept.append((title, "\n".join(lines) + "\n"))
    return kept


def _failing(qualname: str, hang: dict, runner: Runner):
    """A stand-in for a function that hung in an earlier test: it fails at once."""

    def hung(*args, **kwargs):
        __tracebackhide__ = True
        pytest.fail(
            f"`{qualname}` did not finish in an earlier test ({hang['test']}: no result within "
            f"{hang['seconds']:g} s{', at ' + hang['where'] if hang['where'] else ''}), so it "
            "fails at once here. Fix that endless loop first: "
            f"{runner.command(hang['question'], hang['test'].split('[')[0])}",
            pytrace=False,
        )

    hung._kata_hung = True
    return hung


def _hidden(entry) -> bool:
    """Frames a learner never needs: installed libraries, TensorFlow's generated code, ours."""
    path = str(entry.path)
    return (
        "site-packages" in path
        or "__autograph_generated_file" in path
        or path == __file__.removesuffix("c")
    )


def _shows_traceback(excinfo) -> bool:
    """A failure whose report shows a traceback with frames a learner never needs."""
    if isinstance(excinfo.value, pytest.fail.Exception) and not excinfo.value.pytrace:
        return False
    return any(_hidden(entry) for entry in excinfo.traceback)


def _trimmed_repr(item, excinfo):
    """The failure as pytest shows it, without frames of libraries and of TensorFlow's code."""
    code = getattr(getattr(item, "function", None), "__code__", None)

    def tbfilter(info):
        tb = info.traceback
        if code is not None:  # start at the test function, as pytest does
            tb = tb.cut(path=code.co_filename, firstlineno=code.co_firstlineno - 1)
        tb = tb.filter(info)  # __tracebackhide__
        kept = tb.filter(lambda entry: not _hidden(entry))
        return kept if len(kept) else tb

    style = item.config.getoption("tbstyle", "auto")
    return excinfo.getrepr(
        funcargs=True,
        showlocals=item.config.getoption("showlocals", False),
        style="long" if style == "auto" else style,
        tbfilter=tbfilter,
        truncate_locals=True,
    )


def import_target(target_dir: Path, path: Path):
    """Import the file or package ``path`` as ``<target folder>.<name>``, from that folder only.

    The folder need not be on sys.path, and may share its name with another (a copy of
    ``exercises/``): a stale package of the same name is dropped first.
    """
    package = target_dir.name if target_dir.name.isidentifier() else "kata_target"
    loaded = sys.modules.get(package)
    if loaded is None or [str(p) for p in getattr(loaded, "__path__", [])] != [str(target_dir)]:
        for key in [k for k in sys.modules if k == package or k.startswith(package + ".")]:
            del sys.modules[key]
        init = target_dir / "__init__.py"
        if init.exists():
            spec = importlib.util.spec_from_file_location(
                package, init, submodule_search_locations=[str(target_dir)]
            )
            parent = importlib.util.module_from_spec(spec)
            sys.modules[package] = parent
            spec.loader.exec_module(parent)
        else:
            parent = types.ModuleType(package)
            parent.__path__ = [str(target_dir)]
            sys.modules[package] = parent
    name = naming.stem(path)
    if name.isidentifier():
        importlib.invalidate_caches()
        return importlib.import_module(f"{package}.{name}")
    full = package + "." + re.sub(r"\W", "_", name)
    if full in sys.modules:
        return sys.modules[full]
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(
            full, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        spec = importlib.util.spec_from_file_location(full, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[full]
        raise
    return module


def import_error_message(runner: Runner, path: Path, exc: BaseException) -> str:
    rel = runner.rel(path)
    if isinstance(exc, SyntaxError):
        where = f"{runner.rel(exc.filename) if exc.filename else rel}, line {exc.lineno}"
        text = (exc.text or "").rstrip()
        caret = ""
        if text and exc.offset:
            caret = "\n    " + " " * (exc.offset - 1 - (len(text) - len(text.lstrip()))) + "^"
        code = f"\n    {text.strip()}{caret}" if text else ""
        return f"{rel} could not be imported: {type(exc).__name__} at {where}: {exc.msg}{code}"
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if runner.target_dir in Path(f.filename).parents
    ]
    where = f" (line {frames[-1].lineno} of {runner.rel(frames[-1].filename)})" if frames else ""
    return f"{rel} could not be imported{where}: {type(exc).__name__}: {exc}"


# --- the side that keeps the score (in-process, or the xdist controller) ---------------------


class Scorer:
    """Collects every kata test's outcome and prints the exam score at the end."""

    def __init__(self, config, target_dir: Path, cli: dict, distributed: bool):
        self.config = config
        self.run = scoring.Run(
            target_dir=target_dir,
            rootpath=config.rootpath,
            invocation_dir=Path(config.invocation_params.dir),
        )
        self.run.named = set(cli.get("named", set()))
        self.named_files = dict(cli.get("files", {}))
        self.hangs: list[dict] = []
        self.started = time.time()
        self.run.started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        self.run_dir = Path(tempfile.mkdtemp(prefix="kata-run-")) if distributed else None

    # --- what ran ---

    def add_collection(self, info: dict, selected) -> None:
        for nodeid in selected:
            meta = question_of_nodeid(nodeid)
            if meta:
                self.run.tests.setdefault(nodeid, meta)
        for key, count in info.get("seen", {}).items():
            question, _, name = key.partition("::")
            self.run.seen[int(question), name] = count

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        # xdist marks each report with its worker ("[gw0] linux -- Python ..." above every
        # failure); a learner runs one worker, which is no news: drop it.
        if hasattr(report, "node"):
            del report.node
        meta = question_of_nodeid(report.nodeid)
        if meta is None:
            return
        self.run.tests.setdefault(report.nodeid, meta)
        if report.failed:
            kind = getattr(report, "kata_outcome", None)
            outcome = "unanswered" if kind == "unanswered" else "failed"
            book = self.config.stash.get(HINTBOOK, None)
            if book is not None:
                book.add(getattr(report, "kata_functions", None))
        elif report.skipped:
            outcome = statements.outcome(report) or "skipped"
            if getattr(report, "kata_slow", False):
                self.run.slow.add(report.nodeid)
        elif report.when == "call":
            outcome = "passed"
        else:
            return
        if self.run.outcomes.get(report.nodeid) in ("failed", "unanswered"):
            return  # a teardown after a failure does not undo it
        self.run.outcomes[report.nodeid] = outcome
        hang = getattr(report, "kata_hang", None)
        if hang:
            self.hangs.append(hang)

    # --- the xdist controller ---

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        """Tell every (new) worker where to leave notes and which functions hung already."""
        node.workerinput["kata"] = {"run_dir": str(self.run_dir), "hangs": list(self.hangs)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        info = {}
        note = self.run_dir / f"collection-{node.gateway.id}.json" if self.run_dir else None
        if note is not None and note.exists():
            info = json.loads(note.read_text())
        self.add_collection(info, ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem, report, sched):
        """A worker died in a test: say why (our watchdog's note) and remember the hang."""
        worker = getattr(getattr(report, "node", None), "gateway", None)
        note = self.run_dir / f"crash-{getattr(worker, 'id', '')}.json" if self.run_dir else None
        if note is not None and note.exists():
            hang = json.loads(note.read_text())
            note.unlink()
            if hang.get("nodeid") == crashitem:
                report.longrepr = hang["message"]
                path, _, name = crashitem.partition("::")
                report.location = (path, None, name)
                self.hangs.append(hang)
                return None
        report.longrepr = (
            "the test process ended while running this test, without a Python error (a crash "
            "in a C extension, or os._exit in the code under test?). The other tests went on "
            "in a new process."
        )
        return None

    # --- the end ---

    def finish(self, exitstatus: int) -> dict:
        self.run.exit_status = int(exitstatus)
        self.run.duration_s = time.time() - self.started
        for number in {q for q, _ in self.run.tests.values()}:
            path = module_path(self.run.target_dir, self.run.rootpath, number, self.named_files)
            usual = naming.canonical_name(self.run.rootpath / "tests", number)
            if path is not None and naming.stem(path) != usual:
                self.run.files[number] = path
            found = naming.candidates(self.run.target_dir, number)
            others = [p.name for p in found if p != path]
            if path is not None and others:
                self.run.notes.append(
                    f"{scoring.relative(self.run.target_dir, self.run.rootpath)}/ has more than "
                    f"one file for question {number}: {path.name} was tested, "
                    f"{', '.join(others)} {'was' if len(others) == 1 else 'were'} not."
                )
        result = scoring.compute(self.run)
        path = self.config.getoption("score_json")
        if path:
            scoring.write_json(result, path)
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        yield  # after pytest's own summary: the score is the last thing a learner reads
        if not self.run.tests:
            return
        result = self.finish(exitstatus)
        if not config.getoption("no_score"):
            book = config.stash.get(HINTBOOK, None)
            if book is not None:
                book.write(terminalreporter)
            scoring.print_table(result, terminalreporter, self.run)

    def finish_after_hang(self, item, hang: dict) -> None:
        """In-process only: a test hangs inside TensorFlow; report, score and stop the run."""
        self.run.outcomes[item.nodeid] = "failed"
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if capture is not None:  # the test's output capture still holds stdout: give it back
            capture.suspend_global_capture(in_=True)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        result = self.finish(pytest.ExitCode.INTERRUPTED)
        if reporter is not None:
            reporter.write_line("")
            reporter.write_sep("!", f"FAILED {item.nodeid}")
            reporter.write_line(hang["message"].replace(" The test process was replaced", ""))
            reporter.write_line(
                "The run stops here: in this mode (no pytest-xdist worker) a test stuck inside "
                "TensorFlow cannot be ended. The tests after it did not run."
            )
            if not self.config.getoption("no_score"):
                scoring.print_table(result, reporter, self.run)


# --- the fixtures ---------------------------------------------------------------------------


class TargetModule:
    """The module under test, imported on first use (so a broken file fails in the test itself).

    A missing name or submodule fails with a friendly message instead of an AttributeError.
    """

    def __init__(self, runner: Runner, question: int, module=None, used=None):
        self.__dict__.update(_runner=runner, _question=question, _loaded=module, _used=used)

    @property
    def _module(self):
        if self._loaded is None:
            self.__dict__["_loaded"] = self._runner.load(self._question)
        return self._loaded

    def __getattr__(self, name):
        __tracebackhide__ = True
        module, runner = self._module, self._runner
        try:
            value = getattr(module, name)
        except AttributeError:
            pass
        else:
            if self._used is not None:  # which functions the test used: for --hint
                self._used.add((getattr(module, "__file__", None), name))
            return value
        file = Path(module.__file__)
        if file.name == "__init__.py" and (
            (file.parent / f"{name}.py").exists() or (file.parent / name / "__init__.py").exists()
        ):
            failure = None
            try:
                sub = importlib.import_module(f"{module.__name__}.{name}")
            except BaseException as exc:  # noqa: BLE001
                if isinstance(exc, (KeyboardInterrupt, pytest.fail.Exception)):
                    raise
                failure = import_error_message(runner, file.parent / f"{name}.py", exc)
            if failure:
                pytest.fail(failure, pytrace=False)
            runner.apply_hangs(sub)
            wrapped = TargetModule(runner, self._question, sub, self._used)
            self.__dict__[name] = wrapped
            return wrapped
        pytest.fail(
            f"{runner.rel(file)} has no `{name}`: the task asks for it. Did you rename or delete "
            "it? The stub defines it: `python -m kata.stubs --help` says how to restore a file.",
            pytrace=False,
        )

    def __setattr__(self, name, value):
        setattr(self._module, name, value)

    def _kata_command(self, test: str) -> str:
        """The command that runs one test of this question against the same folder."""
        return self._runner.command(self._question, test)

    def __repr__(self):
        return f"<module under test: question {self._question} in {self._runner.target_dir}>"


@pytest.fixture
def target(request):
    """The module under test (the learner's exercise or the reference), imported on first use."""
    runner = request.config.stash[KATA]
    question = runner.question_of(request.node)
    if question is None:
        raise pytest.UsageError("the `target` fixture is for tests/test_qNN_*.py modules")
    used = request.node.stash.setdefault(USED, set())
    return TargetModule(runner, question, used=used)


@pytest.fixture(scope="session")
def _tensorflow():
    return import_tensorflow_quietly()


def import_tensorflow_quietly():
    """Import TensorFlow with its start-up lines on stderr (CUDA, oneDNN) sent to /dev/null."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tensorflow


@pytest.fixture
def tf(_tensorflow):
    """TensorFlow, imported on first use, with python, numpy and TensorFlow seeded."""
    from kata.testing import seed_everything

    seed_everything(0, tensorflow=True)
    return _tensorflow

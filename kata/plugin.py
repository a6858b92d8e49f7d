"""The kata's pytest plugin: which code the tests run against, and what the run is worth.

- ``pytest exercises/`` and ``pytest exercises/q08_convolution.py`` run the matching tests in
  ``tests/`` against the learner's files; ``solutions/`` likewise against the reference;
  ``--target`` names any other folder (the integrity check uses a fresh copy of the stubs).
- The fixture ``target`` is the module under test, imported on first use. A file that does not
  import fails only its own question's tests, with a short message.
- Slow tests (``@pytest.mark.slow``) are skipped unless ``--slow`` (or ``-m slow``) is given.
- After the run, a table shows the exam score; ``--score-json`` writes it for graders.
"""

from __future__ import annotations

import importlib
import os
import re
import signal
import sys
import traceback
from pathlib import Path

import pytest

from kata import score as scoring
from kata.testing import Unanswered

TARGET_NAMES = ("exercises", "solutions")
TEST_FILE = re.compile(r"^test_q(\d\d)_")
QUESTION_NAME = re.compile(r"^q(\d\d)_\w+$")
HUNG_TIMEOUT = 5.0  # seconds left for the other tests of a question whose code hung once

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


# --- target switching ----------------------------------------------------------------------


def _question_of(path: Path, target_dir: Path) -> int | None:
    """Question number of a path inside a target folder, None for the folder itself."""
    rel = path.relative_to(target_dir)
    if not rel.parts:
        return None
    match = QUESTION_NAME.match(rel.parts[0].removesuffix(".py"))
    if not match:
        raise pytest.UsageError(
            f"{path}: not a question of the kata; questions are named qNN_topic.py"
        )
    return int(match.group(1))


def _target_dir_of(path: Path, rootpath: Path) -> Path | None:
    for name in TARGET_NAMES:
        base = rootpath / name
        if path == base or base in path.parents:
            return base
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Turn ``exercises/q08_convolution.py`` into ``tests/test_q08_*.py --target exercises``."""
    ns = early_config.known_args_namespace
    rootpath = early_config.rootpath
    invocation = Path(early_config.invocation_params.dir)
    positional = list(ns.file_or_dir or [])
    if not positional and _target_dir_of(invocation, rootpath):
        positional = ["."]  # `pytest` run inside exercises/ means the whole folder
        args.append(".")
    targets, replacement = set(), {}
    for arg in positional:
        file_part, _, test_part = arg.partition("::")
        path = (invocation / file_part).resolve()
        target_dir = _target_dir_of(path, rootpath)
        if target_dir is None:
            continue
        targets.add(target_dir)
        question = _question_of(path, target_dir)
        if question is None:
            replacement[arg] = [str(rootpath / "tests")]
            continue
        tests = sorted((rootpath / "tests").glob(f"test_q{question:02d}_*.py"))
        if not tests:
            raise pytest.UsageError(f"question {question} has no tests in the kata yet")
        if test_part:  # exercises/q08_convolution.py::test_name
            tests = [t for t in tests if test_part.split("::")[0].split("[")[0] in t.read_text()]
            replacement[arg] = [f"{t}::{test_part}" for t in tests[:1]]
        else:
            replacement[arg] = [str(t) for t in tests]
    if not targets:
        return
    if len(targets) > 1:
        raise pytest.UsageError("run exercises/ and solutions/ in separate runs")
    (target_dir,) = targets
    if ns.target and Path(ns.target).resolve() != target_dir and ns.target != target_dir.name:
        raise pytest.UsageError(f"--target {ns.target} contradicts the path {target_dir.name}/")
    new_args = []
    for arg in args:
        new_args.extend(replacement.pop(arg, [arg]))
    args[:] = new_args + [f"--target={target_dir}"]
    ns.file_or_dir = [p for a in positional for p in replacement.get(a, [a])] or ns.file_or_dir


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
    config._kata = Kata(config)
    config.pluginmanager.register(config._kata, "kata-session")


class Kata:
    """The state of one run: the target, imported modules, and every test's outcome."""

    def __init__(self, config):
        self.config = config
        self.target_dir = _resolve_target(config)
        self.modules: dict[int, object] = {}
        self.import_errors: dict[int, str] = {}
        self.hung: set[int] = set()
        self.items: dict[str, tuple[int, str]] = {}  # nodeid -> (question, test function)
        self.outcomes: dict[str, str] = {}
        self.slow_skipped = 0

    # --- which question a test belongs to ---

    def question_of_item(self, item) -> int | None:
        path = Path(item.path)
        match = TEST_FILE.match(path.name)
        if not match or path.parent != self.config.rootpath / "tests":
            return None
        return int(match.group(1))

    def rel(self, path) -> str:
        path = Path(path)
        for base in (self.config.rootpath, self.target_dir.parent):
            try:
                return str(path.relative_to(base))
            except ValueError:
                pass
        return str(path)

    # --- importing the module under test ---

    def module_path(self, question: int) -> Path | None:
        found = sorted(self.target_dir.glob(f"q{question:02d}_*"))
        found = [p for p in found if p.suffix == ".py" or (p / "__init__.py").exists()]
        return found[0] if found else None

    def load(self, question: int):
        if question in self.modules:
            return self.modules[question]
        if question in self.import_errors:
            pytest.fail(self.import_errors[question], pytrace=False)
        path = self.module_path(question)
        if path is None:
            message = (
                f"{self.rel(self.target_dir)}/ has no file for question {question} "
                f"(expected q{question:02d}_<topic>.py); restore it with `python -m kata.stubs`"
            )
            self.import_errors[question] = message
            pytest.fail(message, pytrace=False)
        name = f"{self.target_dir.name}.{path.name.removesuffix('.py')}"
        try:
            module = import_fresh(self.target_dir, name)
        except pytest.fail.Exception as exc:  # a timeout while importing
            self.hung.add(question)
            self.import_errors[question] = f"importing {self.rel(path)} did not finish: {exc}"
            raise
        except BaseException as exc:  # noqa: BLE001 - any error in a learner's file
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.import_errors[question] = import_error_message(self, path, exc)
        if question in self.import_errors:  # failed outside the except: no chained traceback
            pytest.fail(self.import_errors[question], pytrace=False)
        self.modules[question] = module
        return module

    # --- hooks ---

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config, items):
        run_slow = config.getoption("slow") or "slow" in (config.option.markexpr or "")
        skip_slow = pytest.mark.skip(reason="slow: run with --slow (training takes minutes)")
        for item in items:
            question = self.question_of_item(item)
            if question is None:
                continue
            name = getattr(item, "originalname", item.name)
            self.items[item.nodeid] = (question, name)
            if item.get_closest_marker("slow") and not run_slow:
                item.add_marker(skip_slow)
                self.slow_skipped += 1
            _shorten_tracebacks(item)

    @pytest.hookimpl(tryfirst=True)
    def pytest_timeout_set_timer(self, item, settings):
        """Our own SIGALRM timer: a clear message, and less patience once a question hung."""
        if settings.method != "signal" or not hasattr(signal, "SIGALRM"):
            return None
        meta = self.items.get(item.nodeid)
        seconds = settings.timeout
        if meta and meta[0] in self.hung:
            seconds = min(seconds, HUNG_TIMEOUT)

        def handler(signum, frame):
            __tracebackhide__ = True
            if meta:
                self.hung.add(meta[0])
            where = self.learner_frame(frame)
            hint = f" It was running {where}." if where else ""
            pytest.fail(
                f"Timeout: the test did not finish within {seconds:g} s.{hint} "
                "An endless loop? Check the loop's exit condition.",
                pytrace=False,
            )

        def cancel():
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)

        item.cancel_timeout = cancel
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        return True

    def learner_frame(self, frame) -> str | None:
        while frame is not None:
            path = Path(frame.f_code.co_filename)
            if self.target_dir in path.parents:
                return f"line {frame.f_lineno} of {self.rel(path)} (in {frame.f_code.co_name})"
            frame = frame.f_back
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        meta = self.items.get(item.nodeid)
        if meta is None:
            return report
        if call.excinfo is not None and report.failed:
            if call.excinfo.errisinstance(Unanswered):
                self.outcomes[item.nodeid] = "unanswered"
            elif call.excinfo.errisinstance(NotImplementedError):
                short = self.not_implemented_message(call.excinfo)
                if short:
                    report.longrepr = short
        if report.when == "call" or report.outcome != "passed":
            current = self.outcomes.get(item.nodeid)
            if current in ("unanswered", "failed"):
                return report
            self.outcomes[item.nodeid] = report.outcome
        return report

    def not_implemented_message(self, excinfo) -> str | None:
        for entry in reversed(excinfo.traceback):
            path = Path(str(entry.path))
            if self.target_dir in path.parents:
                what = str(excinfo.value) or "this"
                return (
                    f"{self.rel(path)}:{entry.lineno + 1}: `{entry.name}` is not implemented "
                    f"yet: {what}"
                )
        return None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        yield  # after pytest's own summary: the score is the last thing a learner reads
        if not self.items:
            return
        result = scoring.compute(self.items, self.outcomes, self.target_dir, config.rootpath)
        result["slow_skipped"] = self.slow_skipped
        if config.getoption("score_json"):
            scoring.write_json(result, config.getoption("score_json"))
        if not config.getoption("no_score"):
            scoring.print_table(result, terminalreporter, self.rel(self.target_dir))


class TargetModule:
    """The module under test, imported on first use (so a broken file fails in the test itself).

    A missing name or submodule fails with a friendly message instead of an AttributeError.
    """

    def __init__(self, kata: Kata, question: int, module=None):
        self.__dict__.update(_kata=kata, _question=question, _loaded=module)

    @property
    def _module(self):
        if self._loaded is None:
            self.__dict__["_loaded"] = self._kata.load(self._question)
        return self._loaded

    def __getattr__(self, name):
        module, kata = self._module, self._kata
        try:
            return getattr(module, name)
        except AttributeError:
            pass
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
                failure = import_error_message(kata, file.parent / f"{name}.py", exc)
            if failure:
                pytest.fail(failure, pytrace=False)
            wrapped = TargetModule(kata, self._question, sub)
            self.__dict__[name] = wrapped
            return wrapped
        pytest.fail(
            f"{kata.rel(file)} has no `{name}`: the task asks for it. Did you rename or delete "
            f"it? The stub defines it: `python -m kata.stubs --help` says how to restore a file.",
            pytrace=False,
        )

    def __setattr__(self, name, value):
        setattr(self._module, name, value)

    def _kata_command(self, test: str) -> str:
        """The command that runs one test of this question against the same folder."""
        kata = self._kata
        path = kata.module_path(self._question)
        return f"pytest {kata.rel(path) if path else kata.rel(kata.target_dir)}::{test}"

    def __repr__(self):
        return f"<module under test: question {self._question} in {self._kata.target_dir}>"


def import_fresh(target_dir: Path, name: str):
    """Import ``<target folder>.<question>`` from that folder, whatever else is on sys.path."""
    package = target_dir.name
    loaded = sys.modules.get(package)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").parent != target_dir:
        for key in [k for k in sys.modules if k == package or k.startswith(package + ".")]:
            del sys.modules[key]
    if str(target_dir.parent) not in sys.path[:1]:
        sys.path.insert(0, str(target_dir.parent))
    importlib.invalidate_caches()
    return importlib.import_module(name)


def import_error_message(kata: Kata, path: Path, exc: BaseException) -> str:
    rel = kata.rel(path)
    if isinstance(exc, SyntaxError):
        where = f"{kata.rel(exc.filename) if exc.filename else rel}, line {exc.lineno}"
        text = (exc.text or "").rstrip()
        caret = ""
        if text and exc.offset:
            caret = "\n    " + " " * (exc.offset - 1 - (len(text) - len(text.lstrip()))) + "^"
        code = f"\n    {text.strip()}{caret}" if text else ""
        return f"{rel} could not be imported: {type(exc).__name__} at {where}: {exc.msg}{code}"
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if kata.target_dir in Path(f.filename).parents
    ]
    where = f" (line {frames[-1].lineno} of {kata.rel(frames[-1].filename)})" if frames else ""
    return f"{rel} could not be imported{where}: {type(exc).__name__}: {exc}"


def _shorten_tracebacks(item) -> None:
    """Hide frames inside installed libraries (TensorFlow, NumPy): point into the learner's file."""
    original = getattr(item, "_traceback_filter", None)
    if original is None:
        return

    def traceback_filter(excinfo):
        tb = original(excinfo)
        kept = tb.filter(lambda entry: "site-packages" not in str(entry.path))
        return kept if len(kept) else tb

    item._traceback_filter = traceback_filter


@pytest.fixture
def target(request):
    """The module under test (the learner's exercise or the reference), imported on first use."""
    kata: Kata = request.config._kata
    question = kata.question_of_item(request.node)
    if question is None:
        raise pytest.UsageError("the `target` fixture is for tests/test_qNN_*.py modules")
    return TargetModule(kata, question)


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

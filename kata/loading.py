"""Importing the code under test: which file is question N, and a broken file fails only its own
question's tests, with a short message.

The fixture ``target`` is a ``TargetModule``: the module is imported on the first attribute a
test reads, inside that test, so a syntax error, an import error or a missing name becomes that
test's failure. ``Loader`` imports each question once per process and remembers its error.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import traceback
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from kata import guard, naming
from kata.demo import import_tensorflow_quietly  # noqa: F401 - the plugin's and benchmarks'
from kata.paths import as_typed, inside, relative

USED = pytest.StashKey[set[tuple[str | None, str]]]()
"""On a test item: (file, name) of every name the test read from the module under test."""


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


def module_path(
    target_dir: Path, rootpath: Path, number: int, named: dict[int, Path]
) -> Path | None:
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


def import_target(target_dir: Path, path: Path) -> types.ModuleType:
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


def import_error_message(path: Path, exc: BaseException, target_dir: Path, rootpath: Path) -> str:
    """``exercises/q08_x.py could not be imported (line 3 of ...): NameError: ...``."""
    rel = relative(path, rootpath)
    if isinstance(exc, SyntaxError):
        where = f"{relative(exc.filename, rootpath) if exc.filename else rel}, line {exc.lineno}"
        text = (exc.text or "").rstrip()
        caret = ""
        if text and exc.offset:
            caret = "\n    " + " " * (exc.offset - 1 - (len(text) - len(text.lstrip()))) + "^"
        code = f"\n    {text.strip()}{caret}" if text else ""
        return f"{rel} could not be imported: {type(exc).__name__} at {where}: {exc.msg}{code}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if inside(f.filename, target_dir)]
    where = (
        f" (line {frames[-1].lineno} of {relative(frames[-1].filename, rootpath)})"
        if frames
        else ""
    )
    return f"{rel} could not be imported{where}: {type(exc).__name__}: {exc}"


class Loader:
    """Imports each question's module once per process, and remembers why one did not import."""

    def __init__(
        self,
        target_dir: Path,
        rootpath: Path,
        invocation_dir: Path,
        named_files: dict[int, Path],
        on_import: Callable[[types.ModuleType], None] = lambda module: None,
    ):
        self.target_dir = target_dir
        self.rootpath = rootpath
        self.invocation_dir = invocation_dir
        self.named_files = dict(named_files)
        self.on_import = on_import
        """called with every module of the code under test once it is imported"""
        self.modules: dict[int, types.ModuleType] = {}
        self.import_errors: dict[int, str] = {}

    def rel(self, path: Path | str) -> str:
        return relative(path, self.rootpath)

    def module_path(self, question: int) -> Path | None:
        return module_path(self.target_dir, self.rootpath, question, self.named_files)

    def command(self, question: int, test: str | None = None) -> str:
        """``pytest <file>[::test]`` for question ``question``, as a learner types it."""
        path = self.module_path(question) or self.target_dir
        where = as_typed(path, self.invocation_dir)
        return f"pytest {where}" + (f"::{test}" if test else "")

    def missing_message(self, question: int) -> str:
        found = naming.candidates(self.target_dir, question)
        usual = naming.canonical_name(self.rootpath / "tests", question)
        if found:
            names = ", ".join(p.name for p in found)
            return (
                f"{self.rel(self.target_dir)}/ has several files for question {question} "
                f"({names}) and none is named {usual}.py: name the one to test, e.g. "
                f"`pytest {self.rel(found[0])}`"
            )
        return (
            f"{self.rel(self.target_dir)}/ has no file for question {question} "
            f"(expected {usual}.py); restore it with `python -m kata.stubs {usual}`"
        )

    def load(self, question: int) -> types.ModuleType:
        __tracebackhide__ = True
        if question in self.modules:
            return self.modules[question]
        if question in self.import_errors:
            pytest.fail(self.import_errors[question], pytrace=False)
        path = self.module_path(question)
        if path is None:
            self.import_errors[question] = self.missing_message(question)
            pytest.fail(self.import_errors[question], pytrace=False)
        try:
            module = import_target(self.target_dir, path)
        except pytest.fail.Exception as exc:  # a timeout while importing
            self.import_errors[question] = f"importing {self.rel(path)} did not finish: {exc}"
            raise
        except BaseException as exc:  # noqa: BLE001 - any error in a learner's file
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.import_errors[question] = self.error_message(path, exc)
        if question in self.import_errors:  # failed outside the except: no chained traceback
            pytest.fail(self.import_errors[question], pytrace=False)
        self.modules[question] = module
        self.on_import(module)
        return module

    def error_message(self, path: Path, exc: BaseException) -> str:
        return import_error_message(path, exc, self.target_dir, self.rootpath)


class TargetModule:
    """The module under test, imported on first use (so a broken file fails in the test itself).

    A missing name or submodule fails with a friendly message instead of an AttributeError.
    """

    def __init__(self, loader: Loader, question: int, module=None, used=None):
        self.__dict__.update(_loader=loader, _question=question, _loaded=module, _used=used)

    @property
    def _module(self):
        if self._loaded is None:
            self.__dict__["_loaded"] = self._loader.load(self._question)
        return self._loaded

    def __getattr__(self, name):
        __tracebackhide__ = True
        module, loader = self._module, self._loader
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
                failure = loader.error_message(file.parent / f"{name}.py", exc)
            if failure:
                pytest.fail(failure, pytrace=False)
            loader.on_import(sub)
            wrapped = TargetModule(loader, self._question, sub, self._used)
            self.__dict__[name] = wrapped
            return wrapped
        pytest.fail(
            f"{loader.rel(file)} has no `{name}`: the task asks for it. Did you rename or delete "
            "it? The stub defines it: `python -m kata.stubs --help` says how to restore a file.",
            pytrace=False,
        )

    def __setattr__(self, name, value):
        setattr(self._module, name, value)

    def _kata_command(self, test: str) -> str:
        """The command that runs one test of this question against the same folder."""
        return self._loader.command(self._question, test)

    def __repr__(self):
        return f"<module under test: question {self._question} in {self._loader.target_dir}>"

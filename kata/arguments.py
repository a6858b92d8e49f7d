"""The command line: ``pytest exercises/q08_convolution.py`` means the tests of question 8.

A learner names the file they work on; pytest needs the test modules. ``rewrite`` turns every
path inside ``exercises/`` or ``solutions/`` into the matching ``tests/test_qNN_*.py`` (keeping a
``::test_name``) and says which folder is the target, in a ``Selection``. It also decides whether
the run is the kata's own (then the tests run in a replaceable worker process) and reads the
options that choose the code under test (``--target``, ``KATA_TARGET``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kata import naming
from kata.hints import MODES as HINT_MODES
from kata.paths import inside

MAX_WORKER_RESTARTS = 20
DEBUG_FLAGS = ("--pdb", "--trace", "-s", "--capture=no", "--co", "--collect-only", "--fixtures")
"""Options that need the tests in pytest's own process."""


@dataclass
class Selection:
    """What the command line asked for, read before pytest parses it."""

    targets: set[Path] = field(default_factory=set)
    """the target folders that the paths named (more than one is refused)"""
    files: dict[int, Path] = field(default_factory=dict)
    """question -> the file to test, when the command line named one with another name"""
    named: set[int] = field(default_factory=set)
    """questions of which the command line named single tests (``file.py::test_x``)"""
    questions: set[int] = field(default_factory=set)
    """questions whose file (the learner's or its test module) the command line names"""
    kata_run: bool = False
    """whether every path is a kata test or target (then the kata runs the tests in a worker)"""


def target_dir_of(path: Path, rootpath: Path) -> Path | None:
    """``exercises/`` or ``solutions/`` of the repository if ``path`` lies in one, else None."""
    for name in naming.TARGET_NAMES:
        if inside(path, rootpath / name):
            return rootpath / name
    return None


def list_tests(rootpath: Path, number: int) -> str:
    names = [n for f in naming.test_files(rootpath / "tests", number) for n in naming.test_names(f)]
    return "\n  ".join(names)


def rewrite_argument(
    arg: str, invocation: Path, rootpath: Path, selection: Selection
) -> list[str] | None:
    """``exercises/q08_x.py[::test]`` -> the matching test modules, or None if not a target path."""
    file_part, sep, test_part = arg.partition("::")
    path = (invocation / file_part).resolve()
    target_dir = target_dir_of(path, rootpath)
    if target_dir is None:
        return None
    selection.targets.add(target_dir)
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
    selection.questions.add(number)
    tests = naming.test_files(rootpath / "tests", number)
    if not tests:
        raise pytest.UsageError(f"{arg}: question {number} has no tests in the kata yet")
    if not first.exists():
        raise pytest.UsageError(f"{arg}: no such file")
    if naming.stem(first) != naming.canonical_name(rootpath / "tests", number):
        selection.files[number] = first  # the named file is the one tested
    if not sep:
        return [str(t) for t in tests]
    name = test_part.split("::")[0].split("[")[0]
    owners = [t for t in tests if name in naming.test_names(t)]
    if not owners:
        raise pytest.UsageError(
            f"{arg}: question {number} has no test `{name}`. Its tests are:\n  "
            + list_tests(rootpath, number)
        )
    selection.named.add(number)
    return [f"{owners[0]}::{test_part}"]


def wants_in_process(args: list[str]) -> bool:
    """Debugging, collecting only, or an explicit -n: no worker process of ours."""
    for arg in args:
        if arg in DEBUG_FLAGS or arg.startswith(("--pdbcls", "--numprocesses", "--dist", "-n")):
            return True
    return False


def rewrite(
    args: list[str],
    positional: list[str],
    invocation: Path,
    rootpath: Path,
    given_target: str | None,
) -> Selection:
    """Rewrite ``args`` in place (target paths become test paths plus ``--target``).

    ``positional`` are the paths pytest found among ``args``; ``given_target`` is ``--target``.
    """
    selection = Selection()
    if not positional and target_dir_of(invocation, rootpath):
        positional = ["."]  # `pytest` run inside exercises/ means the whole folder
        args.append(".")
    replacement = {}
    for arg in positional:
        new = rewrite_argument(arg, invocation, rootpath, selection)
        if new is not None:
            replacement[arg] = new
    if len(selection.targets) > 1:
        raise pytest.UsageError("run exercises/ and solutions/ in separate runs")
    if replacement:
        (target_dir,) = selection.targets
        given = given_target
        if given and Path(given).resolve() != target_dir and given != target_dir.name:
            raise pytest.UsageError(f"--target {given} contradicts the path {target_dir.name}/")
        args[:] = [p for arg in args for p in replacement.get(arg, [arg])]
        args.append(f"--target={target_dir}")
    tests_dir = (rootpath / "tests").resolve()
    for arg in positional:  # tests/test_q08_x.py names question 8 too
        path = (invocation / arg.partition("::")[0]).resolve()
        number = naming.question_of_test_file(path) if inside(path, tests_dir) else None
        if number is not None and arg not in replacement:
            selection.questions.add(number)
    selection.kata_run = bool(
        all(
            arg in replacement or inside((invocation / arg.partition("::")[0]).resolve(), tests_dir)
            for arg in positional
        )
        and (positional or inside(invocation, tests_dir) or invocation == rootpath)
    )
    return selection


def worker_options(args: list[str], has_xdist: bool) -> list[str]:
    """``-n 1``: the kata's tests run in one replaceable worker process, unless debugging."""
    if "PYTEST_XDIST_WORKER" in os.environ or not has_xdist or wants_in_process(args):
        return []
    return ["-n", "1", f"--max-worker-restart={MAX_WORKER_RESTARTS}"]


def wants_benchmarks(args: list[str]) -> bool:
    """pytest-benchmark stays out of a learner's run (no header, no .benchmarks folder)."""
    return any(a.startswith("--benchmark") or a == "benchmark" for a in args)


def hint_value_is_a_path(namespace, args: list[str]) -> None:
    """``pytest --hint exercises/q08.py``: argparse takes the path for the hint's value."""
    value = getattr(namespace, "hint", None)
    if value is None or value in HINT_MODES:
        return
    if value.startswith("-") or not any(ch in value for ch in "/.") and "::" not in value:
        raise pytest.UsageError(f"--hint={value}: say --hint (the next hint) or --hint=all")
    for index in range(len(args) - 1):
        if args[index] == "--hint" and args[index + 1] == value:
            args[index : index + 2] = ["--hint=next", value]
            break
    namespace.hint = "next"
    namespace.file_or_dir = [*(namespace.file_or_dir or []), value]


def resolve_target(value: str | None, rootpath: Path) -> Path:
    """The folder under test: ``--target``, else ``KATA_TARGET``, else ``exercises``."""
    value = value or os.environ.get("KATA_TARGET") or "exercises"
    path = Path(value)
    if not path.is_absolute():
        candidate = rootpath / value
        path = candidate if candidate.exists() else Path.cwd() / value
    path = path.resolve()
    if not path.is_dir():
        raise pytest.UsageError(f"--target {value}: no such folder")
    return path


def plain_requested(config) -> bool:
    """``--plain``, or the NO_COLOR convention (https://no-color.org): any non-empty value."""
    return bool(config.getoption("plain", False) or os.environ.get("NO_COLOR"))

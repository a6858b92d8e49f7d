"""The grader's pytest plugin: student code runs in a sandboxed worker, the score is kept outside.

``python -m kata.grade`` loads it (``-p kata.guard``) in the pytest process that keeps the score,
the xdist *controller*, which runs outside the sandbox and never imports a student's code. It
does two things there and one in the worker:

- ``--kata-worker-launcher PATH``: the worker process (the one that imports and runs the
  student's code) is started by ``PATH`` (a script of the grader's that starts Python inside
  bubblewrap) instead of plain Python. The controller, which decides the score and writes it,
  stays out of the student's reach: another user, another PID namespace, a file system where the
  score's folder does not exist.
- ``--kata-canaries SEED``: canary tests, drawn from ``SEED`` per run. Each test module gets four
  tests that must fail whatever the submission does (a false assertion, a wrong number given to
  ``check_equal``, a true/false answer judged against its opposite). They are named like the
  module's own tests and added among them in the worker, after the module's first test (which
  imports the student's code, and with it any patch it makes). A canary that *passes* proves that
  the worker's reports were forged (``TestReport`` patched, a kata helper replaced, ``pytest.fail``
  silenced): the controller writes every canary's outcome to ``--kata-canary-out`` and the grader
  marks such a run ``tampered`` (0 points). A canary missing from the worker's collection counts as
  forged too. Canaries earn and cost nothing: the controller keeps them out of the score.

What canaries cannot do: a submission written against this very module can recompute the canary
names from the seed the worker is given, and tell them apart; a patch that forges one report and
undoes itself before the next test is not seen by a canary that runs later. Either needs
``kata``, ``pytest`` or the interpreter's internals, and the grader's static scan notes every
such use for review.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import tempfile
from pathlib import Path

import pytest

from kata import naming

CLAIMED: set[str] = set()
"""Canary node ids, filled in the controller only: the score leaves them out."""

_WORDS_FALLBACK = ("output", "shape", "value", "matches", "reference", "case")

_BODIES = {
    "assertion": (
        "def {name}():\n"
        "    got = {a} + {b}\n"
        "    assert got == {c}, f'called add({a}, {b}), returned {{got}}, expected {c}'\n"
    ),
    "check_equal": (
        "def {name}():\n"
        "    from kata.testing import check_equal\n"
        "    check_equal({a} * {b}, {c}, 'called mul({a}, {b})', 'the product')\n"
    ),
    "fail": (
        "def {name}():\n"
        "    import pytest\n"
        "    if {a} != {b}:\n"
        "        pytest.fail('called compare({a}, {b}), returned unequal', pytrace=False)\n"
    ),
    "statement": (
        "def {name}():\n"
        "    from kata.statements import judge_statement\n"
        "    class Answers:\n"
        "        ANSWERS = {{'s{a}': {truth}}}\n"
        "    judge_statement(Answers, 's{a}', {{'s{a}': {lie}}}, {{'s{a}': '{experiment}'}})\n"
    ),
}


def pytest_addoption(parser):
    group = parser.getgroup("kata grading")
    group.addoption("--kata-worker-launcher", default=None, help=argparse.SUPPRESS)
    group.addoption("--kata-canaries", default=None, help=argparse.SUPPRESS)
    group.addoption("--kata-canary-out", default=None, help=argparse.SUPPRESS)
    group.addoption("--kata-worker-owner", type=int, default=None, help=argparse.SUPPRESS)


@pytest.hookimpl(optionalhook=True, trylast=True)
def pytest_configure_node(node):
    """Before a worker starts: give it the folders it writes in (the controller made them)."""
    uid = node.config.getoption("kata_worker_owner")
    if uid is None:
        return
    folders = [Path(tempfile.gettempdir()) / p for p in os.listdir(tempfile.gettempdir())]
    folders = [p for p in folders if p.name.startswith("kata-run-") and p.is_dir()]
    if node.config.option.basetemp:
        folders.append(Path(node.config.option.basetemp))
    for folder in folders:
        if folder.exists() and not folder.is_symlink():
            os.chown(folder, uid, uid)


def _module_words(path: Path) -> list[str]:
    words = []
    for name in naming.test_names(path):
        words += [w for w in name.removeprefix("test_").split("_") if len(w) > 2]
    return sorted(set(words) | set(_WORDS_FALLBACK))


def canaries_of(seed: str, module: Path, rootpath: Path) -> list[tuple[str, str]]:
    """``[(node id, source), ...]``: the canaries of one test module for this run's seed."""
    rel = module.relative_to(rootpath).as_posix()
    digest = hmac.new(seed.encode(), rel.encode(), hashlib.sha256).digest()
    rng = random.Random(digest)
    words = _module_words(module)
    taken = set(naming.test_names(module))
    found = []
    kinds = sorted(_BODIES)
    rng.shuffle(kinds)
    for kind in kinds:  # one canary of each kind in every module, in a random order
        name = "test_" + "_".join(rng.sample(words, k=rng.randint(2, 4)))
        while name in taken:
            name += f"_{rng.randint(2, 9)}"
        taken.add(name)
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        truth = rng.choice([True, False])
        values = {"name": name, "a": a, "b": b, "truth": truth, "lie": not truth}
        values["c"] = a + b + 1 if kind == "assertion" else a * b + 1  # never the right one
        if kind == "fail":
            values["b"] = a + b  # never equal to a
        values["experiment"] = rng.choice(sorted(taken - {name}))
        source = _BODIES[kind].format(**values)
        found.append((f"{rel}::{name}", source))
    return found


def _test_modules(rootpath: Path) -> list[Path]:
    return sorted(
        p for p in (rootpath / "tests").glob("test_q*.py") if naming.TEST_FILE.match(p.name)
    )


def pytest_configure(config):
    launcher = config.getoption("kata_worker_launcher")
    if launcher and getattr(config.option, "tx", None) and "PYTEST_XDIST_WORKER" not in os.environ:
        # -n 1 became ["popen"]: the same worker, started inside the sandbox
        config.option.tx = [f"popen//python={launcher}" for _ in config.option.tx]
    seed = config.getoption("kata_canaries")
    if seed and not hasattr(config, "workerinput"):  # the controller (or an in-process run)
        plugin = CanaryKeeper(config, seed)
        config.pluginmanager.register(plugin, "kata-canary-keeper")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """In the process that runs tests: add each module's canaries among its own tests."""
    seed = config.getoption("kata_canaries")
    if not seed:
        return
    modules = {}
    for item in items:
        module = item.getparent(pytest.Module)
        if module is not None and naming.TEST_FILE.match(module.path.name):
            modules.setdefault(module.path, module)
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    for path, module in modules.items():
        for nodeid, source in canaries_of(seed, path, config.rootpath):
            name = nodeid.rpartition("::")[2]
            namespace = dict(vars(module.obj))
            exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - our own text
            function = namespace[name]
            function.__module__ = module.obj.__name__
            item = pytest.Function.from_parent(module, name=name, callobj=function)
            own = [i for i, it in enumerate(items) if it.getparent(pytest.Module) is module]
            # after the module's first test, which imports the student's code (and its patches)
            items.insert(rng.randint(own[0] + 1, own[-1] + 1), item)


class CanaryKeeper:
    """In the controller: which canaries were collected, and what their reports said."""

    def __init__(self, config, seed: str):
        self.config = config
        self.expected: dict[str, str] = {}  # canary node id -> its module's node id
        for module in _test_modules(config.rootpath):
            for nodeid, _ in canaries_of(seed, module, config.rootpath):
                self.expected[nodeid] = nodeid.partition("::")[0]
        CLAIMED.update(self.expected)
        self.collected: set[str] = set()
        self.modules_run: set[str] = set()
        self.outcomes: dict[str, str] = {}

    def _collection(self, ids) -> None:
        for nodeid in ids:
            if nodeid in self.expected:
                self.collected.add(nodeid)
            elif naming.question_of_test_file(Path(nodeid.partition("::")[0])) is not None:
                self.modules_run.add(nodeid.partition("::")[0])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self._collection(ids)

    def pytest_collection_finish(self, session):
        self._collection(item.nodeid for item in session.items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        if report.nodeid not in self.expected:
            return
        if report.failed:
            outcome = "failed"
        elif report.skipped:
            outcome = "skipped"
        elif report.when == "call":
            outcome = "passed"
        else:
            return
        if self.outcomes.get(report.nodeid) != "failed":
            self.outcomes[report.nodeid] = outcome

    def pytest_sessionfinish(self, session):
        path = self.config.getoption("kata_canary_out")
        if not path:
            return
        due = sorted(n for n, module in self.expected.items() if module in self.modules_run)
        result = {
            "due": due,
            "collected": sorted(self.collected),
            "outcomes": {n: self.outcomes.get(n, "not run") for n in due},
        }
        Path(path).write_text(json.dumps(result, indent=1) + "\n")


def verdict(canary_json: dict) -> str | None:
    """Why a run's reports cannot be trusted, from its canaries' record; None if they can."""
    due = canary_json.get("due", [])
    missing = [n for n in due if n not in set(canary_json.get("collected", []))]
    if missing:
        return f"{len(missing)} of {len(due)} control tests were never collected"
    forged = [
        n for n, o in canary_json.get("outcomes", {}).items() if o not in ("failed", "not run")
    ]
    if forged:
        return f"{len(forged)} of {len(due)} control tests that must fail were reported as passed"
    return None

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
- In a run of the whole ``exercises/`` folder, a question not started (its file still the stub)
  is one line, not a failure per test: its tests fail without running (``kata/started.py``);
  ``--all-failures`` runs them.
- ``--hint`` shows the next hint for each function whose tests fail (``kata/hints.py``).
- ``--plain`` (or the environment variable ``NO_COLOR``): no colours and no lines redrawn in
  place, for screen readers and CI logs. The tests then see ``KATA_PLAIN=1`` in their
  environment: a progress bar prints a line per 10 % instead of redrawing itself
  (``kata/plain.py``).

This module only wires the pieces, one job each: ``arguments`` (the command line), ``loading``
(importing the code under test), ``hangs`` (time limits), ``runner`` and ``reports`` (the
process that runs the tests, and its failure messages), ``started`` (questions not started),
``scorer`` (the process that keeps the score), ``workers`` (what crosses between the two).
Only public APIs of pytest, pytest-timeout and pytest-xdist are used: hooks, ``config.stash``,
``ExceptionInfo.traceback``, extra attributes of ``TestReport`` (they travel between processes).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kata import arguments, naming, started, statements
from kata import plain as plainmode
from kata.arguments import Selection
from kata.hangs import Hang, Watchdog
from kata.hints import HintBook
from kata.loading import USED, Loader, TargetModule, import_tensorflow_quietly, question_of_nodeid
from kata.runner import Runner
from kata.scorer import Scorer
from kata.standins import StandIns
from kata.workers import Notes, ToController

SELECTION = pytest.StashKey[Selection]()
LOADER = pytest.StashKey[Loader]()
SCORER = pytest.StashKey[Scorer]()

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
        "--all-failures",
        action="store_true",
        help="run the tests of questions not started too, and show each failure",
    )
    group.addoption(
        "--plain",
        action="store_true",
        help="no colours, no progress redrawn in place (also when NO_COLOR is set)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Turn ``exercises/q08_convolution.py`` into ``tests/test_q08_*.py --target exercises``.

    Also: tests run in a replaceable worker process (xdist, one worker) when they are the kata's,
    and pytest-benchmark stays out of a learner's run (no header, no .benchmarks folder).
    """
    namespace = early_config.known_args_namespace
    arguments.hint_value_is_a_path(namespace, args)
    selection = arguments.rewrite(
        args,
        list(namespace.file_or_dir or []),
        invocation=Path(early_config.invocation_params.dir),
        rootpath=early_config.rootpath,
        given_target=namespace.target,
    )
    early_config.stash[SELECTION] = selection
    if not selection.kata_run:
        return
    manager = early_config.pluginmanager
    if not arguments.wants_benchmarks(args):
        manager.set_blocked("benchmark")
    args[:] += arguments.worker_options(args, manager.has_plugin("xdist"))


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): limit for one test (pytest-timeout)")
    selection = config.stash.get(SELECTION, Selection())
    target_dir = arguments.resolve_target(config.getoption("target"), config.rootpath)
    workerinput = getattr(config, "workerinput", None)
    distributed = workerinput is None and config.getoption("dist", "no") != "no"
    scorer = None
    if workerinput is None:  # this process keeps the score
        hintbook = HintBook(config.rootpath, config.getoption("hint"))
        scorer = Scorer(config, target_dir, selection.named, selection.files, hintbook, distributed)
        scorer.quiet = started.quiet_questions(config, target_dir, selection.questions)
        config.stash[SCORER] = scorer
        config.pluginmanager.register(scorer, "kata-scorer")
        if arguments.plain_requested(config):
            plainmode.configure(config)
    if distributed:
        return
    # this process runs the tests: in-process it reports to the scorer, a worker by notes
    shared = (workerinput or {}).get("kata", {})
    if scorer is not None:
        controller = scorer
    else:
        controller = ToController(Notes(Path(shared["run_dir"])), workerinput["workerid"])
    loader = Loader(
        target_dir, config.rootpath, Path(config.invocation_params.dir), selection.files
    )
    hangs = [Hang.from_json(h) for h in shared.get("hangs", [])]
    standins = StandIns(target_dir, hangs, loader.command)  # what later tests meet instead
    loader.on_import = standins.apply
    watchdog = Watchdog(target_dir, config.rootpath, standins.add, controller.stuck)
    config.stash[LOADER] = loader
    config.pluginmanager.register(watchdog, "kata-watchdog")
    config.pluginmanager.register(Runner(loader, controller), "kata-runner")
    if scorer is not None:
        quiet = scorer.quiet
    else:
        quiet = frozenset(workerinput.get(started.WORKER_KEY, ()))
    if quiet:  # questions not started: their tests fail at once
        skipper = started.Skipper(quiet, target_dir, config.rootpath)
        config.pluginmanager.register(skipper, "kata-not-started")
    run_dir = Path(shared["run_dir"]) if workerinput is not None else None
    statements.configure(config, run_dir)  # statements after their experiments


def pytest_unconfigure(config):
    plainmode.unconfigure(config)
    statements.unconfigure(config)
    scorer = config.stash.get(SCORER, None)
    if scorer is not None:
        scorer.close()


# --- the fixtures ---------------------------------------------------------------------------


@pytest.fixture
def target(request):
    """The module under test (the learner's exercise or the reference), imported on first use."""
    meta = question_of_nodeid(request.node.nodeid)
    if meta is None:
        raise pytest.UsageError("the `target` fixture is for tests/test_qNN_*.py modules")
    used = request.node.stash.setdefault(USED, set())
    return TargetModule(request.config.stash[LOADER], meta[0], used=used)


@pytest.fixture(scope="module")
def module_target(request):
    """``target`` shared by one test module's tests (work done once per module, e.g. training)."""
    number = naming.question_of_test_file(request.path)
    if number is None:
        raise pytest.UsageError("the `module_target` fixture is for tests/test_qNN_*.py modules")
    return TargetModule(request.config.stash[LOADER], number)


@pytest.fixture(scope="session")
def _tensorflow():
    return import_tensorflow_quietly()  # the benchmarks import it from this module too


@pytest.fixture
def tf(_tensorflow):
    """TensorFlow, imported on first use, with python, numpy and TensorFlow seeded."""
    from kata.testing import seed_everything

    seed_everything(0, tensorflow=True)
    return _tensorflow


@pytest.fixture
def keras(tf):
    """Keras 3, imported after the `tf` fixture has seeded everything."""
    import keras

    return keras

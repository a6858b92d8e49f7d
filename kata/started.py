"""Questions the learner has not started: one line each, not one failure per test.

A question is *not started* when every file of it in ``exercises/`` is still, byte for byte, the
stub that ``python -m kata.stubs`` wrote: its SHA-256 is the one recorded in
``exercises/.stubs.json``, the rule by which the generator itself tells a learner's work from its
own stubs (``kata.stubs.generate``). On a pristine stub every kata test fails (``python -m
kata.integrity`` checks it), so such a question scores 0 whether its tests run or not.

In a learner's run of several questions (``pytest exercises/``), the tests of a question not
started do not run: each one fails at once, before its fixtures, as "not started" (a category of
its own in pytest's summary line, counted as failed in the score and in the exit status), and the
run ends with one line per question::

    q08 Convolution: not started: open exercises/q08_convolution.py; 44 tests wait

A first run then reads in one screen, and it does not import TensorFlow for tests that cannot
pass. The question's slow tests stay skipped as usual, so the score is the same as when they run.

Never in a run that grades or checks: only when the code under test is the repository's own
``exercises/`` folder (graders and ``kata.integrity`` test a copy elsewhere, with ``--target``),
and never for a question whose file the command line names (``pytest exercises/q08_x.py`` shows
every failure). ``--all-failures`` turns it off.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kata import naming, statements
from kata.loading import question_of_nodeid
from kata.stubs import MANIFEST, digest

OUTCOME = "not started"
"""``report.kata_outcome`` of a test that did not run because its question is not started; also
its category in pytest's summary line."""
WORKER_KEY = "kata_not_started"
"""``workerinput[WORKER_KEY]``: the questions not started, for the worker that runs the tests."""
QUESTIONS = pytest.StashKey[frozenset]()
"""On the config: the questions whose tests do not run in this run (not started)."""
NOT_STARTED = pytest.StashKey[int]()
"""On a test item: its question, when that question is not started."""


def pristine_questions(target_dir: Path) -> set[int]:
    """Questions whose every file in ``target_dir`` is the stub recorded in its manifest."""
    manifest_path = target_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return set()
    verdict: dict[int, bool] = {}
    for rel, recorded in manifest.items():
        number = naming.question_of_name(rel.split("/")[0])
        if number is None:
            continue
        try:
            same = digest((target_dir / rel).read_bytes()) == recorded
        except OSError:  # deleted, or a folder where a file was: the learner changed it
            same = False
        verdict[number] = verdict.get(number, True) and same
    return {number for number, same in verdict.items() if same}


def quiet_questions(config, target_dir: Path, named: set[int]) -> frozenset:
    """The questions of this run whose tests do not run: not started, and not named."""
    if config.getoption("all_failures", False) or config.option.collectonly:
        return frozenset()
    if target_dir.resolve() != (config.rootpath / "exercises").resolve():
        return frozenset()  # a copy under test: a grader, the integrity check
    return frozenset(pristine_questions(target_dir) - set(named))


class NotStartedError(pytest.fail.Exception):
    """The test's question is not started: the test fails without running (no traceback)."""


class Skipper:
    """In the process that runs the tests: tests of questions not started fail at once."""

    def __init__(self, questions: frozenset, target_dir: Path, rootpath: Path):
        self.questions = questions
        self.target_dir = target_dir
        self.rootpath = rootpath

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        for item in items:
            meta = question_of_nodeid(item.nodeid)
            if meta is not None and meta[0] in self.questions:
                item.stash[NOT_STARTED] = meta[0]

    # Not tryfirst: pytest's skip markers (slow tests) are evaluated before, fixtures after.
    def pytest_runtest_setup(self, item):
        number = item.stash.get(NOT_STARTED, None)
        if number is not None:
            raise NotStartedError(
                f"question {number} is not started (its file is still the stub), so this test "
                "did not run; it counts as failed. Add --all-failures to run it anyway.",
                pytrace=False,
            )

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        number = item.stash.get(NOT_STARTED, None)
        if (
            number is not None
            and call.when == "setup"
            and call.excinfo is not None
            and call.excinfo.errisinstance(NotStartedError)
        ):
            report.kata_outcome = OUTCOME
            if item.get_closest_marker(statements.MARKER) is not None:
                report.kata_unanswered = True  # a stub answers no statement
            report.longrepr = str(call.excinfo.value)
            report.sections = []
        return report


def wants(item) -> bool:
    """Whether a test item runs (its question is started): the runner imports TensorFlow only
    for those."""
    return item.stash.get(NOT_STARTED, None) is None


def teststatus(report):
    """pytest's category, letter and word for a test that did not run: not started."""
    if getattr(report, "kata_outcome", None) == OUTCOME and report.when == "setup":
        return OUTCOME, "n", "NOT STARTED"
    return None

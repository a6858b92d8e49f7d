"""The side that runs the tests (pytest's own process, or the pytest-xdist worker).

``Runner`` is a pytest plugin object: it skips slow tests unless asked, counts each test
function's cases for the score, imports TensorFlow before the first test that wants it, and
shapes every kata test's report (``kata/reports.py``), marking on it what the scorer needs:
``kata_outcome`` (a true/false statement left unanswered), ``kata_hang``, ``kata_slow`` and
``kata_functions`` (for ``--hint``). Extra attributes of a report travel between processes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from kata import reports, started, statements
from kata.hangs import HANG
from kata.loading import USED, Loader, import_tensorflow_quietly, question_of_nodeid
from kata.statements import Unanswered
from kata.workers import Controller

SLOW_REASON = "slow: run with --slow (training takes minutes)"


class Runner:
    """Collection and reports of the kata's tests, in the process that runs them."""

    def __init__(self, loader: Loader, controller: Controller):
        self.loader = loader
        self.controller = controller
        self.seen: dict[str, int] = {}  # "question::test function" -> cases before deselection
        self.slow: set[str] = set()

    @property
    def target_dir(self) -> Path:
        return self.loader.target_dir

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session):
        yield  # inside: session fixtures torn down, xdist's "workerfinished" sent
        if hasattr(session.config, "workerinput"):
            leave_at_once()

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
        selected = {i.nodeid for i in session.items if question_of_nodeid(i.nodeid) is not None}
        # TensorFlow's import takes seconds (a minute on a crowded machine): do it now, outside
        # every test's time limit, when a selected test will want it anyway.
        wants_tf = any(
            "tf" in getattr(i, "fixturenames", ()) and started.wants(i) for i in session.items
        )
        if wants_tf and not session.config.option.collectonly:
            try:
                import_tensorflow_quietly()
            except ImportError:
                pass  # the tests that need it will say so
        self.controller.add_collection(selected, self.seen)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if question_of_nodeid(item.nodeid) is None:
            return report
        excinfo = call.excinfo
        statements.mark_report(report, excinfo)  # an answer judged at grading
        rootpath = item.config.rootpath
        if excinfo is not None and report.failed:
            if excinfo.errisinstance(Unanswered):
                report.kata_outcome = "unanswered"
            elif excinfo.errisinstance(NotImplementedError):
                short = reports.not_implemented_message(excinfo, self.target_dir, rootpath)
                if short:
                    report.longrepr = short
            elif reports.shows_traceback(excinfo) and not item.config.getoption("fulltrace"):
                report.longrepr = reports.trimmed_repr(item, excinfo)
        if report.sections:
            report.sections = reports.without_library_noise(report.sections)
        hang = item.stash.get(HANG, None)
        if hang is not None and report.failed:
            report.kata_hang = hang.to_json()
            del item.stash[HANG]
        if report.skipped and item.nodeid in self.slow:
            report.kata_slow = True
        if report.failed:
            used = item.stash.get(USED, set())
            functions = reports.failing_functions(
                excinfo, used, self.target_dir, rootpath / "tests"
            )
            if functions:
                report.kata_functions = functions
        return report


def leave_at_once() -> None:
    """A worker that has sent its last report (pytest-xdist's "workerfinished", at the end of
    the session) ends at once, without unconfiguring pytest or tearing down the interpreter.

    The controller waits for the worker's process to end before it prints the score, and an
    interpreter that imported TensorFlow takes seconds to tear itself down (about 2 s of a
    one-question run that takes 6 to 8 s): nothing of it is needed.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

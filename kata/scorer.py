"""The side that keeps the score (pytest's own process, or the pytest-xdist controller).

``Scorer`` is a pytest plugin object: it collects every kata test's outcome from the reports,
replaces a worker that the watchdog ended (saying why), and after pytest's own summary prints the
hints asked for and the exam score (``kata/score.py``), and writes ``--score-json``.
"""

from __future__ import annotations

import datetime
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from kata import arguments, naming, reports, started, statements
from kata import plain as plainmode
from kata import score as scoring
from kata.hangs import Hang
from kata.hints import HintBook
from kata.loading import module_path, question_of_nodeid
from kata.paths import relative
from kata.workers import Notes, WorkerInput

CRASH_MESSAGE = (
    "the test process ended while running this test, without a Python error (a crash "
    "in a C extension, or os._exit in the code under test?). The other tests went on "
    "in a new process."
)


def setup_note(number: int, messages: list[str]) -> str:
    """What the score says about tests that failed before they ran (a fixture's error)."""
    first = messages[0]
    same = all(m == first for m in messages)
    what = (first if same else f"{first}; and other errors").rstrip(".")
    return (
        f"q{number:02d}: {len(messages)} test{'s' if len(messages) != 1 else ''} could not "
        f"start (setup of the test failed: {what}). They count as failed, whatever the cause; "
        "if it was the machine (a timeout on a busy machine), run them again."
    )


class Scorer:
    """Collects every kata test's outcome and prints the exam score at the end."""

    def __init__(
        self,
        config,
        target_dir: Path,
        named: set[int],
        named_files: dict[int, Path],
        hintbook: HintBook | None,
        distributed: bool,
    ):
        self.config = config
        self.run = scoring.Run(
            target_dir=target_dir,
            rootpath=config.rootpath,
            invocation_dir=Path(config.invocation_params.dir),
        )
        self.run.named = set(named)
        self.named_files = dict(named_files)
        self.hintbook = hintbook
        self.hangs: list[Hang] = []
        self.started = time.time()
        self.run.started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        self.notes = Notes(Path(tempfile.mkdtemp(prefix="kata-run-"))) if distributed else None
        self.quiet: frozenset = frozenset()
        """questions not started: their tests fail without running (``kata.started``)"""
        self.setup_failed: dict[int, list[str]] = {}
        """question -> the message of each test whose setup failed"""
        self.plain = arguments.plain_requested(config)

    def close(self) -> None:
        if self.notes is not None:
            shutil.rmtree(self.notes.folder, ignore_errors=True)

    # --- what ran ---

    def add_collection(self, selected: Iterable[str], seen: dict[str, int]) -> None:
        for nodeid in selected:
            meta = question_of_nodeid(nodeid)
            if meta:
                self.run.tests.setdefault(nodeid, meta)
        for key, count in seen.items():
            question, _, name = key.partition("::")
            self.run.seen[int(question), name] = count

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        # xdist marks each report with its worker ("[gw0] linux -- Python ..." above every
        # failure); a learner runs one worker, which is no news: drop it.
        if hasattr(report, "node"):
            del report.node
        if self.plain:  # no escape codes, not even in messages and captured output
            plainmode.plain_report(report)
        meta = question_of_nodeid(report.nodeid)
        if meta is None:
            return
        self.run.tests.setdefault(report.nodeid, meta)
        kind = getattr(report, "kata_outcome", None)
        if report.failed and kind == started.OUTCOME:
            # as on the stub (a statement: unanswered); its question is one line at the end
            outcome = "unanswered" if getattr(report, "kata_unanswered", False) else "failed"
            self.run.not_started[meta[0]] = self.run.not_started.get(meta[0], 0) + 1
        elif report.failed:
            outcome = "unanswered" if kind == "unanswered" else "failed"
            if report.when == "setup":
                self.setup_failed.setdefault(meta[0], []).append(reports.mark_setup_failure(report))
            if self.hintbook is not None:
                self.hintbook.add(getattr(report, "kata_functions", None))
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
            self.hangs.append(Hang.from_json(hang))

    # --- the xdist controller ---

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):
        """Tell every (new) worker where to leave notes and which functions hung already."""
        shared: WorkerInput = {
            "run_dir": str(self.notes.folder),
            "hangs": [h.to_json() for h in self.hangs],
        }
        node.workerinput["kata"] = shared
        node.workerinput[started.WORKER_KEY] = sorted(self.quiet)

    def pytest_report_teststatus(self, report, config):
        return started.teststatus(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        note = self.notes.take("collection", node.gateway.id, keep=True) if self.notes else None
        self.add_collection(ids, (note or {}).get("seen", {}))

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem, report, sched):
        """A worker died in a test: say why (our watchdog's note) and remember the hang."""
        worker = getattr(getattr(report, "node", None), "gateway", None)
        note = self.notes.take("crash", getattr(worker, "id", "")) if self.notes else None
        if note is not None and note.get("nodeid") == crashitem:
            hang = Hang.from_json(note)
            report.longrepr = hang.message
            path, _, name = crashitem.partition("::")
            report.location = (path, None, name)
            self.hangs.append(hang)
            return None
        report.longrepr = CRASH_MESSAGE
        return None

    # --- the end ---

    def finish(self, exitstatus: int) -> dict:
        run = self.run
        run.exit_status = int(exitstatus)
        run.duration_s = time.time() - self.started
        for number in {q for q, _ in run.tests.values()}:
            path = module_path(run.target_dir, run.rootpath, number, self.named_files)
            usual = naming.canonical_name(run.rootpath / "tests", number)
            if path is not None and naming.stem(path) != usual:
                run.files[number] = path
            found = naming.candidates(run.target_dir, number)
            others = [p.name for p in found if p != path]
            if path is not None and others:
                run.notes.append(
                    f"{relative(run.target_dir, run.rootpath)}/ has more than "
                    f"one file for question {number}: {path.name} was tested, "
                    f"{', '.join(others)} {'was' if len(others) == 1 else 'were'} not."
                )
        for number, messages in sorted(self.setup_failed.items()):
            run.notes.append(setup_note(number, messages))
        result = scoring.compute(run)
        path = self.config.getoption("score_json")
        if path:
            scoring.write_json(result, path)
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        yield  # after pytest's own summary: the score is the last thing a learner reads
        if not self.run.tests or config.option.collectonly:
            return
        result = self.finish(exitstatus)
        if not config.getoption("no_score"):
            waiting = scoring.not_started_lines(result, self.run)
            if waiting:
                terminalreporter.write_sep(
                    "=", "not started: their tests did not run, and count as failed"
                )
                for line in waiting:
                    terminalreporter.write_line(line)
            if self.hintbook is not None:
                self.hintbook.write(terminalreporter)
            scoring.print_table(result, terminalreporter, self.run)

    # --- without xdist: the same process runs the tests (a ``workers.Controller``) ---

    def stuck(self, nodeid: str, hang: Hang) -> None:
        """A test hangs inside TensorFlow; report, score and stop the run (the process ends)."""
        self.run.outcomes[nodeid] = "failed"
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if capture is not None:  # the test's output capture still holds stdout: give it back
            capture.suspend_global_capture(in_=True)
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        result = self.finish(pytest.ExitCode.INTERRUPTED)
        if reporter is not None:
            reporter.write_line("")
            reporter.write_sep("!", f"FAILED {nodeid}")
            reporter.write_line(hang.message)
            reporter.write_line(
                "The run stops here: in this mode (no pytest-xdist worker) a test stuck inside "
                "TensorFlow cannot be ended. The tests after it did not run."
            )
            if not self.config.getoption("no_score"):
                scoring.print_table(result, reporter, self.run)

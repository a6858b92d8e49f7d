"""Answers judged against keys the learner's copy does not hold, and statements judged after
their experiments.

Two rules, one module:

**Hidden keys.** A test module fences what it compares an answer with (the set of its true
statements, ``KEY``; a choice's key; the reasons given for each wrong option: they name the right
one by elimination) between ``# BEGIN EXAM KEY`` and ``# END EXAM KEY``; the homework copy
written by ``python -m kata.export`` gets the region's ``# STUB:`` lines instead, which set the
same names to None. In the instructor's repository (and in the private grading copy, which the
homework's workflow and ``kata.grade`` run) the keys are there and the tests judge as ever. In the
learner's copy a test checks only the answer's *form* (a bool, a valid option), then ends with
``at_grading``: the test is skipped as *judged at grading*, earns nothing, costs nothing and
says nothing about whether the answer is right; the score table counts these answers apart.
A right and a flipped answer give the same outcome and the same message (apart from the echo
of the answer itself).

**Experiment first.** A true/false statement is judged only once the experiment test that
settles it has passed in the same run (``judge_statement``). Until then it is *unanswered*
(0 points, never minus) and says which experiment to finish, with the command that runs it;
it says nothing about the answer. So that the experiment runs first, the statement tests
(made by ``statement_test``) are moved after the other tests of their module; the kata runs
the tests of one question in order in one process. ``experiments_first`` does the same for an
answer that several experiments settle together, in a test marked ``kata_statement``. What
counts as "passed": every selected case of the experiment ran and passed, each phase. So:

- the experiment deselected (``-k``, ``--deselect``, ``file.py::test_statement``): unanswered,
  "not part of this run", with the command of the question's whole file;
- the experiment slow and ``--slow`` not given: unanswered, "add --slow";
- the experiment failed, was skipped, or hung (the worker that ran it was replaced: the record
  of passed experiments is kept in the run's folder, which survives the worker): unanswered;
- ``pytest --lf`` after a failing statement: the experiment passed in an earlier run, not in
  this one, so the statement is unanswered until the experiment runs with it.

The grader (``python -m kata.grade``, the homework's workflow) runs the same tests with the same
plugin, so it judges by the same rule: a statement whose experiment fails earns 0 there too,
and one whose experiment is slow is judged only in a ``--slow`` grading run.

Outside a kata run (the helpers' own unit tests) no ledger is active and a statement is judged
at once.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from kata.testing import run_command, show

AT_GRADING = "at grading"
"""The outcome of an answer whose key this copy does not hold (``kata.score.OUTCOMES``)."""
MARKER = "kata_statement"
PASSED_FILE = "statements-passed.txt"

_LEDGER: Ledger | None = None


class AtGrading(pytest.skip.Exception):
    """An answer of the right form, recorded; its key is not in this copy: judged at grading."""


def key_hidden(key) -> bool:
    """True in the learner's copy, where the export replaced the key by None."""
    return key is None


def at_grading(answer: str) -> None:
    """End the test as *judged at grading*: ``answer`` echoes what was recorded."""
    __tracebackhide__ = True
    raise AtGrading(
        f"judged at grading: {answer} is recorded. This copy holds no answer key, so the answer "
        "earns no points here and nothing here says whether it is right; the grading run "
        "(the grading copy of the tests, with the keys) judges it.",
        _use_item_location=True,
    )


class Unanswered(pytest.fail.Exception):
    """A true/false statement left empty: the test fails, but the exam scores it 0, not minus."""


def unanswered(statement: str) -> None:
    """Fail the current test as *unanswered* (scored 0 under negative marking)."""
    __tracebackhide__ = True
    raise Unanswered(f"not answered yet: {statement}", pytrace=False)


def statement_test(key, experiments: dict[str, str]):
    """The test that marks a question's true/false statements (negative marking), one case per
    statement, each judged by ``judge_statement`` after the experiment that settles it::

        EXPERIMENT = {  # statement -> the experiment test (of this module) that settles it
            "weighted_inputs": "test_weights_excite_or_inhibit",
            "spike_height_grows_with_input": "test_spike_height_is_fixed",
        }
        KEY = {"weighted_inputs"}  # fenced as an exam key, with the stub line KEY = None

        test_statement = statement_test(KEY, EXPERIMENT)

    ``key`` is the set of the statements that are true, None in the learner's copy (every
    answer is then judged at grading). The test is marked to run after the module's other
    tests; its cases are named by the statements: ``test_statement[weighted_inputs]``.
    """
    if key is not None:
        if not isinstance(key, (set, frozenset)):
            raise TypeError(f"the key is the set of the true statements, not {type(key).__name__}")
        if unknown := sorted(set(key) - set(experiments)):
            raise ValueError(f"the key names statements the experiments do not: {unknown}")
        key = {statement: statement in key for statement in experiments}
    names = list(experiments)

    @getattr(pytest.mark, MARKER)
    @pytest.mark.parametrize("statement", names, ids=names)
    def test_statement(target, statement):
        judge_statement(target, statement, key, experiments)

    # pytest places a test where its code is, here; report it where it is made instead (a
    # skip's "file:line", -vv's "<- file"): the line of the test module that calls us
    caller = sys._getframe(1)
    where = caller.f_code.replace(co_firstlineno=caller.f_lineno)
    test_statement.place_as = SimpleNamespace(__code__=where)
    return test_statement


def judge_statement(target, statement: str, key, experiments: dict[str, str], answers="ANSWERS"):
    """Mark the learner's ``target.ANSWERS[statement]`` as the exam marks it.

    ``key`` maps each statement to True or False (None in the learner's copy: the answer is
    then judged at grading); ``experiments`` maps each statement to the test that settles it.
    Empty, not a bool, missing or misspelled: unanswered (0 points). Well formed but the
    experiment has not passed in this run: unanswered, naming the experiment. Otherwise a wrong
    answer fails (minus its share) with the experiment's command, never the right answer.
    """
    __tracebackhide__ = True
    given = getattr(target, answers)
    name = f"{answers}[{statement!r}]"
    experiment = experiments[statement]
    if not isinstance(given, dict):
        raise Unanswered(
            f"{answers} is {show(given)}, not a dict: keep the dict of the stub, with True or "
            f"False as the value of each statement ({_keys(experiments)})",
            pytrace=False,
        )
    if statement not in given:
        extra = [k for k in given if k not in experiments]
        near = difflib.get_close_matches(statement, [str(k) for k in extra], n=1)
        why = f"; {near[0]!r} looks like a misspelling of it" if near else ""
        raise Unanswered(
            f"{answers} has no entry {statement!r}{why}: not answered (0 points). Its keys are "
            f"{_keys(experiments)}; keep them as the stub writes them.",
            pytrace=False,
        )
    answer = given[statement]
    command = f"{run_command(target, experiment)} -rP"  # -rP shows what the experiment printed
    if answer is None:
        raise Unanswered(
            f"not answered yet: {name} is None; the experiment `{experiment}` settles it: "
            f"{command}",
            pytrace=False,
        )
    if not isinstance(answer, bool):
        raise Unanswered(
            f"{name} is {show(answer)}, which is neither True nor False; it counts as not "
            "answered (0 points). Write the bool itself, without quotes.",
            pytrace=False,
        )
    pending = _LEDGER.pending(experiment) if _LEDGER is not None else None
    if pending:
        raise Unanswered(
            f"{name} = {answer} is not judged yet (0 points, as if unanswered): {pending}",
            pytrace=False,
        )
    if key_hidden(key):
        at_grading(f"{name} = {answer}")
    if answer != key[statement]:
        pytest.fail(
            f"{name} = {answer}: the experiment `{experiment}` says otherwise. Read what it "
            f"measures, and answer again: {command}",
            pytrace=False,
        )


def experiments_first(target, experiments, answer: str) -> None:
    """Unanswered (0 points) unless each of ``experiments`` passed in this run: the rule of
    ``judge_statement`` for an answer that several experiments settle together (a set of true
    statements). The test must carry ``@pytest.mark.kata_statement`` (it then runs after them).
    """
    __tracebackhide__ = True
    for experiment in experiments:
        pending = _LEDGER.pending(experiment) if _LEDGER is not None else None
        if pending:
            raise Unanswered(
                f"{answer} is not judged yet (0 points, as if unanswered): {pending}",
                pytrace=False,
            )


def _keys(experiments) -> str:
    return ", ".join(repr(k) for k in experiments)


def _question_command(target) -> str:
    command = getattr(target, "_kata_command", None)
    return command("") if command is not None else "pytest"


# --- the ledger: which experiments passed in this run -----------------------------------------


class Ledger:
    """Registered by the kata's plugin in the process that runs the tests (the xdist worker, or
    pytest itself): orders statement tests after their module's other tests and remembers which
    tests passed."""

    def __init__(self, config, run_dir: Path | None = None):
        self.config = config
        self.run_dir = run_dir
        self.passed: set[str] = set()
        self.spoilt: set[str] = set()  # a phase failed or was skipped
        self.selected: dict[tuple[str, str], list] = {}  # (module nodeid, test name) -> items
        self.current = None

    # hooks

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items):
        """Each module's statement tests after its other tests (stable otherwise)."""
        order = {}
        for index, item in enumerate(items):
            module = item.nodeid.partition("::")[0]
            order.setdefault(module, index)
        items.sort(
            key=lambda item: (
                order[item.nodeid.partition("::")[0]],
                item.get_closest_marker(MARKER) is not None,
            )
        )

    def pytest_collection_finish(self, session):
        self.selected = {}
        for item in session.items:
            module, _, rest = item.nodeid.partition("::")
            name = rest.split("::")[-1].split("[")[0]
            self.selected.setdefault((module, name), []).append(item)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.current = item
        try:
            return (yield)
        finally:
            self.current = None

    def pytest_runtest_logreport(self, report):
        if report.failed or report.skipped:
            self.spoilt.add(report.nodeid)
        elif report.when == "call":
            self.passed.add(report.nodeid)
            if self.run_dir is not None:
                with open(self.run_dir / PASSED_FILE, "a") as notes:
                    notes.write(report.nodeid + "\n")

    # the question a statement asks

    def passed_ids(self) -> set[str]:
        passed = set(self.passed)
        if self.run_dir is not None and (self.run_dir / PASSED_FILE).exists():
            passed |= set((self.run_dir / PASSED_FILE).read_text().split("\n"))
        return passed - self.spoilt

    def pending(self, experiment: str) -> str | None:
        """Why ``experiment`` (a test of the current test's module) cannot settle a statement
        yet, or None when it passed in this run."""
        item = self.current
        if item is None or item.get_closest_marker(MARKER) is None:
            return None  # not a statement test of the kata (a unit test of the helpers)
        module = item.nodeid.partition("::")[0]
        target = item.funcargs.get("target") if hasattr(item, "funcargs") else None
        first = f"{run_command(target, experiment)} -rP"
        whole = _question_command(target)
        cases = self.selected.get((module, experiment), [])
        if not cases:
            return (
                f"the experiment `{experiment}` that settles it is not part of this run. Run "
                f"it (`{first}`), then the whole question, `{whole}`, to have the statement "
                "judged."
            )
        passed = self.passed_ids()
        if all(case.nodeid in passed for case in cases):
            return None
        slow = any(case.get_closest_marker("slow") for case in cases)
        if slow and not (self.config.getoption("slow", False) or self.config.option.markexpr):
            return (
                f"the experiment `{experiment}` that settles it is slow and was skipped: "
                f"run `{whole} --slow` to have the statement judged."
            )
        return (
            f"the experiment `{experiment}` that settles it has not passed in this run. Finish "
            f"it first (`{first}`), then run `{whole}`: the statement is judged in a run where "
            "its experiment passes."
        )


def configure(config, run_dir: Path | None) -> None:
    """Register the ledger in the process that runs the tests (called by ``kata.plugin``)."""
    global _LEDGER
    config.addinivalue_line(
        "markers", f"{MARKER}: a true/false statement test, run after its experiments"
    )
    ledger = Ledger(config, run_dir)
    config.pluginmanager.register(ledger, "kata-statements")
    _LEDGER = ledger


def unconfigure(config) -> None:
    global _LEDGER
    if _LEDGER is not None and _LEDGER.config is config:
        _LEDGER = None


def outcome(report) -> str | None:
    """``AT_GRADING`` for the report of a test that ended in ``at_grading``."""
    return getattr(report, "kata_outcome", None) if report.skipped else None


def mark_report(report, excinfo) -> None:
    """Called from the plugin's makereport: tag an answer judged at grading."""
    if report.skipped and excinfo is not None and excinfo.errisinstance(AtGrading):
        report.kata_outcome = AT_GRADING
        if isinstance(report.longrepr, tuple):  # the reason without "kata.statements.AtGrading: "
            path, line, _ = report.longrepr
            report.longrepr = (path, line, excinfo.value.msg)

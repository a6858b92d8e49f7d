"""One student's run: a private copy of the submission, pytest with the grading copy of the kata,
the student's code in a sandbox (``kata/sandbox.py``), and a score read only once every process
of the run has ended and trusted only if the run's control tests failed (``kata/guard.py``).
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kata import sandbox
from kata.gradebook import Entry
from kata.guard import verdict
from kata.paths import copy_parts
from kata.submissions import check_files, copy_submission, find_exercises, static_scan

DEFAULT_TIMEOUT = 3 * 3600
"""Seconds one student's whole run may take (each test has its own, shorter, limit)."""
TELLING = re.compile(
    r"could not be imported|did not finish|Timeout|process ended|has no file for question"
)
"""Failure messages worth a note in the gradebook (import errors, hangs, crashes)."""
GRADING_COPY = ("tests", "kata", "pyproject.toml")
"""What grades: copied once per run, read-only to the students' code."""


@dataclass(frozen=True)
class Settings:
    """How every student of one run is graded."""

    root: Path
    options: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    use_sandbox: bool = True
    limits: sandbox.Limits = sandbox.Limits()
    pristine: Path | None = None
    """The stubs every student got: what they already do is no finding of the static scan."""


def make_pristine(root: Path, where: Path) -> Path | None:
    """The pristine stubs, made afresh from the solutions (or a homework copy's own)."""
    from kata.stubs import PRISTINE, export_pristine, source_dir

    if (root / "solutions").is_dir() or (root / "kata" / PRISTINE).is_dir():
        try:
            return export_pristine(where / "pristine", source_dir(root))
        except (OSError, ValueError):
            return None
    return root / "exercises" if (root / "exercises").is_dir() else None


def make_grading_copy(root: Path, where: Path) -> Path:
    """A copy of what grades (tests/, kata/, pyproject.toml) that no student run can change."""
    copy = where / "grading"
    copy.mkdir(parents=True)
    copy_parts(root, copy, GRADING_COPY, ".*")
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return copy


class Runs:
    """The runs in flight, so that a signal can end them all (each a process group + a uid)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.processes: dict[int, tuple[subprocess.Popen, int | None]] = {}
        self.stopping = threading.Event()

    def add(self, process: subprocess.Popen, uid: int | None) -> None:
        """Count a run in; one that started as the grader was told to stop is ended at once
        (``end_all`` may have looked before it was counted)."""
        with self.lock:
            self.processes[process.pid] = (process, uid)
            stopping = self.stopping.is_set()
        if stopping:
            end_run(process, uid)

    def remove(self, process: subprocess.Popen) -> None:
        with self.lock:
            self.processes.pop(process.pid, None)

    def end_all(self) -> None:
        with self.lock:
            running = list(self.processes.values())
        for process, uid in running:
            end_run(process, uid)


def end_run(process: subprocess.Popen, uid: int | None) -> None:
    """Kill a run: its process group, then (as root) every process of its sandbox's user."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if uid is not None:
        sandbox.kill_user(uid)  # one kill reaches them all, forks included
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def run_one(
    student: str,
    folder: Path,
    grading: Path,
    expected: dict[int, str],
    settings: Settings,
    digest: str,
    slot: int = 0,
    runs: Runs | None = None,
) -> Entry:
    """Grade one submission in a private copy, by a pytest process of its own."""
    started = time.time()
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entry = Entry(student, "graded", digest=digest, graded_at=now)
    # Without bubblewrap, a grader that is root still gives the student's code a user of its
    # own (where that user can run the interpreter): it then cannot write the score or the keys.
    own_user = (
        not settings.use_sandbox
        and os.geteuid() == 0
        and sandbox.reachable_by_others(
            [Path(os.path.realpath(sys.executable)).parent, Path(sys.prefix)]
        )
    )
    entry.sandbox = "bubblewrap" if settings.use_sandbox else "unsandboxed"
    if own_user:
        entry.sandbox = "unsandboxed, own user"
    exercises = find_exercises(folder)
    if exercises is None:
        entry.status = "not a submission"
        entry.notes.append(
            "no question files (qNN_*.py) in the folder, nor in an exercises/ folder inside it"
        )
        return entry
    uid = sandbox.slot_uid(slot) if settings.use_sandbox or own_user else None
    base = Path(tempfile.mkdtemp(prefix="kata-grade-"))
    try:
        base.chmod(0o711)  # the sandbox's user passes through to work/, sees nothing else
        private, work = base / "private", base / "work"
        private.mkdir(mode=0o700)
        copy = work / "exercises"
        try:
            entry.notes += copy_submission(exercises, copy)
        except OSError as error:
            entry.status = "unreadable"
            entry.notes.append(f"the submission could not be copied: {error}"[:300])
            return entry
        entry.notes += check_files(copy, expected)
        entry.notes += static_scan(copy, settings.pristine)
        (copy / "__init__.py").write_text("")  # the template's package file, not the student's
        return _run_pytest(entry, private, work, copy, grading, settings, uid, runs)
    finally:
        entry.duration_s = round(time.time() - started, 1)
        if uid is not None:
            sandbox.kill_user(uid)
        shutil.rmtree(base, ignore_errors=True)


def _run_pytest(entry, private, work, copy, grading, settings, uid, runs) -> Entry:
    score_path, canary_path = private / "score.json", private / "canaries.json"
    log_path = private / "controller.log"
    seed = secrets.token_hex(16)
    command = [
        sys.executable, "-m", "pytest", str(grading / "tests"),
        "-c", str(grading / "pyproject.toml"), "--rootdir", str(grading),
        "--target", str(copy), "--score-json", str(score_path),
        "-p", "no:cacheprovider", "-q", "--tb=no", "-rfE", "--no-score", "--plain",
        "--basetemp", str(work / "basetemp"),
        "-p", "kata.guard", "--kata-canaries", seed, "--kata-canary-out", str(canary_path),
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        *settings.options,
    ]  # fmt: skip
    env = sandbox.environment(work, {"PYTHONPATH": str(grading), "COLUMNS": "2000"})
    controller_env = dict(env, HOME=str(private), TMPDIR=str(work / "tmp"))
    sandbox.prepare_work(work, uid)
    if uid is not None or settings.use_sandbox:
        launcher = sandbox.write_launcher(
            private / "launch-worker.sh",
            work,
            readonly=[grading],
            env=env,
            limits=settings.limits,
            uid=uid,
            stderr=work / "worker-stderr.log",
            use_bwrap=settings.use_sandbox,
        )
        command += ["--kata-worker-launcher", str(launcher)]
        if uid is not None:  # the folders the controller makes for the worker are the worker's
            command += ["--kata-worker-owner", str(uid)]
    if not settings.use_sandbox:
        # the grader's own environment, less what would make pytest think it is a worker
        mine = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KATA_"))}
        controller_env = {**mine, **env, "HOME": str(private), "TMPDIR": str(work / "tmp")}
    if runs is not None and runs.stopping.is_set():
        entry.status = "interrupted"
        return entry
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=work,
            env=controller_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a timeout ends all of it
        )
    if runs is not None:
        runs.add(process, uid)
    try:
        process.wait(timeout=settings.timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        end_run(process, uid)  # whatever the student's code left running ends here
        if runs is not None:
            runs.remove(process)
    # Every process of the run is dead: what it left behind can be read.
    if runs is not None and runs.stopping.is_set():
        entry.status = "interrupted"
        entry.notes.append("the grader was stopped during this run: graded again next time")
        return entry
    if timed_out:
        entry.status = "timed out"
        entry.notes.append(
            f"the run took longer than {settings.timeout:g} s and was ended: 0 points"
        )
        return entry
    output = log_path.read_text(errors="replace")
    telling = []
    for line in output.splitlines():
        if line.startswith(("FAILED", "ERROR")) and TELLING.search(line):
            message = line.partition(" - ")[2].strip() or line
            if message not in telling:
                telling.append(message)
    entry.notes += [m[:300] for m in telling[:5]]
    try:
        score = json.loads(score_path.read_text())
    except (OSError, ValueError):
        entry.status = "error"
        tail = " | ".join(output.strip().splitlines()[-3:])
        entry.notes.append(f"pytest wrote no score (exit code {process.returncode}): {tail}"[:400])
        return entry
    try:
        canaries = json.loads(canary_path.read_text())
    except (OSError, ValueError):
        canaries = {"due": ["?"], "collected": [], "outcomes": {}}
    forged = verdict(canaries)
    fill_from_score(entry, score)
    if forged:
        entry.status = "tampered"
        entry.notes.insert(0, f"tampered: {forged}; the reports of this run cannot be trusted")
        entry.total = entry.bonus = 0.0
        for row in entry.questions.values():
            row["earned"] = 0.0
        return entry
    if process.returncode not in (0, 1):
        entry.status = "run ended early"
        entry.notes.append(f"pytest exit code {process.returncode}: not every test ran")
    return entry


def fill_from_score(entry: Entry, score: dict) -> None:
    entry.total = score["earned"]
    entry.possible = score.get("selected_possible", score["possible"])
    entry.bonus = score["bonus_earned"]
    outcomes = [t["outcome"] for t in score["tests"]]
    entry.passed = outcomes.count("passed")
    entry.failed = len(outcomes) - entry.passed
    for row in score["questions"]:
        if row["in_kata"]:
            entry.questions[f"q{row['number']:02d}"] = {
                "earned": row["earned"],
                "points": row["points"],
                "complete": row["complete"],
                "tests": row["tests"],
            }

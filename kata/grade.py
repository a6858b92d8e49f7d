"""Grade a whole class: every student's submission with this kata's tests, into a gradebook.

    python -m kata.grade SUBMISSIONS/ --out gradebook.csv [--jobs N] [--slow] [--force]
                         [--timeout S] [--memory MB] [--no-sandbox] [-- PYTEST ARGS]

``SUBMISSIONS/`` holds one folder per student, named after the student: a copy of
``exercises/``, or a clone of the student's repository (its ``exercises/`` is graded). Student
code is hostile input. For each student the grader

1. copies the submission into a folder of the run's own (links that lead out of the submission
   are refused, and so are devices, pipes and more than ``MAX_COPY_MB``),
2. scans it for code that reaches into the grading (imports of ``pytest``, ``kata``,
   ``solutions``; ``__code__``, ``sys.modules``, ``gc``, ``ctypes``, ``os.fork``, ``/proc``): a
   ``review`` note, never a change of grade,
3. runs pytest with a grading copy of this kata's ``tests/`` and ``kata/`` (never the student's),
   the scoring process outside any sandbox and the process that runs the student's code inside
   bubblewrap (``kata/sandbox.py``): its own user, no network, no other student, no solution,
   limits on memory, processes and file size; every process it starts ends with it,
4. reads the score only once every process of the run has ended, and trusts it only if the
   run's control tests (``kata/guard.py``), which must fail, failed: otherwise the row is
   ``tampered`` with 0 points.

Rows are written as soon as each student is graded (``gradebook.csv`` and ``gradebook.json``,
atomically), so an interrupt loses at most the runs in flight; SIGINT and SIGTERM stop new runs,
end the running ones and exit non-zero. Each row carries a signature made with a key the grader
keeps outside the class folder (``--state-dir``): a rerun reuses a row only if it is unchanged
and its signature holds (a row edited by hand or by code is graded again); ``--force`` regrades
everyone. Bad input (a file instead of a folder, a folder without questions, a missing question,
a file that cannot be read) is a row with a status and a note, never the end of the run.

Statuses: ``graded`` (the run completed), ``run ended early`` (pytest was interrupted; the
points are those of the tests that ran), ``timed out`` (the whole run took longer than
``--timeout``: 0 points), ``tampered`` (the run's reports were forged: 0 points), ``error``
(pytest wrote no score), ``not a submission``, ``unreadable``, ``interrupted`` (the grader was
stopped during this run: graded again next time).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import csv
import datetime
import hashlib
import hmac
import json
import os
import queue
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from kata import naming, sandbox
from kata.points import QUESTIONS
from kata.stubs import ROOT

GRADEBOOK_VERSION = 1
SCHEMA = Path(__file__).with_name("gradebook.schema.json")
"""The shape of gradebook.json, a contract like the score's (``kata/score.schema.json``)."""
DEFAULT_TIMEOUT = 3 * 3600
"""Seconds one student's whole run may take (each test has its own, shorter, limit)."""
MAX_COPY_MB = 64
"""A submission larger than this is not copied further (the rest counts as missing)."""
MAX_FILES = 5000
TELLING = re.compile(
    r"could not be imported|did not finish|Timeout|process ended|has no file for question"
)
"""Failure messages worth a note in the gradebook (import errors, hangs, crashes)."""
GRADING_COPY = ("tests", "kata", "pyproject.toml")
"""What grades: copied once per run, read-only to the students' code."""


@dataclass
class Entry:
    """One student's row of the gradebook."""

    student: str
    status: str
    digest: str = ""
    total: float = 0.0
    possible: float = 0.0
    bonus: float = 0.0
    passed: int = 0
    failed: int = 0
    duration_s: float = 0.0
    questions: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    graded_at: str = ""
    sandbox: str = "bubblewrap"
    signature: str = ""
    reused: bool = False


@dataclass(frozen=True)
class Settings:
    """How every student of one run is graded."""

    root: Path
    options: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    use_sandbox: bool = True
    limits: sandbox.Limits = sandbox.Limits()


# --- what grades, and what a submission is ---------------------------------------------------


def grading_digest(root: Path, options: list[str]) -> str:
    """What grades: the tests, the kata's code and packaging, and the options of the run."""
    h = hashlib.sha256(json.dumps(options).encode())
    files = sorted((root / "tests").rglob("*.py")) + sorted((root / "kata").glob("*.py"))
    for path in [*files, root / "pyproject.toml"]:
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def submission_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if "__pycache__" in path.parts or not (path.is_file() or path.is_symlink()):
            continue
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        try:
            if path.is_symlink():
                h.update(b"link:" + os.readlink(path).encode())
            else:
                h.update(path.read_bytes())
        except OSError as error:
            h.update(f"unreadable: {error}".encode())
    return h.hexdigest()


def kata_commit(root: Path) -> str:
    """The grading code's git commit (with '+changes' when it differs), or 'unknown'."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "tests", "kata"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


def questions_in_kata(root: Path) -> dict[int, str]:
    """{question number: the file or folder a submission holds for it} for the kata's questions."""
    found = {}
    for number in QUESTIONS:
        name = naming.canonical_name(root / "tests", number)
        if name:
            package = (root / "exercises" / name).is_dir() or (root / "solutions" / name).is_dir()
            found[number] = f"{name}/" if package else f"{name}.py"
    return found


def find_exercises(folder: Path) -> Path | None:
    """The folder of question files in a submission: ``exercises/`` of a clone, or itself."""
    inner = folder / "exercises"
    for candidate in (inner, folder):
        if (
            candidate.is_dir()
            and not candidate.is_symlink()
            and any(
                naming.BELONGS.match(p.name)
                for p in candidate.iterdir()
                if not p.name.startswith(".")
            )
        ):
            return candidate
    return None


def check_files(exercises: Path, expected: dict[int, str]) -> list[str]:
    """Notes on missing and unreadable question files (the run scores them 0 all the same)."""
    notes = []
    for name in expected.values():
        path = exercises / name.rstrip("/")
        if not path.exists():
            notes.append(f"missing {name}")
            continue
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            try:
                file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                rel = file.relative_to(exercises).as_posix()
                notes.append(f"cannot read {rel}: {type(error).__name__}: {error}"[:200])
    return notes


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def copy_submission(source: Path, dest: Path) -> list[str]:
    """Copy a student's question files; links are followed only where they stay inside.

    A link that leads outside ``source`` (to the reference, to a classmate, to ``/etc``) is
    refused, and so are devices, pipes and sockets: the file counts as missing, with a note.
    """
    notes: list[str] = []
    top = source.resolve()
    budget = {"bytes": MAX_COPY_MB * 2**20, "files": MAX_FILES}

    def refuse(rel: str, why: str) -> None:
        notes.append(f"refused {rel}: {why}")

    def copy_dir(folder: Path, out: Path, depth: int) -> None:
        out.mkdir(parents=True, exist_ok=True)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            refuse(folder.relative_to(source).as_posix(), f"cannot be read ({error})")
            return
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name == "__pycache__" or name.endswith(".pyc"):
                continue
            path = Path(entry.path)
            rel = path.relative_to(source).as_posix()
            if entry.is_symlink():
                try:
                    real = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    refuse(rel, "a link that leads nowhere")
                    continue
                if not _inside(real, top):
                    refuse(rel, "a link to a place outside the submission")
                    continue
                if real.is_dir():
                    refuse(rel, "a link to a folder (copy the folder itself)")
                    continue
            try:
                info = path.stat()
            except OSError as error:
                refuse(rel, f"cannot be read ({error})")
                continue
            if stat.S_ISDIR(info.st_mode):
                if depth >= 8:
                    refuse(rel, "folders nested too deep")
                    continue
                copy_dir(path, out / name, depth + 1)
            elif stat.S_ISREG(info.st_mode):
                if budget["files"] <= 0 or info.st_size > budget["bytes"]:
                    refuse(rel, f"the submission is larger than {MAX_COPY_MB} MB or files")
                    continue
                budget["files"] -= 1
                budget["bytes"] -= info.st_size
                try:
                    shutil.copyfile(path, out / name, follow_symlinks=True)
                except OSError as error:
                    refuse(rel, f"cannot be read ({error})")
            else:
                refuse(rel, "not a regular file")

    copy_dir(source, dest, 0)
    return notes


# --- the static scan: a note for the instructor, never a grade ----------------------------------

SUSPECT_MODULES = {
    "pytest": "imports pytest",
    "_pytest": "imports pytest's internals",
    "pluggy": "imports pytest's plugin system",
    "xdist": "imports pytest-xdist",
    "execnet": "imports execnet",
    "kata": "imports the kata's own code",
    "solutions": "imports the reference solutions",
    "tests": "imports the kata's tests",
    "gc": "imports gc (walks the interpreter's objects)",
    "ctypes": "imports ctypes",
    "inspect": None,  # common and harmless; its stack walking is what counts (below)
}
SUSPECT_CALLS = {
    "os.fork": "forks", "os.forkpty": "forks", "os.setsid": "starts a session",
    "os.kill": "sends signals", "os.killpg": "sends signals",
    "sys._getframe": "reads the interpreter's frames",
    "inspect.stack": "reads the caller's frames", "inspect.currentframe": "reads frames",
}  # fmt: skip
SUSPECT_TEXT = {
    "/proc": "reads /proc",
    "sys.modules": "uses sys.modules",
    "__code__": "uses __code__ (a function's code)",
    "score.json": "names the score file",
    "gradebook": "names the gradebook",
}


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def scan_source(text: str) -> list[str]:
    """What a file does that a kata answer has no need for (each finding once)."""
    found: list[str] = []

    def add(why: str) -> None:
        if why and why not in found:
            found.append(why)

    for needle, why in SUSPECT_TEXT.items():
        if needle in text:
            add(why)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(SUSPECT_MODULES.get(alias.name.split(".")[0]) or "")
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            add(SUSPECT_MODULES.get(node.module.split(".")[0]) or "")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            add(SUSPECT_CALLS.get(name, ""))
            if name in ("__import__", "importlib.import_module", "import_module"):
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    add(SUSPECT_MODULES.get(arg.value.split(".")[0]) or "")
                else:
                    add("imports a module whose name is computed")
    return found


def static_scan(exercises: Path) -> list[str]:
    """``review`` notes: which file does what a kata answer never needs."""
    notes = []
    for path in sorted(exercises.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        findings = scan_source(text)
        if findings:
            rel = path.relative_to(exercises).as_posix()
            notes.append(f"review {rel}: {', '.join(findings)}")
    return notes


# --- one student's run -----------------------------------------------------------------------


def make_grading_copy(root: Path, where: Path) -> Path:
    """A copy of what grades (tests/, kata/, pyproject.toml) that no student run can change."""
    copy = where / "grading"
    copy.mkdir(parents=True)
    for name in GRADING_COPY:
        source = root / name
        if source.is_dir():
            shutil.copytree(
                source,
                copy / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*", "node_modules"),
            )
        elif source.is_file():
            shutil.copyfile(source, copy / name)
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
        with self.lock:
            self.processes[process.pid] = (process, uid)

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
        for _ in range(3):
            if not sandbox.kill_user(uid):
                break
            time.sleep(0.05)
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
    entry.sandbox = "bubblewrap" if settings.use_sandbox else "unsandboxed"
    exercises = find_exercises(folder)
    if exercises is None:
        entry.status = "not a submission"
        entry.notes.append(
            "no question files (qNN_*.py) in the folder, nor in an exercises/ folder inside it"
        )
        return entry
    uid = sandbox.slot_uid(slot) if settings.use_sandbox else None
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
        entry.notes += static_scan(copy)
        (copy / "__init__.py").write_text("")  # the template's package file, not the student's
        return _run_pytest(entry, base, private, work, copy, grading, settings, uid, runs)
    finally:
        entry.duration_s = round(time.time() - started, 1)
        if uid is not None:
            sandbox.kill_user(uid)
        if not os.environ.get("KATA_GRADE_KEEP"):  # a folder to look into when debugging
            shutil.rmtree(base, ignore_errors=True)


def _run_pytest(entry, base, private, work, copy, grading, settings, uid, runs) -> Entry:
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
    if settings.use_sandbox:
        launcher = sandbox.write_launcher(
            private / "launch-worker.sh",
            work,
            readonly=[grading],
            env=env,
            limits=settings.limits,
            uid=uid,
            stderr=work / "worker-stderr.log",
        )
        command += ["--kata-worker-launcher", str(launcher)]
        if uid is not None:  # the folders the controller makes for the worker are the worker's
            command += ["--kata-worker-owner", str(uid)]
    else:
        controller_env = {**os.environ, **env, "HOME": str(private), "TMPDIR": str(work / "tmp")}
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
    from kata.guard import verdict

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


# --- the gradebook -------------------------------------------------------------------------


def state_dir(given: Path | None = None) -> Path:
    """Where the grader keeps its signing key: never inside the class folder."""
    if given is not None:
        return given
    if os.environ.get("KATA_GRADE_STATE"):
        return Path(os.environ["KATA_GRADE_STATE"])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "ann-exam-kata"


def signing_key(folder: Path) -> bytes:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "gradebook.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex() + "\n")
        return key


def _row(entry: Entry) -> dict:
    return {k: v for k, v in vars(entry).items() if k not in ("reused", "signature")}


def sign(entry: Entry, key: bytes) -> str:
    text = json.dumps(_row(entry), sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def load_previous(path: Path) -> dict[str, dict]:
    try:
        book = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if book.get("gradebook_version") != GRADEBOOK_VERSION:
        return {}
    return {row["student"]: row for row in book.get("students", []) if "student" in row}


def write_gradebook(
    entries: list[Entry], csv_path: Path, json_path: Path, about: dict, numbers: list[int]
) -> None:
    columns = [f"q{n:02d}" for n in numbers]
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["student", "status", "total", "possible", "bonus", *columns, "tests_passed"]
            + ["tests_failed", "duration_s", "sandbox", "notes"]
        )
        for e in entries:
            points = [e.questions.get(c, {}).get("earned", "") for c in columns]
            writer.writerow(
                [e.student, e.status, e.total, e.possible, e.bonus, *points, e.passed]
                + [e.failed, e.duration_s, e.sandbox, "; ".join(e.notes)]
            )
    tmp.replace(csv_path)
    book = {
        "gradebook_version": GRADEBOOK_VERSION,
        **about,
        "students": [{k: v for k, v in vars(e).items() if k != "reused"} for e in entries],
    }
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(book, indent=1) + "\n")
    tmp.replace(json_path)


def _reusable(old: dict | None, digest: str, key: bytes) -> Entry | None:
    if old is None or old.get("digest") != digest or old.get("status") == "interrupted":
        return None
    try:
        entry = Entry(**{**old, "reused": True})
    except TypeError:
        return None
    if not hmac.compare_digest(str(old.get("signature", "")), sign(entry, key)):
        return None
    return entry


def grade(
    submissions: Path,
    out: Path,
    root: Path = ROOT,
    jobs: int | None = None,
    slow: bool = False,
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    pytest_args: list[str] | None = None,
    log=print,
    use_sandbox: bool = True,
    limits: sandbox.Limits | None = None,
    state: Path | None = None,
    runs: Runs | None = None,
) -> list[Entry]:
    """Grade every folder in ``submissions``; write ``out`` (CSV) and its JSON twin."""
    options = (["--slow"] if slow else []) + list(pytest_args or [])
    json_path = out.with_suffix(".json")
    key = signing_key(state_dir(state))
    previous = {} if force else load_previous(json_path)
    expected = questions_in_kata(root)
    grading_id = grading_digest(root, options)
    if use_sandbox and sandbox.bwrap_path() is None:
        raise SystemExit(sandbox.install_hint())
    settings = Settings(
        root=root,
        options=tuple(options),
        timeout=timeout,
        use_sandbox=use_sandbox,
        limits=limits or sandbox.Limits(),
    )
    about = {
        "graded_with": {
            "kata": str(root),
            "commit": kata_commit(root),
            "grading_digest": grading_id,
            "options": options,
        },
    }
    if not submissions.is_dir():
        raise SystemExit(f"{submissions}: no such folder")
    entries: dict[str, Entry] = {}
    todo = []
    for path in sorted(submissions.iterdir()):
        if path.name.startswith("."):
            continue
        student = path.name
        if path.is_symlink() or not path.is_dir():
            entries[student] = Entry(
                student,
                "not a submission",
                notes=["a file or a link, not a folder: unpack or copy it first"],
            )
            continue
        digest = hashlib.sha256((grading_id + submission_digest(path)).encode()).hexdigest()
        old = _reusable(previous.get(student), digest, key)
        if old is not None:
            entries[student] = old
            continue
        if previous.get(student, {}).get("digest") == digest and student in previous:
            log(f"  {student}: the stored row does not match its signature: graded again")
        todo.append((student, path, digest))
    for entry in entries.values():
        entry.signature = sign(entry, key)
    reused = sum(e.reused for e in entries.values())
    mode = "" if use_sandbox else " WITHOUT a sandbox (--no-sandbox)"
    log(
        f"grading {len(todo)} submissions with {root}{mode} ({reused} unchanged since the "
        f"last run, {len(entries) - reused} not folders)"
    )
    numbers = sorted(expected)
    lock = threading.Lock()

    def save(entry: Entry | None = None) -> None:
        with lock:
            if entry is not None:
                entry.signature = sign(entry, key)
                entries[entry.student] = entry
            ordered = [entries[name] for name in sorted(entries)]
            write_gradebook(ordered, out, json_path, about, numbers)

    save()
    runs = runs or Runs()
    workers = max(1, jobs or os.cpu_count() or 1)
    slots: queue.Queue[int] = queue.Queue()
    for slot in range(workers):
        slots.put(slot)
    with tempfile.TemporaryDirectory(prefix="kata-grading-") as tmp:
        grading = make_grading_copy(root, Path(tmp))
        Path(tmp).chmod(0o755)

        def job(student: str, path: Path, digest: str) -> Entry:
            if runs.stopping.is_set():
                return Entry(student, "interrupted", digest=digest)
            slot = slots.get()
            try:
                return run_one(student, path, grading, expected, settings, digest, slot, runs)
            finally:
                slots.put(slot)

        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(job, *item): item[0] for item in todo}
            pending = set(futures)
            while pending:
                done, pending = concurrent.futures.wait(
                    pending, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    student = futures[future]
                    try:
                        entry = future.result()
                    except Exception as error:  # noqa: BLE001 - one student's problem
                        entry = Entry(student, "error", notes=[f"{type(error).__name__}: {error}"])
                        entry.sandbox = "bubblewrap" if use_sandbox else "unsandboxed"
                    if entry.status == "interrupted":
                        old = previous.get(student)
                        if old is not None and student not in entries:
                            log(f"  {student}: interrupted (the earlier row is kept)")
                            continue
                    save(entry)
                    log(f"  {student}: {entry.status}, {entry.total:g} / {entry.possible:g}")
                if runs.stopping.is_set():
                    for future in pending:
                        future.cancel()
    ordered = [entries[name] for name in sorted(entries)]
    save()
    return ordered


def summary(entries: list[Entry]) -> str:
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.status] = counts.get(e.status, 0) + 1
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    unsandboxed = sum(e.sandbox == "unsandboxed" and not e.reused for e in entries)
    if unsandboxed:
        parts.append(f"{unsandboxed} graded WITHOUT a sandbox")
    review = sum(any(n.startswith("review ") for n in e.notes) for e in entries)
    if review:
        parts.append(f"{review} to review (see the notes)")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:  # everything after `--` goes to pytest, wherever the folder stands
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(
        prog="python -m kata.grade", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("submissions", type=Path, help="one folder per student")
    parser.add_argument("--out", type=Path, default=Path("gradebook.csv"), help="the CSV to write")
    parser.add_argument("--jobs", type=int, default=None, help="runs at once (default: cores)")
    parser.add_argument("--slow", action="store_true", help="also the slow tests (training)")
    parser.add_argument("--force", action="store_true", help="regrade unchanged submissions")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds one student's whole run may take (default {DEFAULT_TIMEOUT})",
    )
    defaults = sandbox.Limits()
    parser.add_argument(
        "--memory",
        type=int,
        default=defaults.memory_mb,
        metavar="MB",
        help=f"address space of each student process (default {defaults.memory_mb} MB)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=defaults.processes,
        help=f"processes and threads of one student's run (default {defaults.processes})",
    )
    parser.add_argument(
        "--file-size",
        type=int,
        default=defaults.file_size_mb,
        metavar="MB",
        help=f"the largest file a student's code may write (default {defaults.file_size_mb} MB)",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade without bubblewrap (every row is marked 'unsandboxed')",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the grader keeps the key that signs gradebook rows "
        "(default ~/.local/state/ann-exam-kata; never inside the class folder)",
    )
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    if not args.no_sandbox and sandbox.bwrap_path() is None:
        print(f"error: {sandbox.install_hint()}", file=sys.stderr)
        return 2
    runs = Runs()
    stopped: list[str] = []

    def stop(signum, _frame):
        stopped.append(signal.Signals(signum).name)
        runs.stopping.set()
        threading.Thread(target=runs.end_all, daemon=True).start()

    old_int = signal.signal(signal.SIGINT, stop)
    old_term = signal.signal(signal.SIGTERM, stop)
    try:
        entries = grade(
            args.submissions,
            args.out,
            jobs=args.jobs,
            slow=args.slow,
            force=args.force,
            timeout=args.timeout,
            pytest_args=pytest_args,
            use_sandbox=not args.no_sandbox,
            limits=sandbox.Limits(
                memory_mb=args.memory,
                processes=args.processes,
                file_size_mb=args.file_size,
            ),
            state=args.state_dir,
            runs=runs,
        )
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    print(f"gradebook: {args.out} and {args.out.with_suffix('.json')} ({len(entries)} students)")
    print(f"summary: {summary(entries)}")
    if stopped:
        print(
            f"stopped by {stopped[0]}: the students graded so far are in the gradebook; "
            "run the same command again to grade the rest",
            file=sys.stderr,
        )
        return 130 if stopped[0] == "SIGINT" else 143
    return 0


if __name__ == "__main__":
    sys.exit(main())

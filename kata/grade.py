"""Grade a whole class: every student's submission with this kata's tests, into a gradebook.

    python -m kata.grade SUBMISSIONS/ --out gradebook.csv [--jobs N] [--slow] [--force]

``SUBMISSIONS/`` holds one folder per student, named after the student: a copy of
``exercises/``, or a clone of the student's repository (its ``exercises/`` is graded). Each
submission is copied into a private folder and graded by its own pytest process with this
kata's ``tests/`` and ``kata/`` (never the student's copies), several at once: one process per
core, scheduled by ``concurrent.futures``. A hang, a crash or a ``sys.exit`` in a student's code
costs that student only, and the gradebook says what happened.

The gradebook is written twice: ``gradebook.csv`` (one row per student: status, total, bonus,
points per question, tests passed and failed, notes) and ``gradebook.json`` beside it (the same,
plus each question's details and what graded it; its shape is ``kata/gradebook.schema.json``).
A rerun reads the JSON and regrades only the students whose submission (or the grading code, or
the options) changed; ``--force`` regrades everyone. Bad input (a file instead of a folder, a
folder without questions, a missing question, a file that cannot be read) is a row with a status
and a note, never the end of the run.

Statuses: ``graded`` (the run completed), ``run ended early`` (pytest was interrupted; the
points are those of the tests that ran), ``timed out`` (the whole run took longer than
``--timeout``: 0 points), ``error`` (pytest wrote no score), ``not a submission``, ``unreadable``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import datetime
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from kata import naming
from kata.points import QUESTIONS
from kata.stubs import ROOT

GRADEBOOK_VERSION = 1
SCHEMA = Path(__file__).with_name("gradebook.schema.json")
"""The shape of gradebook.json, a contract like the score's (``kata/score.schema.json``)."""
DEFAULT_TIMEOUT = 3 * 3600
"""Seconds one student's whole run may take (each test has its own, shorter, limit)."""
TELLING = re.compile(
    r"could not be imported|did not finish|Timeout|process ended|has no file for question"
)
"""Failure messages worth a note in the gradebook (import errors, hangs, crashes)."""


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
    reused: bool = False


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
        if "__pycache__" in path.parts or not path.is_file():
            continue
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        try:
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
        if candidate.is_dir() and any(
            naming.BELONGS.match(p.name) for p in candidate.iterdir() if not p.name.startswith(".")
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


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_one(
    student: str,
    folder: Path,
    root: Path,
    expected: dict[int, str],
    options: list[str],
    timeout: float,
    digest: str,
) -> Entry:
    """Grade one submission in a private copy, by a pytest process of its own."""
    started = time.time()
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entry = Entry(student, "graded", digest=digest, graded_at=now)
    exercises = find_exercises(folder)
    if exercises is None:
        entry.status = "not a submission"
        entry.notes.append(
            "no question files (qNN_*.py) in the folder, nor in an exercises/ folder inside it"
        )
        return entry
    entry.notes += check_files(exercises, expected)
    with tempfile.TemporaryDirectory(prefix="kata-grade-") as tmp:
        work = Path(tmp)
        copy = work / "exercises"
        try:
            shutil.copytree(
                exercises,
                copy,
                symlinks=True,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"),
            )
        except (OSError, shutil.Error) as error:
            entry.status = "unreadable"
            entry.notes.append(f"the submission could not be copied: {error}"[:300])
            return entry
        (copy / "__init__.py").write_text("")  # the template's package file, not the student's
        score_path = work / "score.json"
        command = [
            sys.executable, "-m", "pytest", str(root / "tests"),
            "-c", str(root / "pyproject.toml"), "--rootdir", str(root),
            "--target", str(copy), "--score-json", str(score_path),
            "-p", "no:cacheprovider", "-q", "--tb=no", "-rfE", "--no-score", "--plain",
            *options,
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", COLUMNS="2000")
        process = subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # its own process group: a timeout ends all of it
        )
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.communicate()
            entry.status = "timed out"
            entry.notes.append(f"the run took longer than {timeout:g} s and was ended: 0 points")
            entry.duration_s = round(time.time() - started, 1)
            return entry
        finally:
            _kill(process)  # whatever the student's code left running
        entry.duration_s = round(time.time() - started, 1)
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
            entry.notes.append(
                f"pytest wrote no score (exit code {process.returncode}): {tail}"[:400]
            )
            return entry
    fill_from_score(entry, score)
    if process.returncode not in (0, 1):
        entry.status = "run ended early"
        entry.notes.append(f"pytest exit code {process.returncode}: not every test ran")
    return entry


def fill_from_score(entry: Entry, score: dict) -> None:
    entry.total = score["earned"]
    entry.possible = score["possible"]
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


def load_previous(path: Path) -> dict[str, dict]:
    try:
        book = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if book.get("gradebook_version") != GRADEBOOK_VERSION:
        return {}
    return {row["student"]: row for row in book.get("students", [])}


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
            + ["tests_failed", "duration_s", "notes"]
        )
        for e in entries:
            points = [e.questions.get(c, {}).get("earned", "") for c in columns]
            writer.writerow(
                [e.student, e.status, e.total, e.possible, e.bonus, *points, e.passed]
                + [e.failed, e.duration_s, "; ".join(e.notes)]
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
) -> list[Entry]:
    """Grade every folder in ``submissions``; write ``out`` (CSV) and its JSON twin."""
    options = (["--slow"] if slow else []) + list(pytest_args or [])
    json_path = out.with_suffix(".json")
    previous = {} if force else load_previous(json_path)
    expected = questions_in_kata(root)
    grading = grading_digest(root, options)
    about = {
        "graded_with": {
            "kata": str(root),
            "commit": kata_commit(root),
            "grading_digest": grading,
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
        if not path.is_dir():
            entries[student] = Entry(
                student, "not a submission", notes=["a file, not a folder: unpack it first"]
            )
            continue
        digest = hashlib.sha256((grading + submission_digest(path)).encode()).hexdigest()
        old = previous.get(student)
        if old is not None and old.get("digest") == digest:
            entries[student] = Entry(**{**old, "reused": True})
            continue
        todo.append((student, path, digest))
    reused = sum(e.reused for e in entries.values())
    log(
        f"grading {len(todo)} submissions with {root} ({reused} unchanged since the last run, "
        f"{len(entries) - reused} not folders)"
    )
    workers = max(1, jobs or os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            pool.submit(run_one, student, path, root, expected, options, timeout, digest): student
            for student, path, digest in todo
        }
        for future in concurrent.futures.as_completed(futures):
            student = futures[future]
            try:
                entry = future.result()
            except Exception as error:  # noqa: BLE001 - one student's problem, not the run's
                entry = Entry(student, "error", notes=[f"{type(error).__name__}: {error}"])
            entries[student] = entry
            log(f"  {student}: {entry.status}, {entry.total:g} / {entry.possible:g}")
    ordered = [entries[name] for name in sorted(entries)]
    write_gradebook(ordered, out, json_path, about, sorted(expected))
    return ordered


def main(argv: list[str] | None = None) -> int:
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
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments, after --")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    entries = grade(
        args.submissions,
        args.out,
        jobs=args.jobs,
        slow=args.slow,
        force=args.force,
        timeout=args.timeout,
        pytest_args=args.pytest_args,
    )
    print(f"gradebook: {args.out} and {args.out.with_suffix('.json')} ({len(entries)} students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import concurrent.futures
import dataclasses
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from kata import lms, naming, sandbox, similarity
from kata.gradebook import (  # noqa: F401 - part of kata.grade's interface
    GRADEBOOK_VERSION,
    SCHEMA,
    Entry,
    _reusable,
    load_previous,
    sign,
    signing_key,
    state_dir,
    write_gradebook,
)
from kata.paths import ROOT
from kata.points import QUESTIONS
from kata.student_run import (  # noqa: F401 - part of kata.grade's interface
    DEFAULT_TIMEOUT,
    Runs,
    Settings,
    fill_from_score,
    make_grading_copy,
    make_pristine,
    run_one,
)
from kata.submissions import (  # noqa: F401 - part of kata.grade's interface
    check_files,
    copy_submission,
    find_exercises,
    static_scan,
)

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
    similarity_args=None,
) -> list[Entry]:
    """Grade every folder in ``submissions``; write ``out`` (CSV) and its JSON twin.

    ``similarity_args`` (parsed ``--similarity...`` options): also compare the class (on the
    grader's own safe copies of the submissions, never the folders in place) and name each
    student's flagged pairs in the notes (``kata/similarity.py``).
    """
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
        settings = dataclasses.replace(settings, pristine=make_pristine(root, Path(tmp)))
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
            futures = {pool.submit(job, *item): item for item in todo}
            pending = set(futures)
            while pending:
                done, pending = concurrent.futures.wait(
                    pending, timeout=0.5, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    student, _, digest = futures[future]
                    try:
                        entry = future.result()
                    except concurrent.futures.CancelledError:  # not started when stopped
                        entry = Entry(student, "interrupted", digest=digest)
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
    if similarity_args is not None and getattr(similarity_args, "similarity", False):
        if runs.stopping.is_set():
            log("similarity report skipped: the grader was stopped")
        else:
            compare_class(similarity_args, submissions, entries, root, out, log)
    with lock:
        for entry in entries.values():
            entry.signature = sign(entry, key)
    save()
    return [entries[name] for name in sorted(entries)]


def compare_class(args, submissions: Path, entries: dict[str, Entry], root, out, log) -> None:
    """The similarity report over the class, on safe copies; flagged pairs go into the notes."""
    from kata import similarity

    with tempfile.TemporaryDirectory(prefix="kata-similarity-copies-") as tmp:
        copies = {}
        for student, entry in entries.items():
            folder = submissions / student
            exercises = find_exercises(folder) if folder.is_dir() else None
            if exercises is None or entry.status == "not a submission":
                continue
            copies[student] = Path(tmp) / student
            copy_submission(exercises, copies[student])
        found = similarity.for_grader(args, copies, root, out.parent)
    if found is None:
        return
    for student, entry in entries.items():
        note = found.note(student)
        entry.notes = [n for n in entry.notes if not n.startswith("similar code")]
        if note:
            entry.notes.append(note)
    flagged = len(found.flagged)
    log(f"similarity: {flagged} flagged pair(s); see {out.parent / 'similarity.html'}")


def summary(entries: list[Entry]) -> str:
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.status] = counts.get(e.status, 0) + 1
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    unsandboxed = sum(e.sandbox.startswith("unsandboxed") and not e.reused for e in entries)
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
    for option, field_name, metavar, what in (
        ("--memory", "memory_mb", "MB", "address space of each student process, MB"),
        ("--processes", "processes", "N", "processes and threads of one student's run"),
        ("--file-size", "file_size_mb", "MB", "the largest file a student's code may write, MB"),
    ):
        default = getattr(defaults, field_name)
        parser.add_argument(
            option, type=int, default=default, metavar=metavar, help=f"{what} (default {default})"
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
    similarity.add_arguments(parser)
    lms.add_arguments(parser)
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        print(f"error: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    if not args.no_sandbox and not sandbox.works():
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
            similarity_args=args,
        )
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    print(f"gradebook: {args.out} and {args.out.with_suffix('.json')} ({len(entries)} students)")
    print(f"summary: {summary(entries)}")
    if not stopped:
        lms.apply(args, args.out, print)
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

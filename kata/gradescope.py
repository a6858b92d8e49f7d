"""A Gradescope autograder for the kata: the zip to upload, and what it runs for each submission.

    python -m kata.export --gradescope autograder.zip     (or: python -m kata.gradescope build ZIP)

The zip holds what Gradescope's autograder specification asks for at its root, ``setup.sh``
(run once, as root, when Gradescope builds the assignment's image) and ``run_autograder`` (run
for every submission), with the grading copy of the kata beside them: ``tests/`` and ``kata/``
with their answer keys (students never see the zip; ``kata/tests/`` is left out), the pristine
stubs of ``exercises/`` (how ``kata.grade`` tells a package answer from a file), the packaging,
``requirements.txt`` (every package grading needs, pinned to the versions of the environment that
built the zip) and ``kata-gradescope.json`` (the grading options).

``run_autograder`` runs ``python -m kata.gradescope run``: it grades
``$KATA_AUTOGRADER_ROOT/submission`` (default root ``/autograder``; an ``exercises/`` folder,
a clone of the student's repository, or the ``qNN_*.py`` files at its top, as ``kata.grade``
accepts) with ``$KATA_AUTOGRADER_ROOT/source``, and writes ``results/results.json`` in
Gradescope's format (``kata/gradescope_results.schema.json``): the score, the score table, and
one entry per question with its points and its first failures. The score is the one
``python -m kata.grade`` gives the same submission: both grade through ``kata.grade.run_one``.

Where the student's code cannot reach the results: ``results.json`` is written by this process
only after the grading run returned (every process of the run ended), atomically (a file or
link planted there is replaced, never followed), in a folder only its owner may open. The run
itself goes through one function, ``grade_submission``: today the grader's ``run_one`` (a
private copy of the submission, the kata's own tests, its own process group); the grader's
sandbox (a separate uid, no network, nothing writable but the submission's copy) slots in there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from kata.points import QUESTIONS

SCHEMA = Path(__file__).with_name("gradescope_results.schema.json")
"""Gradescope's results.json, as its autograder specification describes it."""
CONFIG = "kata-gradescope.json"
"""In the zip: the grading options (``options``: extra pytest arguments, ``timeout``: seconds)."""
VENV = "/opt/kata-venv"
"""Where setup.sh installs the grading environment on Gradescope's image."""
GRADING_PACKAGES = ["pytest", "pytest-timeout", "pytest-xdist"]
"""Beside the kata's dependencies, what a grading run imports (``pyproject.toml``'s dev extra)."""
DEFAULT_TIMEOUT = 35 * 60
"""Seconds for one submission's run: under Gradescope's longest autograder timeout (40 min)."""
PRIVATE_COPY = re.compile(r"/\S*?/kata-grade-[^/\s]+/")
"""The grader's private copy in a message's path."""
FIRST_FAILURES = 3
"""Failure messages shown per question."""
HIDDEN_KEYS_VISIBILITY = "after_due_date"
"""When a student sees a true/false question's entry: which statements are wrong is its answer."""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the assignment's image (with the network).
# It installs the grading environment in {venv}: the packages of requirements.txt, pinned,
# and the kata itself. The kata needs Python 3.11 to 3.13.
set -euo pipefail
cd "$(dirname "${{BASH_SOURCE[0]}}")"
PYTHON=""
for candidate in python3.11 python3.12 python3.13; do
    if command -v "$candidate" > /dev/null; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ]; then  # Ubuntu 22.04's python3 is 3.10; its universe has 3.11
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y python3.11 python3.11-venv
    PYTHON=python3.11
fi
"$PYTHON" -m venv {venv}
{venv}/bin/python -m pip install --no-cache-dir --upgrade pip
{venv}/bin/python -m pip install --no-cache-dir -r requirements.txt
{venv}/bin/python -m pip install --no-cache-dir --no-deps .
{venv}/bin/python -c "import kata, pytest, tensorflow; print('kata grading environment ready')"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. It grades $ROOT/submission with the kata in
# $ROOT/source and writes $ROOT/results/results.json (ROOT: $KATA_AUTOGRADER_ROOT, default
# /autograder). KATA_PYTHON names another interpreter (a local test: the developer's venv).
set -u
ROOT="${{KATA_AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{KATA_PYTHON:-{venv}/bin/python}}"
cd "$ROOT/source"
export PYTHONPATH="$ROOT/source" PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" -m kata.gradescope run --root "$ROOT"
"""


# --- building the zip -------------------------------------------------------------------------


def _requirement_closure(roots: list[str]) -> dict[str, str]:
    """{distribution name: installed version} for ``roots`` and everything they require here."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    todo = [(Requirement(r), "") for r in roots]
    seen = set()
    while todo:
        req, extra = todo.pop()
        name = canonicalize_name(req.name)
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        key = (name, tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(
                f"cannot pin {req.name}: it is not installed in this environment "
                f"({sys.executable}); install the kata with `pip install -e .[dev]` first"
            ) from None
        pins[dist.metadata["Name"]] = dist.version
        for text in dist.requires or []:
            sub = Requirement(text)
            if sub.marker is None:
                todo.append((sub, ""))
                continue
            for wanted in ["", *req.extras]:
                if sub.marker.evaluate({"extra": wanted}):
                    todo.append((Requirement(str(sub).split(";")[0]), ""))
                    break
    return pins


def requirements(root: Path) -> str:
    """requirements.txt: the kata's dependencies and the grading tools, pinned as installed here."""
    import tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    dev = project.get("optional-dependencies", {}).get("dev", [])
    tools = [r for r in dev if re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0] in GRADING_PACKAGES]
    pins = _requirement_closure([*project.get("dependencies", []), *tools])
    pins.pop(project["name"], None)
    lines = [
        f"{name}=={version}" for name, version in sorted(pins.items(), key=lambda p: p[0].lower())
    ]
    header = (
        f"# What grading needs, pinned to the versions that built this zip "
        f"(Python {sys.version_info.major}.{sys.version_info.minor})."
    )
    return "\n".join([header, *lines]) + "\n"


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    archive.writestr(info, data)


def build_zip(
    root: Path, out: Path, options: list[str] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Path:
    """Write Gradescope's autograder zip for the kata at ``root`` to ``out``; return ``out``.

    ``options`` are extra pytest arguments of every grading run (``["--slow"]`` grades the
    training tests too, as the homework's workflow does; they take minutes).
    """
    root = Path(root)
    if not (root / "tests").is_dir() or not (root / "kata").is_dir():
        raise SystemExit(f"{root}: not a kata (no tests/ or kata/)")
    files: list[tuple[str, Path]] = []
    for folder in ("kata", "tests", "exercises"):  # the stubs: which answers are packages
        for path in sorted((root / folder).rglob("*")):
            rel = path.relative_to(root)
            parts = rel.parts
            if not path.is_file() or "__pycache__" in parts or path.suffix == ".pyc":
                continue
            if parts[:2] in (("kata", "tests"), ("kata", "pristine")) or "node_modules" in parts:
                continue
            files.append((rel.as_posix(), path))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (root / name).is_file():
            files.append((name, root / name))
    config = {"options": list(options or []), "timeout": timeout}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.format(venv=VENV).encode(), executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER.format(venv=VENV).encode(), executable=True)
        _add(archive, "requirements.txt", requirements(root).encode())
        _add(archive, CONFIG, (json.dumps(config, indent=1) + "\n").encode())
        for name, path in files:
            _add(archive, name, path.read_bytes())
    tmp.replace(out)
    return out


# --- grading one submission -------------------------------------------------------------------


def find_submission(submission: Path) -> Path:
    """The folder to grade: the submission, or the one folder it holds (an uploaded folder)."""
    from kata.grade import find_exercises

    if find_exercises(submission) is None:
        inner = [p for p in submission.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if len(inner) == 1 and find_exercises(inner[0]) is not None:
            return inner[0]
    return submission


def grade_submission(submission: Path, root: Path, options: list[str], timeout: float):
    """Grade one submission as ``python -m kata.grade`` does; return (its Entry, messages).

    The one place that runs the student's code. ``messages`` maps a test (``q12::test_name``)
    to its failure message, from pytest's JUnit report of the run: display only, never points.
    """
    from kata import sandbox
    from kata.grade import questions_in_kata
    from kata.student_run import Settings, make_grading_copy, make_pristine, run_one

    with tempfile.TemporaryDirectory(prefix="kata-gradescope-") as tmp:
        junit = Path(tmp) / "junit.xml"  # written by the scoring process, outside the sandbox
        grading = make_grading_copy(root, Path(tmp))
        Path(tmp).chmod(0o755)
        settings = Settings(
            root=root,
            pristine=make_pristine(root, Path(tmp)),
            options=(*options, f"--junitxml={junit}"),
            timeout=timeout,
            use_sandbox=sandbox.works(),
        )
        entry = run_one(
            "submission",
            find_submission(submission),
            grading,
            questions_in_kata(root),
            settings,
            digest="",
        )
        messages = failure_messages(junit)
    return entry, messages


def failure_messages(junit: Path, limit: int = 5_000_000) -> dict[str, str]:
    """{``qNN::test``: first line(s) of its failure} from a JUnit XML report, {} if unreadable."""
    try:
        if junit.stat().st_size > limit:
            return {}
        tree = ElementTree.parse(junit)
    except (OSError, ElementTree.ParseError):
        return {}
    found = {}
    for case in tree.iter("testcase"):
        number = re.search(r"test_q(\d{2})_", case.get("classname", "") + case.get("file", ""))
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if number is None or problem is None:
            continue
        message = (problem.get("message") or problem.text or "").strip()
        message = PRIVATE_COPY.sub("", message)  # exercises/q08_...py:81, not /tmp/kata-grade-x/
        found[f"q{number[1]}::{case.get('name', '?')}"] = message[:600]
    return found


# --- results.json -----------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{x:g}" if abs(x - round(x, 2)) < 1e-9 else f"{x:.2f}"


def _tests_line(tests: dict[str, int]) -> str:
    ran = sum(v for k, v in tests.items() if k != "not run")
    text = f"{tests.get('passed', 0)}/{ran} tests passed"
    extras = [f"{tests[k]} {k}" for k in ("unanswered", "skipped", "not run") if tests.get(k)]
    return text + (f" ({', '.join(extras)})" if extras else "")


def results(entry, messages: dict[str, str], execution_time: float, numbers: list[int]) -> dict:
    """Gradescope's results.json for one graded submission (``entry``: a ``kata.grade.Entry``).

    ``numbers``: the questions of the kata, one test entry each (0 points when not graded).
    """
    tests, table = [], ["| # | question | points | tests |", "|---|---|---|---|"]
    for number in numbers:
        question, key = QUESTIONS[number], f"q{number:02d}"
        row = entry.questions.get(key)
        earned = row["earned"] if row else 0.0
        points = row["points"] if row else question.points
        name = f"Q{number} {question.title}"
        if question.bonus:
            name += f" (bonus: up to {_fmt(points)} extra points)"
        if row is None:
            output = f"not graded: {entry.status}"
        else:
            output = f"{_fmt(earned)} / {_fmt(points)}: {_tests_line(row['tests'])}"
        failures = [(k.partition("::")[2], m) for k, m in messages.items() if k.startswith(key)]
        visibility = "visible"
        if question.negative_marking:
            visibility = HIDDEN_KEYS_VISIBILITY
            if failures:
                output += "\nwhich statements are wrong is shown after the due date"
        elif failures:
            distinct = {}  # one line per different message: the first test that gave it
            for test, message in failures:
                distinct.setdefault(message, test)
            output += "\n\nfirst failures:"
            for message, test in list(distinct.items())[:FIRST_FAILURES]:
                output += f"\n- {test}: {message}"
            if len(failures) > FIRST_FAILURES:
                output += f"\n({len(failures)} failing tests in all)"
        complete = bool(row and row["complete"])
        tests.append(
            {
                "name": name,
                "number": str(number),
                "score": earned,
                "max_score": 0.0 if question.bonus else points,
                "status": "passed" if complete else "failed",
                "output": output,
                "visibility": visibility,
                "tags": ["bonus"] if question.bonus else [],
            }
        )
        if row is not None:
            table.append(
                f"| {number} | {question.title}{' (bonus)' if question.bonus else ''} "
                f"| {_fmt(earned)} / {_fmt(points)} | {_tests_line(row['tests'])} |"
            )
    total = f"**total {_fmt(entry.total)} / {_fmt(entry.possible)}**"
    if entry.bonus:
        total += f" (+{_fmt(entry.bonus)} bonus)"
    lines = [*table, "", total]
    if entry.status != "graded":
        lines.append(f"\nstatus: {entry.status}")
    lines += [f"\nnote: {note}" for note in entry.notes]
    return {
        "score": round(entry.total + entry.bonus, 2),
        "execution_time": int(round(execution_time)),
        "output": "\n".join(lines),
        "output_format": "md",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "status": entry.status,
            "exam_points": entry.total,
            "exam_possible": entry.possible,
            "bonus": entry.bonus,
        },
    }


def write_results(result: dict, folder: Path) -> Path:
    """Write ``folder/results.json`` atomically; a planted file or link there is replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    handle, tmp = tempfile.mkstemp(prefix=".results-", dir=folder)
    with os.fdopen(handle, "w") as stream:
        json.dump(result, stream, indent=1)
        stream.write("\n")
    path = folder / "results.json"
    os.replace(tmp, path)  # rename replaces the name itself: a symlink there is not followed
    return path


def run(autograder_root: Path) -> dict:
    """What ``run_autograder`` does: grade ``submission/``, write ``results/results.json``."""
    source, submission = autograder_root / "source", autograder_root / "submission"
    config = json.loads((source / CONFIG).read_text())
    results_folder = autograder_root / "results"
    results_folder.mkdir(parents=True, exist_ok=True)
    os.chmod(results_folder, 0o700)
    started = time.monotonic()
    if submission.is_dir():
        entry, messages = grade_submission(submission, source, config["options"], config["timeout"])
    else:
        from kata.grade import Entry

        entry, messages = Entry("submission", "not a submission", notes=["nothing submitted"]), {}
    from kata.grade import questions_in_kata

    numbers = sorted(questions_in_kata(source))
    result = results(entry, messages, time.monotonic() - started, numbers)
    write_results(result, results_folder)
    print(result["output"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kata.gradescope", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write the autograder zip")
    build.add_argument("zip", type=Path)
    build.add_argument("--slow", action="store_true", help="also the slow tests (training)")
    build.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per run")
    grade = commands.add_parser("run", help="grade a submission (what run_autograder does)")
    grade.add_argument("--root", type=Path, default=Path("/autograder"))
    args = parser.parse_args(argv)
    if args.command == "build":
        from kata.paths import ROOT

        out = build_zip(ROOT, args.zip, ["--slow"] if args.slow else [], args.timeout)
        print(f"Gradescope autograder written to {out}")
        return 0
    run(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())

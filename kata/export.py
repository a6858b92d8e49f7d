"""Export a homework copy of the kata: no solutions, a README for students, a workflow that grades.

    python -m kata.export ../homework [--template OWNER/REPO]      (or: nox -s export -- DIR)

The copy holds ``exercises/`` (pristine stubs), ``tests/``, ``kata/`` (with ``kata/pristine/``,
the stubs again, so that ``python -m kata.stubs --force q08`` restores a question without any
solution), the packaging, the LICENSE, a README written for students and
``.github/workflows/grade.yml``.

Grading that a student cannot change: the workflow checks out the student's repository AND the
template's ``tests/`` and ``kata/`` at a pinned commit, and grades the student's ``exercises/``
with the template's copies. The export makes that commit itself: it turns the copy into a git
repository, commits the homework, then writes the workflow with that commit's hash
(``KATA_TEMPLATE_REF``) and commits it. Push the result to GitHub as the template; name it with
``--template OWNER/REPO`` (or edit ``KATA_TEMPLATE`` in the workflow) when students' repositories
are made from it rather than forked from it.

Exam answers kept out of the student's copy: a test module may fence a literal that no oracle
can compute at test time between ``# BEGIN EXAM KEY`` and ``# END EXAM KEY``; the copy gets the
region's ``# STUB:`` lines instead (e.g. ``EXAM_TOTAL = None``), and the test skips its
by-hand cross-check when the key is None. The export then proves that it holds no solution:
no region of any solution file (its code, hints and stub lines aside) appears in any file.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from kata import naming
from kata.points import QUESTIONS
from kata.stubs import BEGIN, END, HINT, HINT_MORE, PRISTINE, ROOT, STUB, export_pristine

COPIED = ["pyproject.toml", ".gitignore", "LICENSE", "kata", "tests"]
"""Copied as they are (``kata/tests/``, the kata's own tests, left out); the rest is written."""
KEY_BEGIN = re.compile(r"^[ \t]*# BEGIN EXAM KEY\b.*$")
KEY_END = re.compile(r"^[ \t]*# END EXAM KEY[ \t]*$")

GRADE_COMMAND = (
    "python -m pytest tests/ --target ../submission/exercises --slow --plain "
    "--score-json ../score.json"
)
"""What the workflow runs, in the template's copy (``grader/``), on the student's exercises/."""

WORKFLOW = """\
# Grades exercises/ on every push. The tests and the kata that grade are NOT the copies in this
# repository (a student can edit those) but the template's, at the commit pinned below; the job
# summary names it. The score, not the colour of the run, is the grade: a red run means that
# some test fails.
name: grade
on:
  push:
  pull_request:
  workflow_dispatch:
permissions:
  contents: read
env:
  # The template repository (owner/name) whose tests/ and kata/ grade. Empty: this repository,
  # which holds the pinned commit when it was forked (not when it was made from the template).
  KATA_TEMPLATE: "{template}"
  # The commit of the template that grades (written by `python -m kata.export`).
  KATA_TEMPLATE_REF: "{ref}"
jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 90
    defaults:
      run:
        shell: bash
    steps:
      - name: Check out the submission
        uses: actions/checkout@v4
        with:
          path: submission
          persist-credentials: false
      - name: Check out the grading code (tests/ and kata/ at the pinned commit)
        uses: actions/checkout@v4
        with:
          repository: ${{{{ env.KATA_TEMPLATE || github.repository }}}}
          ref: ${{{{ env.KATA_TEMPLATE_REF }}}}
          path: grader
          # A private template needs a token that can read it, in the secret KATA_TEMPLATE_TOKEN.
          token: ${{{{ secrets.KATA_TEMPLATE_TOKEN || github.token }}}}
          persist-credentials: false
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip
          cache-dependency-path: grader/pyproject.toml
      - name: Install the kata (the pinned copy)
        run: python -m pip install "./grader[dev]"
      - name: Grade exercises/ with the pinned tests
        working-directory: grader
        run: {command}
      - name: Score in the job summary
        if: always()
        working-directory: grader
        run: >-
          python -m kata.score ../score.json
          --graded-by "${{KATA_TEMPLATE:-$GITHUB_REPOSITORY}}@$KATA_TEMPLATE_REF"
          >> "$GITHUB_STEP_SUMMARY"
      - name: Upload the score
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: score
          path: score.json
          if-no-files-found: warn
"""

README = """\
# Homework: Implementing ANNs with TensorFlow

Each exam question is a Python file in `exercises/` that you complete until its tests pass.
After every run you see your score, with the exam's points, and what to do next.

## Set up

Python 3.11, in a fresh virtual environment:

```bash
python -m pip install -e ".[dev]"
pytest exercises/
```

## Work

```bash
pytest exercises/q08_convolution.py          # one question: seconds
pytest exercises/                            # every question, your score at the end
pytest exercises/ --slow                     # also the training tests (minutes)
pytest exercises/q08_convolution.py --hint   # stuck? a nudge for each failing function
pytest exercises/q08_convolution.py --hint=all   # every hint of those functions
ptw exercises/                               # run again on every save (Ctrl-C stops)
ptw exercises/ exercises/q08_convolution.py  # ... only one question
pytest exercises/ --plain                    # no colours, no redrawn lines (screen readers)
```

Each `exercises/qNN_topic.py` starts with the task; every function says what it receives, what
it returns and the rule that matters. Replace each `raise NotImplementedError("...")` with your
code. A failing test says what it called, what came back, what it expected and why. `--hint`
remembers which hints you have seen (in `.kata/`, not committed) and gives the next one each time.

{questions}

## Start a question again

```bash
python -m kata.stubs --force q08        # or 8, q08_convolution, exercises/q08_convolution.py
python -m kata.stubs --force --all      # every question
```

Your version is copied to `.kata/backups/<date-time>/` first.

## How you are graded

On every push, GitHub Actions runs `.github/workflows/grade.yml`. It does **not** grade with the
`tests/` and `kata/` of your repository (you could change those): it checks out the template's
copies at a fixed commit, and grades your `exercises/` with them, in a folder `grader/` beside
your repository:

```bash
{command}
```

Here, the same run is `pytest exercises/ --slow` (as long as `tests/` and `kata/` are unchanged).
The score table is in the run's summary, and `score.json` is attached to the run as an artifact.
A red run means that some test fails; the score, not the colour, is your grade.

## License

MIT (see `LICENSE`); the exam's questions are retold in our own words.
"""


def strip_exam_keys(text: str, filename: str = "<test>") -> str:
    """A test module without its ``# BEGIN EXAM KEY`` regions: their ``# STUB:`` lines instead."""
    out, region = [], None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if KEY_BEGIN.match(line):
            if region is not None:
                raise ValueError(f"{filename}:{number}: BEGIN EXAM KEY inside another")
            region = number
        elif KEY_END.match(line):
            if region is None:
                raise ValueError(f"{filename}:{number}: END EXAM KEY without BEGIN")
            region = None
        elif region is not None:
            stub = STUB.match(line.rstrip("\n"))
            if stub:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}{stub['code'] or ''}\n")
        else:
            out.append(line)
    if region is not None:
        raise ValueError(f"{filename}:{region}: BEGIN EXAM KEY is never closed")
    return "".join(out)


def questions_table(root: Path) -> str:
    rows = ["| # | question | points | your file |", "|---|---|---|---|"]
    for number, question in QUESTIONS.items():
        name = naming.canonical_name(root / "tests", number)
        if name is None:
            continue
        file = f"{name}/" if (root / "exercises" / name).is_dir() else f"{name}.py"
        points = f"{question.points:g}" + (" (bonus)" if question.bonus else "")
        rows.append(f"| {number} | {question.title} | {points} | `exercises/{file}` |")
    return "\n".join(rows)


def _git(out: Path, *args: str) -> str:
    identity = []
    if not subprocess.run(
        ["git", "config", "user.email"], cwd=out, capture_output=True, text=True
    ).stdout.strip():
        identity = ["-c", "user.name=kata export", "-c", "user.email=kata-export@invalid"]
    done = subprocess.run(
        ["git", *identity, *args], cwd=out, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def workflow(template: str, ref: str) -> str:
    if not re.fullmatch(r"([\w.-]+/[\w.-]+)?", template):
        raise SystemExit(f"--template {template!r}: expected OWNER/REPO")
    return WORKFLOW.format(template=template, ref=ref, command=GRADE_COMMAND)


def export(
    out: Path, root: Path = ROOT, template: str = "", git: bool = True
) -> tuple[Path, str | None]:
    """Write the homework copy of the kata at ``root`` into ``out``; return it and the pin."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(
                source,
                out / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", PRISTINE, "node_modules"),
            )
        elif source.exists():
            shutil.copy2(source, out / name)
    shutil.rmtree(out / "kata" / "tests", ignore_errors=True)  # they test the kata itself
    for test in sorted((out / "tests").rglob("*.py")):
        test.write_text(strip_exam_keys(test.read_text(), str(test.relative_to(out))))
    export_pristine(out / "exercises", root / "solutions")
    shutil.copytree(out / "exercises", out / "kata" / PRISTINE)
    (out / "README.md").write_text(
        README.format(questions=questions_table(out), command=GRADE_COMMAND)
    )
    workflows = out / ".github" / "workflows"
    workflows.mkdir(parents=True)
    leaks = solution_leaks(out, root / "solutions")
    if leaks:
        shutil.rmtree(out)
        raise SystemExit("the export held solution code; nothing written:\n  " + "\n  ".join(leaks))
    ref = None
    if git:
        _git(out, "init", "-q", "-b", "main")
        _git(out, "add", "-A")
        _git(out, "commit", "-q", "-m", "Homework: exercises, tests and the kata (no solutions)")
        ref = _git(out, "rev-parse", "HEAD")
    (workflows / "grade.yml").write_text(workflow(template, ref or ""))
    if git:
        _git(out, "add", "-A")
        _git(out, "commit", "-q", "-m", f"Grade with tests/ and kata/ of {ref[:12]}")
    return out, ref


# --- the proof that no solution left ----------------------------------------------------------


def _normal(line: str) -> str:
    return " ".join(line.split())


def solution_regions(solutions: Path) -> list[tuple[str, int, list[str]]]:
    """(file, first line, code lines) of every solution region, comments and blanks left out.

    The hint and stub lines of a region are left out too: they are meant for the learner.
    """
    from kata.stubs import solution_files

    regions = []
    for path in solution_files(solutions):
        if path.suffix != ".py":
            continue
        start, code = None, []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if BEGIN.match(line):
                start, code = number, []
            elif END.match(line):
                if code:
                    regions.append((str(path.relative_to(solutions.parent)), start, code))
                start = None
            elif start is not None:
                stripped = line.strip()
                if not stripped or STUB.match(line) or HINT.match(line) or HINT_MORE.match(line):
                    continue
                if stripped.startswith("#"):
                    continue
                code.append(_normal(line))
    return regions


def solution_leaks(out: Path, solutions: Path, min_line: int = 40) -> list[str]:
    """Where the export holds a solution region (or a long, telling line of one); [] if nowhere.

    A region counts as present when its code lines follow each other in some file (whitespace
    aside); a single line when it is at least ``min_line`` characters long and occurs nowhere
    outside the solution regions of the kata (so a given line the stub keeps does not count).
    """
    texts = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(out).parts:
            try:
                texts[path.relative_to(out).as_posix()] = [
                    _normal(line) for line in path.read_text().splitlines()
                ]
            except (UnicodeDecodeError, OSError):
                continue
    joined = {name: "\n".join(lines) + "\n" for name, lines in texts.items()}
    root = solutions.parent
    outside = set()  # lines of the kata outside any solution region
    for folder in ("tests", "kata", "exercises"):
        for path in (root / folder).rglob("*.py"):
            try:
                outside.update(_normal(line) for line in path.read_text().splitlines())
            except (UnicodeDecodeError, OSError):
                continue
    leaks = []
    for file, start, code in solution_regions(solutions):
        block = "\n".join(code) + "\n"
        for name, text in joined.items():
            if ("\n" + block) in ("\n" + text):
                leaks.append(f"{name}: the solution region of {file}:{start}")
        for line in code:
            if len(line) < min_line or line in outside:
                continue
            for name, lines in texts.items():
                if line in lines:
                    leaks.append(f"{name}: a line of the solution region of {file}:{start}: {line}")
    return sorted(set(leaks))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kata.export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("dest", type=Path, nargs="?", help="an empty or new folder")
    parser.add_argument(
        "--gradescope", type=Path, metavar="ZIP", help="write Gradescope's autograder zip instead"
    )
    parser.add_argument(
        "--template",
        default="",
        metavar="OWNER/REPO",
        help="the GitHub repository you will push this copy to (students' repositories are "
        "made from it); empty: a student's repository is a fork of it",
    )
    parser.add_argument(
        "--no-git", action="store_true", help="no git repository: the workflow pins no commit"
    )
    args = parser.parse_args(argv)
    if args.gradescope or args.dest is None:
        from kata.gradescope import build_zip  # the grading copy, answer keys included

        if args.gradescope is None:
            parser.error("give a folder (the homework copy) or --gradescope ZIP")
        print(f"Gradescope autograder written to {build_zip(ROOT, args.gradescope)}")
        return 0
    out, ref = export(args.dest.resolve(), template=args.template, git=not args.no_git)
    print(f"homework copy written to {out} (no solutions/)")
    if ref:
        print(f"the workflow grades with tests/ and kata/ of commit {ref}")
        where = args.template or "OWNER/REPO"
        print(
            f"next: create the GitHub repository {where}, then\n"
            f"  git -C {out} remote add origin https://github.com/{where}.git\n"
            f"  git -C {out} push -u origin main"
        )
    else:
        print("no git repository: set KATA_TEMPLATE_REF in .github/workflows/grade.yml by hand")
    return 0


if __name__ == "__main__":
    sys.exit(main())

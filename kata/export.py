"""Export a homework copy of the kata (no solutions, no answer keys) and its grading copy.

    python -m kata.export ../homework --grader OWNER/homework-grading      (or: nox -s export -- …)

writes two git repositories:

- ``../homework``, the students' copy (push it as the template): ``exercises/`` (pristine
  stubs), ``tests/`` without their answer keys, ``kata/`` (with ``kata/pristine/``, the stubs
  again, so that ``python -m kata.stubs --force q08`` restores a question without any solution),
  the packaging, the LICENSE, a README written for students and ``.github/workflows/grade.yml``;
- ``../homework-grading`` (``--grading-dir``), the grading copy (push it as a PRIVATE
  repository, named by ``--grader``): ``tests/`` WITH the keys, ``kata/`` and the packaging.

Grading that a student cannot change: the workflow checks out the student's repository AND the
grading copy at a pinned commit, with the secret ``KATA_TEMPLATE_TOKEN`` (a token that can read
the private grading repository), and grades the student's ``exercises/`` with the grading
copy's ``tests/`` and ``kata/``. The export commits the grading copy first and writes its hash
into the workflow (``KATA_GRADER_REF``).

Answer keys kept out of the students' copy: a test module fences what it compares an answer
with (a true/false key, a choice's key, the reasons for the wrong options, a number worked out
by hand) between ``# BEGIN EXAM KEY`` and ``# END EXAM KEY``; the students' copy gets the
region's ``# STUB:`` lines instead (e.g. ``KEY = None``): there, an answer is checked for its
form and judged at grading (``kata/statements.py``), and a by-hand cross-check is skipped. The
export then proves what the students' copy does not hold (``kata.leaks``): no region of any
solution file (its code, hints and stub lines aside) and no line of any key region appears in any
of its files.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from kata import fences, naming
from kata.leaks import key_leaks, solution_leaks
from kata.paths import ROOT, copy_parts
from kata.points import QUESTIONS
from kata.stubs import PRISTINE, export_pristine

COPIED = ["pyproject.toml", ".gitignore", "LICENSE", "kata", "tests"]
"""Copied as they are (``kata/tests/``, the kata's own tests, left out); the rest is written."""
GRADING_COPIED = COPIED
"""What the grading copy holds: the same, with the keys left in (and no exercises/)."""

GRADE_COMMAND = (
    "python -m pytest tests/ --target ../submission/exercises --slow --plain "
    "--score-json ../score.json"
)
"""What the workflow runs, in the grading copy (``grader/``), on the student's exercises/."""

WORKFLOW = """\
# Grades exercises/ on every push. The tests and the kata that grade are NOT the copies in this
# repository (a student can edit those, and they hold no answer keys) but the grading copy's, a
# private repository read with the secret KATA_TEMPLATE_TOKEN, at the commit pinned below; the
# job summary names it. The score, not the colour of the run, is the grade: a red run means
# that some test fails.
name: grade
on:
  push:
  pull_request:
  workflow_dispatch:
permissions:
  contents: read
env:
  # The private repository (owner/name) of the grading copy written by `python -m kata.export`:
  # tests/ and kata/ with the answer keys.
  KATA_GRADER: "{grader}"
  # The commit of the grading copy that grades (written by `python -m kata.export`).
  KATA_GRADER_REF: "{ref}"
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
      - name: Check that a grading copy is named
        run: |
          if [ -z "$KATA_GRADER" ] || [ -z "$KATA_GRADER_REF" ]; then
            echo "::error::KATA_GRADER and KATA_GRADER_REF (top of this file) name no grading" \
              "copy: export with --grader OWNER/REPO"
            exit 1
          fi
      - name: Check out the grading code (tests/ and kata/ at the pinned commit)
        uses: actions/checkout@v4
        with:
          repository: ${{{{ env.KATA_GRADER }}}}
          ref: ${{{{ env.KATA_GRADER_REF }}}}
          path: grader
          # The grading copy is private: a token that can read it, in the secret
          # KATA_TEMPLATE_TOKEN (an organisation secret shared with the students' repositories).
          token: ${{{{ secrets.KATA_TEMPLATE_TOKEN || github.token }}}}
          persist-credentials: false
      - name: Say why the grading copy could not be read
        if: failure()
        run: >-
          echo "::error::could not check out $KATA_GRADER at $KATA_GRADER_REF: is the secret
          KATA_TEMPLATE_TOKEN set, and can its token read that repository?"
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
          --graded-by "$KATA_GRADER@$KATA_GRADER_REF"
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
`tests/` and `kata/` of your repository (you could change those): it checks out the grading
copy of them at a fixed commit, and grades your `exercises/` with it, in a folder `grader/`
beside your repository:

```bash
{command}
```

Here, the same run is `pytest exercises/ --slow`, with one difference: your copy of `tests/`
holds no answer keys. Your answers to the true/false statements and to the choices are checked
for their form only (a bool, one of the options) and marked *judged at grading*: they earn no
points here and nothing here tells you whether they are right; the grading run judges them. A
true/false statement is judged only in a run where the experiment that settles it passes:
finish the experiment first. The score table is in the run's summary, and `score.json` is
attached to the run as an artifact. A red run means that some test fails; the score, not the
colour, is your grade.

## License

MIT (see `LICENSE`); the exam's questions are retold in our own words.
"""


def strip_exam_keys(text: str, filename: str = "<test>") -> str:
    """A test module without its ``# BEGIN EXAM KEY`` regions: their ``# STUB:`` lines instead."""
    return fences.parse(text, filename, fences.EXAM_KEY).replace()[0]


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


def workflow(grader: str, ref: str) -> str:
    if not re.fullmatch(r"([\w.-]+/[\w.-]+)?", grader):
        raise SystemExit(f"--grader {grader!r}: expected OWNER/REPO")
    return WORKFLOW.format(grader=grader, ref=ref, command=GRADE_COMMAND)


GRADING_README = """\
# Grading copy of the homework: keep this repository private

`tests/` and `kata/` of the homework WITH the answer keys, written by `python -m kata.export`.
The homework's workflow checks this repository out at the commit it pins (`KATA_GRADER_REF`),
with the secret `KATA_TEMPLATE_TOKEN`, and grades a student's `exercises/` with it:

```bash
python -m pip install ".[dev]"
{command}
```

A student who reads this repository reads the keys of the true/false statements and choices.
"""


def _copy_tree(root: Path, out: Path, names) -> None:
    copy_parts(root, out, names, PRISTINE)
    shutil.rmtree(out / "kata" / "tests", ignore_errors=True)  # they test the kata itself


def grading_dir_for(out: Path) -> Path:
    """Where the grading copy goes by default: beside the homework, ``<name>-grading``."""
    return out.with_name(out.name + "-grading")


def export_grading(out: Path, root: Path = ROOT, git: bool = True) -> str | None:
    """Write the grading copy (tests/ with their keys, kata/, the packaging) into ``out``;
    return its commit (None without git)."""
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    _copy_tree(root, out, GRADING_COPIED)
    (out / "README.md").write_text(GRADING_README.format(command=GRADE_COMMAND))
    if not git:
        return None
    _git(out, "init", "-q", "-b", "main")
    _git(out, "add", "-A")
    _git(out, "commit", "-q", "-m", "Grading copy: tests/ with the answer keys, and the kata")
    return _git(out, "rev-parse", "HEAD")


def export(
    out: Path,
    root: Path = ROOT,
    grader: str = "",
    git: bool = True,
    grading: Path | None = None,
) -> tuple[Path, str | None]:
    """Write the homework copy of the kata at ``root`` into ``out`` and its grading copy into
    ``grading`` (default ``<out>-grading``); return the homework and the grading copy's commit,
    which the workflow pins. ``grader``: the grading copy's repository on GitHub (OWNER/REPO).
    """
    grading = grading if grading is not None else grading_dir_for(out)
    for folder in (out, grading):
        if folder.exists() and any(folder.iterdir()):
            raise SystemExit(f"{folder} exists and is not empty")
    workflow(grader, "")  # an invalid --grader stops here, before anything is written
    out.mkdir(parents=True, exist_ok=True)
    _copy_tree(root, out, COPIED)
    for test in sorted((out / "tests").rglob("*.py")):
        test.write_text(strip_exam_keys(test.read_text(), str(test.relative_to(out))))
    export_pristine(out / "exercises", root / "solutions")
    shutil.copytree(out / "exercises", out / "kata" / PRISTINE)
    (out / "README.md").write_text(
        README.format(questions=questions_table(out), command=GRADE_COMMAND)
    )
    workflows = out / ".github" / "workflows"
    workflows.mkdir(parents=True)
    leaks = solution_leaks(out, root / "solutions") + key_leaks(out, root / "tests")
    if leaks:
        shutil.rmtree(out)
        raise SystemExit(
            "the export held solution code or answer keys; nothing written:\n  "
            + "\n  ".join(leaks)
        )
    ref = export_grading(grading, root, git=git)
    if git:
        _git(out, "init", "-q", "-b", "main")
        _git(out, "add", "-A")
        _git(out, "commit", "-q", "-m", "Homework: exercises, tests and the kata (no solutions)")
    (workflows / "grade.yml").write_text(workflow(grader, ref or ""))
    if git:
        _git(out, "add", "-A")
        _git(out, "commit", "-q", "-m", f"Grade with the grading copy's commit {ref[:12]}")
    return out, ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kata.export", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "dest", type=Path, nargs="?", help="an empty or new folder: the students' copy"
    )
    parser.add_argument(
        "--gradescope", type=Path, metavar="ZIP", help="write Gradescope's autograder zip instead"
    )
    parser.add_argument(
        "--grader",
        default="",
        metavar="OWNER/REPO",
        help="the PRIVATE GitHub repository you will push the grading copy to; the workflow "
        "checks it out (empty: set KATA_GRADER in the workflow by hand)",
    )
    parser.add_argument(
        "--grading-dir",
        type=Path,
        default=None,
        help="where to write the grading copy (default: DEST-grading)",
    )
    parser.add_argument(
        "--no-git", action="store_true", help="no git repositories: the workflow pins no commit"
    )
    args = parser.parse_args(argv)
    if args.gradescope or args.dest is None:
        from kata.gradescope import build_zip  # the grading copy, answer keys included

        if args.gradescope is None:
            parser.error("give a folder (the homework copy) or --gradescope ZIP")
        print(f"Gradescope autograder written to {build_zip(ROOT, args.gradescope)}")
        return 0
    dest = args.dest.resolve()
    grading = (args.grading_dir or grading_dir_for(dest)).resolve()
    out, ref = export(dest, grader=args.grader, git=not args.no_git, grading=grading)
    print(f"homework copy written to {out} (no solutions/, no answer keys)")
    print(f"grading copy written to {grading} (tests/ WITH the answer keys: keep it private)")
    if ref:
        where = args.grader or "OWNER/REPO-grading"
        print(f"the workflow grades with tests/ and kata/ of the grading copy's commit {ref}")
        print(
            f"next: create the PRIVATE GitHub repository {where}, then\n"
            f"  git -C {grading} remote add origin https://github.com/{where}.git\n"
            f"  git -C {grading} push -u origin main\n"
            "create the homework (template) repository, then\n"
            f"  git -C {out} remote add origin https://github.com/OWNER/REPO.git\n"
            f"  git -C {out} push -u origin main\n"
            "and give the students' repositories the secret KATA_TEMPLATE_TOKEN: a token that "
            f"can read {where} (README, 'For forkers: homework')"
        )
        if not args.grader:
            print("no --grader: set KATA_GRADER in .github/workflows/grade.yml by hand")
    else:
        print("no git repositories: set KATA_GRADER_REF in .github/workflows/grade.yml by hand")
    return 0


if __name__ == "__main__":
    sys.exit(main())

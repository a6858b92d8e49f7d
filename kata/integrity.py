"""The instructor's integrity check: no kata test can pass on a pristine stub.

1. ``exercises/`` must be exactly what ``python -m kata.stubs`` makes from ``solutions/``.
2. Pristine stubs are generated into a temporary folder, and the whole suite, slow tests
   included, runs against them. Every kata test must fail: a test that passes (or is skipped)
   there proves nothing about a learner's code.
3. No hint gives an answer away: no number that the tests expect and the task does not show,
   no run of the solution's code (``kata.leaks.hint_problems``); ``exercises/.hints.json`` is
   what the solutions' hints make.
4. A homework export holds no solution and no answer key: no region of any solution file and no
   line of any ``# BEGIN EXAM KEY`` region of the tests appears in it (``kata.leaks``).

    python -m kata.integrity [extra pytest arguments]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from kata.paths import ROOT
from kata.stubs import export_pristine, generate, sync_hints


def static_problems(root: Path = ROOT) -> list[str]:
    """Checks 3 and 4: hints that give answers away, solution code in a homework export."""
    from kata.export import export
    from kata.leaks import hint_problems, key_leaks, solution_leaks

    problems = [f"a hint gives an answer away: {p}" for p in hint_problems(root)]
    with tempfile.TemporaryDirectory(prefix="kata-export-") as tmp:
        out = Path(tmp) / "homework"
        try:
            export(out, root, git=False)
        except SystemExit as error:  # the export refuses to write solution code
            problems.append(f"the homework export failed: {error}")
        else:
            leaks = solution_leaks(out, root / "solutions")
            problems += [f"the homework export holds solution code: {leak}" for leak in leaks]
            keys = key_leaks(out, root / "tests")
            problems += [f"the homework export holds an answer key: {leak}" for leak in keys]
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    problems = []
    if not (ROOT / "solutions").is_dir():
        print("integrity: this is a homework copy (no solutions/); there is nothing to check")
        return 0
    in_sync = generate(check=True)
    if sync_hints(ROOT / "solutions", ROOT / "exercises", check=True):
        in_sync.differ.append(".hints.json")
    if in_sync.differ:
        problems.append(
            "exercises/ is out of sync with solutions/ (run `nox -s stubs`): "
            + ", ".join(in_sync.differ)
        )
    problems += static_problems()
    with tempfile.TemporaryDirectory(prefix="kata-integrity-") as tmp:
        stubs = export_pristine(Path(tmp) / "exercises")
        score_path = Path(tmp) / "score.json"
        command = [
            sys.executable, "-m", "pytest", str(ROOT / "tests"), "--target", str(stubs),
            "--slow", "--score-json", str(score_path), "-p", "no:cacheprovider",
            "-q", "--tb=no", "-rN", "--no-score", *argv,
        ]  # fmt: skip
        print("$", " ".join(command), flush=True)
        exit_code = subprocess.call(command, cwd=ROOT)
        if exit_code not in (0, 1) or not score_path.exists():
            problems.append(f"pytest did not complete on the stubs (exit code {exit_code})")
            tests = []
        else:
            tests = json.loads(score_path.read_text())["tests"]
    passed = [t["nodeid"] for t in tests if t["outcome"] == "passed"]
    skipped = [t["nodeid"] for t in tests if t["outcome"] in ("skipped", "not run")]
    if passed:
        problems.append(
            f"{len(passed)} tests pass on the pristine stubs (they cannot fail):\n    "
            + "\n    ".join(passed)
        )
    if skipped:
        problems.append(
            f"{len(skipped)} tests were skipped on the stubs (they prove nothing there):\n    "
            + "\n    ".join(skipped)
        )
    if not tests and not problems:
        problems.append("no kata tests ran")
    if problems:
        print("\nintegrity: FAILED")
        for problem in problems:
            print(f"- {problem}")
        return 1
    print(
        f"\nintegrity: all {len(tests)} kata tests fail on the pristine stubs, "
        "and exercises/ is in sync with solutions/"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

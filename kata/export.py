"""Export a homework copy of the kata without solutions, with a CI workflow that grades.

    python -m kata.export ../homework

The copy holds the exercises (pristine stubs), the tests, the plugin and the packaging, plus
``.github/workflows/grade.yml``: on every push it runs ``pytest exercises/ --slow`` and writes the
exam score to the job summary and to ``score.json`` (an artifact). The workflow is green when the
run completes; the score, not the colour, is the grade.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from kata.stubs import ROOT, export_pristine

COPIED = ["README.md", "CONTRIBUTING.md", "pyproject.toml", ".gitignore", "kata", "tests"]

WORKFLOW = """\
name: grade
on: [push, pull_request, workflow_dispatch]
jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
          cache: pip
      - run: python -m pip install -e ".[dev]"
      - name: Run the kata (failing tests do not fail the job; the score is the grade)
        run: pytest exercises/ --slow --score-json score.json || test $? -eq 1
      - run: python -m kata.score score.json >> "$GITHUB_STEP_SUMMARY"
      - uses: actions/upload-artifact@v4
        with:
          name: score
          path: score.json
"""


def export(out: Path) -> Path:
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, out / name)
    shutil.rmtree(out / "kata" / "tests", ignore_errors=True)  # they test the generator
    export_pristine(out / "exercises")
    (out / ".github" / "workflows").mkdir(parents=True)
    (out / ".github" / "workflows" / "grade.yml").write_text(WORKFLOW)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__)
        return 2
    out = export(Path(args[0]).resolve())
    print(f"homework copy written to {out} (no solutions/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

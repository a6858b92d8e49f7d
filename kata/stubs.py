"""Generate the learner's stubs in ``exercises/`` from the reference in ``solutions/``.

A solution file marks the code a learner writes:

    # BEGIN SOLUTION: one line that says what to implement
    ...
    # END SOLUTION

In the stub the region becomes ``raise NotImplementedError("one line ...")`` at the indentation
of the ``BEGIN`` line, or, if the region holds ``# STUB: <code>`` lines, those lines.
Everything else is copied as it is.

A learner's work is never lost: an exercise that differs from what was last generated for it
(recorded in ``exercises/.stubs.json``) is left alone and named, unless ``--force`` is given.

    python -m kata.stubs             # regenerate exercises/ from solutions/
    python -m kata.stubs --check     # exit 1 if exercises/ is not what the generator makes
    python -m kata.stubs --out DIR   # write pristine stubs into DIR instead
    python -m kata.stubs --force q08_convolution   # overwrite (restore) one exercise
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ".stubs.json"
BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::[ \t]*(?P<hint>.*?))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
STUB = re.compile(r"^[ \t]*# STUB:(?: (?P<code>.*))?$")
QUESTION = re.compile(r"^q\d\d_\w+(\.py)?$")


class StubError(ValueError):
    """A solution file whose regions cannot be turned into a stub."""


def make_stub(source: str, filename: str = "<solution>") -> str:
    """The stub for one solution file's text."""
    out: list[str] = []
    region = None  # (line number, indent, hint, stub lines)
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line.rstrip("\n")), END.match(line.rstrip("\n"))
        if begin:
            if region:
                raise StubError(f"{filename}:{number}: BEGIN SOLUTION inside another region")
            region = (number, begin["indent"], begin["hint"] or "implement this", [])
        elif end:
            if not region:
                raise StubError(f"{filename}:{number}: END SOLUTION without BEGIN SOLUTION")
            _, indent, hint, stub_lines = region
            if stub_lines:
                out.extend(f"{indent}{code}\n" for code in stub_lines)
            else:
                out.append(f"{indent}raise NotImplementedError({json.dumps(hint)})\n")
            region = None
        elif region:
            stub = STUB.match(line.rstrip("\n"))
            if stub:
                region[3].append(stub["code"] or "")
        else:
            out.append(line)
    if region:
        raise StubError(f"{filename}:{region[0]}: BEGIN SOLUTION is never closed")
    stub_text = "".join(out)
    try:
        compile(stub_text, filename, "exec")
    except SyntaxError as exc:
        raise StubError(f"{filename}: the generated stub is not valid Python: {exc}") from exc
    return stub_text


def solution_files(solutions: Path) -> list[Path]:
    """Every file of every question (``qNN_topic.py`` or the package ``qNN_topic/``)."""
    files = []
    for entry in sorted(solutions.iterdir()):
        if not QUESTION.match(entry.name):
            continue
        if entry.is_dir():
            files += sorted(
                p for p in entry.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
        elif entry.suffix == ".py":
            files.append(entry)
    return files


def render(path: Path, solutions: Path) -> bytes:
    if path.suffix == ".py":
        return make_stub(path.read_text(), str(path.relative_to(solutions.parent))).encode()
    return path.read_bytes()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Report:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # changed by the learner: left alone
    differ: list[str] = field(default_factory=list)  # --check: not what the generator makes


def generate(
    solutions: Path = ROOT / "solutions",
    exercises: Path = ROOT / "exercises",
    force: bool | list[str] = False,
    check: bool = False,
) -> Report:
    """Write (or with ``check``, compare) the stubs of every solution file."""
    report = Report()
    manifest_path = exercises / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for path in solution_files(solutions):
        rel = path.relative_to(solutions).as_posix()
        new = render(path, solutions)
        dest = exercises / rel
        current = dest.read_bytes() if dest.exists() else None
        if current == new and manifest.get(rel) == digest(new):
            report.unchanged.append(rel)
            continue
        if check:
            report.differ.append(rel)
            continue
        question = rel.split("/")[0].removesuffix(".py")
        forced = force is True or (isinstance(force, list) and question in force)
        if current is not None and current != new and not forced:
            if digest(current) != manifest.get(rel):
                report.kept.append(rel)
                continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(new)
        manifest[rel] = digest(new)
        report.written.append(rel)
    if check:
        expected = {p.relative_to(solutions).as_posix() for p in solution_files(solutions)}
        if set(manifest) - expected:
            report.differ += sorted(set(manifest) - expected)
    elif report.written:
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")
    return report


def export_pristine(out: Path, solutions: Path = ROOT / "solutions") -> Path:
    """Pristine stubs in a fresh folder ``out`` (made a package), for the integrity check."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    init = solutions.parent / "exercises" / "__init__.py"
    (out / "__init__.py").write_text(init.read_text() if init.exists() else "")
    generate(solutions, out, force=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kata.stubs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "questions",
        nargs="*",
        help="with --force: only these questions (e.g. q08_convolution)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite changed exercises")
    parser.add_argument("--check", action="store_true", help="only check exercises/ is in sync")
    parser.add_argument("--out", type=Path, help="write pristine stubs into this folder")
    args = parser.parse_args(argv)
    try:
        if args.out:
            export_pristine(args.out)
            print(f"pristine stubs written to {args.out}")
            return 0
        force = (args.questions or True) if args.force else False
        report = generate(force=force, check=args.check)
    except StubError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if report.differ:
            print("exercises/ is out of sync with solutions/; run `nox -s stubs`:")
            for rel in report.differ:
                print(f"  exercises/{rel}")
            return 1
        print(f"exercises/ is in sync with solutions/ ({len(report.unchanged)} files)")
        return 0
    for rel in report.written:
        print(f"wrote     exercises/{rel}")
    for rel in report.kept:
        question = rel.split("/")[0].removesuffix(".py")
        print(f"kept      exercises/{rel}: you changed it; `--force {question}` overwrites it")
    print(
        f"{len(report.written)} written, {len(report.unchanged)} unchanged, "
        f"{len(report.kept)} kept because you changed them"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

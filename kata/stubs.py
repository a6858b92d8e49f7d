"""Generate the learner's stubs in ``exercises/`` from the reference in ``solutions/``.

A solution file marks the code a learner writes:

    # BEGIN SOLUTION: one line that says what to implement
    ...
    # END SOLUTION

In the stub the region becomes ``raise NotImplementedError("one line ...")`` at the indentation
of the ``BEGIN`` line, or, if the region holds ``# STUB: <code>`` lines, those lines.
Everything else is copied as it is. (The fences are read by ``kata.fences``.)

A learner's work is never lost: an exercise that differs from what was last generated for it
(recorded in ``exercises/.stubs.json``) is left alone and named, unless ``--force`` is given.

    python -m kata.stubs             # regenerate exercises/ from solutions/
    python -m kata.stubs --check     # exit 1 if exercises/ is not what the generator makes
    python -m kata.stubs --out DIR   # write pristine stubs into DIR instead
    python -m kata.stubs --force q08               # restore one exercise (yours is backed up)
    python -m kata.stubs --force q19_lunar_lander/blocks.py   # one file of a package question
    python -m kata.stubs --force --all             # restore every exercise (all backed up)

Before ``--force`` overwrites a file you changed, it copies it to ``.kata/backups/<time>/``.

Hints: ``# HINT: text`` lines inside a region (continued by comment lines indented two spaces
more) are the graded hints of the function that owns the region, a nudge first. They never
reach the stub; the generator collects them into ``exercises/.hints.json``, which
``pytest exercises/... --hint`` reads.

A homework copy has no ``solutions/``: there the pristine stubs in ``kata/pristine/`` are the
source, copied as they are.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import datetime
import hashlib
import json
import shutil
import symtable
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kata import fences, naming
from kata.fences import FenceError
from kata.paths import ROOT

MANIFEST = ".stubs.json"
BACKUPS = ".kata/backups"
"""Where `--force` copies a learner's changed files before it overwrites them."""
BEGIN, END, STUB = fences.BEGIN, fences.END, fences.STUB  # as kata.similarity reads them
HINTS = ".hints.json"
"""The hints of every question, collected from the solutions (in ``exercises/``)."""
PRISTINE = "pristine"
"""A folder of this name (``kata/pristine/`` in a homework copy) holds stubs, not solutions."""


class StubError(ValueError):
    """A name on the command line that is no question. (A solution file that makes no stub
    raises ``kata.fences.FenceError``.)"""


def make_stub(source: str, filename: str = "<solution>") -> str:
    """The stub for one solution file's text.

    Raises FenceError for broken fences, for a region that is not a whole function body (or a
    module-level block of `# STUB:` lines), and for a stub that uses a name it never defines.
    """
    stub_text, spans = fences.parse(source, filename).replace()
    try:
        tree = ast.parse(stub_text, filename)
    except SyntaxError as exc:
        raise FenceError(filename, None, f"the generated stub is not valid Python: {exc}") from exc
    for region, first, last in spans:
        _check_region(tree, filename, region.begin, first, last, bool(region.stub))
    _check_names(stub_text, filename)
    return stub_text


def _check_region(tree, filename, start, first, last, explicit) -> None:
    """A region is a whole function body (after its docstring), or a module-level STUB block."""
    owner = tree
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body[0].lineno <= first and last <= body[-1].end_lineno:
                if owner is tree or node.lineno > owner.lineno:
                    owner = node
    if not isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if explicit:
            return  # a constant the learner fills in (ANSWERS = {...}), written out by STUB lines
        raise FenceError(
            filename,
            start,
            "a region outside a function needs `# STUB:` lines (a bare raise there would stop "
            "the whole module from importing)",
        )
    body = owner.body
    if (
        isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    if not body or body[0].lineno != first or body[-1].end_lineno != last:
        raise FenceError(
            filename,
            start,
            f"the region must be the whole body of `{owner.name}` (after its docstring): a stub "
            "that keeps part of a body uses names it never defines. Move the fenced lines into a "
            "function of their own, with a docstring that states the task",
        )


def _check_names(stub_text: str, filename: str) -> None:
    """No name in the stub may be used without being defined (what ruff calls F821)."""
    table = symtable.symtable(stub_text, filename, "exec")
    defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    defined |= set(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__", "__path__"}
    undefined = set()

    def visit(scope):
        for symbol in scope.get_symbols():
            if symbol.is_referenced() and symbol.is_global() and symbol.get_name() not in defined:
                undefined.add(f"{symbol.get_name()} (in {scope.get_name()})")
        for child in scope.get_children():
            visit(child)

    visit(table)
    if undefined:
        raise FenceError(
            filename,
            None,
            f"the generated stub uses names it never defines: {', '.join(sorted(undefined))}; "
            "a region must cover a whole function body",
        )


def solution_files(solutions: Path) -> list[Path]:
    """Every file of every question (``qNN_topic.py`` or the package ``qNN_topic/``)."""
    files = []
    for entry in sorted(solutions.iterdir()):
        if naming.question_of_name(naming.stem(entry)) is None:
            continue
        if entry.is_dir():
            files += sorted(
                p for p in entry.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
        elif entry.suffix == ".py":
            files.append(entry)
    return files


def render(path: Path, solutions: Path) -> bytes:
    if path.suffix == ".py" and solutions.name != PRISTINE:
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
    backed_up: list[tuple[str, Path]] = field(default_factory=list)  # (file, its backup)


def generate(
    solutions: Path = ROOT / "solutions",
    exercises: Path = ROOT / "exercises",
    force: bool | list[str] = False,
    check: bool = False,
    only: set[str] | None = None,
    backup: Path | None = None,
) -> Report:
    """Write (or with ``check``, compare) the stubs of the solution files.

    ``only``: the files to consider (paths relative to ``solutions/``), all if None. ``force``:
    overwrite files the learner changed (True), or only those of the named questions (a list).
    ``backup``: a folder that receives a copy of every changed file before it is overwritten.
    """
    report = Report()
    manifest_path = exercises / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for path in solution_files(solutions):
        rel = path.relative_to(solutions).as_posix()
        if only is not None and rel not in only:
            continue
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
        changed = current is not None and current != new and digest(current) != manifest.get(rel)
        if changed and not forced:
            report.kept.append(rel)
            continue
        if changed and backup is not None:
            saved = backup / exercises.name / rel
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_bytes(current)
            report.backed_up.append((rel, saved))
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(new)
        manifest[rel] = digest(new)
        report.written.append(rel)
    if check and only is None:
        expected = {p.relative_to(solutions).as_posix() for p in solution_files(solutions)}
        if set(manifest) - expected:
            report.differ += sorted(set(manifest) - expected)
    elif report.written:
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")
    return report


def region_hints(source: str, filename: str = "<solution>") -> list[tuple[list[str], list[str]]]:
    """Every solution region of a file, in file order: (the names it belongs to, its hints).

    The names as ``kata.fences.Fenced.names`` gives them; a region without hints has [] hints.
    """
    fenced = fences.parse(source, filename)
    return [(fenced.names(region), region.hints) for region in fenced.regions]


def extract_hints(source: str, filename: str = "<solution>") -> dict[str, list[str]]:
    """The hints of a solution file: {function's qualified name: [hint, ...]}, in file order
    (the names as in ``region_hints``; regions without hints are left out)."""
    hints: dict[str, list[str]] = {}
    for names, found in region_hints(source, filename):
        for name in names if found else ():
            hints.setdefault(name, []).extend(found)
    return hints


def collect_hints(solutions: Path) -> dict[str, dict[str, list[str]]]:
    """Every question's hints: {file relative to solutions/: {function: [hint, ...]}}.

    From a pristine folder (a homework copy), the hints file it carries.
    """
    if solutions.name == PRISTINE:
        path = solutions / HINTS
        return json.loads(path.read_text()) if path.exists() else {}
    collected = {}
    for path in solution_files(solutions):
        if path.suffix != ".py":
            continue
        rel = path.relative_to(solutions).as_posix()
        found = extract_hints(path.read_text(), str(path.relative_to(solutions.parent)))
        if found:
            collected[rel] = found
    return collected


def hints_text(hints: dict) -> str:
    return json.dumps(hints, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def sync_hints(solutions: Path, exercises: Path, check: bool = False) -> bool:
    """Write ``exercises/.hints.json`` (with ``check``: compare only); True if it differed."""
    path = exercises / HINTS
    text = hints_text(collect_hints(solutions))
    current = path.read_text() if path.exists() else None
    if current == text:
        return False
    if not check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return True


def source_dir(root: Path = ROOT) -> Path:
    """Where stubs come from: ``solutions/``, or in a homework copy ``kata/pristine/``."""
    solutions = root / "solutions"
    return solutions if solutions.is_dir() else root / "kata" / PRISTINE


def select_files(names: list[str], solutions: Path = ROOT / "solutions") -> set[str]:
    """The solution files (relative paths) that a learner's names mean.

    ``q08``, ``8``, ``q08_convolution``, ``exercises/q08_convolution.py`` name a question (all
    its files); ``q19_lunar_lander/blocks.py`` names one file of a package question. Raises
    StubError, listing what exists, for a name that matches nothing.
    """
    files = [p.relative_to(solutions).as_posix() for p in solution_files(solutions)]
    questions = sorted({rel.split("/")[0].removesuffix(".py") for rel in files})
    chosen: set[str] = set()
    for name in names:
        found = naming.parse_reference(name, questions)
        if found is not None:
            question, inner = found
            matches = [
                rel
                for rel in files
                if rel.split("/")[0].removesuffix(".py") == question
                and (inner is None or rel == f"{question}/{inner}")
            ]
            if matches:
                chosen.update(matches)
                continue
        listing = "\n  ".join(
            questions + [rel for rel in files if "/" in rel and not rel.endswith("__init__.py")]
        )
        raise StubError(
            f"no question or file called {name!r}. Name a question (q08, 8, q08_convolution or "
            f"exercises/q08_convolution.py) or a file of a package question:\n  {listing}"
        )
    return chosen


def export_pristine(out: Path, solutions: Path = ROOT / "solutions") -> Path:
    """Pristine stubs in a fresh folder ``out`` (made a package), for the integrity check."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    init = solutions.parent / "exercises" / "__init__.py"
    if solutions.name == PRISTINE:
        init = solutions / "__init__.py"
    (out / "__init__.py").write_text(init.read_text() if init.exists() else "")
    generate(solutions, out, force=True)
    sync_hints(solutions, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kata.stubs", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "questions",
        nargs="*",
        help="only these questions or files (q08, 8, q08_convolution, "
        "exercises/q08_convolution.py, q19_lunar_lander/blocks.py)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help=f"overwrite the named exercises even if you changed them (a copy goes to {BACKUPS}/)",
    )
    parser.add_argument("--all", action="store_true", help="with --force: every question")
    parser.add_argument("--check", action="store_true", help="only check exercises/ is in sync")
    parser.add_argument("--out", type=Path, help="write pristine stubs into this folder")
    args = parser.parse_args(argv)
    source = source_dir()
    if not source.is_dir():
        print(
            "error: neither solutions/ nor kata/pristine/ is here: nothing to make stubs from",
            file=sys.stderr,
        )
        return 2
    try:
        if args.out:
            export_pristine(args.out, source)
            print(f"pristine stubs written to {args.out}")
            return 0
        if args.force and not args.questions and not args.all:
            print(
                "error: --force overwrites your work: name what to restore (e.g. `--force q08`), "
                "or add --all to restore every question. Changed files are copied to "
                f"{BACKUPS}/ first.",
                file=sys.stderr,
            )
            return 2
        only = select_files(args.questions, source) if args.questions else None
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        report = generate(
            source,
            force=args.force,
            check=args.check,
            only=only,
            backup=ROOT / BACKUPS / stamp,
        )
        if sync_hints(source, ROOT / "exercises", check=args.check):
            (report.differ if args.check else report.written).append(HINTS)
    except (StubError, FenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if report.differ:
            where = source.relative_to(ROOT).as_posix()
            print(f"exercises/ is out of sync with {where}/; run `python -m kata.stubs`:")
            for rel in report.differ:
                print(f"  exercises/{rel}")
            return 1
        where = source.relative_to(ROOT).as_posix()
        print(f"exercises/ is in sync with {where}/ ({len(report.unchanged)} files)")
        return 0
    for rel, saved in report.backed_up:
        print(f"backed up exercises/{rel} to {saved.relative_to(ROOT)}")
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

"""The instructor's proofs that no answer leaves the kata (the learner never runs them).

- ``solution_leaks``: no solution region (its code, hints and stub lines aside) in a copy;
- ``key_leaks``: no line of a ``# BEGIN EXAM KEY`` region of the tests, and no such fence, in
  the students' copy;
- ``hint_problems``: no hint gives an answer away (a number the tests expect that the task does
  not show, or a run of the solution's code).

``kata.export`` refuses to write a copy that fails the first two; ``python -m kata.integrity``
runs all three. The regions are read by ``kata.fences``.
"""

from __future__ import annotations

import ast
import operator
import re
from pathlib import Path

from kata import fences, naming
from kata.hints import load_hints
from kata.stubs import make_stub, solution_files


def _normal(line: str) -> str:
    return " ".join(line.split())


def _texts(out: Path) -> dict[str, list[str]]:
    """{file relative to ``out``: its lines} of every text file of a copy (``.git`` aside)."""
    texts = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and ".git" not in path.relative_to(out).parts:
            try:
                texts[path.relative_to(out).as_posix()] = path.read_text().splitlines()
            except (UnicodeDecodeError, OSError):
                continue
    return texts


# --- the proof that no key left ----------------------------------------------------------------


def key_regions(tests: Path) -> list[tuple[str, int, list[str]]]:
    """(file, first line, lines) of every ``# BEGIN EXAM KEY`` region of the test modules:
    what it holds apart from comments, blanks, its stub lines and lines of brackets only."""
    regions = []
    for path in sorted(tests.rglob("*.py")):
        name = str(path.relative_to(tests.parent))
        for region in fences.parse(path.read_text(), name, fences.EXAM_KEY).regions:
            lines = [_normal(line) for line in region.code if re.search(r"\w", line)]
            regions.append((name, region.begin, lines))
    return regions


def key_leaks(out: Path, tests: Path) -> list[str]:
    """Where the students' copy ``out`` holds a line of a key region of ``tests``, or a fence
    itself; [] if nowhere. A line that also occurs outside every key region of the kata
    (a line anyone can read anyway) does not count."""
    texts = _texts(out)
    regions = key_regions(tests)
    inside = {line for _, _, lines in regions for line in lines}
    outside = set()
    root = tests.parent
    for folder in ("tests", "kata", "exercises"):
        for path in (root / folder).rglob("*.py"):
            if path.is_relative_to(root / "kata" / "tests"):
                continue
            text = path.read_text()
            if folder == "tests":
                text = fences.parse(text, str(path), fences.EXAM_KEY).replace()[0]
            outside.update(_normal(line) for line in text.splitlines())
    telling = inside - outside
    leaks = []
    fence = fences.EXAM_KEY
    for name, lines in texts.items():
        for number, line in enumerate(lines, start=1):
            if fence.begin.match(line) or fence.end.match(line):
                leaks.append(f"{name}:{number}: an EXAM KEY fence")
            elif _normal(line) in telling:
                where = next(f"{f}:{s}" for f, s, ls in regions if _normal(line) in ls)
                leaks.append(f"{name}:{number}: a line of the key region of {where}")
    return sorted(set(leaks))


# --- the proof that no solution left ----------------------------------------------------------


def solution_regions(solutions: Path) -> list[tuple[str, int, list[str]]]:
    """(file, first line, code lines) of every solution region, comments and blanks left out.

    The hint and stub lines of a region are left out too: they are meant for the learner.
    """
    regions = []
    for path in solution_files(solutions):
        if path.suffix != ".py":
            continue
        name = str(path.relative_to(solutions.parent))
        for region in fences.parse(path.read_text(), name).regions:
            if region.code:
                regions.append((name, region.begin, [_normal(line) for line in region.code]))
    return regions


def solution_leaks(out: Path, solutions: Path, min_line: int = 40) -> list[str]:
    """Where the export holds a solution region (or a long, telling line of one); [] if nowhere.

    A region counts as present when its code lines follow each other in some file (whitespace
    aside); a single line when it is at least ``min_line`` characters long and occurs nowhere
    outside the solution regions of the kata (so a given line the stub keeps does not count).
    """
    texts = {name: [_normal(line) for line in lines] for name, lines in _texts(out).items()}
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


# --- no hint gives an answer away -------------------------------------------------------------

_NUMBER = re.compile(r"(?<![\w.^_])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w^])")
_TOKEN = re.compile(r"\w+|[^\w\s]")
CODE_RUN = 5
"""A hint must not share this many consecutive tokens with a line of its solution's code."""


def numbers_in(text: str) -> set[float]:
    """Every number written in ``text`` (``2,048`` counts as 2048), as an absolute value."""
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    found = set()
    for match in _NUMBER.finditer(text):
        try:
            found.add(abs(float(match.group())))
        except ValueError:
            continue
    return found


def _constant_values(tree) -> set[float]:
    """The numbers of module-level constants: literals, and arithmetic on literals evaluated."""
    ops = {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv,
        ast.Pow: operator.pow,
    }
    found: set[float] = set()

    def value(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            if not isinstance(node.value, bool):
                found.add(abs(float(node.value)))
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = value(node.operand)
            return None if inner is None else -inner
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            left, right = value(node.left), value(node.right)
            if left is None or right is None:
                return None
            try:
                result = ops[type(node.op)](left, right)
            except (ArithmeticError, ValueError, OverflowError):
                return None
            if isinstance(result, (int, float)) and abs(result) < 1e12:
                found.add(abs(float(result)))
                return result
            return None
        for child in ast.iter_child_nodes(node):
            value(child)
        return None

    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            value(node.value)
    return found


def _code_runs(line: str) -> set[tuple[str, ...]]:
    tokens = _TOKEN.findall(line)
    return {
        tuple(tokens[i : i + CODE_RUN])
        for i in range(len(tokens) - CODE_RUN + 1)
        if not all(t.isalnum() or t == "_" for t in tokens[i : i + CODE_RUN])  # code, not prose
    }


def hint_problems(root: Path) -> list[str]:
    """Hints that give an answer away: a number the tests expect that the task does not show,
    or a run of the solution's code that the stub does not show. [] if none."""
    solutions, tests = root / "solutions", root / "tests"
    regions_by_file: dict[str, list[str]] = {}
    for file, _, code in solution_regions(solutions):
        regions_by_file.setdefault(file, []).extend(code)
    problems = []
    for rel, functions in sorted(load_hints(root).items()):
        path = solutions / rel
        if not path.exists():
            problems.append(f"hints for {rel}, which has no solution file")
            continue
        source = path.read_text()
        shown = make_stub(source, f"solutions/{rel}")
        question = naming.question_of_name(Path(rel).parts[0].removesuffix(".py"))
        expected = set()
        for test in naming.test_files(tests, question) if question else []:
            expected |= _constant_values(ast.parse(test.read_text()))
        code = regions_by_file.get(f"solutions/{rel}", [])
        for line in code:
            expected |= numbers_in(line)
        answers = expected - numbers_in(shown)
        shown_runs = set().union(*(_code_runs(line) for line in shown.splitlines()))
        code_runs = set().union(*(_code_runs(line) for line in code)) - shown_runs
        for name, hints in functions.items():
            for index, hint in enumerate(hints, start=1):
                where = f"{rel}, {name}, hint {index}"
                leaked = sorted(n for n in numbers_in(hint) if n in answers)
                if leaked:
                    problems.append(
                        f"{where} says {', '.join(f'{n:g}' for n in leaked)}: a number the "
                        "tests expect (or the solution computes with) that the task does not show"
                    )
                runs = code_runs & _code_runs(hint)
                if runs:
                    problems.append(
                        f"{where} quotes the solution's code: {' '.join(sorted(runs)[0])}"
                    )
    return problems

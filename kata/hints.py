"""Graded hints: a nudge for each function whose tests fail, one more each time it is asked for.

The hints live in the solution files, next to the function they help with (``# HINT:`` lines
inside its region, see ``kata/stubs.py``); ``python -m kata.stubs`` collects them into
``exercises/.hints.json``. ``pytest exercises/q08_convolution.py --hint`` then shows, for every
function that a failing test exercised, the first hint not yet shown; ``--hint=all`` shows all
of them. What was shown is remembered per learner in ``.kata/hints.json`` (ignored by git).

Which function a failing test is about: the learner's function where the error was raised, or
else the functions of the module under test that the test used.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from kata import naming
from kata.stubs import HINTS, PRISTINE

STATE = Path(".kata") / "hints.json"
"""What each learner has been shown, relative to the repository's root."""
MODES = ("next", "all")


def load_hints(rootpath: Path) -> dict[str, dict[str, list[str]]]:
    """{question file: {function: [hint, ...]}} from ``exercises/.hints.json`` (or a copy's)."""
    for path in (rootpath / "exercises" / HINTS, rootpath / "kata" / PRISTINE / HINTS):
        if path.exists():
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError):
                return {}
    return {}


def file_key(path: Path, target_dir: Path, tests_dir: Path) -> str | None:
    """The hints' name for a file under test: its question's usual name, whatever it is called.

    ``exercises/q08_backup.py`` -> ``q08_convolution.py``; ``exercises/q19_x/dqn.py`` ->
    ``q19_lunar_lander/dqn.py``; None for a file outside the target folder.
    """
    try:
        rel = Path(path).resolve().relative_to(target_dir)
    except ValueError:
        return None
    match = naming.BELONGS.match(rel.parts[0]) if rel.parts else None
    if not match:
        return None
    usual = naming.canonical_name(tests_dir, int(match["number"]))
    if usual is None:
        return None
    if len(rel.parts) == 1:
        return f"{usual}.py"
    return "/".join((usual, *rel.parts[1:]))


class HintBook:
    """The controller's side: which functions failed, and which hints to show now."""

    def __init__(self, rootpath: Path, mode: str | None):
        self.rootpath = rootpath
        self.mode = mode
        self.hints = load_hints(rootpath)
        self.failing: list[tuple[str, str]] = []  # (file, function), first failure first

    def add(self, functions) -> None:
        for file, name in functions or ():
            known = self.hints.get(file, {})
            while name not in known and "." in name:  # a nested function without hints of
                name = name.rsplit(".", 1)[0]  # its own: the hints of the one around it
            key = (file, name)
            if key not in self.failing and known.get(name):
                self.failing.append(key)

    def state_path(self) -> Path:
        return self.rootpath / STATE

    def load_state(self) -> dict[str, int]:
        try:
            return dict(json.loads(self.state_path().read_text()).get("shown", {}))
        except (OSError, ValueError, AttributeError):
            return {}

    def save_state(self, shown: dict[str, int]) -> None:
        path = self.state_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"shown": shown}, indent=1, sort_keys=True) + "\n")
        except OSError:
            pass  # a read-only tree: the hints are shown, just not remembered

    def lines(self) -> list[str]:
        """What to print before the score: the hints asked for, or how to ask for them."""
        if not self.failing:
            return []
        if self.mode is None:
            names = ", ".join(f"`{name}`" for _, name in self.failing[:4])
            more = ", ..." if len(self.failing) > 4 else ""
            return [f"stuck? add --hint for a nudge on {names}{more}"]
        shown = self.load_state()
        out: list[str] = []
        for file, name in self.failing:
            hints = self.hints[file][name]
            key = f"{file}::{name}"
            seen = min(shown.get(key, 0), len(hints))
            if self.mode == "all":
                picked = list(range(len(hints)))
            elif seen < len(hints):
                picked = [seen]
            else:
                out.append(
                    f"{file}, {name}: all {len(hints)} hints shown already; --hint=all shows "
                    "them again"
                )
                continue
            for index in picked:
                out.append(f"{file}, {name}: hint {index + 1} of {len(hints)}")
                out += textwrap.wrap(
                    hints[index], width=96, initial_indent="    ", subsequent_indent="    "
                )
            shown[key] = max(seen, picked[-1] + 1)
        self.save_state(shown)
        return out

    def write(self, terminalreporter) -> None:
        lines = self.lines()
        if not lines:
            return
        if self.mode is None:
            for line in lines:
                terminalreporter.write_line(line)
            return
        terminalreporter.write_sep("=", "hints")
        for line in lines:
            terminalreporter.write_line(line)


# --- the instructor's check: no hint gives an answer away ------------------------------------

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
    import ast
    import operator

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
    import ast

    from kata.export import solution_regions
    from kata.stubs import make_stub

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

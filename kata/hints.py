"""Graded hints: a nudge for each function whose tests fail, one more each time it is asked for.

The hints live in the solution files, next to the function they help with (``# HINT:`` lines
inside its region, see ``kata/fences.py``); ``python -m kata.stubs`` collects them into
``exercises/.hints.json``. ``pytest exercises/q08_convolution.py --hint`` then shows, for every
function that a failing test exercised, the first hint not yet shown; ``--hint=all`` shows all
of them. What was shown is remembered per learner in ``.kata/hints.json`` (ignored by git).

Which function a failing test is about: the learner's function where the error was raised, or
else the functions of the module under test that the test used. (The instructor's check that no
hint gives an answer away is ``kata.leaks.hint_problems``.)
"""

from __future__ import annotations

import json
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
            # several questions' `ANSWERS` are one name on this line: each once, in order
            distinct = list(dict.fromkeys(name for _, name in self.failing))
            names = ", ".join(f"`{name}`" for name in distinct[:4])
            more = ", ..." if len(distinct) > 4 else ""
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

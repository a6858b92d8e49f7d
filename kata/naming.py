"""The kata's one naming rule: question NN lives in ``qNN_topic.py`` (or the package ``qNN_topic/``)
in ``solutions/`` and ``exercises/``, and its tests in ``tests/test_qNN_topic.py`` (more test
modules may follow: ``tests/test_qNN_topic_*.py``). The plugin, the score and the stub generator
all ask this module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

QUESTION = re.compile(r"^q(?P<number>\d\d)_(?P<topic>[A-Za-z0-9_]+)$")
"""A question's module or package name, e.g. ``q08_convolution``."""
TEST_FILE = re.compile(r"^test_q(?P<number>\d\d)_\w+\.py$")
"""A question's test module, e.g. ``test_q08_convolution.py``."""
BELONGS = re.compile(r"^q(?P<number>\d\d)(?!\d)")
"""Any file a learner made for a question, e.g. ``q08_backup.py`` or ``q08_convolution copy.py``."""
TARGET_NAMES = ("exercises", "solutions")
"""The two target folders of the repository."""


def stem(path: Path) -> str:
    """``q08_convolution.py`` -> ``q08_convolution``; a package keeps its name."""
    return path.name.removesuffix(".py") if path.suffix == ".py" else path.name


def question_of_name(name: str) -> int | None:
    """The question number of a module or package name (``q08_convolution``), else None."""
    match = QUESTION.match(name.removesuffix(".py"))
    return int(match["number"]) if match else None


def question_of_test_file(path: Path) -> int | None:
    """The question number of a kata test module (``tests/test_q08_convolution.py``), else None."""
    match = TEST_FILE.match(Path(path).name)
    return int(match["number"]) if match else None


def test_files(tests_dir: Path, number: int) -> list[Path]:
    """The test modules of question ``number``, canonical (shortest name) first."""
    found = tests_dir.glob(f"test_q{number:02d}_*.py")
    return sorted(found, key=lambda p: (len(p.name), p.name))


def canonical_name(tests_dir: Path, number: int) -> str | None:
    """The module name the kata expects for question ``number``, from its first test module."""
    files = test_files(tests_dir, number)
    return files[0].name.removeprefix("test_").removesuffix(".py") if files else None


def is_question_file(path: Path) -> bool:
    """A module ``qNN_x.py`` or a package ``qNN_x/`` (with ``__init__.py``)."""
    if path.name.startswith("."):
        return False
    if path.is_dir():
        return (path / "__init__.py").exists()
    return path.suffix == ".py"


def candidates(target_dir: Path, number: int) -> list[Path]:
    """Every file or package in ``target_dir`` that belongs to question ``number``."""
    found = []
    for path in sorted(target_dir.iterdir()) if target_dir.is_dir() else []:
        match = BELONGS.match(path.name)
        if match and int(match["number"]) == number and is_question_file(path):
            found.append(path)
    return found


def test_names(path: Path) -> list[str]:
    """The names of the test functions defined in a test module (without running it): each
    ``def test_...`` and each ``test_... = ...`` (a test made by a function, such as
    ``kata.statements.statement_test``)."""
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError):
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return [name for name in names if name.startswith("test_")]


def parse_reference(text: str, known: list[str]) -> tuple[str, str | None] | None:
    """Which question (and which file of a package question) a learner's words name.

    ``known`` are the question names (``q08_convolution``, ``q19_lunar_lander``). Accepted:
    ``q08``, ``8``, ``08``, ``q08_convolution``, ``q08_convolution.py``,
    ``exercises/q08_convolution.py``, ``q19_lunar_lander/blocks.py``. Returns (question name,
    file inside a package or None), or None if nothing matches.
    """
    parts = [p for p in Path(text.strip()).parts if p not in (".", "")]
    if parts and parts[0] in TARGET_NAMES:
        parts = parts[1:]
    if not parts:
        return None
    head, rest = parts[0], "/".join(parts[1:]) or None
    number = None
    if head.isdigit():
        number = int(head)
    elif re.fullmatch(r"q\d\d?", head):
        number = int(head[1:])
    for name in known:
        same_number = number is not None and name[1:3] == f"{number:02d}"
        if head.removesuffix(".py") == name or same_number:
            return name, rest
    return None

"""Fences: the regions of a file that a copy for learners or students must not hold.

Two kinds, one grammar. A solution file fences the code a learner writes; a test module fences
an answer key (what it compares an answer with):

    # BEGIN SOLUTION: what to implement          # BEGIN EXAM KEY: worked out by hand
    # HINT: a nudge first                        EXAM_TOTAL = 1475
    #   (continued, indented two more)           # STUB: EXAM_TOTAL = None
    ...the code...                               # END EXAM KEY
    # STUB: what the stub holds instead
    # END SOLUTION

A region's *label* is the text after the colon; its *stub lines* (``# STUB: code``) are what the
copy holds instead of the region, at the indentation of the ``BEGIN`` line (a solution region
without stub lines becomes ``raise NotImplementedError("label")``, a key region nothing); its
*hints* (``# HINT:``) are the graded hints of the function that owns it; its *code* is every
line that is neither blank nor a comment. Fences do not nest. Every problem with them is a
``FenceError`` naming the file and the line.

``parse`` reads a file; ``Fenced.replace`` writes the copy (``kata.stubs`` makes the stubs with
it, ``kata.export`` the students' tests) and ``Fenced.names`` says whom a region's hints belong
to. ``kata.leaks`` proves that no region reached a copy.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

STUB = re.compile(r"^[ \t]*# STUB:(?: (?P<code>.*))?$")
HINT = re.compile(r"^[ \t]*# HINT:[ \t]*(?P<text>.*?)[ \t]*$")
HINT_MORE = re.compile(r"^[ \t]*#[ \t]{2,}(?P<text>\S.*?)[ \t]*$")


@dataclass(frozen=True)
class Kind:
    """A kind of fence: its word (``SOLUTION``, ``EXAM KEY``) and its two fence lines."""

    word: str
    begin: re.Pattern[str]
    end: re.Pattern[str]
    raises: bool
    """Whether a region without stub lines becomes ``raise NotImplementedError(label)``."""


SOLUTION = Kind(
    "SOLUTION",
    re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::[ \t]*(?P<label>.*?))?[ \t]*$"),
    re.compile(r"^[ \t]*# END SOLUTION[ \t]*$"),
    raises=True,
)
EXAM_KEY = Kind(
    "EXAM KEY",
    # anything may follow the words: a line that looks like a fence is one (and a leak if copied)
    re.compile(r"^(?P<indent>[ \t]*)# BEGIN EXAM KEY\b:?[ \t]*(?P<label>.*?)[ \t]*$"),
    re.compile(r"^[ \t]*# END EXAM KEY[ \t]*$"),
    raises=False,
)
BEGIN, END = SOLUTION.begin, SOLUTION.end


class FenceError(ValueError):
    """A file whose fences cannot be read, or whose regions make no valid copy."""

    def __init__(self, filename: str, line: int | None, message: str):
        self.filename, self.line, self.message = filename, line, message
        super().__init__(f"{filename}:{line}: {message}" if line else f"{filename}: {message}")


@dataclass
class Region:
    """One fenced region of a file."""

    kind: Kind
    begin: int
    """The line number of the ``BEGIN`` fence (the first line is 1)."""
    end: int
    """The line number of the ``END`` fence."""
    indent: str
    """The indentation of the ``BEGIN`` line."""
    label: str | None
    """The text after ``BEGIN ...:``, None if there is none."""
    stub: list[str] = field(default_factory=list)
    """The code of its ``# STUB:`` lines, without their indentation."""
    hints: list[str] = field(default_factory=list)
    """Its ``# HINT:`` texts, each with its continuation lines joined by spaces."""
    code: list[str] = field(default_factory=list)
    """Its lines that are neither blank nor comments, as written (line endings aside)."""

    def replacement(self) -> list[str]:
        """The lines a copy holds instead of the region."""
        if self.stub:
            return [f"{self.indent}{code}\n" for code in self.stub]
        if self.kind.raises:
            task = json.dumps(self.label or "implement this")
            return [f"{self.indent}raise NotImplementedError({task})\n"]
        return []


@dataclass
class Fenced:
    """A file read by ``parse``: its lines outside the regions and its regions, in file order."""

    text: str
    filename: str
    parts: list[str | Region]
    """Each line outside the regions (with its line ending), and each region, in file order."""
    _tree: ast.Module | None = field(default=None, repr=False)

    @property
    def regions(self) -> list[Region]:
        return [part for part in self.parts if isinstance(part, Region)]

    def replace(self) -> tuple[str, list[tuple[Region, int, int]]]:
        """The copy's text (each region replaced by its ``replacement``), and where each
        replacement is: (region, first line, last line) of the copy; first > last if empty."""
        out: list[str] = []
        spans = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                first = len(out) + 1
                out += part.replacement()
                spans.append((part, first, len(out)))
        return "".join(out), spans

    def names(self, region: Region) -> list[str]:
        """Whom the region's hints belong to: the function (or class) whose body holds it,
        qualified (``Agent.act``, a nested function ``make_act.act``); for a module-level
        region every name it assigns (``ANSWERS``; ``PROBLEM`` and ``CAUSE`` when one region
        sets both), or ``<module>`` if it assigns none. The file must be valid Python."""
        if self._tree is None:
            self._tree = ast.parse(self.text, self.filename)
        inside = [
            (first, last, name)
            for first, last, name in _definitions(self._tree)
            if first < region.begin <= last
        ]
        if inside:
            return [max(inside)[2]]  # the innermost: the one that starts last
        names = []
        for node in self._tree.body:
            if region.begin < node.lineno < region.end and isinstance(
                node, (ast.Assign, ast.AnnAssign)
            ):
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                if isinstance(target, ast.Name):
                    names.append(target.id)
        return names or ["<module>"]


def parse(text: str, filename: str = "<solution>", kind: Kind = SOLUTION) -> Fenced:
    """Read the fences of one kind in a file's text.

    Raises FenceError for a ``BEGIN`` inside a region, an ``END`` without ``BEGIN``, a region
    that is never closed, and an empty hint.
    """
    parts: list[str | Region] = []
    region: Region | None = None
    hint: list[str] | None = None  # the hint being read, continued by indented comments
    hints: list[list[str]] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        bare = line.rstrip("\n")
        begin = kind.begin.match(bare)
        if begin:
            if region is not None:
                raise FenceError(filename, number, f"BEGIN {kind.word} inside another region")
            region = Region(kind, number, number, begin["indent"], begin["label"])
            hint, hints = None, []
        elif kind.end.match(bare):
            if region is None:
                raise FenceError(filename, number, f"END {kind.word} without BEGIN {kind.word}")
            region.end = number
            region.hints = [" ".join(parts) for parts in hints]
            parts.append(region)
            region = None
        elif region is None:
            parts.append(line)
        else:
            found, more, stub = HINT.match(bare), HINT_MORE.match(bare), STUB.match(bare)
            if found:
                if not found["text"]:
                    raise FenceError(filename, number, "an empty hint")
                hint = [found["text"]]
                hints.append(hint)
            elif more and hint is not None:
                hint.append(more["text"])
            else:
                hint = None
            if stub:
                region.stub.append(stub["code"] or "")
            stripped = bare.strip()
            if stripped and not stripped.startswith("#"):
                region.code.append(bare)
    if region is not None:
        raise FenceError(filename, region.begin, f"BEGIN {kind.word} is never closed")
    return Fenced(text, filename, parts)


def _definitions(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function and class of a module."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                found.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".")

    visit(tree, "")
    return found

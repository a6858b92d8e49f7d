"""A student's submission as the grader meets it: where its questions are, a safe copy of it,
and a static scan for code that reaches into the grading (a note for review, never a grade).
"""

from __future__ import annotations

import ast
import os
import shutil
import stat
from pathlib import Path

from kata import naming

MAX_COPY_MB = 64
"""A submission larger than this is not copied further (the rest counts as missing)."""
MAX_FILES = 5000


def find_exercises(folder: Path) -> Path | None:
    """The folder of question files in a submission: ``exercises/`` of a clone, or itself."""
    inner = folder / "exercises"
    for candidate in (inner, folder):
        if (
            candidate.is_dir()
            and not candidate.is_symlink()
            and any(
                naming.BELONGS.match(p.name)
                for p in candidate.iterdir()
                if not p.name.startswith(".")
            )
        ):
            return candidate
    return None


def check_files(exercises: Path, expected: dict[int, str]) -> list[str]:
    """Notes on missing and unreadable question files (the run scores them 0 all the same)."""
    notes = []
    for name in expected.values():
        path = exercises / name.rstrip("/")
        if not path.exists():
            notes.append(f"missing {name}")
            continue
        for file in [path] if path.is_file() else sorted(path.rglob("*.py")):
            try:
                file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                rel = file.relative_to(exercises).as_posix()
                notes.append(f"cannot read {rel}: {type(error).__name__}: {error}"[:200])
    return notes


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def copy_submission(source: Path, dest: Path) -> list[str]:
    """Copy a student's question files; links are followed only where they stay inside.

    A link that leads outside ``source`` (to the reference, to a classmate, to ``/etc``) is
    refused, and so are devices, pipes and sockets: the file counts as missing, with a note.
    """
    notes: list[str] = []
    top = source.resolve()
    budget = {"bytes": MAX_COPY_MB * 2**20, "files": MAX_FILES}

    def refuse(rel: str, why: str) -> None:
        notes.append(f"refused {rel}: {why}")

    def copy_dir(folder: Path, out: Path, depth: int) -> None:
        out.mkdir(parents=True, exist_ok=True)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as error:
            refuse(folder.relative_to(source).as_posix(), f"cannot be read ({error})")
            return
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name == "__pycache__" or name.endswith(".pyc"):
                continue
            path = Path(entry.path)
            rel = path.relative_to(source).as_posix()
            if entry.is_symlink():
                try:
                    real = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    refuse(rel, "a link that leads nowhere")
                    continue
                if not _inside(real, top):
                    refuse(rel, "a link to a place outside the submission")
                    continue
                if real.is_dir():
                    refuse(rel, "a link to a folder (copy the folder itself)")
                    continue
            try:
                info = path.stat()
            except OSError as error:
                refuse(rel, f"cannot be read ({error})")
                continue
            if stat.S_ISDIR(info.st_mode):
                if depth >= 8:
                    refuse(rel, "folders nested too deep")
                    continue
                copy_dir(path, out / name, depth + 1)
            elif stat.S_ISREG(info.st_mode):
                if budget["files"] <= 0 or info.st_size > budget["bytes"]:
                    refuse(rel, f"the submission is larger than {MAX_COPY_MB} MB or files")
                    continue
                budget["files"] -= 1
                budget["bytes"] -= info.st_size
                try:
                    shutil.copyfile(path, out / name, follow_symlinks=True)
                except OSError as error:
                    refuse(rel, f"cannot be read ({error})")
            else:
                refuse(rel, "not a regular file")

    copy_dir(source, dest, 0)
    return notes


SUSPECT_MODULES = {
    "pytest": "imports pytest",
    "_pytest": "imports pytest's internals",
    "pluggy": "imports pytest's plugin system",
    "xdist": "imports pytest-xdist",
    "execnet": "imports execnet",
    "kata": "imports the kata's own code",
    "solutions": "imports the reference solutions",
    "tests": "imports the kata's tests",
    "gc": "imports gc (walks the interpreter's objects)",
    "ctypes": "imports ctypes",
    "inspect": None,  # common and harmless; its stack walking is what counts (below)
}
SUSPECT_CALLS = {
    "os.fork": "forks", "os.forkpty": "forks", "os.setsid": "starts a session",
    "os.kill": "sends signals", "os.killpg": "sends signals",
    "sys._getframe": "reads the interpreter's frames",
    "inspect.stack": "reads the caller's frames", "inspect.currentframe": "reads frames",
}  # fmt: skip
SUSPECT_TEXT = {
    "/proc": "reads /proc",
    "sys.modules": "uses sys.modules",
    "__code__": "uses __code__ (a function's code)",
    "score.json": "names the score file",
    "gradebook": "names the gradebook",
}


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def scan_source(text: str) -> list[str]:
    """What a file does that a kata answer has no need for (each finding once)."""
    found: list[str] = []

    def add(why: str) -> None:
        if why and why not in found:
            found.append(why)

    for needle, why in SUSPECT_TEXT.items():
        if needle in text:
            add(why)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(_import_finding(alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            add(_import_finding(node.module))
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in SUSPECT_CALLS:
                add(f"calls {name} ({SUSPECT_CALLS[name]})")
            if name in ("__import__", "importlib.import_module", "import_module"):
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    add(_import_finding(arg.value))
                else:
                    add("imports a module whose name is computed")
    return found


def _import_finding(module: str) -> str:
    why = SUSPECT_MODULES.get(module.split(".")[0])
    return f"imports {module} ({why.removeprefix('imports ')})" if why else ""


def static_scan(exercises: Path, pristine: Path | None = None) -> list[str]:
    """``review`` notes: which file does what a kata answer never needs.

    What the pristine stub of the same file does already (``pristine``: the stubs every student
    got, e.g. a demo's ``from kata.demo import run``) is not the student's doing: left out.
    """
    notes = []
    for path in sorted(exercises.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        rel = path.relative_to(exercises).as_posix()
        given = pristine / rel if pristine is not None else None
        known = set()
        if given is not None and given.is_file():
            known = set(scan_source(given.read_text(encoding="utf-8", errors="replace")))
        findings = [f for f in scan_source(text) if f not in known]
        if findings:
            notes.append(f"review {rel}: {', '.join(findings)}")
    return notes

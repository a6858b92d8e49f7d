"""Where things are: the repository's root, and paths as the kata shows them to a learner."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The repository (or the homework copy) this ``kata/`` package belongs to."""


def inside(path: Path | str, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies somewhere under it (no file system access)."""
    path = Path(path)
    return path == folder or folder in path.parents


def relative(path: Path | str, base: Path) -> str:
    """``path`` relative to ``base`` when it is inside it, else absolute."""
    try:
        return Path(path).relative_to(base).as_posix() or "."
    except ValueError:
        return str(path)


def as_typed(path: Path, where: Path) -> str:
    """``path`` as a learner types it in the folder ``where`` (at most one ``..`` up)."""
    try:
        rel = os.path.relpath(path, where)
    except ValueError:  # another drive
        return str(path)
    return str(path) if rel.startswith(os.path.join(os.pardir, os.pardir)) else rel

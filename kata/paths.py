"""Where things are: the repository's root, and paths as the kata shows them to a learner."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
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


def copy_parts(root: Path, out: Path, names: Iterable[str], *skip: str) -> None:
    """Copy each of ``names`` (a file or a folder of ``root``) into ``out``, without caches,
    compiled files, ``node_modules`` and what the patterns ``skip`` match; a missing one is
    passed over."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", *skip)
    for name in names:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, out / name)

"""The gradebook: rows written as soon as they are graded (CSV and JSON, atomically), each signed
with a key that the grader keeps outside the class folder, so that a rerun trusts only the rows
it wrote itself.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

GRADEBOOK_VERSION = 1
SCHEMA = Path(__file__).with_name("gradebook.schema.json")
"""The shape of gradebook.json, a contract like the score's (``kata/score.schema.json``)."""


@dataclass
class Entry:
    """One student's row of the gradebook."""

    student: str
    status: str
    digest: str = ""
    total: float = 0.0
    possible: float = 0.0
    bonus: float = 0.0
    passed: int = 0
    failed: int = 0
    duration_s: float = 0.0
    questions: dict[str, dict] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    graded_at: str = ""
    sandbox: str = "bubblewrap"
    signature: str = ""
    reused: bool = False


def state_dir(given: Path | None = None) -> Path:
    """Where the grader keeps its signing key: never inside the class folder."""
    if given is not None:
        return given
    if os.environ.get("KATA_GRADE_STATE"):
        return Path(os.environ["KATA_GRADE_STATE"])
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "ann-exam-kata"


def signing_key(folder: Path) -> bytes:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "gradebook.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key.hex() + "\n")
        return key


def _row(entry: Entry) -> dict:
    return {k: v for k, v in vars(entry).items() if k not in ("reused", "signature")}


def sign(entry: Entry, key: bytes) -> str:
    text = json.dumps(_row(entry), sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def load_previous(path: Path) -> dict[str, dict]:
    try:
        book = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if book.get("gradebook_version") != GRADEBOOK_VERSION:
        return {}
    return {row["student"]: row for row in book.get("students", []) if "student" in row}


def write_gradebook(
    entries: list[Entry], csv_path: Path, json_path: Path, about: dict, numbers: list[int]
) -> None:
    columns = [f"q{n:02d}" for n in numbers]
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = csv_path.with_name(csv_path.name + ".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["student", "status", "total", "possible", "bonus", *columns, "tests_passed"]
            + ["tests_failed", "duration_s", "sandbox", "notes"]
        )
        for e in entries:
            points = [e.questions.get(c, {}).get("earned", "") for c in columns]
            writer.writerow(
                [e.student, e.status, e.total, e.possible, e.bonus, *points, e.passed]
                + [e.failed, e.duration_s, e.sandbox, "; ".join(e.notes)]
            )
    tmp.replace(csv_path)
    book = {
        "gradebook_version": GRADEBOOK_VERSION,
        **about,
        "students": [{k: v for k, v in vars(e).items() if k != "reused"} for e in entries],
    }
    tmp = json_path.with_name(json_path.name + ".tmp")
    tmp.write_text(json.dumps(book, indent=1) + "\n")
    tmp.replace(json_path)


def _reusable(old: dict | None, digest: str, key: bytes) -> Entry | None:
    if old is None or old.get("digest") != digest or old.get("status") == "interrupted":
        return None
    try:
        entry = Entry(**{**old, "reused": True})
    except TypeError:
        return None
    if not hmac.compare_digest(str(old.get("signature", "")), sign(entry, key)):
        return None
    return entry

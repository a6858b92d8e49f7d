"""What crosses between the process that keeps the score and the one that runs the tests.

In a learner's run the tests run in one pytest-xdist worker, and the controller keeps the score.
The worker tells the controller two things that test reports do not carry:

- how many cases each test function had before deselection (``-k``, ``-m``), once, after
  collection;
- which test hung in compiled code, just before the watchdog ends the worker.

Both go through a folder of notes (``Notes``), one file per worker. The controller tells every
new worker where that folder is and which functions hung already (``WorkerInput``). Without xdist
one process plays both roles, and the ``Runner`` and the ``Watchdog`` tell the ``Scorer``
directly. Either way they talk to a ``Controller``: the ``Scorer``, or a worker's ``ToController``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, TypedDict

from kata.hangs import REPLACED, Hang


class WorkerInput(TypedDict):
    """``workerinput["kata"]``: what the controller gives every (new) worker."""

    run_dir: str
    hangs: list[dict]
    """``Hang.to_json()`` of every function that hung so far"""


class Controller(Protocol):
    """What the side that runs the tests reports to the side that keeps the score."""

    def add_collection(self, selected: Iterable[str], seen: dict[str, int]) -> None:
        """The selected nodeids, and the cases of each ``"question::test"`` before deselection."""

    def stuck(self, nodeid: str, hang: Hang) -> None:
        """A test hangs in compiled code; this process ends right after."""


class Notes:
    """The controller's folder of notes from its workers (a temporary folder per run)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _path(self, kind: str, worker_id: str) -> Path:
        return self.folder / f"{kind}-{worker_id}.json"

    def write(self, kind: str, worker_id: str, data: dict) -> None:
        self._path(kind, worker_id).write_text(json.dumps(data))

    def take(self, kind: str, worker_id: str, keep: bool = False) -> dict | None:
        """The note ``kind`` of a worker (and delete it unless ``keep``), or None."""
        path = self._path(kind, worker_id)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        if not keep:
            path.unlink()
        return data


class ToController:
    """A worker's ``Controller``: notes in the controller's folder."""

    def __init__(self, notes: Notes, worker_id: str):
        self.notes = notes
        self.worker_id = worker_id

    def add_collection(self, selected: Iterable[str], seen: dict[str, int]) -> None:
        self.notes.write("collection", self.worker_id, {"seen": seen})

    def stuck(self, nodeid: str, hang: Hang) -> None:
        hang.message += REPLACED  # the controller starts a new worker: the run goes on
        self.notes.write("crash", self.worker_id, hang.to_json())

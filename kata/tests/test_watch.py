"""Watch mode as a learner meets it: `ptw exercises/` runs the tests, a save runs them again.

pytest-watcher reads its settings from ``[tool.pytest-watcher]`` in pyproject.toml. The fake
kata gets the real kata's table, then a real ``ptw`` process watches it while the test saves a
question file, as an editor would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kata.tests.conftest import REPO, clean_env

pytestmark = pytest.mark.timeout(300)

BANNER = "exam score"
"""The kata prints its score table after every run: one banner, one run."""


def watcher_table() -> str:
    text = (REPO / "pyproject.toml").read_text()
    start = text.index("[tool.pytest-watcher]")
    end = text.find("\n[", start + 1)
    return text[start : end + 1 if end != -1 else len(text)]


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


PTW = Path(sys.executable).with_name("ptw")
PTW = str(PTW) if PTW.exists() else shutil.which("ptw")


@pytest.mark.skipif(PTW is None, reason="pytest-watcher is not installed (pip install -e .[dev])")
def test_saving_a_question_file_runs_the_tests_again(fake_kata, tmp_path):
    with (fake_kata / "pyproject.toml").open("a") as handle:
        handle.write("\n" + watcher_table())
    log = tmp_path / "ptw.log"
    with log.open("w") as out:
        watcher = subprocess.Popen(
            [PTW, "--delay", "0.2", "exercises/"],
            cwd=fake_kata,
            env=clean_env(PYTHONPATH=str(fake_kata)),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        runs = lambda: log.read_text(errors="replace").count(BANNER)
        assert wait_for(lambda: runs() >= 1, 120), "ptw did not run the tests at start:\n" + (
            log.read_text()
        )
        time.sleep(1.0)  # the observer is up once the first run has ended
        question = fake_kata / "exercises" / "q12_params.py"
        question.write_text(question.read_text() + "\n# saved by the editor\n")
        assert wait_for(lambda: runs() >= 2, 120), (
            "saved exercises/q12_params.py, and ptw did not run the tests again; its output:\n"
            + log.read_text()
        )
    finally:
        watcher.terminate()
        try:
            watcher.wait(timeout=10)
        except subprocess.TimeoutExpired:
            watcher.kill()

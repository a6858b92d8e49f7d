"""What the sandbox costs: one student's grading with bubblewrap against the same without it.

    nox -s benchmarks -- -k sandbox    # or: pytest benchmarks/test_grading.py --benchmark-only -s

The student hands in the reference solutions of three questions (so that every test runs to the
end); both modes grade them with the same tests, `-k` limiting the run to those questions. The
two modes run alternately, so that a change in the machine's load touches both alike; the table
prints each mode's times and the ratio of their medians.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

import pytest

from kata import sandbox
from kata.grade import grade
from kata.stubs import ROOT

QUESTIONS = ("q01_neurons", "q08_convolution", "q12_parameters")
ROUNDS = 3


def grade_once(use_sandbox: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        room = Path(tmp) / "class"
        (room / "ann").mkdir(parents=True)
        for name in QUESTIONS:
            shutil.copyfile(ROOT / "solutions" / f"{name}.py", room / "ann" / f"{name}.py")
        (entry,) = grade(
            room,
            Path(tmp) / "gradebook.csv",
            jobs=1,
            pytest_args=["-k", " or ".join(QUESTIONS)],
            use_sandbox=use_sandbox,
            state=Path(tmp) / "state",
            log=lambda _: None,
        )
        assert entry.status == "graded" and entry.total == entry.possible > 0, entry
        return entry.duration_s


@pytest.mark.timeout(3600)
@pytest.mark.benchmark(group="grading")
@pytest.mark.skipif(sandbox.bwrap_path() is None, reason="bubblewrap is not installed")
def test_sandbox_overhead(benchmark):
    times = {True: [], False: []}

    def both():
        for mode in (False, True):
            times[mode].append(grade_once(mode))

    benchmark.pedantic(both, rounds=ROUNDS, iterations=1)
    plain, boxed = statistics.median(times[False]), statistics.median(times[True])
    print(
        f"\none student, {len(QUESTIONS)} questions solved, {ROUNDS} rounds each, alternating:"
        f"\n  without a sandbox: {', '.join(f'{t:.1f}' for t in times[False])} s"
        f"\n  with bubblewrap:   {', '.join(f'{t:.1f}' for t in times[True])} s"
        f"\n  ratio of medians (sandboxed / not): {boxed / plain:.3f}"
    )

"""How long a learner waits for one question: `pytest solutions/q08_convolution.py`.

The target (issue 15) is at most 1.2 times a bare `python -c "import tensorflow"` on the same
machine. The two are run alternately, in back-to-back pairs, so that the load of a shared
machine weighs on both alike; each pair's ratio is printed, and their median, for the wall time
and for the CPU time (user + system, of the run's processes): the CPU ratio barely moves with
the load. Printed, never asserted.
"""

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the command and its children) of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command,
        cwd=ROOT,
        check=False,
        capture_output=True,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


@pytest.mark.timeout(900)
@pytest.mark.benchmark(group="startup: one-question learner run")
def test_one_question_run_against_bare_tensorflow_import(benchmark):
    bare = [sys.executable, "-c", "import tensorflow"]
    learner = [
        sys.executable,
        "-m",
        "pytest",
        "solutions/q08_convolution.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    timed(bare)  # warm the file cache for both
    pairs = []

    def one_pair():
        run = timed(learner)
        pairs.append((run, timed(bare)))
        return run

    benchmark.pedantic(one_pair, rounds=ROUNDS, iterations=1)
    wall = [run[0] / alone[0] for run, alone in pairs]
    cpu = [run[1] / alone[1] for run, alone in pairs]
    benchmark.extra_info.update(
        bare_import_s=statistics.median(alone[0] for _, alone in pairs),
        wall_ratio=statistics.median(wall),
        cpu_ratio=statistics.median(cpu),
    )
    lines = [
        f"  pair {i + 1}: run {run[0]:.2f} s ({run[1]:.2f} s CPU), bare import {alone[0]:.2f} s "
        f"({alone[1]:.2f} s CPU): wall ratio {w:.2f}, CPU ratio {c:.2f}"
        for i, ((run, alone), w, c) in enumerate(zip(pairs, wall, cpu, strict=True))
    ]
    print(
        "\n`pytest solutions/q08_convolution.py` against a bare `import tensorflow`, "
        "back-to-back pairs:\n" + "\n".join(lines) + f"\nmedian wall ratio "
        f"{statistics.median(wall):.2f}, median CPU ratio {statistics.median(cpu):.2f} "
        "(target <= 1.2)"
    )

"""How long a learner waits for one question: `pytest solutions/q08_convolution.py`.

The target is at most 1.5 times a bare `python -c "import tensorflow"` on the same machine.
Both are measured here, side by side, and the ratio is printed (never asserted).
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


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        command,
        cwd=ROOT,
        check=False,
        capture_output=True,
        env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return time.perf_counter() - start


@pytest.mark.timeout(600)
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
    wall_time(bare)  # warm the file cache for both
    bare_times = [wall_time(bare) for _ in range(ROUNDS)]
    benchmark.pedantic(wall_time, args=(learner,), rounds=ROUNDS, iterations=1)
    run_times = list(benchmark.stats.stats.data)
    ratio = statistics.median(run_times) / statistics.median(bare_times)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    benchmark.extra_info.update(bare_import_s=statistics.median(bare_times), ratio=ratio)
    print(
        f"\nbare `import tensorflow`: median {statistics.median(bare_times):.2f} s; "
        f"`pytest solutions/q08_convolution.py`: median {statistics.median(run_times):.2f} s; "
        f"ratio {ratio:.2f} (target <= 1.5); peak child RSS {peak_mib:.0f} MiB"
    )

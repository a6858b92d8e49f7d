"""What one student's grading costs: wall time, CPU time and peak memory of one ``kata.grade`` run.

Two submissions bound a class: the pristine stubs (everything fails fast) and the reference
solutions (every test runs to the end). Each is graded once by ``kata.grade.run_one``, the
function that grades every student of ``python -m kata.grade`` and of the Gradescope autograder,
with the grader's default options (no --slow) and, for the solutions, with --slow as the
homework's workflow grades. The figures are printed, never asserted:

    nox -s benchmarks -- -k grade_one_student
"""

import resource
import time
from pathlib import Path

import pytest

from kata.grade import questions_in_kata, run_one

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "stubs": (ROOT / "exercises", []),
    "solutions": (ROOT / "solutions", []),
    "solutions --slow": (ROOT / "solutions", ["--slow"]),
}


def children() -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


@pytest.mark.timeout(3600)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.benchmark(group="grading: one student")
def test_grade_one_student(benchmark, case):
    folder, options = CASES[case]
    expected = questions_in_kata(ROOT)
    cpu_before, _ = children()
    started = time.perf_counter()
    entry = benchmark.pedantic(
        run_one,
        args=("bench", folder, ROOT, expected, options, 3600, ""),
        rounds=1,
        iterations=1,
    )
    wall = time.perf_counter() - started
    cpu_after, peak = children()
    benchmark.extra_info.update(cpu_s=cpu_after - cpu_before, peak_rss_mib=peak)
    print(
        f"\n{case}: {entry.status}, {entry.total:g} / {entry.possible:g}; wall {wall:.1f} s, "
        f"CPU {cpu_after - cpu_before:.1f} s, peak RSS of a grading process {peak:.0f} MiB"
    )
    assert entry.status == "graded", entry.notes

"""How long the default suite takes: `pytest solutions/` without --slow, per question and per test;
and what a learner's first run prints: `pytest exercises/` on the stubs, in lines and seconds.

Targets (printed, never asserted): the whole default suite of questions 3, 8, 12 and 19 under
45 s on an idle 2-core machine, question 19's default tests under 20 s, every other question's
default tests under 10 s (TensorFlow's import aside). A first run on the pristine stubs: under
300 lines, and under half the time of the same run with every test run and every failure shown
(`--all-failures`, what every first run did before questions not started became one line each).
"""

import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {19: 20.0}
DEFAULT_TARGET = 10.0
SUITE_TARGET = 45.0  # for questions 3, 8, 12 and 19 together
FIRST_RUN_LINES = 300
FIRST_RUN_RATIO = 0.5  # of the time with --all-failures
DURATION = re.compile(r"^\s*([\d.]+)s (setup|call|teardown)\s+tests/test_q(\d\d)_\S+?::(\S+)")


def run_default_suite(tmp_path):
    command = [
        sys.executable, "-m", "pytest", "solutions/", "-q", "-p", "no:cacheprovider",
        "--durations=0", "--durations-min=0", "--no-score",
        "--score-json", str(tmp_path / "score.json"),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, done.stdout


@pytest.mark.timeout(1800)
@pytest.mark.benchmark(group="default suite: pytest solutions/ without --slow")
def test_default_suite_time_per_question_and_per_test(benchmark, tmp_path):
    wall, output = benchmark.pedantic(run_default_suite, args=(tmp_path,), rounds=1, iterations=1)
    per_question, per_test = defaultdict(float), defaultdict(float)
    for line in output.splitlines():
        match = DURATION.match(line)
        if match:
            seconds, _, question, test = match.groups()
            per_question[int(question)] += float(seconds)
            per_test[f"q{question} {test}"] += float(seconds)
    benchmark.extra_info.update(
        wall_s=round(wall, 1),
        **{f"q{q:02d}_s": round(s, 1) for q, s in sorted(per_question.items())},
    )
    print(
        f"\ndefault suite (`pytest solutions/`): {wall:.1f} s wall, TensorFlow's import and "
        "the worker's start-up included"
    )
    print("| question | tests' time (s) | target (s) |")
    print("|---|---|---|")
    for question, seconds in sorted(per_question.items()):
        target = TARGETS.get(question, DEFAULT_TARGET)
        flag = "" if seconds <= target else "  <- over"
        print(f"| {question} | {seconds:.1f} | {target:g}{flag} |")
    first_four = sum(per_question.get(q, 0.0) for q in (3, 8, 12, 19))
    print(
        f"questions 3, 8, 12 and 19 together: {first_four:.1f} s of tests (target "
        f"{SUITE_TARGET:g} s, plus start-up)"
    )
    print("slowest tests:")
    for name, seconds in sorted(per_test.items(), key=lambda kv: -kv[1])[:15]:
        print(f"  {seconds:6.2f} s  {name}")
    assert per_question, f"no durations found in the output:\n{output[-3000:]}"


def first_run(*extra: str) -> tuple[float, int, str]:
    """``pytest exercises/`` as a learner's first run: (seconds, lines of output, the output)."""
    command = [sys.executable, "-m", "pytest", "exercises/", "-p", "no:cacheprovider", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    return time.perf_counter() - start, len(output.splitlines()), output


@pytest.mark.timeout(1800)
@pytest.mark.benchmark(group="first run: pytest exercises/ on the stubs")
def test_first_run_lines_and_seconds(benchmark):
    """The first run and the same run with every failure shown, back to back (the machine may be
    shared: the ratio of the two says more than either time)."""
    from kata.started import pristine_questions

    pristine = pristine_questions(ROOT / "exercises")
    seconds, lines, output = benchmark.pedantic(first_run, rounds=1, iterations=1)
    every_seconds, every_lines, _ = first_run("--all-failures")
    ratio = seconds / every_seconds
    benchmark.extra_info.update(
        lines=lines, every_lines=every_lines, every_s=round(every_seconds, 1), ratio=ratio
    )
    print(f"\nfirst run (`pytest exercises/`, {len(pristine)} questions not started):")
    print("| run | lines | seconds |")
    print("|---|---|---|")
    print(f"| `pytest exercises/` | {lines} | {seconds:.1f} |")
    print(f"| `pytest exercises/ --all-failures` | {every_lines} | {every_seconds:.1f} |")
    flag_lines = "" if lines < FIRST_RUN_LINES else "  <- over"
    flag_time = "" if ratio < FIRST_RUN_RATIO else "  <- over"
    print(f"lines: {lines} (target under {FIRST_RUN_LINES}){flag_lines}")
    print(f"time: {ratio:.2f} of --all-failures (target under {FIRST_RUN_RATIO:g}){flag_time}")
    assert "exam score" in output, output[-3000:]

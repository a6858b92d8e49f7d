"""How long the similarity report takes for a class of 100 (the goal: seconds on 2 cores).

    nox -s benchmarks -- -k similarity
    pytest benchmarks/test_similarity.py --benchmark-only -s      # the same, in the dev venv

The class is generated from the reference, seeded. For every student and question file: 15 % are
left as the stub; 10 % are the reference (a leak), 5 % a classmate's file; the rest are answers of
their own, made of code that is not the answer (each fenced answer replaced by the fenced code of
another question, drawn at random): text of the kata's kind that mostly shares nothing. The leaks
make many flagged pairs (about 55 per question), more than a real class should have.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("copydetect")

from kata import similarity  # noqa: E402
from kata.stubs import BEGIN, END  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STUBS, SOLUTIONS = ROOT / "exercises", ROOT / "solutions"
STUDENTS = 100
SEED = 18


def own_answer(solution: str, pool: list[str], rng: random.Random, student: int) -> str:
    """A solution file whose every fenced answer is replaced by an answer drawn from ``pool``."""
    out, region = [], None
    for line in solution.splitlines(keepends=True):
        bare = line.rstrip("\n")
        begin = BEGIN.match(bare)
        if begin:
            region = begin["indent"]
        elif END.match(bare):
            body = f"# student {student}\n" + rng.choice(pool)
            out.append(textwrap.indent(body.rstrip("\n") + "\n", region))
            region = None
        elif region is None:
            out.append(line)
    return "".join(out)


@pytest.fixture(scope="module")
def generated_class(tmp_path_factory) -> dict[str, Path]:
    rng = random.Random(SEED)
    room = tmp_path_factory.mktemp("class")
    names = similarity.question_files(STUBS)
    solutions = {n: (SOLUTIONS / f"{n}.py").read_text() for n in names}
    pool = [r for text in solutions.values() for r in similarity.fenced_regions(text) if r.strip()]
    copies: dict[str, Path] = {}
    for number in range(STUDENTS):
        folder = room / f"student{number:03d}" / "exercises"
        shutil.copytree(STUBS, folder, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        for name in names:
            draw = rng.random()
            if draw < 0.15:  # not attempted: the stub as it came
                continue
            if draw < 0.25:
                text = solutions[name]
            elif draw < 0.30 and copies:
                text = (rng.choice(list(copies.values())) / f"{name}.py").read_text()
            else:
                text = own_answer(solutions[name], pool, rng, number)
            (folder / f"{name}.py").write_text(text)
        copies[folder.parent.name] = folder
    return copies


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the report's worker processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.mark.timeout(900)
@pytest.mark.benchmark(group="similarity: a class of 100")
def test_report_for_a_class_of_100(benchmark, generated_class, tmp_path):
    jobs = min(2, len(os.sched_getaffinity(0)))
    before = cpu_seconds()
    found = benchmark.pedantic(
        similarity.report,
        args=(generated_class, STUBS, SOLUTIONS, tmp_path),
        kwargs={"jobs": jobs},
        rounds=1,
        iterations=1,
    )
    sources = STUDENTS + 1
    assert len(found.pairs) == len(found.questions) * sources * (sources - 1) // 2
    cpu = cpu_seconds() - before  # every process of the run
    seconds = benchmark.stats.stats.min
    print(
        f"\nsimilarity report: {STUDENTS} students and the reference, "
        f"{len(found.questions)} question files, {len(found.pairs)} pairs "
        f"({len(found.flagged)} flagged), {jobs} processes: {seconds:.1f} s, "
        f"{cpu:.1f} s of CPU; "
        f"CSV {found.csv_path.stat().st_size / 1e6:.1f} MB, "
        f"page {found.html_path.stat().st_size / 1e6:.1f} MB"
    )

"""The similarity report on a class written for it: an independent answer, a renamed and
reformatted copy of it, a copy of the reference, untouched stubs. The copies are flagged, the rest
is not; the page is opened in a real headless Chromium."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip(
    "copydetect", reason="the similarity report needs copydetect (pip install -e .[dev])"
)

from kata import similarity  # noqa: E402

pytestmark = pytest.mark.timeout(300)  # a report (with a fixture's) and a browser, on a busy CI

REPO = Path(__file__).resolve().parents[2]
STUBS, SOLUTIONS = REPO / "exercises", REPO / "solutions"
Q08 = "q08_convolution"

DATA = Path(__file__).parent / "data" / "class"


def answers(name: str) -> dict[str, str]:
    """A student's answers, ``data/class/<name>.txt``: each task of a stub (a ``## task:``
    line) and the lines that replace its ``raise NotImplementedError(...)``."""
    bodies: dict[str, str] = {}
    task = None
    for line in (DATA / f"{name}.txt").read_text().splitlines(keepends=True):
        if line.startswith("## task: "):
            task = line.removeprefix("## task: ").strip()
            bodies[task] = ""
        elif task is not None:
            bodies[task] += line
    return bodies


# Question 8: ada's own answer, and ben's copy of it (renamed, reformatted, commented).
INDEPENDENT = answers("ada_q08_convolution")
RENAMED = answers("ben_q08_convolution")
# Question 5, answered by ada too: short functions (short answers are everybody's).
Q05 = "q05_activations"
Q05_INDEPENDENT = answers("ada_q05_activations")


def indent(body: str) -> str:
    return textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


def answer(bodies: dict[str, str], question: str = Q08) -> str:
    """The stub of a question with each ``raise NotImplementedError("<hint>")`` replaced by the
    body written for it (and, for question 5, the reference's true/false answers)."""
    text = (STUBS / f"{question}.py").read_text()
    for hint, body in bodies.items():
        line = f'    raise NotImplementedError("{hint}")\n'
        assert line in text, f"the stub no longer has {line!r}: update the test's class"
        text = text.replace(line, indent(body))
    if question == Q05:
        pattern = re.compile(r"^ANSWERS = \{.*?^\}\n", re.S | re.M)
        reference = pattern.search((SOLUTIONS / f"{Q05}.py").read_text())
        text, count = pattern.subn(lambda _: reference.group(0), text)
        assert count == 1, "question 5's stub no longer has one ANSWERS dict"
    return text


def test_the_answers_work():
    """The class's answers are real answers: they compute what the reference computes."""
    import numpy as np

    ours: dict = {}
    theirs: dict = {}
    exec(compile(answer(Q05_INDEPENDENT, Q05), "ada", "exec"), ours)
    exec(compile((SOLUTIONS / f"{Q05}.py").read_text(), "reference", "exec"), theirs)
    x = np.linspace(-5, 5, 41)
    for name in ("sigmoid", "tanh_derivative", "relu_derivative", "elu", "softplus"):
        np.testing.assert_allclose(ours[name](x), theirs[name](x), atol=1e-12, err_msg=name)

    expected = {}
    exec(compile((SOLUTIONS / f"{Q08}.py").read_text(), "reference", "exec"), expected)
    rng = np.random.default_rng(8)
    for name, bodies in (("independent", INDEPENDENT), ("renamed", RENAMED)):
        module: dict = {}
        exec(compile(answer(bodies), name, "exec"), module)
        for padding, stride in (("valid", 1), ("same", 2), ("valid", (2, 1))):
            image, kernel = rng.normal(size=(7, 6)), rng.normal(size=(3, 2))
            got = module["feature_map"](image, kernel, stride, padding)
            want = expected["feature_map"](image, kernel, stride, padding)
            np.testing.assert_allclose(got, want, err_msg=f"{name} {padding} {stride}")
            x, k = rng.normal(size=(2, 7, 6, 3)), rng.normal(size=(3, 2, 3, 4))
            got = module["conv2d"](x, k, stride, padding)
            np.testing.assert_allclose(got, expected["conv2d"](x, k, stride, padding), atol=1e-9)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """The grader's private copies of four students' exercises/."""
    room = tmp_path_factory.mktemp("copies")
    work = {
        "ada": answer(INDEPENDENT),  # her own answer
        "ben": answer(RENAMED),  # ada's, renamed and reformatted
        "cy": (SOLUTIONS / f"{Q08}.py").read_text(),  # the leaked reference
        "dee": None,  # nothing done: the stubs as they came
    }
    copies = {}
    for student, text in work.items():
        folder = room / student / "exercises"
        shutil.copytree(STUBS, folder, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        if text is not None:
            (folder / f"{Q08}.py").write_text(text)
        copies[student] = folder
    (copies["ada"] / f"{Q05}.py").write_text(answer(Q05_INDEPENDENT, Q05))
    return copies


@pytest.fixture(scope="module")
def found(classroom, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    return similarity.report(classroom, STUBS, SOLUTIONS, out, jobs=2)


def by_pair(result, question=Q08):
    return {(p.student_a, p.student_b): p for p in result.pairs if p.question == question}


def test_the_copies_are_flagged_and_nothing_else(found):
    flagged = {(p.question, p.student_a, p.student_b) for p in found.flagged}
    assert flagged == {(Q08, "ada", "ben"), (Q08, "cy", "reference")}, (
        "expected exactly ada/ben (a renamed, reformatted copy) and cy/reference (a copy of the "
        f"reference) flagged, got {sorted(flagged)}"
    )
    pairs = by_pair(found)
    assert pairs[("ada", "ben")].similarity >= 0.8
    assert pairs[("cy", "reference")].similarity == 1.0
    independent = [pairs[("ada", "reference")], pairs[("ada", "cy")], pairs[("ben", "reference")]]
    for pair in independent:
        assert pair.similarity < similarity.DEFAULT_THRESHOLD / 2, (
            f"{pair}: an independent answer should share little with the reference"
        )
    for pair in found.pairs:  # dee handed in the stubs: nothing of hers is code of her own
        if "dee" in (pair.student_a, pair.student_b):
            assert pair.similarity == 0.0 and not pair.flagged, pair


def test_each_student_hears_of_their_own_flags(found):
    assert [p.other("ben") for p in found.flagged_for("ben")] == ["ada"]
    assert [p.other("cy") for p in found.flagged_for("cy")] == ["reference"]
    assert found.flagged_for("dee") == [] and found.note("dee") == ""
    assert "q08_convolution with ada (" in found.note("ben")
    assert "not a verdict" in found.note("ben")


def test_short_questions_are_left_out_and_named(found, classroom, tmp_path):
    assert "q12_parameters" in found.excluded and "too short" in found.excluded["q12_parameters"]
    assert "q19_lunar_lander/__main__" in found.excluded  # no solution code in it at all
    assert Q08 in found.questions and "q19_lunar_lander/blocks" in found.questions
    assert not any(p.question in found.excluded for p in found.pairs)
    page = found.html_path.read_text()
    assert "q12_parameters" in page.split('id="excluded"')[1]
    everything = similarity.report(
        classroom, STUBS, SOLUTIONS, tmp_path, include_short=True, jobs=1
    )
    assert "q12_parameters" in everything.questions
    assert set(everything.excluded) == {
        n for n, why in found.excluded.items() if "no solution" in why
    }
    # why question 5 is left out: ada's own short answers share much with the reference
    assert Q05 in found.excluded and "16 answers" in found.excluded[Q05]
    pair = by_pair(everything, Q05)[("ada", "reference")]
    assert 0.3 < pair.similarity < similarity.DEFAULT_THRESHOLD, pair


def test_the_csv_has_a_row_per_pair_and_question(found, classroom):
    with found.csv_path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["question", "student_a", "student_b", "similarity", "flagged"]
    sources = len(classroom) + 1  # and the reference
    assert len(rows) == len(found.questions) * sources * (sources - 1) // 2
    assert {r["student_a"] for r in rows}.isdisjoint({"reference"})  # always student_b
    flagged = {
        (r["question"], r["student_a"], r["student_b"]) for r in rows if r["flagged"] == "True"
    }
    assert flagged == {(Q08, "ada", "ben"), (Q08, "cy", "reference")}


def test_the_arguments_for_the_grader():
    import argparse

    parser = argparse.ArgumentParser()
    similarity.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.similarity, args.similarity_threshold, args.similarity_all) == (
        False,
        similarity.DEFAULT_THRESHOLD,
        False,
    )
    args = parser.parse_args(["--similarity", "--similarity-threshold", "0.7", "--similarity-all"])
    assert (args.similarity, args.similarity_threshold, args.similarity_all) == (True, 0.7, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["--similarity-threshold", "70"])


def test_what_the_grader_calls(classroom, found, tmp_path):
    """``for_grader``: nothing without --similarity; else the same report, with stubs made afresh
    from solutions/ (an instructor's own edits in exercises/ are never taken for boilerplate)."""
    import argparse

    parser = argparse.ArgumentParser()
    similarity.add_arguments(parser)
    assert similarity.for_grader(parser.parse_args([]), classroom, REPO, tmp_path) is None
    args = parser.parse_args(["--similarity"])
    again = similarity.for_grader(args, classroom, REPO, tmp_path)
    assert [(p.question, p.student_a, p.student_b) for p in again.flagged] == [
        (p.question, p.student_a, p.student_b) for p in found.flagged
    ]
    assert again.excluded == found.excluded and again.csv_path == tmp_path / "similarity.csv"


def test_the_command_line(classroom, tmp_path):
    """``python -m kata.similarity COPIES --out DIR`` as an instructor runs it by hand."""
    room = next(iter(classroom.values())).parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "kata.similarity", str(room), "--stubs", str(STUBS),
         "--reference", str(SOLUTIONS), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 pairs flagged" in done.stdout, done.stdout
    assert "q08_convolution: ada and ben" in done.stdout
    assert (tmp_path / "out" / "similarity.html").is_file()


def test_odd_submissions_are_read_safely_or_not_at_all(tmp_path):
    """Student files are hostile input: a link to the reference, a huge file, bytes that are not
    text, a name made to break the page. None of them ends the report or reaches outside."""
    room = tmp_path / "copies"
    copies = {}
    for student in ("eve", "<img src=x onerror=alert(1)>", "gil"):
        folder = room / str(len(copies)) / "exercises"
        shutil.copytree(STUBS, folder, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        copies[student] = folder
    eve, odd, gil = copies.values()
    (eve / f"{Q08}.py").unlink()
    (eve / f"{Q08}.py").symlink_to(SOLUTIONS / f"{Q08}.py")  # would be a 100 % copy if followed
    (eve / "q03_backprop.py").write_text("x = 1\n" * 100_000)  # 600 kB
    (odd / "q03_backprop.py").write_bytes(b"\xff\xfe\x00def \x80(:\n" * 50)
    (odd / f"{Q08}.py").write_text(answer(RENAMED))  # and a copy of gil's answer
    (gil / f"{Q08}.py").write_text(answer(INDEPENDENT))
    found = similarity.report(copies, STUBS, SOLUTIONS, tmp_path / "out", jobs=1)
    flagged = [(p.question, p.student_a, p.student_b) for p in found.flagged]
    assert flagged == [(Q08, "<img src=x onerror=alert(1)>", "gil")], flagged
    assert any(s.startswith(f"eve: {Q08}.py") for s in found.skipped), found.skipped
    assert any(s.startswith("eve: q03_backprop.py") for s in found.skipped), found.skipped
    assert not any(p.question == Q08 and "eve" in (p.student_a, p.student_b) for p in found.pairs)
    page = found.html_path.read_text()
    assert "<img src=x" not in page and "&lt;img src=x" in page


# --- the page, in a real browser ------------------------------------------------------------------


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def run_chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}",
    ]  # fmt: skip
    return subprocess.run([chromium(), *flags, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(
    chromium() is None,
    reason="no Chromium installed (Debian: apt-get install chromium; .ci/run installs it)",
)
def test_the_page_in_a_browser(found, tmp_path):
    """The page loads in Chromium, the flagged pairs come first, most similar first, with the shared
    passages marked on both sides; a screenshot is kept for a human to look at."""
    url = found.html_path.resolve().as_uri()
    done = run_chromium("--dump-dom", url, profile=tmp_path / "profile-dom")
    dom = done.stdout
    assert "<h1>Similarity report</h1>" in dom, f"the page did not load: {done.stderr[-2000:]}"
    sections = dom.split('<section class="pair"')[1:]
    assert len(sections) == 2, f"expected the two flagged pairs, found {len(sections)}"
    first = sections[0]
    assert 'data-a="cy" data-b="reference"' in first, "the most similar pair (100%) comes first"
    assert 'data-a="ada" data-b="ben"' in sections[1]
    assert dom.index('id="flagged"') < dom.index('id="questions"') < dom.index('id="excluded"')
    for side in first.split("<h4>")[1:]:
        assert "<mark>" in side, "each side of a flagged pair has its shared passages marked"
    shot = tmp_path / "similarity.png"
    done = run_chromium(
        f"--screenshot={shot}", "--window-size=1400,1800", "--hide-scrollbars", url,
        profile=tmp_path / "profile-shot",
    )  # fmt: skip
    assert shot.is_file() and shot.stat().st_size > 10_000, done.stderr[-2000:]
    keep = os.environ.get("KATA_SIMILARITY_SHOT")  # a copy for a human to look at
    if keep:
        shutil.copyfile(shot, keep)

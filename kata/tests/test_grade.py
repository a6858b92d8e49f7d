"""Grading a class: a generated class of submissions (solved, partly solved, broken, hanging,
bad input) graded at once into a CSV and a JSON gradebook; a rerun regrades only what changed."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from conftest import make_fake_kata

from kata.grade import grade

pytestmark = pytest.mark.timeout(900)

HANGS = "def count():\n    while True:\n        pass\n"
EXITS = "import sys\n\nsys.exit(3)\n"


@pytest.fixture(scope="module")
def fake_kata(tmp_path_factory):
    """The fake kata (``conftest.py``), shared by this module's tests: they do not change it."""
    return make_fake_kata(tmp_path_factory.mktemp("kata") / "kata-repo")


@pytest.fixture(scope="module")
def classroom(fake_kata, tmp_path_factory):
    """One folder per student, as an instructor collects them."""
    solutions, stubs = fake_kata / "solutions", fake_kata / "exercises"
    room = tmp_path_factory.mktemp("class") / "submissions"

    def student(name, files=None, layout="exercises-copy"):
        folder = room / name
        target = folder / "exercises" if layout == "clone" else folder
        shutil.copytree(stubs, target, ignore=shutil.ignore_patterns("__pycache__"))
        for file, text in (files or {}).items():
            path = target / file
            if text is None:
                path.unlink()
            elif isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text)
        return folder

    solved = {
        n: (solutions / n).read_text() for n in ("q08_conv.py", "q12_params.py", "q01_neurons.py")
    }
    half = solved["q08_conv.py"].replace("total = a + b", "total = a * b")
    student("ada", solved, layout="clone")  # a clone of her fork: exercises/ inside
    student("bob", {"q08_conv.py": half, "q12_params.py": solved["q12_params.py"]})
    student("cem", {"q08_conv.py": "def add(a, b)\n    return a + b\n"})  # a syntax error
    student("dan", {"q12_params.py": HANGS, "q08_conv.py": solved["q08_conv.py"]})
    student("eve", {"q12_params.py": EXITS})
    student("fay", {"q12_params.py": None, "q08_conv.py": b"def add(a, b):\n    '\xe9'\n"})
    (room / "gus").mkdir()
    (room / "gus" / "notes.txt").write_text("I did it on paper")
    (room / "hal.zip").write_bytes(b"PK\x03\x04")
    return room


@pytest.fixture(scope="module")
def graded(classroom, fake_kata, tmp_path_factory):
    """The class graded once: (the CSV gradebook, the entries, the log)."""
    out = tmp_path_factory.mktemp("grades") / "gradebook.csv"
    log = []
    entries = grade(classroom, out, root=fake_kata, jobs=2, timeout=120, slow=True, log=log.append)
    return out, entries, log


def read_csv(path):
    with path.open(newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def test_a_class_is_graded_into_a_csv_and_a_json_gradebook(graded, fake_kata):
    out, entries, _ = graded
    assert [e.student for e in entries] == [
        "ada",
        "bob",
        "cem",
        "dan",
        "eve",
        "fay",
        "gus",
        "hal.zip",
    ]
    rows = read_csv(out)
    book = json.loads(out.with_suffix(".json").read_text())
    students = {s["student"]: s for s in book["students"]}
    assert book["graded_with"]["kata"] == str(fake_kata)

    assert rows["ada"]["status"] == "graded" and float(rows["ada"]["total"]) == 8.5
    assert (
        rows["ada"]["q08"] == "3.0" and rows["ada"]["q12"] == "4.0" and rows["ada"]["q01"] == "1.5"
    )
    assert rows["ada"]["tests_failed"] == "0"
    assert students["ada"]["questions"]["q08"]["complete"] is True

    assert rows["bob"]["status"] == "graded" and rows["bob"]["q08"] == "1.5"  # half of q08
    assert float(rows["bob"]["total"]) == 5.5

    assert rows["cem"]["status"] == "graded" and float(rows["cem"]["total"]) == 0
    assert "could not be imported: SyntaxError" in rows["cem"]["notes"]

    # an endless loop costs that student one timeout, nothing else
    assert rows["dan"]["status"] == "graded" and rows["dan"]["q08"] == "3.0"
    assert rows["dan"]["q12"] == "0.0" and "Timeout" in rows["dan"]["notes"]

    assert rows["eve"]["status"] == "graded" and rows["eve"]["q12"] == "0.0"
    assert "could not be imported" in rows["eve"]["notes"] and "SystemExit" in rows["eve"]["notes"]

    assert rows["fay"]["status"] == "graded"
    assert "missing q12_params.py" in rows["fay"]["notes"]
    assert "cannot read q08_conv.py: UnicodeDecodeError" in rows["fay"]["notes"]

    assert (
        rows["gus"]["status"] == "not a submission" and "no question files" in rows["gus"]["notes"]
    )
    assert rows["hal.zip"]["status"] == "not a submission" and "unpack" in rows["hal.zip"]["notes"]
    assert rows["gus"]["total"] == "0.0" and rows["gus"]["q08"] == ""

    jsonschema = pytest.importorskip("jsonschema")
    from kata.grade import SCHEMA

    jsonschema.validate(book, json.loads(SCHEMA.read_text()))


def test_a_rerun_grades_only_what_changed(classroom, graded, fake_kata, tmp_path):
    # a copy of the class and of its gradebook: the first grading is the shared one
    classroom = shutil.copytree(classroom, tmp_path / "submissions", symlinks=True)
    out = tmp_path / "gradebook.csv"
    for path in (graded[0], graded[0].with_suffix(".json")):
        shutil.copy2(path, out.with_suffix(path.suffix))
    before = json.loads(out.with_suffix(".json").read_text())
    solved = (fake_kata / "solutions" / "q08_conv.py").read_text()
    (classroom / "bob" / "q08_conv.py").write_text(solved)
    log = []
    entries = grade(classroom, out, root=fake_kata, jobs=2, timeout=120, slow=True, log=log.append)
    assert log[0].startswith("grading 1 submissions")
    reused = {e.student for e in entries if e.reused}
    assert reused == {"ada", "cem", "dan", "eve", "fay", "gus"}
    rows = read_csv(out)
    assert float(rows["bob"]["total"]) == 7.0
    after = {s["student"]: s for s in json.loads(out.with_suffix(".json").read_text())["students"]}
    assert after["ada"] == {s["student"]: s for s in before["students"]}["ada"]

    class Decided(Exception):
        """Raised once ``grade`` has said what it grades: the runs themselves are tested above."""

    def stop(line):
        raise Decided(line)

    with pytest.raises(Decided, match="^grading 7 submissions"):  # --force: every one again
        grade(classroom, out, root=fake_kata, slow=True, force=True, log=stop)


def test_a_run_longer_than_the_limit_is_ended_and_recorded(fake_kata, tmp_path):
    room = tmp_path / "submissions"
    shutil.copytree(fake_kata / "exercises", room / "zed")
    (room / "zed" / "q12_params.py").write_text("import time\n\ntime.sleep(2)\n\n" + HANGS)
    out = tmp_path / "gradebook.csv"
    (entry,) = grade(room, out, root=fake_kata, jobs=1, timeout=1, log=lambda _: None)
    assert entry.status == "timed out" and entry.total == 0
    assert read_csv(out)["zed"]["notes"].startswith("the run took longer than 1 s")

"""The Gradescope autograder: the zip is built, unpacked into an ``/autograder``-like root, and
``run_autograder`` grades a submission in a fresh process, as Gradescope runs it; results.json
matches Gradescope's format and gives the score that ``kata.grade`` gives the same submission."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, clean_env, needs_tensorflow, run, solve

from kata.gradescope import SCHEMA, build_zip, requirements

pytestmark = pytest.mark.timeout(900)


def autograder_root(tmp_path: Path, archive: Path) -> Path:
    """What Gradescope's image holds: source/ (the zip), run_autograder, submission/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as unzip:
        unzip.extractall(root / "source")
        for info in unzip.infolist():  # zipfile does not restore modes: do it as unzip would
            mode = info.external_attr >> 16 & 0o777
            if mode:
                os.chmod(root / "source" / info.filename, mode)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path) -> subprocess.CompletedProcess:
    """A fresh process, from /autograder, with the root and this venv's interpreter."""
    tmp = root.parent / "tmp"  # the run's own temporary folders, nobody else's to clean up
    tmp.mkdir(exist_ok=True)
    env = clean_env(KATA_AUTOGRADER_ROOT=str(root), KATA_PYTHON=sys.executable, TMPDIR=str(tmp))
    return subprocess.run(
        [str(root / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=800,
    )


def check_schema(result: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(result, json.loads(SCHEMA.read_text()))


def kata_score(tmp_path: Path, submission: Path, root: Path) -> float:
    """The kata's own score of the same submission: ``kata.grade`` on a class of one."""
    from kata.grade import grade

    room = tmp_path / "class"
    shutil.copytree(submission, room / "student")
    (entry,) = grade(
        room, tmp_path / "gradebook.csv", root=root, jobs=1, state=tmp_path / "s", log=print
    )
    assert entry.status == "graded", entry.notes
    return round(entry.total + entry.bonus, 2)


def test_the_zip_has_what_gradescope_asks_for(fake_kata, tmp_path):
    archive = tmp_path / "autograder.zip"
    done = run(fake_kata, "python", "-m", "kata.export", "--gradescope", str(archive))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Gradescope autograder written to {archive}" in done.stdout
    with zipfile.ZipFile(archive) as unzip:
        names = set(unzip.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in unzip.infolist()}
        test_q12 = unzip.read("tests/test_q12_params.py").decode()
        scripts = [unzip.read(name).decode() for name in ("setup.sh", "run_autograder")]
    for script in scripts:  # both are bash scripts that bash can parse
        assert script.startswith("#!/usr/bin/env bash\n")
        done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    assert {"setup.sh", "run_autograder", "requirements.txt", "pyproject.toml"} <= names
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert "kata/grade.py" in names and "kata/gradebook.schema.json" in names
    assert not any(n.startswith(("kata/tests/", "solutions/")) for n in names)
    assert "EXAM_COUNT = 7" in test_q12, "the grading copy keeps its answer keys"
    assert "exercises/q08_conv.py" in names  # the pristine stubs, no solution
    assert "total = a + b" not in (fake_kata / "exercises" / "q08_conv.py").read_text()


def test_run_autograder_writes_results_that_match_the_kata(fake_kata, tmp_path):
    root = autograder_root(tmp_path, build_zip(fake_kata, tmp_path / "autograder.zip"))
    submission = root / "submission"  # a clone of the student's repository
    shutil.copytree(fake_kata / "exercises", submission / "exercises")
    solve(submission / "exercises", fake_kata / "solutions", "q12_params.py")
    (root / "results").mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    (root / "results" / "results.json").symlink_to(outside)  # planted before the run

    done = run_autograder(root)

    assert done.returncode == 0, done.stdout + done.stderr
    path = root / "results" / "results.json"
    assert path.is_file() and not path.is_symlink() and outside.read_text() == "untouched"
    assert stat.S_IMODE((root / "results").stat().st_mode) == 0o700
    result = json.loads(path.read_text())
    check_schema(result)
    assert result["score"] == 4.0 == kata_score(tmp_path, submission, fake_kata)
    tests = {t["number"]: t for t in result["tests"]}
    assert set(tests) == {"1", "8", "12"}
    assert tests["12"]["score"] == tests["12"]["max_score"] == 4.0
    assert tests["12"]["status"] == "passed" and tests["12"]["name"].startswith("Q12 ")
    assert tests["8"]["score"] == 0 and tests["8"]["max_score"] == 3.0
    assert tests["8"]["status"] == "failed" and "first failures" in tests["8"]["output"]
    assert "not implemented" in tests["8"]["output"]
    assert "kata-grade-" not in tests["8"]["output"], "no grader's temporary path"
    assert sum(t["score"] for t in result["tests"]) == result["score"]
    assert (
        "| 12 |" in result["output"] and "total 4 / 8.5" in result["output"]
    )  # what the fake kata is worth


def test_files_at_the_top_a_folder_inside_and_nothing_gradable(fake_kata, tmp_path):
    root = autograder_root(tmp_path, build_zip(fake_kata, tmp_path / "autograder.zip"))
    for name in ("q08_conv.py", "q12_params.py"):  # files uploaded one by one
        shutil.copy2(fake_kata / "solutions" / name, root / "submission" / name)
    done = run_autograder(root)
    assert done.returncode == 0, done.stderr
    result = json.loads((root / "results" / "results.json").read_text())
    check_schema(result)
    # q12 solved, q08 without its slow test (2.25 of 3), q01 not handed in
    assert result["score"] == 6.25 == kata_score(tmp_path, root / "submission", fake_kata)
    assert {t["number"]: t["status"] for t in result["tests"]}["12"] == "passed"

    shutil.rmtree(root / "submission")  # an uploaded folder: its clone inside
    shutil.copytree(fake_kata / "exercises", root / "submission" / "homework-ada" / "exercises")
    solve(
        root / "submission" / "homework-ada" / "exercises", fake_kata / "solutions", "q08_conv.py"
    )
    done = run_autograder(root)
    assert done.returncode == 0, done.stderr
    result = json.loads((root / "results" / "results.json").read_text())
    assert result["score"] == 2.25, result["output"]  # q08 without its slow test

    shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    (root / "submission" / "notes.txt").write_text("I did it on paper")
    done = run_autograder(root)
    assert done.returncode == 0, done.stderr
    result = json.loads((root / "results" / "results.json").read_text())
    check_schema(result)
    assert result["score"] == 0 and "not a submission" in result["output"]
    assert [t["score"] for t in result["tests"]] == [0, 0, 0]  # the fake kata's three
    assert all("not graded" in t["output"] for t in result["tests"])


@needs_tensorflow
def test_setup_sh_installs_pins_that_pyproject_allows():
    packaging = pytest.importorskip("packaging.requirements")
    import tomllib

    from kata.gradescope import GRADING_PACKAGES, SETUP_SH, VENV

    assert "pip install --no-cache-dir -r requirements.txt" in SETUP_SH.format(venv=VENV)
    pins = {}
    for line in requirements(REPO).splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert re.fullmatch(r"[\w.+!-]+", version), line
            pins[name.lower().replace("_", "-")] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [packaging.Requirement(r) for r in project["dependencies"]]
    wanted += [
        packaging.Requirement(r)
        for r in project["optional-dependencies"]["dev"]
        if packaging.Requirement(r).name in GRADING_PACKAGES
    ]
    assert {r.name for r in wanted} >= {"tensorflow", "pytest", "pytest-timeout"}
    for req in wanted:
        version = pins.get(req.name.lower())
        assert version is not None, f"{req.name} is not pinned"
        assert req.specifier.contains(version), f"{req.name}=={version} is outside {req}"


@needs_tensorflow
def test_the_real_kata_on_gradescope(tmp_path):
    """Stubs and one solved question: the same score as kata.grade, every question listed."""
    root = autograder_root(tmp_path, build_zip(REPO, tmp_path / "autograder.zip"))
    exercises = root / "submission" / "exercises"
    shutil.copytree(REPO / "exercises", exercises, ignore=shutil.ignore_patterns("__pycache__"))
    solve(exercises, REPO / "solutions", "q12_parameters.py")

    done = run_autograder(root)

    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((root / "results" / "results.json").read_text())
    check_schema(result)
    assert result["score"] == kata_score(tmp_path, root / "submission", REPO) == 4.0
    tests = {t["number"]: t for t in result["tests"]}
    assert len(tests) == 20 and tests["12"]["status"] == "passed"
    assert sum(t["max_score"] for t in result["tests"]) == 99
    bonus = tests["20"]
    assert "bonus" in bonus["name"] and bonus["tags"] == ["bonus"] and bonus["max_score"] == 0
    assert tests["1"]["visibility"] == "after_due_date"  # true/false: the answers are the key
    assert "first failures" not in tests["1"]["output"]
    assert "missing" not in result["output"], result["output"]

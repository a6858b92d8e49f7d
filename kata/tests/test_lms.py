"""LMS import files: a kata.grade gradebook, joined to the students of a Canvas or Moodle export by
a GitHub Classroom roster (``kata/tests/data/``: exports written from each LMS's documented
format). Headers and id columns as each LMS imports them, clamped totals, empty cells (not 0) for
students without a graded submission, and input that cannot be joined stops with a message."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, clean_env

from kata import lms

DATA = Path(__file__).parent / "data"
CANVAS, MOODLE = DATA / "canvas-gradebook-export.csv", DATA / "moodle-grades-export.csv"
ROSTER = DATA / "classroom-roster.csv"


def student(name, total, status="graded", questions=None, bonus=0.0):
    return {
        "student": name,
        "status": status,
        "digest": "",
        "total": total,
        "possible": 99.0 if status == "graded" else 0.0,
        "bonus": bonus,
        "passed": 0,
        "failed": 0,
        "duration_s": 1.0,
        "questions": {
            key: {"earned": earned, "points": points, "complete": earned == points, "tests": {}}
            for key, (earned, points) in (questions or {}).items()
        },
        "notes": [],
        "graded_at": "",
    }


@pytest.fixture
def gradebook(tmp_path) -> Path:
    """A class as kata.grade writes it: folders named by GitHub username."""
    book = {
        "gradebook_version": 1,
        "graded_with": {"kata": "k", "commit": "c", "grading_digest": "d", "options": []},
        "students": [
            student("ada-l", 50.5, questions={"q12": (4.0, 4.0), "q20": (1.0, 2.0)}, bonus=1.0),
            student("gboole", 120.0, questions={"q12": (7.0, 4.0)}),  # over the top: clamped
            student("graceh", 0.0, questions={"q12": (0.0, 4.0)}),  # GraceH in the roster
            student("emmy-n", 0.0, status="not a submission"),
            student("mallory", 99.0),  # in no roster
        ],
    }
    path = tmp_path / "gradebook.json"
    path.write_text(json.dumps(book))
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((REPO / "kata" / "gradebook.schema.json").read_text())
    jsonschema.validate(book, schema)
    return path


def rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def by_id(rows: list[list[str]], column: str) -> dict[str, dict[str, str]]:
    header = rows[0]
    return {r[header.index(column)]: dict(zip(header, r, strict=True)) for r in rows[1:]}


def test_canvas_import_from_the_command_line(gradebook, tmp_path):
    out = tmp_path / "canvas-import.csv"
    done = subprocess.run(
        [sys.executable, "-m", "kata.lms", str(gradebook), "--roster", str(ROSTER)]
        + ["--lms", "canvas", str(CANVAS), "--out", str(out), "--per-question"],
        cwd=REPO,
        env=clean_env(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = rows_of(out)
    # Canvas's identifying columns, the export's own column for the kata (it updates that
    # assignment), then one column per question
    assert rows[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Exam kata (4100245)",
        "Exam kata Q12",
        "Exam kata Q20 (bonus)",
    ]
    assert rows[1] == ["    Points Possible", "", "", "", "", "99", "4", "2"]
    grades = by_id(rows, "SIS Login ID")
    assert grades["ada.lovelace@uni.example"]["ID"] == "20451"
    assert grades["ada.lovelace@uni.example"]["Exam kata (4100245)"] == "50.5"
    assert grades["ada.lovelace@uni.example"]["Exam kata Q20 (bonus)"] == "1"
    assert grades["george.boole@uni.example"]["Exam kata (4100245)"] == "99"  # clamped
    assert grades["george.boole@uni.example"]["Exam kata Q12"] == "4"
    assert grades["grace.hopper@uni.example"]["Exam kata (4100245)"] == "0"  # a real zero
    for missing in ("alan.turing@uni.example", "emmy.noether@uni.example"):
        assert grades[missing]["Exam kata (4100245)"] == "", "no submission: empty, not 0"
    assert "Student, Test" not in {r[0] for r in rows}  # Canvas's test student
    assert len(rows) == 2 + 5
    summary = done.stdout
    assert "3 grades written (students matched by SIS Login ID)" in summary
    assert "no submission graded (left empty, not 0) (1): Turing, Alan" in summary
    assert "emmy-n: not a submission" in summary
    assert "folders that match no student (1): mallory" in summary
    assert "without a GitHub account (1): alan.turing@uni.example" in summary
    assert "gboole: 120 -> 99" in summary and "gboole Q12: 7 -> 4" in summary


def test_moodle_import_keeps_its_user_columns(gradebook, tmp_path):
    out = tmp_path / "moodle-import.csv"
    summary = lms.write_import("moodle", gradebook, MOODLE, out, roster=ROSTER)
    rows = rows_of(out)
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", "Exam kata"]
    assert len(rows) == 1 + 5  # every student of the export, no Points Possible row
    grades = by_id(rows, "Email address")
    assert grades["ada.lovelace@uni.example"]["Exam kata"] == "50.5"
    assert grades["george.boole@uni.example"]["Exam kata"] == "99"
    assert grades["alan.turing@uni.example"]["Exam kata"] == ""
    assert grades["emmy.noether@uni.example"]["Exam kata"] == ""
    assert summary.id_column == "Email address" and summary.written == 3
    assert summary.missing == ["Alan Turing (alan.turing@uni.example)"]
    assert summary.unknown_folders == ["mallory"]


def test_moodle_by_id_number_with_a_roster_of_student_ids(gradebook, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("login,matrikel\nada-l,S1001\ngboole,S1002\nmallory,S9999\n")
    out = tmp_path / "moodle-import.csv"
    summary = lms.write_import(
        "moodle",
        gradebook,
        MOODLE,
        out,
        roster=roster,
        roster_folder_column="login",
        roster_id_column="matrikel",
    )
    assert summary.id_column == "ID number"
    assert summary.not_in_lms == ["S9999"]
    assert sorted(summary.unknown_folders) == ["emmy-n", "graceh"]
    assert by_id(rows_of(out), "ID number")["S1001"]["Exam kata"] == "50.5"


def test_a_negative_total_is_clamped_to_zero(tmp_path):
    path = tmp_path / "gradebook.csv"  # the CSV gradebook, no JSON beside it
    path.write_text(
        "student,status,total,possible,bonus,q12,tests_passed,tests_failed,duration_s,notes\n"
        "ada-l,graded,-3.5,99,0,-1,0,1,1,\n"
    )
    out = tmp_path / "canvas.csv"
    summary = lms.write_import("canvas", path, CANVAS, out, roster=ROSTER, per_question=True)
    grades = by_id(rows_of(out), "SIS Login ID")
    assert grades["ada.lovelace@uni.example"]["Exam kata (4100245)"] == "0"
    assert grades["ada.lovelace@uni.example"]["Exam kata Q12"] == "0"
    assert "ada-l: -3.5 -> 0" in summary.clamped


def test_the_grader_adds_the_options_and_calls_apply(gradebook, tmp_path):
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path)
    lms.add_arguments(parser)
    csv_path = gradebook.with_suffix(".csv")
    args = parser.parse_args(
        ["--out", str(csv_path), "--roster", str(ROSTER), "--lms", "canvas", str(CANVAS)]
    )
    log = []
    summary = lms.apply(args, csv_path, log.append)  # the CSV's JSON twin is read
    assert summary.out == tmp_path / "gradebook-canvas-import.csv" and summary.out.is_file()
    assert log[0].startswith(f"{summary.out}: 3 grades written")
    assert lms.apply(parser.parse_args([]), csv_path, log.append) is None


@pytest.mark.parametrize(
    ("roster_text", "message"),
    [
        (
            "identifier,github_username\na@x,ada-l\nb@x,Ada-L\n",
            "github_username 'Ada-L' appears twice",
        ),
        (
            "identifier,github_username\na@x,ada-l\na@x,gboole\n",
            "identifier 'a@x' is given to both 'ada-l' and 'gboole'",
        ),
        ("identifier,github_username\n,ada-l\n", "'ada-l' has no identifier"),
        ("email,login\na@x,ada-l\n", "no column 'github_username' or 'identifier'"),
    ],
    ids=["duplicate-username", "duplicate-identifier", "no-identifier", "no-named-columns"],
)
def test_a_roster_that_needs_guessing_stops_the_run(gradebook, tmp_path, roster_text, message):
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_text)
    out = tmp_path / "out.csv"
    with pytest.raises(lms.RosterError) as error:
        lms.write_import("canvas", gradebook, CANVAS, out, roster=roster)
    assert message in str(error.value)
    assert not out.exists(), "nothing written: no half-joined file to import by mistake"


def test_the_command_line_says_what_to_fix(gradebook, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("email,login\na@x,ada-l\n")
    done = subprocess.run(
        [sys.executable, "-m", "kata.lms", str(gradebook), "--roster", str(roster)]
        + ["--lms", "moodle", str(MOODLE)],
        cwd=REPO,
        env=clean_env(PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "its columns are email, login" in done.stderr
    assert "--roster-folder-column" in done.stderr


def test_ids_that_match_no_lms_column_stop_the_run(gradebook, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("identifier,github_username\nnobody@elsewhere,ada-l\n")
    with pytest.raises(lms.RosterError, match="none of the roster's identifiers"):
        lms.write_import("moodle", gradebook, MOODLE, tmp_path / "out.csv", roster=roster)
    with pytest.raises(lms.RosterError, match="no column 'Matrikel'"):
        lms.write_import(
            "moodle", gradebook, MOODLE, tmp_path / "o.csv", roster=ROSTER, lms_id_column="Matrikel"
        )


def test_an_lms_export_with_an_id_twice_stops_the_run(gradebook, tmp_path):
    export = tmp_path / "export.csv"
    lines = MOODLE.read_text().splitlines()
    export.write_text("\n".join([*lines, lines[1]]) + "\n")  # Ada twice
    with pytest.raises(lms.RosterError, match="on more than one row"):
        lms.write_import("moodle", gradebook, export, tmp_path / "out.csv", roster=ROSTER)


def test_folders_named_by_lms_id_need_no_roster(tmp_path):
    book = {"students": [student("ada.lovelace@uni.example", 12.0)]}
    path = tmp_path / "gradebook.json"
    path.write_text(json.dumps(book))
    summary = lms.write_import("canvas", path, CANVAS, tmp_path / "out.csv")
    assert summary.id_column == "SIS Login ID" and summary.written == 1
    assert len(summary.missing) == 4

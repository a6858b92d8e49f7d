"""Grades an LMS imports: the kata's gradebook as a Canvas or Moodle grade import file.

    python -m kata.lms gradebook.json --roster roster.csv --lms canvas export.csv --out import.csv
    python -m kata.grade SUBMISSIONS/ --roster roster.csv --lms moodle export.csv

``kata.grade`` names each student by the folder of the submission (a GitHub username); the
course's grades live in an LMS that knows students by an id or an e-mail. The **roster** joins
them: GitHub Classroom's roster export (``identifier``, ``github_username``, ``github_id``,
``name``) or any CSV with a folder column and an id column (``--roster-folder-column``,
``--roster-id-column``); without a roster, folder names are the ids. The **LMS export** is the
gradebook the LMS itself exported (Canvas: Grades > Export; Moodle: Export > Plain text file):
the file written keeps its identifying columns, so that the LMS recognises every row, and adds
one column for the kata's total (``--per-question``: one more per question).

- Canvas (gradebook import): ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``,
  ``Section`` (and ``Integration ID`` when exported), a ``Points Possible`` row, then the
  kata's columns. A column named like an assignment of the export (``Exam kata (4100245)``)
  updates that assignment; any other name creates one.
- Moodle (Import > CSV file): the export's user columns (``First name``, ``Last name``,
  ``ID number``, ``Email address``, ``Username`` when present) and the kata's columns; map the
  id column (e.g. Email address to ``useremail``) and the kata's column to a grade item.

Totals are clamped to [0, possible] (an LMS rejects what lies outside), bonus excluded (it has
its own column with ``--per-question``). A student of the LMS with no submission, or whose
submission could not be graded, gets an empty cell, never a 0: both LMSs read an empty cell as
"no grade". Everything that did not match (folders of no student, roster entries of no LMS row,
students without a GitHub account, clamped totals) is listed in the summary; a roster or an
export that cannot be joined without guessing (duplicate usernames or ids, missing columns) stops
the run with a message that says what to fix.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from kata.points import EXAM_POINTS, QUESTIONS

ID_COLUMNS = {
    "canvas": ["Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section"],
    "moodle": ["First name", "Last name", "ID number", "Username", "Email address"],
}
"""The LMS's identifying columns, kept in the import file when its export has them."""
MATCH_COLUMNS = {
    "canvas": ["SIS Login ID", "SIS User ID", "ID", "Integration ID"],
    "moodle": ["Email address", "ID number", "Username"],
}
"""Where a roster identifier is looked for (the column that matches most roster entries wins)."""
NAME_COLUMNS = {"canvas": ["Student"], "moodle": ["First name", "Last name"]}
POINTS_POSSIBLE = "    Points Possible"
"""Canvas's second row: the points of each assignment column."""
NO_GRADE = {"not a submission", "unreadable", "error"}
"""Statuses with no grade: an empty cell, and a line in the summary."""


class RosterError(SystemExit):
    """Input that cannot be joined without guessing: the message says what to fix."""


@dataclass
class Summary:
    """What was written, and everything that needs the instructor's eye."""

    out: Path
    written: int = 0
    id_column: str = ""
    missing: list[str] = field(default_factory=list)
    """LMS students with no graded submission: their cells are empty."""
    unknown_folders: list[str] = field(default_factory=list)
    not_in_lms: list[str] = field(default_factory=list)
    not_linked: list[str] = field(default_factory=list)
    clamped: list[str] = field(default_factory=list)
    not_graded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"{self.out}: {self.written} grades written (students matched by {self.id_column})"
        ]
        for label, items in [
            ("no submission graded (left empty, not 0)", self.missing),
            ("submissions not graded (left empty)", self.not_graded),
            ("folders that match no student", self.unknown_folders),
            ("roster entries with no row in the LMS export", self.not_in_lms),
            ("roster entries without a GitHub account", self.not_linked),
            ("totals clamped to [0, possible]", self.clamped),
            ("warnings", self.warnings),
        ]:
            if items:
                lines.append(f"{label} ({len(items)}): " + "; ".join(items))
        return lines


# --- reading --------------------------------------------------------------------------------


def read_csv(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = [h.strip() for h in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RosterError(f"{what} {path}: cannot be read: {error}") from None
    if not header:
        raise RosterError(f"{what} {path}: empty (no header row)")
    rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in rows]
    return header, rows


def read_gradebook(path: Path) -> list[dict]:
    """The students of a ``kata.grade`` gradebook (the JSON, or the CSV beside it)."""
    path = Path(path)
    if path.suffix == ".csv" and path.with_suffix(".json").is_file():
        path = path.with_suffix(".json")
    if path.suffix == ".json":
        try:
            book = json.loads(path.read_text())
            return list(book["students"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RosterError(f"gradebook {path}: not a kata gradebook ({error})") from None
    _, rows = read_csv(path, "gradebook")
    students = []
    for row in rows:
        if "student" not in row or "total" not in row:
            raise RosterError(f"gradebook {path}: no 'student' and 'total' columns")
        questions = {}
        for number, question in QUESTIONS.items():
            value = row.get(f"q{number:02d}", "")
            if value != "":
                questions[f"q{number:02d}"] = {"earned": float(value), "points": question.points}
        students.append(
            {
                "student": row["student"],
                "status": row.get("status", "graded"),
                "total": float(row["total"] or 0),
                "possible": float(row.get("possible") or 0),
                "bonus": float(row.get("bonus") or 0),
                "questions": questions,
            }
        )
    return students


def read_roster(path: Path, folder_column: str, id_column: str) -> dict[str, str]:
    """{folder (lower case): LMS identifier}; a roster that would need guessing stops here."""
    header, rows = read_csv(path, "roster")
    absent = [c for c in (folder_column, id_column) if c not in header]
    if absent:
        raise RosterError(
            f"roster {path}: no column {' or '.join(repr(c) for c in absent)}; its columns are "
            f"{', '.join(header)}. Name them with --roster-folder-column and --roster-id-column "
            "(GitHub Classroom's roster: github_username and identifier)."
        )
    mapping, ids = {}, {}
    problems = []
    for number, row in enumerate(rows, start=2):
        folder, ident = row[folder_column], row[id_column]
        if not folder:
            continue  # a student who has not linked a GitHub account yet: reported later
        if not ident:
            problems.append(f"line {number}: {folder!r} has no {id_column}")
            continue
        key = folder.lower()
        if key in mapping:
            problems.append(f"line {number}: {folder_column} {folder!r} appears twice")
        if ident.lower() in ids and ids[ident.lower()] != key:
            problems.append(
                f"line {number}: {id_column} {ident!r} is given to both "
                f"{ids[ident.lower()]!r} and {folder!r}"
            )
        mapping[key] = ident
        ids[ident.lower()] = key
    if problems:
        raise RosterError(f"roster {path}: fix these first:\n  " + "\n  ".join(problems))
    return mapping


def unlinked(path: Path | None, folder_column: str, id_column: str) -> list[str]:
    if path is None:
        return []
    _, rows = read_csv(path, "roster")
    return [row[id_column] or "?" for row in rows if not row.get(folder_column)]


# --- writing --------------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return f"{round(x, 2):g}"


def _clamp(value: float, possible: float) -> float:
    return min(max(value, 0.0), possible)


def kata_header(export_header: list[str], name: str) -> str:
    """The export's own column for ``name`` (``Exam kata (4100245)``), or ``name`` itself."""
    for column in export_header:
        if column == name or column.startswith(name + " ("):
            return column
    return name


def write_import(
    lms: str,
    gradebook: Path,
    export: Path,
    out: Path,
    roster: Path | None = None,
    roster_folder_column: str = "github_username",
    roster_id_column: str = "identifier",
    lms_id_column: str | None = None,
    column: str = "Exam kata",
    per_question: bool = False,
) -> Summary:
    """Write the ``lms`` ("canvas" or "moodle") import file for ``gradebook`` to ``out``."""
    if lms not in ID_COLUMNS:
        raise RosterError(f"--lms {lms}: expected canvas or moodle")
    students = read_gradebook(gradebook)
    names = [s["student"] for s in students]
    clash = sorted({n for n in names if [m.lower() for m in names].count(n.lower()) > 1})
    if clash:
        raise RosterError(f"gradebook {gradebook}: folders differ only by case: {clash}")
    mapping = (
        read_roster(roster, roster_folder_column, roster_id_column)
        if roster is not None
        else {n.lower(): n for n in names}
    )
    header, rows = read_csv(export, f"{lms} export")
    people = [r for r in rows if not _meta_row(lms, r)]
    summary = Summary(out=out)

    # which export column holds the roster's identifiers
    wanted = {v.lower() for v in mapping.values()}
    candidates = [lms_id_column] if lms_id_column else MATCH_COLUMNS[lms]
    absent = [c for c in candidates if c not in header]
    if lms_id_column and absent:
        raise RosterError(f"{lms} export {export}: no column {lms_id_column!r}; it has {header}")
    counts = {
        c: sum(r.get(c, "").lower() in wanted for r in people) for c in candidates if c in header
    }
    id_column = max(counts, key=counts.get) if counts else None
    if id_column is None or counts[id_column] == 0:
        looked = ", ".join(c for c in candidates if c in header) or f"none of {candidates}"
        raise RosterError(
            f"{lms} export {export}: none of the roster's identifiers is in its columns "
            f"{looked}; name the column with --lms-id-column, or check that the roster's "
            "ids are the LMS's"
        )
    summary.id_column = id_column
    values = [r.get(id_column, "").lower() for r in people if r.get(id_column)]
    doubles = sorted({v for v in values if values.count(v) > 1})
    if doubles:
        raise RosterError(f"{lms} export {export}: {id_column} {doubles} on more than one row")

    by_id = {
        mapping[s["student"].lower()].lower(): s
        for s in students
        if s["student"].lower() in mapping
    }
    summary.unknown_folders = sorted(
        s["student"] for s in students if s["student"].lower() not in mapping
    )
    in_lms = {r.get(id_column, "").lower() for r in people}
    summary.not_in_lms = sorted(v for v in mapping.values() if v.lower() not in in_lms)
    summary.not_linked = unlinked(roster, roster_folder_column, roster_id_column)

    possible_total = max([s.get("possible") or 0 for s in students] + [0]) or float(EXAM_POINTS)
    numbers = sorted(
        {int(k[1:]) for s in students for k in s.get("questions", {})} if per_question else []
    )
    kata_column = kata_header(header, column)
    question_columns = [
        (n, f"{column} Q{n}" + (" (bonus)" if QUESTIONS[n].bonus else "")) for n in numbers
    ]
    keep = [c for c in ID_COLUMNS[lms] if c in header]
    out_header = keep + [kata_column] + [name for _, name in question_columns]

    out_rows = []
    if lms == "canvas":
        points = {kata_column: _fmt(possible_total)}
        points.update({name: _fmt(QUESTIONS[n].points) for n, name in question_columns})
        out_rows.append({"Student": POINTS_POSSIBLE, **points})
    for person in people:
        ident = person.get(id_column, "")
        row = {c: person.get(c, "") for c in keep}
        student = by_id.get(ident.lower()) if ident else None
        who = " ".join(person.get(c, "") for c in NAME_COLUMNS[lms]).strip()
        label = f"{who} ({ident or 'no ' + id_column})"
        if student is None:
            summary.missing.append(label)
        elif student["status"] in NO_GRADE:
            summary.not_graded.append(f"{student['student']}: {student['status']}")
        else:
            possible = student.get("possible") or possible_total
            total = _clamp(student["total"], possible)
            if total != student["total"]:
                summary.clamped.append(
                    f"{student['student']}: {_fmt(student['total'])} -> {_fmt(total)}"
                )
            row[kata_column] = _fmt(total)
            for n, name in question_columns:
                entry = student.get("questions", {}).get(f"q{n:02d}")
                if entry is not None:
                    earned = _clamp(entry["earned"], QUESTIONS[n].points)
                    if earned != entry["earned"]:
                        summary.clamped.append(
                            f"{student['student']} Q{n}: {_fmt(entry['earned'])} -> {_fmt(earned)}"
                        )
                    row[name] = _fmt(earned)
            if student["status"] != "graded":
                summary.warnings.append(f"{student['student']}: status {student['status']}")
            summary.written += 1
        out_rows.append(row)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=out_header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(out_rows)
    tmp.replace(out)
    return summary


def _meta_row(lms: str, row: dict[str, str]) -> bool:
    """Canvas's rows that are no student: Points Possible, Manual Posting, the test student."""
    if lms != "canvas":
        return False
    if row.get("Student", "").strip() == "Student, Test":
        return True  # Canvas's own test student (Student View)
    return not row.get("ID") and row.get("Student", "").strip() in {
        "Points Possible",
        "Manual Posting",
        "",
    }


# --- the command line (also ``python -m kata.grade ... --lms``) --------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The LMS options, for ``python -m kata.grade`` and ``python -m kata.lms``."""
    group = parser.add_argument_group("LMS import file (kata.lms)")
    group.add_argument(
        "--lms",
        nargs=2,
        metavar=("{canvas,moodle}", "LMS_EXPORT.csv"),
        help="write a grade import file for this LMS, with the students of its gradebook export",
    )
    group.add_argument("--roster", type=Path, help="CSV mapping folders to students' LMS ids")
    group.add_argument(
        "--lms-out", type=Path, help="the import file (default: beside the gradebook)"
    )
    group.add_argument("--per-question", action="store_true", help="one column per question too")
    group.add_argument("--roster-folder-column", default="github_username", metavar="NAME")
    group.add_argument("--roster-id-column", default="identifier", metavar="NAME")
    group.add_argument("--lms-id-column", metavar="NAME", help="default: the one that matches")
    group.add_argument(
        "--lms-column", default="Exam kata", metavar="NAME", help="the kata's column"
    )


def apply(args: argparse.Namespace, gradebook_csv_path: Path, log=print) -> Summary | None:
    """Write the import file the options ask for (none without ``--lms``); log the summary."""
    if not args.lms:
        if args.roster:
            log("--roster has no effect without --lms canvas|moodle EXPORT.csv")
        return None
    lms, export = args.lms[0].lower(), Path(args.lms[1])
    gradebook = Path(gradebook_csv_path)
    out = args.lms_out or gradebook.with_name(f"{gradebook.stem}-{lms}-import.csv")
    summary = write_import(
        lms,
        gradebook,
        export,
        out,
        roster=args.roster,
        roster_folder_column=args.roster_folder_column,
        roster_id_column=args.roster_id_column,
        lms_id_column=args.lms_id_column,
        column=args.lms_column,
        per_question=args.per_question,
    )
    for line in summary.lines():
        log(line)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kata.lms", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("gradebook", type=Path, help="gradebook.json (or .csv) of kata.grade")
    parser.add_argument("--out", dest="out", type=Path, help="the import file to write")
    add_arguments(parser)
    args = parser.parse_args(argv)
    if not args.lms:
        parser.error("--lms canvas|moodle LMS_EXPORT.csv is required")
    args.lms_out = args.out or args.lms_out
    try:
        apply(args, args.gradebook)
    except RosterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

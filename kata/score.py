"""Turn test outcomes into the exam's points, and show them (a table, JSON, Markdown).

The JSON written by ``--score-json`` is a contract for graders and CI: its shape is the JSON
Schema ``kata/score.schema.json`` (``schema_version`` 1), and the kata's own tests check every
file it writes against that schema.

    python -m kata.score score.json        # the score as a Markdown table (a CI job summary)
    python -m kata.score score.json --graded-by "owner/repo@3f2a..."   # and what graded it
    python -m kata.score score.json --classroom    # GitHub Classroom's grading reporter payload
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from kata.naming import canonical_name, test_files, test_names
from kata.paths import as_typed, relative
from kata.points import BONUS_POINTS, EXAM_POINTS, QUESTIONS

SCHEMA_VERSION = 1
SCHEMA = Path(__file__).with_name("score.schema.json")
OUTCOMES = ("passed", "failed", "unanswered", "at grading", "skipped", "not run")
"""``at grading``: an answer whose key this copy does not hold (``kata.statements``): no points,
no cost, no verdict; the grading run judges it."""


def kata_version() -> str:
    try:
        from importlib.metadata import version

        return version("ann-exam-kata")
    except Exception:  # noqa: BLE001 - a copy that is not installed (a homework export, say)
        return "unknown"


def question_score(question, cases: dict[str, list[str]]) -> tuple[float, list[str]]:
    """Points earned from the outcomes of each test function's cases, and instructor notes.

    ``cases`` maps a test function's name to the outcomes of its parametrized cases
    ("passed", "failed", "skipped", "unanswered", "at grading", "not run"). A test that did not
    run earns nothing and costs nothing, nor does an answer judged at grading.
    """
    notes = []
    weights = {}
    for name in cases:
        weight = question.weight_of(name)
        if weight is None:
            notes.append(f"q{question.number:02d}: {name} has no weight in kata/points.py")
            weight = 1.0
        weights[name] = float(weight)
    total_weight = sum(weights.values())
    if total_weight <= 0:
        return 0.0, notes
    earned = 0.0
    for name, outcomes in cases.items():
        share = question.points * weights[name] / total_weight / len(outcomes)
        for outcome in outcomes:
            if outcome == "passed":
                earned += share
            elif outcome == "failed" and question.negative_marking:
                earned -= share
    return min(max(earned, 0.0), question.points), notes


def at_grading_share(question, cases: dict[str, list[str]]) -> float:
    """The points that the answers judged at grading are worth (``cases`` as for
    ``question_score``)."""
    weights = {name: question.weight_of(name) for name in cases}
    weights = {name: 1.0 if w is None else w for name, w in weights.items()}
    total_weight = sum(weights.values())
    if total_weight <= 0:
        return 0.0
    return sum(
        question.points * weights[name] / total_weight / len(outcomes)
        for name, outcomes in cases.items()
        for outcome in outcomes
        if outcome == "at grading"
    )


@dataclass
class Run:
    """What one run selected and what came of it (filled in by the plugin)."""

    target_dir: Path
    rootpath: Path
    invocation_dir: Path
    tests: dict[str, tuple[int, str]] = field(default_factory=dict)
    """nodeid -> (question, test function name) of every selected kata test"""
    outcomes: dict[str, str] = field(default_factory=dict)
    """nodeid -> one of OUTCOMES"""
    slow: set[str] = field(default_factory=set)
    """nodeids skipped because they are slow and --slow was not given"""
    seen: Counter = field(default_factory=Counter)
    """(question, test function) -> cases collected before deselection (-k, -m, --deselect)"""
    named: set[int] = field(default_factory=set)
    """questions of which the command line named single tests (file.py::test_x)"""
    files: dict[int, Path] = field(default_factory=dict)
    """question -> the file or package under test (when it differs from the usual name)"""
    notes: list[str] = field(default_factory=list)
    not_started: dict[int, int] = field(default_factory=dict)
    """question -> its tests that did not run because it is not started (``kata.started``)"""
    started_at: str = ""
    duration_s: float = 0.0
    exit_status: int = 0


def _round(x: float) -> float:
    return float(round(x + 0.0, 2))


def compute(run: Run) -> dict:
    """The score of a run: one row per question of the exam, the totals and what to do next."""
    by_question: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for nodeid, (number, name) in run.tests.items():
        by_question[number][name].append(run.outcomes.get(nodeid, "not run"))
    tests_dir = run.rootpath / "tests"
    rows, notes = [], list(run.notes)
    at_grading_points = 0.0
    for number, question in QUESTIONS.items():
        in_kata = any(tests_dir.glob(f"test_q{number:02d}_*.py"))
        cases = by_question.get(number, {})
        counts = Counter(o for outcomes in cases.values() for o in outcomes)
        selected = sum(counts.values())
        slow_not_run = sum(
            1
            for nodeid in run.slow
            if run.tests.get(nodeid, (None,))[0] == number and run.outcomes.get(nodeid) == "skipped"
        )
        # What the question would have run without a selection: every test function defined in
        # its test modules, every case collected. Tests left out earn nothing and cost nothing.
        defined = {n for f in test_files(tests_dir, number) for n in test_names(f)}
        scored = {}
        for name in sorted(defined | set(cases)):
            outcomes = list(cases.get(name, []))
            missing = max(run.seen.get((number, name), 1 if not outcomes else 0) - len(outcomes), 0)
            scored[name] = outcomes + ["not run"] * missing
        left_out = sum(o == "not run" for outcomes in scored.values() for o in outcomes)
        partial = bool(cases) and (left_out > 0 or number in run.named)
        earned, question_notes = question_score(question, scored) if cases else (0.0, [])
        notes += question_notes
        # What the selected tests are worth: the points if every one of them passed.
        best = {n: ["passed" if o != "not run" else o for o in v] for n, v in scored.items()}
        worth = question_score(question, best)[0] if cases else 0.0
        if counts.get("at grading"):
            at_grading_points += at_grading_share(question, scored)
        failing = selected - counts.get("passed", 0) - counts.get("at grading", 0) - slow_not_run
        rows.append(
            {
                "number": number,
                "title": question.title,
                "points": float(question.points),
                "bonus": question.bonus,
                "negative_marking": question.negative_marking,
                "in_kata": in_kata,
                "ran": bool(cases),
                "partial": partial,
                "complete": bool(cases) and not partial and failing == 0 and slow_not_run == 0,
                "slow_not_run": slow_not_run,
                "earned": _round(earned),
                "selected_points": _round(worth),
                "tests": {o: counts[o] for o in OUTCOMES if counts.get(o)},
                "file": relative(run.files[number], run.rootpath) if number in run.files else None,
            }
        )
    ran = [r for r in rows if r["ran"]]
    exam_rows = [r for r in rows if not r["bonus"]]
    partial_run = any(r["partial"] for r in rows) or any(
        r["in_kata"] and not r["ran"] for r in rows
    )
    result = {
        "schema_version": SCHEMA_VERSION,
        "kata_version": kata_version(),
        "target": relative(run.target_dir, run.rootpath),
        "started_at": run.started_at,
        "duration_s": _round(run.duration_s),
        "exit_status": int(run.exit_status),
        "earned": _round(sum(r["earned"] for r in exam_rows)),
        "possible": float(EXAM_POINTS),
        "bonus_earned": _round(sum(r["earned"] for r in rows if r["bonus"])),
        "bonus_possible": float(BONUS_POINTS),
        "ran_possible": float(sum(r["points"] for r in ran if not r["bonus"])),
        "selected_possible": _round(sum(r["selected_points"] for r in exam_rows)),
        "partial_run": partial_run,
        "slow_skipped": len(run.slow),
        "at_grading_points": _round(at_grading_points),
        "questions": rows,
        "tests": [
            {
                "nodeid": nodeid,
                "question": number,
                "test": name,
                "outcome": run.outcomes.get(nodeid, "not run"),
            }
            for nodeid, (number, name) in run.tests.items()
        ],
        "notes": notes,
    }
    result["next"] = next_step(rows, run)
    return result


def command_for(run: Run, path: Path) -> str:
    """``pytest <path>``, with the path as the learner would type it where they ran pytest."""
    return f"pytest {as_typed(path, run.invocation_dir)}"


def next_step(rows: list[dict], run: Run) -> dict | None:
    """What to do next: the first question (in exam order) that ran and still has a failing
    test; else, when every question that ran was run whole and passes, the next question of the
    kata that did not run (in exam order, after the first one that ran); else None."""
    for row in rows:
        if not row["ran"]:
            continue
        tests = row["tests"]
        if any(tests.get(o) for o in ("failed", "unanswered")):
            return _step(row, run)
    ran = [r["number"] for r in rows if r["ran"]]
    if not ran or any(r["partial"] for r in rows):
        return None
    later = [r for r in rows if r["in_kata"] and not r["ran"] and r["number"] > min(ran)]
    earlier = [r for r in rows if r["in_kata"] and not r["ran"] and r["number"] < min(ran)]
    return _step((later + earlier)[0], run) if later + earlier else None


def _step(row: dict, run: Run) -> dict:
    number = row["number"]
    path = run.files.get(number)
    if path is None:
        path = run.target_dir / _usual_name(run, number)
    return {"number": number, "title": row["title"], "command": command_for(run, path)}


def _usual_name(run: Run, number: int) -> str:
    name = canonical_name(run.rootpath / "tests", number) or f"q{number:02d}_*"
    package = run.target_dir / name
    return name if package.is_dir() else f"{name}.py"


def write_json(result: dict, path: str | os.PathLike) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2) + "\n")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fmt(x: float) -> str:
    return f"{x:g}" if abs(x - round(x, 2)) < 1e-9 else f"{x:.2f}"


def status_text(row: dict) -> str:
    """The row's last column: tests passed, and what did not run."""
    tests = row["tests"]
    ran = sum(v for k, v in tests.items() if k not in ("not run", "at grading"))
    text = f"{tests.get('passed', 0)}/{ran} tests passed"
    extras = []
    if not ran and tests.get("at grading"):  # only answers ran: "0/0 tests passed" says nothing
        text = f"{_count(tests['at grading'], 'answer')} judged at grading"
    if tests.get("unanswered"):
        extras.append(f"{tests['unanswered']} unanswered")
    if tests.get("at grading") and ran:
        extras.append(f"{_count(tests['at grading'], 'answer')} judged at grading")
    if row["slow_not_run"]:
        extras.append(f"{_count(row['slow_not_run'], 'slow test')} not run: add --slow")
    other_skips = tests.get("skipped", 0) - row["slow_not_run"]
    if other_skips > 0:
        extras.append(f"{other_skips} skipped")
    if tests.get("not run"):
        extras.append(f"{tests['not run']} did not run")
    question = QUESTIONS.get(row.get("number"))
    if question is not None and question.demonstration:  # tests of weight 0, shown not scored
        extras.append(question.demonstration)
    if extras:
        text += f" ({'; '.join(extras)})"
    if row["partial"]:
        text = "part of the question: " + text
    elif row["complete"]:
        text = "complete: " + text
    return text


def print_table(result: dict, tr, run: Run) -> None:
    """The score table at the end of every run."""
    target_label = as_typed(run.target_dir, run.invocation_dir)
    tr.write_sep("=", f"exam score ({result['target']})")
    for row in result["questions"]:
        if result["partial_run"] and not row["ran"]:
            continue
        label = ("(bonus) " if row["bonus"] else "") + row["title"]
        if not row["ran"]:
            points, status = f"{'-':>5} / {_fmt(row['points']):<4}", "not in the kata yet"
        else:
            points = f"{_fmt(row['earned']):>5} / {_fmt(row['points']):<4}"
            status = status_text(row)
            if run.not_started.get(row["number"]):
                status = f"not started ({_count(run.not_started[row['number']], 'test')} wait)"
        tr.write_line(f"{row['number']:>2}  {label[:38]:<38} {points}  {status}")
    total = f"total {_fmt(result['earned'])} / {_fmt(result['possible'])}"
    if result["bonus_earned"]:
        total += f" (+{_fmt(result['bonus_earned'])} bonus)"
    tr.write_line("")
    if result["partial_run"]:
        some = ", not every test of them" if any(r["partial"] for r in result["questions"]) else ""
        tr.write_line(
            f"{total}: this run covers only part of the exam "
            f"(questions worth {_fmt(result['ran_possible'])} of {_fmt(result['possible'])} "
            f"points{some}); run `pytest {target_label}/` for the whole exam."
        )
    else:
        tr.write_line(total)
    if result["slow_skipped"]:
        tr.write_line(
            f"{_count(result['slow_skipped'], 'slow test')} skipped (training, seed sweeps): "
            "add --slow to run them."
        )
    if result.get("at_grading_points"):
        tr.write_line(at_grading_line(result))
    step = result.get("next")
    if step:
        tr.write_line(f"next: question {step['number']}, {step['title']}: {step['command']}")
    elif any(r["ran"] for r in result["questions"]):
        if not result["partial_run"] and all(
            r["complete"] for r in result["questions"] if r["in_kata"]
        ):
            final = total.removeprefix("total ")
            if result.get("at_grading_points"):  # not final: the grading run judges the answers
                tr.write_line(f"all done: every question of the kata passes. Score here: {final}")
            else:
                tr.write_line(f"all done: every question of the kata passes. Final score: {final}")
        elif result["slow_skipped"]:
            tr.write_line("every fast test passes; the slow tests above hold the remaining points.")
        else:
            tr.write_line("every test that ran passes.")
    for note in result["notes"]:
        tr.write_line(f"note: {note}")


def not_started_lines(result: dict, run: Run) -> list[str]:
    """One line for each question that is not started (its tests did not run)."""
    lines = []
    for row in result["questions"]:
        count = run.not_started.get(row["number"])
        if not count:
            continue
        path = run.files.get(row["number"]) or run.target_dir / _usual_name(run, row["number"])
        lines.append(
            f"q{row['number']:02d} {row['title']}: not started: open "
            f"{as_typed(path, run.invocation_dir)}; {_count(count, 'test')} wait"
        )
    return lines


def at_grading_line(result: dict) -> str:
    return (
        f"judged at grading: answers worth {_fmt(result['at_grading_points'])} points are "
        "recorded but not scored here (this copy holds no answer keys; the total leaves them "
        "out, right or wrong)."
    )


def markdown(result: dict) -> str:
    """The score as a Markdown table (for a CI job summary)."""
    lines = ["| # | question | points | tests |", "|---|---|---|---|"]
    for row in result["questions"]:
        if not row["ran"]:
            continue
        lines.append(
            f"| {row['number']} | {row['title']} | {_fmt(row['earned'])} / {_fmt(row['points'])}"
            f" | {status_text(row)} |"
        )
    total = f"**total {_fmt(result['earned'])} / {_fmt(result['possible'])}**"
    if result["bonus_earned"]:
        total += f" (+{_fmt(result['bonus_earned'])} bonus)"
    if result["partial_run"]:
        total += " (a partial run: not every test ran)"
    lines.append(f"\n{total}")
    if result.get("at_grading_points"):
        lines.append(f"\n{at_grading_line(result)}")
    return "\n".join(lines) + "\n"


def classroom_payload(result: dict) -> str:
    """The score for GitHub Classroom's grading reporter: base64 of its JSON, one test per question.

    Each question of the kata is one entry worth its exam points, with the points earned as its
    score (partial credit included); the reporter adds them up for Classroom.
    """
    import base64

    tests = []
    for row in result["questions"]:
        if not row["in_kata"]:
            continue
        tests.append(
            {
                "name": f"Q{row['number']} {row['title']}" + (" (bonus)" if row["bonus"] else ""),
                "status": "pass" if row["complete"] else "fail",
                "score": row["earned"],
                "message": status_text(row) if row["ran"] else "did not run",
                "line_no": 0,
                "execution_time": "",
            }
        )
    payload = {
        "version": 1,
        "status": "pass" if tests and all(t["status"] == "pass" for t in tests) else "fail",
        "max_score": _round(sum(r["points"] for r in result["questions"] if r["in_kata"])),
        "tests": tests,
    }
    return base64.b64encode(json.dumps(payload).encode()).decode()


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m kata.score", description="Show a score JSON written by --score-json."
    )
    parser.add_argument("score_json", type=Path)
    parser.add_argument("--graded-by", help="say what graded the run (e.g. repository@commit)")
    parser.add_argument(
        "--classroom", action="store_true", help="print GitHub Classroom's reporter payload"
    )
    args = parser.parse_args(argv)
    try:
        result = json.loads(args.score_json.read_text())
        if result.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema_version {result.get('schema_version')!r}")
    except (OSError, ValueError) as error:
        print(
            f"**No score**: {args.score_json} could not be read ({error}). The grading run did "
            "not finish: its log says why."
        )
        if args.graded_by:
            print(f"\nGraded by {args.graded_by}.")
        return 1
    if args.classroom:
        print(classroom_payload(result))
        return 0
    print("## Exam score\n")
    print(markdown(result))
    if args.graded_by:
        print(
            f"Graded by the tests and kata of {args.graded_by} (kata {result['kata_version']}), "
            "not by the copies in the repository under test."
        )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())

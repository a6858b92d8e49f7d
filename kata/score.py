"""Turn test outcomes into the exam's points, and show them."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from kata.points import BONUS_POINTS, EXAM_POINTS, QUESTIONS


def question_score(question, cases: dict[str, list[str]]) -> tuple[float, list[str]]:
    """Points earned from the outcomes of each test function's cases, and instructor notes.

    ``cases`` maps a test function's name to the outcomes of its parametrized cases
    ("passed", "failed", "skipped", "unanswered").
    """
    notes = []
    weights = {}
    for name in cases:
        weight = question.weights.get(name)
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


def compute(items: dict, outcomes: dict, target_dir: Path, rootpath: Path) -> dict:
    """The score of a run: one row per question of the exam, the totals and what to do next."""
    by_question: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for nodeid, (number, name) in items.items():
        by_question[number][name].append(outcomes.get(nodeid, "not run"))
    tests_dir = rootpath / "tests"
    rows, notes = [], []
    for number, question in QUESTIONS.items():
        in_kata = any(tests_dir.glob(f"test_q{number:02d}_*.py"))
        row = {
            "number": number,
            "title": question.title,
            "points": question.points,
            "bonus": question.bonus,
            "negative_marking": question.negative_marking,
            "in_kata": in_kata,
            "ran": number in by_question,
            "earned": 0.0,
            "tests": {},
        }
        if number in by_question:
            cases = by_question[number]
            row["earned"], question_notes = question_score(question, cases)
            notes.extend(question_notes)
            counts = defaultdict(int)
            for outcomes_of_test in cases.values():
                for outcome in outcomes_of_test:
                    counts[outcome] += 1
            row["tests"] = dict(counts)
        rows.append(row)
    ran = [r for r in rows if r["ran"]]
    partial = any(r["in_kata"] and not r["ran"] for r in rows)
    exam_rows = [r for r in rows if not r["bonus"]]
    result = {
        "target": str(target_dir),
        "questions": rows,
        "earned": round(sum(r["earned"] for r in exam_rows), 4),
        "possible": EXAM_POINTS,
        "bonus_earned": round(sum(r["earned"] for r in rows if r["bonus"]), 4),
        "bonus_possible": BONUS_POINTS,
        "partial_run": partial,
        "ran_possible": sum(r["points"] for r in ran if not r["bonus"]),
        "notes": notes,
        "tests": [
            {
                "nodeid": nodeid,
                "question": q,
                "test": name,
                "outcome": outcomes.get(nodeid, "not run"),
            }
            for nodeid, (q, name) in items.items()
        ],
    }
    result["next"] = next_step(rows, target_dir, rootpath)
    return result


def next_step(rows: list[dict], target_dir: Path, rootpath: Path) -> dict | None:
    """The first question (in exam order) that ran and is not yet complete."""
    for row in rows:
        if row["ran"] and row["earned"] < row["points"] - 1e-9:
            failing = {k: v for k, v in row["tests"].items() if k != "passed" and k != "skipped"}
            if not failing and row["tests"].get("skipped"):
                continue  # only skipped (slow) tests left; they are reported separately
            files = sorted(target_dir.glob(f"q{row['number']:02d}_*"))
            name = files[0].name if files else f"q{row['number']:02d}_*.py"
            try:
                folder = target_dir.relative_to(rootpath)
            except ValueError:
                folder = target_dir
            return {
                "number": row["number"],
                "title": row["title"],
                "command": f"pytest {folder}/{name}",
            }
    return None


def write_json(result: dict, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(result, indent=2) + "\n")


def _fmt(x: float) -> str:
    return f"{x:g}" if abs(x - round(x, 2)) < 1e-9 else f"{x:.2f}"


def print_table(result: dict, tr, target_label: str) -> None:
    """The score table at the end of every run."""
    tr.write_sep("=", f"exam score ({target_label})")
    for row in result["questions"]:
        if result["partial_run"] and not row["ran"]:
            continue
        label = ("(bonus) " if row["bonus"] else "") + row["title"]
        if not row["ran"]:
            points, status = f"{'-':>5} / {_fmt(row['points']):<4}", "not in the kata yet"
        else:
            tests = row["tests"]
            status = f"{tests.get('passed', 0)}/{sum(tests.values())} tests passed"
            extras = [f"{tests[k]} {k}" for k in ("unanswered", "skipped") if tests.get(k)]
            if extras:
                status += f" ({', '.join(extras)})"
            if row["earned"] >= row["points"] - 1e-9:
                status = "complete: " + status
            points = f"{_fmt(row['earned']):>5} / {_fmt(row['points']):<4}"
        tr.write_line(f"{row['number']:>2}  {label[:38]:<38} {points}  {status}")
    total = f"total {_fmt(result['earned'])} / {_fmt(result['possible'])}"
    if result["bonus_earned"]:
        total += f" (+{_fmt(result['bonus_earned'])} bonus)"
    tr.write_line("")
    if result["partial_run"]:
        tr.write_line(
            f"{total}: this run covers only the questions above "
            f"({_fmt(result['ran_possible'])} of {_fmt(result['possible'])} points); "
            "run `pytest exercises/` for the whole exam."
        )
    else:
        tr.write_line(total)
    if result.get("slow_skipped"):
        tr.write_line(
            f"{result['slow_skipped']} slow tests (training) were skipped: add --slow to run them."
        )
    step = result.get("next")
    if step:
        tr.write_line(f"next: question {step['number']}, {step['title']}: {step['command']}")
    elif result.get("slow_skipped"):
        tr.write_line("every fast test passes; the slow tests above hold the remaining points.")
    elif any(r["ran"] for r in result["questions"]):
        tr.write_line("every question that ran is complete.")
    for note in result["notes"]:
        tr.write_line(f"instructor note: {note}")


def markdown(result: dict) -> str:
    """The score as a Markdown table (for a CI job summary)."""
    lines = ["| # | question | points | tests |", "|---|---|---|---|"]
    for row in result["questions"]:
        if not row["ran"]:
            continue
        tests = row["tests"]
        lines.append(
            f"| {row['number']} | {row['title']} | {_fmt(row['earned'])} / {_fmt(row['points'])}"
            f" | {tests.get('passed', 0)}/{sum(tests.values())} passed |"
        )
    lines.append(f"\n**total {_fmt(result['earned'])} / {_fmt(result['possible'])}**")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(markdown(json.loads(Path(sys.argv[1]).read_text())))

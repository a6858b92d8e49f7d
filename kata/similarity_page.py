"""The similarity report: its pairs (``Pair``, ``Report``) and what it writes, ``similarity.csv``
and ``similarity.html`` (the page an instructor opens: flagged pairs first, both files side by
side, the shared passages marked). ``kata.similarity`` finds the pairs."""

from __future__ import annotations

import csv
import functools
import html
from dataclasses import dataclass, field
from pathlib import Path

MAX_SHOWN = 100
"""Flagged pairs shown with their code on the page; any more are listed (all are in the CSV)."""
CONTEXT = 8
"""Lines shown around the shared passages on the page (the rest of a file is "...")."""
CSV_NAME, HTML_NAME = "similarity.csv", "similarity.html"


@dataclass(frozen=True)
class Pair:
    """One compared pair of files of one question: ``student_b`` may be ``reference``."""

    question: str
    student_a: str
    student_b: str
    similarity: float
    flagged: bool
    matched: int = 0
    """Characters of tokens in the shared passages."""

    def other(self, student: str) -> str:
        return self.student_b if student == self.student_a else self.student_a


@dataclass
class Report:
    """What the comparison found: every pair, the flagged ones per student, what was left out."""

    threshold: float
    questions: list[str]
    """The questions compared (a package question's files as ``q19_lunar_lander/dqn``)."""
    excluded: dict[str, str]
    """Questions not compared, and why (too short to tell, or no solution code in them)."""
    pairs: list[Pair]
    csv_path: Path
    html_path: Path
    skipped: list[str] = field(default_factory=list)
    """Files that could not be read (too large, not a regular file), as ``student: file``."""

    @functools.cached_property
    def flagged(self) -> list[Pair]:
        """The flagged pairs, most similar first."""
        return sorted((p for p in self.pairs if p.flagged), key=_order)

    @functools.cached_property
    def by_student(self) -> dict[str, list[Pair]]:
        """{student: the flagged pairs they are in, most similar first} (flagged students only)."""
        found: dict[str, list[Pair]] = {}
        for pair in self.flagged:
            for student in (pair.student_a, pair.student_b):
                found.setdefault(student, []).append(pair)
        return found

    def flagged_for(self, student: str) -> list[Pair]:
        """The flagged pairs a student is in, most similar first."""
        return self.by_student.get(student, [])

    def note(self, student: str) -> str:
        """A line for the gradebook's notes ('' when nothing is flagged); grades never change."""
        found = self.flagged_for(student)
        if not found:
            return ""
        named = ", ".join(
            f"{p.question} with {p.other(student)} ({p.similarity:.0%})" for p in found[:5]
        )
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        return f"similar code (read {self.html_path.name}, not a verdict): {named}{more}"


def _order(pair: Pair) -> tuple:
    return (-pair.similarity, -pair.matched, pair.question, pair.student_a, pair.student_b)


def write_csv(result: Report) -> None:
    tmp = result.csv_path.with_name(result.csv_path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "student_a", "student_b", "similarity", "flagged"])
        for p in result.pairs:
            writer.writerow(
                [p.question, p.student_a, p.student_b, f"{p.similarity:.4f}", p.flagged]
            )
    tmp.replace(result.csv_path)


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 110em; color: #222;
       padding: 0 1em; }
h1 { margin-bottom: .2em; }
.lead { color: #444; max-width: 60em; }
.pair { border: 1px solid #ccc; border-radius: 6px; margin: 1.2em 0; padding: .4em 1em 1em; }
.pair h3 { margin: .4em 0; }
.score { background: #c0392b; color: white; border-radius: 4px; padding: 0 .4em; }
.sides { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; }
.sides h4 { margin: .3em 0; font-family: monospace; }
pre { background: #fafafa; border: 1px solid #ddd; padding: .5em; margin: 0; overflow: auto;
      max-height: 38em; font-size: 12.5px; line-height: 1.35; }
mark { background: #ffd36b; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .2em .6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""


def _marked(text: str, slices) -> str:
    from copydetect.utils import highlight_overlap

    marked, _ = highlight_overlap(
        text, slices, "<mark>", "</mark>", truncate=CONTEXT, escape_html=True
    )
    return marked


def write_html(result: Report, shown: list, has_reference: bool, students: int) -> None:
    from kata.similarity import MIN_MATCHED

    e = html.escape
    flagged = sorted(shown, key=lambda item: _order(item[0]))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>Similarity report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Similarity report</h1>",
        f'<p class="lead">{students} students compared question by question'
        + (", and with the reference solutions (<code>reference</code>)" if has_reference else "")
        + ". Code every student was given (the stubs) is never counted. A pair is flagged when "
        f"at least {result.threshold:.0%} of one side's own code is found in the other's "
        f"(and the shared passages hold at least {MIN_MATCHED} characters of tokens). "
        "<strong>A flag is a reason to read two files, not a verdict</strong>: shared passages "
        "are marked; names, strings and layout do not count.</p>",
        f'<h2 id="flagged">Flagged pairs ({len(flagged)})</h2>',
    ]
    if not flagged:
        parts.append("<p>None.</p>")
    for number, (pair, text_a, slices_a, text_b, slices_b) in enumerate(
        flagged[:MAX_SHOWN], start=1
    ):
        parts += [
            f'<section class="pair" id="pair-{number}" data-question="{e(pair.question)}" '
            f'data-a="{e(pair.student_a)}" data-b="{e(pair.student_b)}" '
            f'data-similarity="{pair.similarity:.4f}">',
            f"<h3>{e(pair.question)}: {e(pair.student_a)} and {e(pair.student_b)} "
            f'<span class="score">{pair.similarity:.0%}</span></h3>',
            f"<p>{pair.matched} characters of tokens shared; {CONTEXT} lines of context around "
            "the marked passages, the rest is <code>...</code></p>",
            '<div class="sides">',
            f"<div><h4>{e(pair.student_a)}/{e(pair.question)}.py</h4>"
            f"<pre>{_marked(text_a, slices_a)}</pre></div>",
            f"<div><h4>{e(pair.student_b)}/{e(pair.question)}.py</h4>"
            f"<pre>{_marked(text_b, slices_b)}</pre></div>",
            "</div></section>",
        ]
    if len(flagged) > MAX_SHOWN:
        parts += [
            f'<h3 id="more">{len(flagged) - MAX_SHOWN} more flagged pairs, without their code</h3>',
            "<table><tr><th>question</th><th>student_a</th><th>student_b</th>"
            "<th>similarity</th></tr>",
        ]
        parts += [
            f"<tr><td>{e(p.question)}</td><td>{e(p.student_a)}</td><td>{e(p.student_b)}</td>"
            f"<td class='num'>{p.similarity:.0%}</td></tr>"
            for p, *_ in flagged[MAX_SHOWN:]
        ]
        parts.append("</table>")
    parts += [
        '<h2 id="questions">Every question compared</h2>',
        "<table><tr><th>question</th><th>pairs</th><th>flagged</th><th>highest</th>"
        "<th>most similar pair</th></tr>",
    ]
    for name in result.questions:
        pairs = [p for p in result.pairs if p.question == name]
        top = min(pairs, key=_order) if pairs else None
        parts.append(
            f"<tr><td>{e(name)}</td><td class='num'>{len(pairs)}</td>"
            f"<td class='num'>{sum(p.flagged for p in pairs)}</td>"
            f"<td class='num'>{top.similarity if top else 0:.0%}</td>"
            f"<td>{e(f'{top.student_a} and {top.student_b}') if top and top.similarity else ''}"
            "</td></tr>"
        )
    parts.append("</table>")
    parts.append(f'<h2 id="excluded">Not compared ({len(result.excluded)})</h2>')
    if result.excluded:
        parts.append(
            "<p>Short answers match by nature. These questions are left out "
            "(<code>--similarity-all</code>, or <code>--all</code> by hand, compares the "
            "short ones too):</p><ul>"
        )
        parts += [f"<li><code>{e(n)}</code>: {e(why)}</li>" for n, why in result.excluded.items()]
        parts.append("</ul>")
    else:
        parts.append("<p>None.</p>")
    if result.skipped:
        parts.append("<h2>Files not read</h2><ul>")
        parts += [f"<li>{e(s)}</li>" for s in result.skipped]
        parts.append("</ul>")
    parts.append("</body></html>\n")
    tmp = result.html_path.with_name(result.html_path.name + ".tmp")
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(result.html_path)

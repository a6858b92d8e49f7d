"""Similar answers across a class: which students' code for a question matches a classmate's, or
the reference's, once the code every student was given is set aside.

    python -m kata.similarity COPIES/ --out DIR [--stubs DIR] [--reference solutions]
                              [--threshold 0.5] [--all] [--jobs N]

``COPIES/`` holds one folder per student (their ``exercises/``, or a folder with ``exercises/``
inside). ``kata.grade ... --similarity`` runs the same comparison on the private copies it grades
(``report``). Nothing here runs the students' code: it is read as text, tokens only.

How: every question file is compared with the same file of every other student, and with the
reference in ``solutions/`` (named ``reference``), by copydetect: the winnowing fingerprints of
MOSS over the code's tokens, with names, strings and layout folded away (renaming variables or
reformatting does not hide a copy) and the pristine stub as boilerplate (a passage found in the stub
is never a match). A package question (``q19_lunar_lander/``) is compared file by file.

A pair's ``similarity`` is the larger of the two shares: of the code one student wrote (the stub
set aside), how much is found in the other's. A pair is ``flagged`` when the similarity is at least
the threshold (``DEFAULT_THRESHOLD``, ``--threshold``) and the shared passages hold at least
``MIN_MATCHED`` characters of tokens, so that a student who wrote one line is not flagged for it.

Questions whose reference answers are too short to tell a copy from the obvious answer
(``MIN_SOLUTION``) are not compared unless asked (``--all``); the report names them.

It writes ``similarity.csv`` (``question,student_a,student_b,similarity,flagged``: one row per
compared pair and question; ``student_b`` is ``reference`` for the reference) and
``similarity.html`` (the flagged pairs first, both files side by side with the shared passages
marked; then every question's figures; then what was not compared). A flag is a reason to read two
files, not a verdict.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import importlib.util
import io
import os
import re
import sys
import tempfile
import textwrap
from pathlib import Path

from kata import fences, similarity_page
from kata.paths import ROOT
from kata.similarity_page import CSV_NAME, HTML_NAME, Pair, Report
from kata.stubs import export_pristine, source_dir

DEFAULT_THRESHOLD = 0.5
"""A pair is flagged when at least half of one student's own code (the stub set aside) is found
in the other's. An independent answer to question 8 shares 17 % with the reference, a renamed and
reformatted copy 96 % with its source (``kata/tests/test_similarity.py``)."""
MIN_MATCHED = 100
"""And the shared passages must hold at least this many characters of tokens (names, strings and
layout folded away: about four lines of code), so that a student who wrote one line is not flagged
because someone else wrote the same line."""
MIN_SOLUTION = 300
"""Characters of tokens of long answers under which a question is too short to tell (below)."""
LONG_ANSWER = 100
"""A question is too short to tell, and not compared unless asked, when the reference's answers
(the code between its ``BEGIN SOLUTION`` and ``END SOLUTION`` fences, measured the same way) that
hold at least ``LONG_ANSWER`` characters of tokens (about four lines) add up to less than
``MIN_SOLUTION`` (about ten lines). Short answers are everybody's answers once names are folded
away: the parameter counts of question 12 are one line of arithmetic each, and an answer to
question 5 (sixteen one- or two-line functions and a true/false dictionary) written without
looking at the reference shares 43 % with it. Without a reference (a homework copy has none)
nothing is excluded for being short."""
NOISE = 25
"""copydetect's noise threshold: shared passages shorter than this many characters of tokens are
not matches (copydetect's default)."""
MAX_BYTES = 200_000
"""A question file larger than this is not read (student files are hostile input; the largest
reference file is about 21 kB)."""
REFERENCE = "reference"
"""The name of the reference solutions in the report."""
QUESTION_FILE = re.compile(r"^q\d\d_\w+\.py$")
QUESTION_PACKAGE = re.compile(r"^q\d\d_\w+$")


# --- which files are compared -------------------------------------------------------------------


def question_files(stubs: Path) -> list[str]:
    """The files compared, relative to ``exercises/`` without ``.py``: ``q08_convolution``, and
    every module of a package question (``q19_lunar_lander/dqn``)."""
    found = []
    for path in sorted(stubs.iterdir()):
        if path.is_file() and QUESTION_FILE.match(path.name):
            found.append(path.stem)
        elif path.is_dir() and QUESTION_PACKAGE.match(path.name):
            found += [
                p.relative_to(stubs).with_suffix("").as_posix()
                for p in sorted(path.rglob("*.py"))
                if "__pycache__" not in p.parts
            ]
    return found


def fenced_regions(source: str) -> list[str]:
    """The code of each of a solution file's ``BEGIN SOLUTION`` regions, dedented (comments, blank
    lines and ``# STUB:`` lines left out: copydetect folds comments away in any case)."""
    return [
        textwrap.dedent("\n".join(region.code) + "\n") for region in fences.parse(source).regions
    ]


def fenced_code(source: str) -> str:
    """All the fenced code of a solution file, region after region."""
    return "\n".join(fenced_regions(source))


def token_size(code: str) -> int:
    """How many characters of tokens copydetect sees in Python code (names, strings and layout
    folded away, comments dropped): the unit of ``MIN_SOLUTION`` and ``MIN_MATCHED``."""
    from copydetect.utils import filter_code

    filtered, _ = filter_code(code, "answer.py", "python")
    return len(filtered)


def too_short(stubs: Path, reference: Path | None, files: list[str]) -> dict[str, str]:
    """{question file: why it is not compared by default}, from the reference's fenced answers:
    a question is too short to tell when its answers of at least ``LONG_ANSWER`` characters of
    tokens add up to less than ``MIN_SOLUTION``."""
    if reference is None:
        return {}
    excluded = {}
    for name in files:
        path = reference / f"{name}.py"
        try:
            sizes = [token_size(r) for r in fenced_regions(path.read_text(encoding="utf-8"))]
        except (OSError, UnicodeDecodeError):
            continue
        long = sum(size for size in sizes if size >= LONG_ANSWER)
        if not any(sizes):
            excluded[name] = "no solution code in it: every student has the same file"
        elif long < MIN_SOLUTION:
            excluded[name] = (
                f"too short to tell: {len(sizes)} answers, the longest {max(sizes)} characters "
                f"of tokens; answers of {LONG_ANSWER} or more add up to {long}, under "
                f"{MIN_SOLUTION}. Short answers are everybody's answers"
            )
    return excluded


def read_source(path: Path, folder: Path) -> str | None:
    """A question file's text, or None when it is missing, not a regular file inside ``folder``
    (a symbolic link, or a path through one), or too large."""
    try:
        if (
            path.is_symlink()
            or not path.is_file()
            or not path.resolve().is_relative_to(folder.resolve())
            or path.stat().st_size > MAX_BYTES
        ):
            return None
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None


# --- the comparison (one question file at a time, in a worker process) -------------------------


def _compare_question(
    name: str, stub: str, texts: dict[str, str], threshold: float
) -> tuple[list[tuple[str, str, float, int, object, object]], list[str]]:
    """Compare every pair of sources of one question file: rows (a, b, similarity, matched,
    slices of a, slices of b), slices (copydetect's, into each raw text) only for flagged pairs;
    and the sources that could not be fingerprinted, with why (they are left out).

    Runs in one process: copydetect hashes with Python's ``hash``, which differs between processes.
    """
    import numpy as np
    from copydetect import CodeFingerprint, compare_files

    filename = f"{name}.py"
    stub_print = CodeFingerprint(filename, NOISE, 1, language="python", fp=io.StringIO(stub))
    boilerplate = np.unique(np.array(list(stub_print.hashes)))
    prints, by_text, failed = {}, {}, []
    for source, text in texts.items():
        key = hashlib.sha256(text.encode()).digest()
        if key not in by_text:  # untouched stubs and verbatim copies: fingerprinted once
            try:
                by_text[key] = (
                    None
                    if text == stub
                    else CodeFingerprint(
                        filename, NOISE, 1, boilerplate, language="python", fp=io.StringIO(text)
                    )
                )
            except Exception as error:  # one odd file must not end the report
                failed.append(f"{source}: {name}.py could not be read as code ({error!r:.100})")
                continue
        prints[source] = by_text[key]
    sources = list(prints)
    rows = []
    for i, a in enumerate(sources):
        for b in sources[i + 1 :]:
            fa, fb = prints[a], prints[b]
            if fa is None or fb is None or not (fa.hashes & fb.hashes):
                rows.append((a, b, 0.0, 0, None, None))
                continue
            matched, (share_a, share_b), (slices_a, slices_b) = compare_files(fa, fb)
            similarity = float(max(share_a, share_b))
            if similarity < threshold or matched < MIN_MATCHED:  # not flagged: no slices
                slices_a = slices_b = None
            rows.append((a, b, similarity, int(matched), slices_a, slices_b))
    return rows, failed


def report(
    copies: dict[str, Path],
    stubs: Path,
    reference: Path | None,
    out_dir: Path,
    threshold: float = DEFAULT_THRESHOLD,
    include_short: bool = False,
    jobs: int | None = None,
) -> Report:
    """Compare the class question by question; write ``similarity.csv`` and ``similarity.html``
    into ``out_dir``.

    copies: {student: their ``exercises/`` folder} (the grader's private copies); stubs: the
    pristine ``exercises/`` (boilerplate); reference: ``solutions/``, or None when there is none;
    threshold: the similarity from which a pair is flagged; include_short: also compare the
    questions too short to tell; jobs: processes (default: the cores this process may use).
    """
    if importlib.util.find_spec("copydetect") is None:
        raise RuntimeError(
            "the similarity report needs copydetect: pip install copydetect (or -e '.[dev]')"
        )
    files = question_files(stubs)
    short = too_short(stubs, reference, files)
    excluded = {n: why for n, why in short.items() if not include_short or "no solution" in why}
    compared = [n for n in files if n not in excluded]
    reference_name = REFERENCE if REFERENCE not in copies else f"{REFERENCE} (solutions/)"
    sources = dict(sorted(copies.items()))
    if reference is not None:
        sources[reference_name] = reference
    skipped, tasks = [], {}
    for name in compared:
        stub = read_source(stubs / f"{name}.py", stubs) or ""
        texts = {}
        for source, folder in sources.items():
            path = folder / f"{name}.py"
            text = read_source(path, folder)
            if text is not None:
                texts[source] = text
            elif path.exists() or path.is_symlink():
                skipped.append(
                    f"{source}: {name}.py (a link, not a regular file, or over {MAX_BYTES} bytes)"
                )
        tasks[name] = (stub, texts)
    jobs = jobs or len(os.sched_getaffinity(0))
    results: dict[str, tuple] = {}
    if jobs > 1 and len(tasks) > 1:
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
            futures = {
                name: pool.submit(_compare_question, name, stub, texts, threshold)
                for name, (stub, texts) in tasks.items()
            }
            for name, future in futures.items():
                try:
                    results[name] = future.result()
                except Exception as error:  # the other questions go on
                    excluded[name] = f"the comparison failed: {error!r:.200}"
    else:
        for name, (stub, texts) in tasks.items():
            try:
                results[name] = _compare_question(name, stub, texts, threshold)
            except Exception as error:  # the other questions go on
                excluded[name] = f"the comparison failed: {error!r:.200}"
    compared = [n for n in compared if n in results]
    pairs, shown = [], []
    for name in compared:
        rows, failed = results[name]
        skipped += failed
        for a, b, similarity, matched, slices_a, slices_b in rows:
            if a == reference_name:  # the reference is always student_b
                a, b, slices_a, slices_b = b, a, slices_b, slices_a
            pair = Pair(name, a, b, round(similarity, 4), slices_a is not None, matched)
            pairs.append(pair)
            if pair.flagged:
                texts = tasks[name][1]
                shown.append((pair, texts[a], slices_a, texts[b], slices_b))
    out_dir.mkdir(parents=True, exist_ok=True)
    result = Report(
        threshold, compared, excluded, pairs, out_dir / CSV_NAME, out_dir / HTML_NAME, skipped
    )
    similarity_page.write_csv(result)
    similarity_page.write_html(result, shown, reference is not None, len(copies))
    return result


def for_grader(
    args: argparse.Namespace, copies: dict[str, Path], root: Path, out_dir: Path
) -> Report | None:
    """What ``kata.grade`` calls once the class is graded: None without ``--similarity``, else the
    report on ``copies`` (still on disk), with pristine stubs made from ``root``'s solutions (or
    ``kata/pristine/`` of a homework copy) and ``root/solutions`` as the reference if it exists."""
    if not getattr(args, "similarity", False):
        return None
    solutions = root / "solutions"
    with tempfile.TemporaryDirectory(prefix="kata-similarity-") as tmp:
        stubs = export_pristine(Path(tmp) / "stubs", source_dir(root))
        return report(
            copies,
            stubs,
            solutions if solutions.is_dir() else None,
            out_dir,
            args.similarity_threshold,
            args.similarity_all,
            getattr(args, "jobs", None),
        )


# --- command lines ------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--similarity``, ``--similarity-threshold`` and ``--similarity-all``, for ``kata.grade``."""
    group = parser.add_argument_group("similarity report (kata.similarity)")
    group.add_argument(
        "--similarity",
        action="store_true",
        help=f"also compare the class question by question: {CSV_NAME} and {HTML_NAME} beside "
        "the gradebook, flagged pairs named in its notes (grades never change)",
    )
    group.add_argument(
        "--similarity-threshold",
        type=_fraction,
        default=DEFAULT_THRESHOLD,
        metavar="F",
        help=f"flag a pair from this similarity on, 0 to 1 (default {DEFAULT_THRESHOLD})",
    )
    group.add_argument(
        "--similarity-all",
        action="store_true",
        help="also compare the questions whose answers are too short to tell a copy",
    )


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"a similarity between 0 and 1, got {text}")
    return value


def _exercises(folder: Path) -> Path:
    inner = folder / "exercises"
    return inner if inner.is_dir() else folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kata.similarity", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("copies", type=Path, help="one folder per student")
    parser.add_argument("--out", type=Path, required=True, help="where the CSV and HTML go")
    parser.add_argument(
        "--stubs",
        type=Path,
        default=None,
        help="the pristine stubs (default: made afresh from solutions/, as the grader does)",
    )
    parser.add_argument(
        "--reference",
        type=Path,
        default=ROOT / "solutions" if (ROOT / "solutions").is_dir() else None,
        help="the reference solutions (default: solutions/ when there is one)",
    )
    parser.add_argument("--no-reference", action="store_true", help="do not compare with it")
    parser.add_argument(
        "--threshold",
        type=_fraction,
        default=DEFAULT_THRESHOLD,
        metavar="F",
        help=f"flag a pair from this similarity on, 0 to 1 (default {DEFAULT_THRESHOLD})",
    )
    parser.add_argument("--all", action="store_true", help="also the short questions")
    parser.add_argument("--jobs", type=int, default=None, help="processes (default: cores)")
    args = parser.parse_args(argv)
    if not args.copies.is_dir():
        parser.error(f"{args.copies} is not a folder")
    copies = {
        p.name: _exercises(p)
        for p in sorted(args.copies.iterdir())
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    }
    reference = None if args.no_reference else args.reference
    with tempfile.TemporaryDirectory(prefix="kata-similarity-") as tmp:
        stubs = args.stubs or export_pristine(Path(tmp) / "stubs", source_dir(ROOT))
        found = report(copies, stubs, reference, args.out, args.threshold, args.all, args.jobs)
    print(
        f"{len(copies)} students, {len(found.questions)} question files compared, "
        f"{len(found.flagged)} pairs flagged; not compared: {', '.join(found.excluded) or 'none'}"
    )
    for pair in found.flagged:
        print(f"  {pair.question}: {pair.student_a} and {pair.student_b} ({pair.similarity:.0%})")
    print(f"wrote {found.csv_path} and {found.html_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

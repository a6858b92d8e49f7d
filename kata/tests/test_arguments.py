"""The command line, rewritten before pytest reads it: a learner names the file they work on."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from conftest import write_fake_questions

from kata.arguments import (
    hint_value_is_a_path,
    resolve_target,
    rewrite,
    wants_in_process,
    worker_options,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return write_fake_questions(tmp_path_factory.mktemp("kata").resolve())


def rewritten(root: Path, *args: str, where: str = ".", target: str | None = None):
    """(the arguments pytest gets, the Selection) for ``pytest ARGS`` run in ``root/where``."""
    argv = list(args)
    positional = [a for a in args if not a.startswith("-")]
    selection = rewrite(argv, positional, (root / where).resolve(), root, target)
    return [a.replace(str(root), "ROOT") for a in argv], selection


def test_an_exercise_file_becomes_its_questions_tests_and_the_target(root):
    argv, selection = rewritten(root, "exercises/q08_conv.py", "-x")
    assert argv == ["ROOT/tests/test_q08_conv.py", "-x", "--target=ROOT/exercises"]
    assert selection.targets == {root / "exercises"} and selection.kata_run
    assert selection.files == {} and selection.named == set()


def test_one_named_test_keeps_its_id_and_marks_the_question_partial(root):
    argv, selection = rewritten(root, "solutions/q12_params.py::test_counts[2]")
    assert argv == ["ROOT/tests/test_q12_params.py::test_counts[2]", "--target=ROOT/solutions"]
    assert selection.named == {12}


def test_a_folder_means_every_test(root):
    argv, _ = rewritten(root, "exercises/")
    assert argv == ["ROOT/tests", "--target=ROOT/exercises"]


def test_pytest_inside_the_exercises_folder_means_that_folder(root):
    argv, selection = rewritten(root, where="exercises")
    assert argv == ["ROOT/tests", "--target=ROOT/exercises"] and selection.kata_run


def test_a_file_with_another_name_is_the_one_tested(root):
    backup = root / "exercises" / "q08_backup.py"
    backup.write_text("")
    try:
        _, selection = rewritten(root, "exercises/q08_backup.py")
    finally:
        backup.unlink()
    assert selection.files == {8: backup}


def test_the_kata_tests_themselves_are_a_kata_run_and_other_paths_are_not(root):
    argv, selection = rewritten(root, "tests/test_q08_conv.py")
    assert argv == ["tests/test_q08_conv.py"] and selection.kata_run
    assert rewritten(root)[1].kata_run  # bare pytest at the root
    (root / "elsewhere").mkdir(exist_ok=True)
    assert not rewritten(root, "elsewhere")[1].kata_run


@pytest.mark.parametrize(
    "args, message",
    [
        (["exercises/q08_conv.py", "solutions/q12_params.py"], "separate runs"),
        (["exercises/notes.py"], "not a question of the kata"),
        (["exercises/q05_x.py"], "question 5 has no tests in the kata yet"),
        (["exercises/q08_nothing.py"], "no such file"),
        (
            ["exercises/q08_conv.py::test_nope"],
            "question 8 has no test `test_nope`. Its tests are:\n"
            "  test_adds\n  test_subtracts\n  test_inverts\n  test_trains",
        ),
    ],
    ids=["two-folders", "not-a-question", "no-tests", "no-file", "unknown-test"],
)
def test_what_cannot_be_run_is_a_usage_error(root, args, message):
    with pytest.raises(pytest.UsageError) as error:
        rewritten(root, *args)
    assert message in str(error.value)


def test_a_target_option_must_agree_with_the_path(root):
    assert rewritten(root, "exercises/", target="exercises")[0][-1] == "--target=ROOT/exercises"
    with pytest.raises(pytest.UsageError, match="--target solutions contradicts the path"):
        rewritten(root, "exercises/", target="solutions")


def test_the_target_folder_defaults_to_the_exercises(root, monkeypatch):
    monkeypatch.delenv("KATA_TARGET", raising=False)
    assert resolve_target(None, root) == (root / "exercises").resolve()
    assert resolve_target("solutions", root) == (root / "solutions").resolve()
    monkeypatch.setenv("KATA_TARGET", "solutions")
    assert resolve_target(None, root) == (root / "solutions").resolve()
    with pytest.raises(pytest.UsageError, match="--target nowhere: no such folder"):
        resolve_target("nowhere", root)


@pytest.mark.parametrize(
    "args, in_process",
    [
        (["tests/"], False),
        (["--pdb"], True),
        (["-s"], True),
        (["--collect-only"], True),
        (["-n", "2"], True),
        (["--dist=load"], True),
    ],
    ids=["plain", "pdb", "no-capture", "collect-only", "n", "dist"],
)
def test_debugging_runs_the_tests_in_process(args, in_process, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert wants_in_process(args) is in_process
    assert bool(worker_options(args, has_xdist=True)) is not in_process
    assert worker_options(["tests/"], has_xdist=False) == []


def test_a_path_after_the_hint_flag_is_a_path():
    namespace = argparse.Namespace(hint="exercises/q08_conv.py", file_or_dir=[])
    args = ["--hint", "exercises/q08_conv.py"]
    hint_value_is_a_path(namespace, args)
    assert args == ["--hint=next", "exercises/q08_conv.py"]
    assert namespace.hint == "next" and namespace.file_or_dir == ["exercises/q08_conv.py"]
    with pytest.raises(pytest.UsageError, match="--hint=some: say --hint"):
        hint_value_is_a_path(argparse.Namespace(hint="some", file_or_dir=[]), ["--hint=some"])

"""The stub generator: regions become `raise NotImplementedError`, and a learner's work is kept."""

import json
import textwrap

import pytest

from kata.fences import FenceError
from kata.stubs import MANIFEST, StubError, generate, main, make_stub, select_files

SOLUTION = textwrap.dedent(
    '''\
    """Task statement."""

    import numpy as np

    GIVEN = 3


    def add(a, b):
        """Return a + b."""
        # BEGIN SOLUTION: add the two numbers
        total = a + b
        return total
        # END SOLUTION


    # BEGIN SOLUTION: your answer
    ANSWER = True
    # STUB: ANSWER = None
    # END SOLUTION
    '''
)


def test_region_becomes_not_implemented_error_at_its_indentation():
    stub = make_stub(SOLUTION)
    assert '    raise NotImplementedError("add the two numbers")\n' in stub
    assert "total = a + b" not in stub


def test_stub_lines_replace_a_region_instead_of_a_raise():
    stub = make_stub(SOLUTION)
    assert "ANSWER = None\n" in stub
    assert "ANSWER = True" not in stub


def test_everything_outside_regions_is_kept():
    stub = make_stub(SOLUTION)
    for line in ('"""Task statement."""', "import numpy as np", "GIVEN = 3", '"""Return a + b."""'):
        assert line in stub


def test_a_whole_body_after_the_docstring_and_a_method_are_accepted():
    source = (
        'class A:\n    def f(self):\n        """Doc."""\n        # BEGIN SOLUTION: a\n'
        "        return 1\n        # END SOLUTION\n"
    )
    assert "raise NotImplementedError" in make_stub(source)


def test_hint_with_quotes_is_escaped():
    stub = make_stub('def f():\n    # BEGIN SOLUTION: say "hi"\n    pass\n    # END SOLUTION\n')
    assert 'raise NotImplementedError("say \\"hi\\"")' in stub
    compile(stub, "stub", "exec")


@pytest.mark.parametrize(
    "source, problem",
    [
        ("# BEGIN SOLUTION: a\nx = 1\n", "never closed"),
        ("x = 1\n# END SOLUTION\n", "without BEGIN"),
        ("# BEGIN SOLUTION: a\n# BEGIN SOLUTION: b\n# END SOLUTION\n", "inside another"),
        ("def f():\n# BEGIN SOLUTION: a\n    return 1\n# END SOLUTION\n", "not valid Python"),
        (
            "def f(x):\n    y = 2 * x\n    # BEGIN SOLUTION: a\n    z = y + 1\n"
            "    # END SOLUTION\n    return z\n",
            "whole body of `f`",
        ),
        (
            "def f(x):\n    # BEGIN SOLUTION: a\n    z = x + 1\n    # END SOLUTION\n    return z\n",
            "whole body of `f`",
        ),
        ("# BEGIN SOLUTION: a\nANSWER = 1\n# END SOLUTION\n", "needs `# STUB:` lines"),
        (
            "# BEGIN SOLUTION: a\nX = 1\n# STUB: X = helper()\n# END SOLUTION\n",
            "never defines: helper",
        ),
    ],
    ids=[
        "unclosed",
        "end-without-begin",
        "nested",
        "invalid-stub",
        "middle-of-a-body",
        "start-of-a-body",
        "module-level-raise",
        "undefined-name",
    ],
)
def test_broken_regions_are_reported_with_their_line(source, problem):
    with pytest.raises(FenceError, match=problem):
        make_stub(source, "solutions/q99_x.py")


@pytest.fixture
def tree(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (solutions / "q08_topic.py").write_text(SOLUTION)
    (solutions / "q19_pkg").mkdir()
    (solutions / "q19_pkg" / "__init__.py").write_text('"""Package."""\n')
    (solutions / "q19_pkg" / "agent.py").write_text(SOLUTION)
    (solutions / "helper.py").write_text("not a question\n")
    return solutions, exercises


def test_generates_modules_and_packages_and_records_a_manifest(tree):
    solutions, exercises = tree
    report = generate(solutions, exercises)
    assert sorted(report.written) == ["q08_topic.py", "q19_pkg/__init__.py", "q19_pkg/agent.py"]
    assert (exercises / "q19_pkg" / "agent.py").read_text() == make_stub(SOLUTION)
    assert not (exercises / "helper.py").exists()
    assert set(json.loads((exercises / MANIFEST).read_text())) == set(report.written)


def test_a_learners_changed_exercise_is_kept_and_named(tree):
    solutions, exercises = tree
    generate(solutions, exercises)
    mine = exercises / "q08_topic.py"
    mine.write_text(
        mine.read_text().replace('raise NotImplementedError("add the two numbers")', "return a + b")
    )
    (solutions / "q08_topic.py").write_text(SOLUTION + "\nNEW = 1\n")
    report = generate(solutions, exercises)
    assert report.kept == ["q08_topic.py"]
    assert "return a + b" in mine.read_text()


def test_an_untouched_exercise_follows_the_solution(tree):
    solutions, exercises = tree
    generate(solutions, exercises)
    (solutions / "q08_topic.py").write_text(SOLUTION + "\nNEW = 1\n")
    report = generate(solutions, exercises)
    assert report.written == ["q08_topic.py"]
    assert "NEW = 1" in (exercises / "q08_topic.py").read_text()


def test_force_overwrites_only_the_named_question(tree):
    solutions, exercises = tree
    generate(solutions, exercises)
    for rel in ("q08_topic.py", "q19_pkg/agent.py"):
        (exercises / rel).write_text("# my work\n")
    report = generate(solutions, exercises, force=["q08_topic"])
    assert report.written == ["q08_topic.py"]
    assert (exercises / "q19_pkg" / "agent.py").read_text() == "# my work\n"


def test_check_reports_exercises_out_of_sync_without_writing(tree):
    solutions, exercises = tree
    generate(solutions, exercises)
    assert generate(solutions, exercises, check=True).differ == []
    (exercises / "q08_topic.py").write_text("# changed\n")
    report = generate(solutions, exercises, check=True)
    assert report.differ == ["q08_topic.py"]
    assert (exercises / "q08_topic.py").read_text() == "# changed\n"


@pytest.mark.parametrize(
    "names, expected",
    [
        (["q08"], {"q08_topic.py"}),
        (["8"], {"q08_topic.py"}),
        (["q08_topic"], {"q08_topic.py"}),
        (["exercises/q08_topic.py"], {"q08_topic.py"}),
        (["q19_pkg"], {"q19_pkg/__init__.py", "q19_pkg/agent.py"}),
        (["q19_pkg/agent.py"], {"q19_pkg/agent.py"}),
        (["exercises/q19_pkg/agent.py", "8"], {"q19_pkg/agent.py", "q08_topic.py"}),
    ],
    ids=["qNN", "number", "name", "path", "package", "package-file", "mixed"],
)
def test_a_learner_names_a_question_or_a_file_in_any_usual_way(tree, names, expected):
    solutions, _ = tree
    assert select_files(names, solutions) == expected


def test_an_unknown_name_is_an_error_listing_the_valid_ones(tree):
    solutions, _ = tree
    with pytest.raises(StubError) as error:
        select_files(["q07"], solutions)
    assert "no question or file called 'q07'" in str(error.value)
    assert "q08_topic" in str(error.value) and "q19_pkg/agent.py" in str(error.value)


def test_force_backs_up_the_learners_file_before_restoring_it(tree, tmp_path):
    solutions, exercises = tree
    generate(solutions, exercises)
    (exercises / "q19_pkg" / "agent.py").write_text("# my work\n")
    backup = tmp_path / "backups" / "now"
    only = select_files(["q19_pkg/agent.py"], solutions)
    report = generate(solutions, exercises, force=True, only=only, backup=backup)
    assert report.written == ["q19_pkg/agent.py"]
    assert (backup / "exercises" / "q19_pkg" / "agent.py").read_text() == "# my work\n"
    assert (exercises / "q19_pkg" / "agent.py").read_text() == make_stub(SOLUTION)


def test_force_without_names_asks_for_all(capsys):
    assert main(["--force"]) == 2
    assert "--all" in capsys.readouterr().err

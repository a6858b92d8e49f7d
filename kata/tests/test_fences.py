"""The fence parser: regions, their stub lines, hints and owners, and every broken fence reported
with its file and line. Pure functions on strings: no subprocess, no file."""

import textwrap

import pytest

from kata.fences import EXAM_KEY, SOLUTION, FenceError, parse

SOLUTION_FILE = textwrap.dedent(
    '''\
    """Task."""

    GIVEN = 3


    class Agent:
        def act(self, x):
            """Doc."""
            # BEGIN SOLUTION: act on "x"
            # HINT: Look at x first.
            # HINT: Then return it,
            #   twice.
            # a plain comment, not a hint
            #   nor is this, indented as it is

            return x  # the answer
            # END SOLUTION


    def make_act():
        def act(x):
            """Doc."""
            # BEGIN SOLUTION
            # HINT: Nested.
            return x
            # END SOLUTION

        return act


    # BEGIN SOLUTION: your answers
    # HINT: Measure it.
    PROBLEM = "a"
    # STUB: PROBLEM = None
    CAUSE: str = "b"
    # STUB: CAUSE = None
    # STUB:
    # STUB:     # (a comment the learner keeps)
    # END SOLUTION
    '''
)


def test_each_region_has_its_lines_indent_label_hints_stub_and_code():
    act, inner, answers = parse(SOLUTION_FILE, "solutions/q99_x.py").regions
    assert (act.begin, act.end, act.indent, act.label) == (9, 17, "        ", 'act on "x"')
    assert act.hints == ["Look at x first.", "Then return it, twice."]
    assert act.stub == []
    assert act.code == ["        return x  # the answer"]
    assert (inner.begin, inner.end, inner.indent, inner.label) == (23, 26, "        ", None)
    assert (answers.begin, answers.end, answers.indent) == (31, 39, "")
    assert answers.stub == [
        "PROBLEM = None",
        "CAUSE = None",
        "",
        "    # (a comment the learner keeps)",
    ]
    assert answers.code == ['PROBLEM = "a"', 'CAUSE: str = "b"']


def test_a_region_becomes_its_stub_lines_or_a_raise_with_its_label():
    text, spans = parse(SOLUTION_FILE).replace()
    assert '        raise NotImplementedError("act on \\"x\\"")\n' in text
    assert '        raise NotImplementedError("implement this")\n' in text
    assert text.endswith("PROBLEM = None\nCAUSE = None\n\n    # (a comment the learner keeps)\n")
    lines = text.splitlines()
    for region, first, last in spans:
        assert lines[first - 1 : last] == [line.rstrip("\n") for line in region.replacement()]
    for kept in (
        '"""Task."""\n',
        "\nGIVEN = 3\n",
        "\n    def act(self, x):\n",
        "\n    return act\n",
    ):
        assert kept in text
    assert "HINT" not in text and "return x" not in text and "BEGIN" not in text


def test_a_file_without_fences_is_copied_as_it_is():
    text = "A = 1\r\nB = 2\n\n# END EXAM KEY is not a solution fence\n"
    assert parse(text).replace() == (text, [])


def test_stub_lines_take_the_indentation_of_the_begin_line():
    source = (
        "def f():\n    # BEGIN SOLUTION\n    return 1\n  # STUB: return None\n    # END SOLUTION\n"
    )
    assert parse(source).replace()[0] == "def f():\n    return None\n"


def test_an_exam_key_becomes_its_stub_lines_or_nothing():
    source = textwrap.dedent(
        """\
        # BEGIN EXAM KEY: worked out by hand
        KEY = {"a": True}
        # STUB: KEY = None
        # END EXAM KEY
        # BEGIN EXAM KEY
        # the participant's slip, a comment only
        # END EXAM KEY
        X = 1
        """
    )
    fenced = parse(source, "tests/test_q99_x.py", EXAM_KEY)
    first, second = fenced.regions
    assert (first.label, first.stub) == ("worked out by hand", ["KEY = None"])
    assert first.code == ['KEY = {"a": True}']
    assert (second.begin, second.end, second.stub, second.code) == (5, 7, [], [])
    assert fenced.replace()[0] == "KEY = None\nX = 1\n"


def test_an_exam_key_region_holds_its_key_as_code():
    (region,) = parse(
        "# BEGIN EXAM KEY: k\nKEY = {\n    'a': 1,\n}\n# END EXAM KEY\n", kind=EXAM_KEY
    ).regions
    assert region.code == ["KEY = {", "    'a': 1,", "}"]


def test_each_kind_reads_only_its_own_fences():
    source = "# BEGIN EXAM KEY: k\nKEY = 1\n# END EXAM KEY\n"
    assert parse(source, kind=SOLUTION).replace()[0] == source
    assert parse("# BEGIN SOLUTION: a\n# END SOLUTION\n", kind=EXAM_KEY).regions == []


@pytest.mark.parametrize("kind", [SOLUTION, EXAM_KEY], ids=["solution", "exam-key"])
@pytest.mark.parametrize(
    "source, line, problem",
    [
        ("x = 1\n# BEGIN {word}: a\ny = 2\n", 2, "BEGIN {word} is never closed"),
        ("x = 1\n# END {word}\n", 2, "END {word} without BEGIN {word}"),
        (
            "# BEGIN {word}: a\n# BEGIN {word}: b\n# END {word}\n# END {word}\n",
            2,
            "BEGIN {word} inside another region",
        ),
        ("# BEGIN {word}: a\n# END {word}\n# END {word}\n", 3, "END {word} without BEGIN {word}"),
        ("def f():\n    # BEGIN {word}: a\n    # HINT:\n    # END {word}\n", 3, "an empty hint"),
    ],
    ids=["unclosed", "end-without-begin", "nested", "closed-twice", "empty-hint"],
)
def test_a_broken_fence_is_one_error_with_its_file_and_line(kind, source, line, problem):
    with pytest.raises(FenceError) as error:
        parse(source.format(word=kind.word), "some/file.py", kind)
    message = problem.format(word=kind.word)
    assert (error.value.filename, error.value.line, error.value.message) == (
        "some/file.py",
        line,
        message,
    )
    assert str(error.value) == f"some/file.py:{line}: {message}"
    assert isinstance(error.value, ValueError)


def test_a_hint_belongs_to_the_innermost_function_whose_body_holds_it():
    fenced = parse(SOLUTION_FILE)
    act, inner, _ = fenced.regions
    assert fenced.names(act) == ["Agent.act"]
    assert fenced.names(inner) == ["make_act.act"]
    assert inner.hints == ["Nested."]


def test_a_module_level_region_belongs_to_every_name_it_sets():
    fenced = parse(SOLUTION_FILE)
    answers = fenced.regions[-1]
    assert fenced.names(answers) == ["PROBLEM", "CAUSE"]
    assert answers.hints == ["Measure it."]


def test_a_module_level_region_that_sets_no_name_belongs_to_the_module():
    fenced = parse("# BEGIN SOLUTION: a\nprint(1)\n# STUB: pass\n# END SOLUTION\n")
    assert fenced.names(fenced.regions[0]) == ["<module>"]


def test_a_hint_goes_on_over_comments_indented_two_more_and_stops_at_anything_else():
    source = textwrap.dedent(
        """\
        def f():
            # BEGIN SOLUTION: a
            # HINT: one,
            #   two,
            #    three.
            # HINT: four
            x = 1
            #   not five
            # HINT: six
            # STUB: return None
            #   not seven
            # END SOLUTION
        """
    )
    (region,) = parse(source).regions
    assert region.hints == ["one, two, three.", "four", "six"]
    assert region.stub == ["return None"]
    assert region.code == ["    x = 1"]

"""A question's demo (`python -m exercises.qNN_topic`) on a stub: two lines, no traceback."""

from __future__ import annotations

import re
import sys
import textwrap

import pytest
from conftest import REPO, clean_env, needs_tensorflow, run

from kata.demo import not_implemented_lines, task_of
from kata.demo import run as run_demo


def test_a_stub_function_ends_the_demo_in_two_lines(tmp_path, monkeypatch, capsys):
    (tmp_path / "q42_x.py").write_text(
        textwrap.dedent(
            """
            class Model:
                def build(self):
                    raise NotImplementedError("create the weights")


            def main():
                Model().build()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import q42_x

    with pytest.raises(SystemExit) as exit:
        run_demo(q42_x.main, tensorflow=False)
    assert str(exit.value.code).splitlines() == [
        "q42_x.py:4: `Model.build` is not implemented yet: create the weights",
        "Write it (`pytest q42_x.py` tests it), then run this demo again.",
    ]
    sys.modules.pop("q42_x", None)


def test_the_task_comes_out_of_keras_and_tensorflow_wrapping(tmp_path):
    keras_text = (
        "Exception encountered when calling EncoderDecoder.call().\n\n"
        "\x1b[1mcreate w_query, w_values and v\x1b[0m\n\n"
        "Arguments received by EncoderDecoder.call():\n  • inputs=tf.Tensor(shape=(64, 20))"
    )
    assert task_of(NotImplementedError(keras_text)) == "create w_query, w_values and v"
    assert task_of(NotImplementedError("")) == "this"
    stub = tmp_path / "q16_x.py"
    stub.write_text("\n\ndef build():\n    raise NotImplementedError('make v')\n")
    graph_text = (
        f'in user code:\n\n    File "{stub}", line 4, in build  *\n'
        "        raise NotImplementedError('make v')\n\n"
        f"    NotImplementedError: {keras_text}"
    )
    lines = not_implemented_lines(NotImplementedError(graph_text), tmp_path, "q16_x.py")
    assert lines[0].endswith("q16_x.py:4: `build` is not implemented yet: make v")


@needs_tensorflow
def test_the_attention_demo_on_the_pristine_stub_says_what_to_write_first(tmp_path):
    """The user's way in: `python -m exercises.q16_attention` as a subprocess, on a fresh stub."""
    from kata.stubs import export_pristine

    export_pristine(tmp_path / "exercises")
    done = run(
        tmp_path,
        "python",
        "-m",
        "exercises.q16_attention",
        "--steps",
        "2",
        "--out",
        str(tmp_path / "out"),
        env=clean_env(PYTHONPATH=str(REPO)),
        timeout=300,
    )
    output = (done.stdout + done.stderr).strip().splitlines()
    assert done.returncode == 1, output
    assert len(output) == 2, "\n".join(output)  # no traceback, no TensorFlow start-up lines
    assert re.fullmatch(
        r"exercises/q16_attention\.py:\d+: `BahdanauAttention\.build` is not implemented yet: "
        r"create w_query, w_values and v",
        output[0],
    ), output[0]
    assert output[1] == (
        "Write it (`pytest exercises/q16_attention.py` tests it), then run this demo again."
    )

"""A question's demo (`python -m exercises.qNN_topic`) on a stub: two lines, no traceback."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import REPO, clean_env, needs_tensorflow, run

from kata.demo import figures_main, not_implemented_lines, save_figure, task_of
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


FIGURES_DEMO = """
import os

from kata.demo import figures_main, save_figure


def draw(out_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if os.environ.get("Q42_STUB"):  # the pristine stub
        raise NotImplementedError("draw the curve")
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    return [save_figure(fig, f"{out_dir}/curve.png")]


main = figures_main(draw, "figures", "Draw a curve.")

if __name__ == "__main__":
    from kata.demo import run

    run(main, tensorflow=False)
"""


def test_a_figures_demo_writes_into_out_and_says_what_it_wrote(tmp_path):
    """``python -m q42_fig --out DIR`` as a learner runs it: the folder is made, the paths said."""
    pytest.importorskip("matplotlib")
    (tmp_path / "q42_fig.py").write_text(FIGURES_DEMO)
    env = clean_env(PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    done = run(tmp_path, "python", "-m", "q42_fig", "--out", "made/here", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["wrote made/here/curve.png"]
    assert (tmp_path / "made" / "here" / "curve.png").read_bytes().startswith(b"\x89PNG")
    helped = run(tmp_path, "python", "-m", "q42_fig", "--help", env=env, timeout=120)
    assert "Draw a curve." in helped.stdout
    assert "folder for the PNG files (default: figures)" in helped.stdout


def test_a_figures_demo_on_a_stub_names_the_question_file_not_the_helper(tmp_path):
    """The ``main`` that ``figures_main`` makes lives in kata/demo.py; ``run`` still points at the
    learner's file (the module ``main`` belongs to) and the function to write."""
    (tmp_path / "q42_fig.py").write_text(FIGURES_DEMO)
    env = clean_env(PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]), Q42_STUB="1")
    done = run(tmp_path, "python", "-m", "q42_fig", env=env, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "q42_fig.py:14: `draw` is not implemented yet: draw the curve",
        "Write it (`pytest q42_fig.py` tests it), then run this demo again.",
    ]


def test_figures_main_parses_out_and_returns_the_paths(tmp_path, capsys):
    def draw(out_dir):
        return [Path(out_dir) / "a.png", Path(out_dir) / "b.png"]

    main = figures_main(draw, "figures", "Two pictures.", prog="python -m q42")
    assert main.__module__ == draw.__module__
    assert main(["--out", str(tmp_path)]) == [tmp_path / "a.png", tmp_path / "b.png"]
    assert capsys.readouterr().out.splitlines() == [
        f"wrote {tmp_path / 'a.png'}",
        f"wrote {tmp_path / 'b.png'}",
    ]
    assert main([]) == [Path("figures/a.png"), Path("figures/b.png")]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m q42 [-h] [--out OUT]")


def test_save_figure_makes_the_folder_writes_a_png_and_closes_the_figure(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots(figsize=(2, 2))
    path = save_figure(fig, str(tmp_path / "new" / "f.png"))
    assert path == tmp_path / "new" / "f.png"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert not plt.fignum_exists(fig.number)


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

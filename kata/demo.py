"""A question's demo (``python -m exercises.qNN_topic``): quiet, and short when code is missing.

The ``if __name__ == "__main__":`` block of a question that draws a picture or prints a report
runs its ``main`` through ``run``:

- TensorFlow's C++ start-up lines (CUDA probing, the oneDNN notice) are kept off the screen:
  ``TF_CPP_MIN_LOG_LEVEL`` is set before TensorFlow is imported, and stderr goes to /dev/null
  while it loads, because a few lines come before it reads the variable.
- A function the learner has not written yet ends the demo with two lines, the function and its
  task, and what to do next, instead of a traceback (Keras's wrapping and escape codes removed).

Two helpers keep the demos that draw figures short: ``save_figure`` writes a figure to a PNG and
closes it, and ``figures_main`` makes the ``main`` of a demo whose only option is ``--out FOLDER``.
Nothing here imports TensorFlow, matplotlib or pytest at import time.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def import_tensorflow_quietly():
    """Import TensorFlow without its C++ start-up lines on stderr; return the module."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tensorflow


def task_of(error: BaseException) -> str:
    """The stub's one-line task from a ``NotImplementedError``, also when Keras wrapped it
    ("Exception encountered when calling ...", the task in bold, then the arguments)."""
    text = _ESCAPES.sub("", str(error)).strip()
    if text.startswith("Exception encountered when calling"):
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        text = paragraphs[1] if len(paragraphs) > 1 else ""
    return " ".join(text.split()) or "this"


def _stub_task(path: str, line: int) -> str | None:
    """The task written in the stub's ``raise NotImplementedError("...")`` at ``path:line``."""
    import ast
    import linecache

    source = linecache.getline(path, line).strip()
    if not source.startswith("raise NotImplementedError("):
        return None
    try:
        call = ast.parse(source).body[0].exc
        return str(ast.literal_eval(call.args[0])) if call.args else None
    except (SyntaxError, ValueError, AttributeError, IndexError):
        return None


def not_implemented_lines(error: BaseException, folder: Path, command: str) -> list[str]:
    """Where the missing code is (the innermost frame under ``folder``) and what to do."""
    where = None
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if Path(code.co_filename).resolve().is_relative_to(folder):
            name = getattr(code, "co_qualname", code.co_name).replace(".<locals>", "")
            where = (code.co_filename, tb.tb_lineno, name)
        tb = tb.tb_next
    text = str(error)
    if "in user code:" in text:  # raised while TensorFlow traced a graph: its frames in the text
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', text)
        inside = [f for f in frames if Path(f[0]).resolve().is_relative_to(folder)]
        if inside:
            where = (inside[-1][0], int(inside[-1][1]), inside[-1][2])
    task = (_stub_task(where[0], where[1]) if where else None) or task_of(error)
    if where is None:
        first = f"not implemented yet: {task}"
    else:
        path, line, name = where
        try:
            path = os.path.relpath(path)
        except ValueError:  # another drive (Windows)
            pass
        first = f"{path}:{line}: `{name}` is not implemented yet: {task}"
    return [first, f"Write it (`pytest {command}` tests it), then run this demo again."]


def run(main: Callable, *args, tensorflow: bool = True):
    """Return ``main(*args)``; TensorFlow imported quietly first (unless ``tensorflow`` is
    false); a ``NotImplementedError`` from the learner's code exits with two lines."""
    if tensorflow:
        import_tensorflow_quietly()
    try:
        return main(*args)
    except NotImplementedError as error:
        module = sys.modules.get(main.__module__)
        source = Path(getattr(module, "__file__", None) or main.__code__.co_filename).resolve()
        folder = source.parent  # the question's file or package, and its neighbours
        spec = getattr(module, "__spec__", None)
        name = spec.name if spec is not None else source.stem
        if name.endswith(".__main__"):
            name = name.removesuffix(".__main__")
        command = name.replace(".", "/") + ("" if source.name == "__main__.py" else ".py")
        sys.exit("\n".join(not_implemented_lines(error, folder, command)))


def save_figure(fig, path) -> Path:
    """Write the matplotlib figure ``fig`` to the PNG ``path`` (100 dots per inch; the folder is
    created if missing), close the figure, and return ``path`` as a ``Path``."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def figures_main(draw: Callable, out: str, description: str | None = None, *, prog=None):
    """A demo's ``main(argv=None)`` for ``draw(folder)``, which draws figures into ``folder`` and
    returns their paths: its command line takes ``--out FOLDER`` (default ``out``), it prints
    "wrote PATH" for each figure and returns the paths. ``description`` and ``prog`` are those
    of the ``argparse.ArgumentParser``."""

    def main(argv: list[str] | None = None) -> list[Path]:
        parser = argparse.ArgumentParser(prog=prog, description=description)
        parser.add_argument("--out", default=out, help=f"folder for the PNG files (default: {out})")
        args = parser.parse_args(argv)
        paths = list(draw(args.out))
        for path in paths:
            print(f"wrote {path}")
        return paths

    main.__module__ = draw.__module__  # the question's main: ``run`` finds its file
    return main

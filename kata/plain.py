"""Plain output, for screen readers and CI logs: no colours, nothing redrawn in place.

``pytest --plain`` (or any run with the environment variable ``NO_COLOR`` set) turns it on:

- pytest writes without colours, and without the lines it redraws in place on a terminal
  ("collecting ...", pytest-xdist's worker status);
- failure messages and captured output lose their escape codes (Keras writes its error
  messages in bold, ``\\x1b[1m...\\x1b[0m``), and a line redrawn with a carriage return
  becomes lines of its own (``plain_report``);
- the tests see ``KATA_PLAIN=1`` in their environment (the worker process inherits it). Code
  that draws a progress bar asks ``kata.plain.enabled()`` (or reads the variable itself) and
  then prints one line per 10 % instead of redrawing a bar hundreds of times. With tqdm:

      from tqdm.auto import tqdm
      bar = tqdm(total=steps, desc="DQN", **kata.plain.tqdm_options(steps))

  ``tqdm_options`` is empty outside plain mode, so the bar is unchanged there.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys

import pytest

ENV = "KATA_PLAIN"
"""Set to "1" by the plugin in plain mode, for the tests and the code they run."""
_SAVED = pytest.StashKey[tuple]()
ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, bold, cursor moves (ECMA-48)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, links
    r"|\x1b[@-Z\\-_]"  # the other two-byte escapes
)


def strip(text: str) -> str:
    """``text`` without escape codes; a carriage return that redraws a line starts a new one."""
    text = ESCAPE.sub("", text)
    return re.sub(r"\r+(?!\n)", "\n", text).replace("\r\n", "\n")


def _plain(value, seen: set[int]):
    """``value`` with every string in it stripped: strings, lists, tuples, dicts, and the
    attributes of pytest's failure representations (changed in place)."""
    if isinstance(value, str):
        return strip(value)
    if isinstance(value, list):
        value[:] = [_plain(v, seen) for v in value]
        return value
    if isinstance(value, tuple):
        return tuple(_plain(v, seen) for v in value)
    if isinstance(value, dict):
        for key in list(value):
            value[key] = _plain(value[key], seen)
        return value
    module = type(value).__module__
    if id(value) in seen or not module.startswith(("_pytest.", "kata.")):
        return value  # only pytest's failure representations (and ours) are walked
    seen.add(id(value))
    names = (
        [f.name for f in dataclasses.fields(value)]
        if dataclasses.is_dataclass(value)
        else list(vars(value))
    )
    for name in names:
        current = getattr(value, name, None)
        new = _plain(current, seen)
        if new is not current:
            object.__setattr__(value, name, new)  # some are frozen dataclasses
    return value


def plain_report(report) -> None:
    """Strip the escape codes from a test report's failure and captured output, in place."""
    report.longrepr = _plain(report.longrepr, set())
    report.sections = [(strip(title), strip(content)) for title, content in report.sections]


def enabled() -> bool:
    """Whether output should be plain: ``KATA_PLAIN`` (set by ``pytest --plain``) or NO_COLOR."""
    return bool(os.environ.get(ENV) or os.environ.get("NO_COLOR"))


class _NotATerminal:
    """A stream that says it is no terminal, so that nothing is redrawn in place on it."""

    def __init__(self, stream):
        self._stream = stream

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:  # what a test prints with -s: no escape codes either
        return self._stream.write(ESCAPE.sub("", text))

    def __getattr__(self, name):
        return getattr(self._stream, name)


def configure(config) -> None:
    """Before pytest's terminal reporter starts (this plugin's pytest_configure runs first)."""
    config.option.color = "no"
    config.stash[_SAVED] = (sys.stdout, os.environ.get(ENV))
    sys.stdout = _NotATerminal(sys.stdout)  # the reporter asks it whether to redraw lines
    os.environ[ENV] = "1"


def unconfigure(config) -> None:
    saved = config.stash.get(_SAVED, None)
    if saved is None:
        return
    stdout, env = saved
    if isinstance(sys.stdout, _NotATerminal):
        sys.stdout = stdout
    if env is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = env
    del config.stash[_SAVED]


class LinePerUpdate:
    """A stream for tqdm that writes each redraw of the bar as a line of its own.

    tqdm redraws with a carriage return and pads with spaces; here every redraw becomes one
    line, so with ``miniters`` at a tenth of the total a bar prints about ten lines.
    """

    def __init__(self, stream=None):
        self._stream = stream

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stderr

    def write(self, text: str) -> int:
        for part in text.replace("\r", "\n").split("\n"):
            part = part.rstrip()
            if part:
                self.stream.write(part + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def tqdm_options(total: int | None, stream=None) -> dict:
    """Keyword arguments that make a tqdm bar print one line per 10 % in plain mode, else {}."""
    if not enabled():
        return {}
    step = max(1, math.ceil(total / 10)) if total else 1
    return {
        "file": LinePerUpdate(stream),
        "miniters": step,  # a redraw every 10 % ...
        "mininterval": 0,
        "maxinterval": float("inf"),  # ... and never in between, however long a step takes
        "dynamic_ncols": False,
        "ncols": 80,
        "ascii": True,
    }

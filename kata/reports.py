"""Failure messages a learner can act on: what a failing test's report shows, and what it is about.

- A stub's ``NotImplementedError`` becomes one line: ``exercises/q08_x.py:12: `feature_map` is
  not implemented yet: <the stub's hint>`` (``not_implemented_message``).
- A traceback loses the frames a learner never needs: installed libraries, TensorFlow's
  generated code, the kata's own (``trimmed_repr``).
- Captured output loses TensorFlow's C++ start-up lines (``without_library_noise``).
- A test whose setup failed (a fixture's error: TensorFlow's import timing out on a busy
  machine, say) says so first: ``setup of the test failed: ...`` (``mark_setup_failure``).
- ``failing_functions`` names the learner's functions a failure is about, for ``--hint``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kata import hints as hinting
from kata.paths import inside, relative

_KATA = Path(__file__).parent
OWN_FILES = frozenset(
    str(_KATA / f"{name}.py") for name in ("plugin", "runner", "loading", "hangs", "reports")
)
"""The plugin's modules: their frames are the kata's machinery, not the learner's code."""

# TensorFlow's C++ start-up lines (absl log format), whatever TF_CPP_MIN_LOG_LEVEL says.
_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
    r"STDERR|[IWE]\d{4} [\d:.]+\s+\d+ \S+\.(cc|h):\d+\] .*)$"
)


def not_implemented_message(excinfo, target_dir: Path, rootpath: Path) -> str | None:
    """``exercises/q08_x.py:12: `feature_map` is not implemented yet: <the stub's hint>``.

    Inside a tf.function the traceback shows TensorFlow's generated code, not the learner's
    function; TensorFlow names that function in the message ("in user code: File ...").
    """
    text = str(excinfo.value)
    if "in user code:" in text:
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', text)
        within = [f for f in frames if inside(f[0], target_dir)]
        hint = re.findall(r"NotImplementedError: (.*)", text)
        if within:
            path, line, name = within[-1]
            what = hint[-1].strip() if hint else "this"
            return f"{relative(path, rootpath)}:{line}: `{name}` is not implemented yet: {what}"
    for entry in reversed(excinfo.traceback):
        path = Path(str(entry.path))
        if inside(path, target_dir):
            where = f"{relative(path, rootpath)}:{entry.lineno + 1}"
            return f"{where}: `{entry.name}` is not implemented yet: {text or 'this'}"
    return None


def without_library_noise(sections: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Captured output without TensorFlow's start-up lines; sections left empty are dropped."""
    kept = []
    for title, content in sections:
        lines = [line for line in content.splitlines() if not _NOISE.match(line)]
        if any(line.strip() for line in lines):
            kept.append((title, "\n".join(lines) + "\n"))
    return kept


def hidden(entry) -> bool:
    """Frames a learner never needs: installed libraries, TensorFlow's generated code, ours."""
    path = str(entry.path)
    return "site-packages" in path or "__autograph_generated_file" in path or path in OWN_FILES


def shows_traceback(excinfo) -> bool:
    """A failure whose report shows a traceback with frames a learner never needs."""
    if isinstance(excinfo.value, pytest.fail.Exception) and not excinfo.value.pytrace:
        return False
    return any(hidden(entry) for entry in excinfo.traceback)


def trimmed_repr(item, excinfo):
    """The failure as pytest shows it, without frames of libraries and of TensorFlow's code."""
    code = getattr(getattr(item, "function", None), "__code__", None)

    def tbfilter(info):
        tb = info.traceback
        if code is not None:  # start at the test function, as pytest does
            tb = tb.cut(path=code.co_filename, firstlineno=code.co_firstlineno - 1)
        tb = tb.filter(info)  # __tracebackhide__
        kept = tb.filter(lambda entry: not hidden(entry))
        return kept if len(kept) else tb

    style = item.config.getoption("tbstyle", "auto")
    return excinfo.getrepr(
        funcargs=True,
        showlocals=item.config.getoption("showlocals", False),
        style="long" if style == "auto" else style,
        tbfilter=tbfilter,
        truncate_locals=True,
    )


def failing_functions(
    excinfo, used: set[tuple[str | None, str]], target_dir: Path, tests_dir: Path
) -> list[list[str]]:
    """The learner's functions a failure is about, as [hint file, qualified name] pairs.

    The function where the error was raised, if it was raised in the code under test;
    else every function of that code the test used (``used``: (file, name) pairs).
    """
    innermost = None
    tb = excinfo.tb if excinfo is not None else None
    while tb is not None:  # the raw traceback, outermost frame first
        code = tb.tb_frame.f_code
        if inside(code.co_filename, target_dir):
            innermost = code
        tb = tb.tb_next
    if innermost is not None:
        # a nested function's hints are filed as "outer.inner" (see HintBook.add)
        name = getattr(innermost, "co_qualname", innermost.co_name).replace(".<locals>", "")
        key = hinting.file_key(Path(innermost.co_filename), target_dir, tests_dir)
        return [[key, name]] if key and name != "<module>" else []
    found = []
    for file, name in sorted(used, key=str):
        key = hinting.file_key(Path(file), target_dir, tests_dir) if file else None
        if key and [key, name] not in found:
            found.append([key, name])
    return found


class _Prefixed:
    """A report's failure (``longrepr``) with a line of its own before it."""

    def __init__(self, first: str, longrepr):
        self._first = first
        self._longrepr = longrepr

    def toterminal(self, tw) -> None:
        tw.line(self._first)
        tw.line("")
        if hasattr(self._longrepr, "toterminal"):
            self._longrepr.toterminal(tw)
        else:
            tw.line(str(self._longrepr))

    def __str__(self) -> str:
        from io import StringIO

        from _pytest._io import TerminalWriter

        out = StringIO()
        tw = TerminalWriter(file=out)
        tw.hasmarkup = False
        self.toterminal(tw)
        return out.getvalue().strip()

    def __getattr__(self, name):  # reprcrash for the short summary, and the rest
        if name.startswith("_"):  # not set yet (a copy being made): no endless recursion
            raise AttributeError(name)
        return getattr(self._longrepr, name)


def crash_line(report) -> str:
    """The one line that says what a failed report's error was."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if not message:
        lines = [line for line in str(report.longrepr).splitlines() if line.strip()]
        message = lines[-1] if lines else "an error"
    line = message.splitlines()[0].strip() if message.strip() else "an error"
    return line.removeprefix("Failed: ")  # pytest.fail's: the message says enough


def mark_setup_failure(report) -> str:
    """A test whose setup failed (before the test ran): its failure starts with ``setup of the
    test failed: <the error>``; returns that error's line."""
    line = crash_line(report)
    if not isinstance(report.longrepr, _Prefixed):
        report.longrepr = _Prefixed(f"setup of the test failed: {line}", report.longrepr)
    return line

"""The kata's test toolkit: describe a call and a result, check a contract, name a slip.

Every failure message of the kata says what was called, what came back and what was expected
(and why). These helpers make that uniform:

- ``called("feature_map", image, kernel, stride=2)`` describes a call, arrays by shape;
- ``show(value)`` describes a result so that a wrong *type* shows as one ('875' (a str) is not
  875); ``brief(values)`` shows numbers whatever their type;
- ``fail(message)`` fails with the message alone, ``require(condition, message)`` unless the
  condition holds;
- ``check_equal``, ``expect_close``, ``expect_float_array``, ``expect_shape``, ``as_array``,
  ``as_scalar`` and ``expect_raises`` check a result and fail with such messages; ``layer_weight``,
  ``expect_gradients``, ``saved_and_loaded`` and ``expect_png`` do the same for a Keras layer's
  weights and gradients, a saved model and a figure;
- ``slip_hint`` turns a known wrong answer into what it reveals, with one rule: a value that two
  slips give, or that is right here, gets no hint;
- ``check_choice`` marks the learner's pick among options, without naming the right one;
  ``key_of`` reads its key from an answer key that the learner's copy hides;
- ``run_command(target, test)`` is the command that runs one test of the learner's question;
  true/false statements are made and judged by ``kata.statements``;
- ``seeds(range(5))`` parametrizes a test over seeds (ids seed0, seed1, ...), crossed with
  a setting if asked (``seeds(range(3), saturating=(False, True))``).
"""

from __future__ import annotations

import itertools
import os
import random
import sys
from collections.abc import Callable, Iterable
from typing import NoReturn

import pytest

__all__ = [
    "PNG",
    "as_array",
    "as_scalar",
    "brief",
    "called",
    "check_choice",
    "check_equal",
    "choice",
    "describe",
    "expect_close",
    "expect_float_array",
    "expect_gradients",
    "expect_png",
    "expect_raises",
    "expect_shape",
    "fail",
    "key_of",
    "layer_weight",
    "require",
    "run_command",
    "saved_and_loaded",
    "seed_everything",
    "seeds",
    "show",
    "slip_hint",
    "within",
]


def fail(message: str) -> NoReturn:
    """Fail the current test with ``message`` alone (no traceback: the message is the lesson)."""
    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


def require(condition, message: str) -> None:
    """``fail(message)`` unless ``condition`` holds (an assert would print the arrays instead)."""
    __tracebackhide__ = True
    if not condition:
        fail(message)


def describe(value) -> str:
    """A short, readable description of an argument: arrays by shape, the rest by repr."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        dims = "x".join(str(d) for d in tuple(shape)) or "scalar"
        return f"<{dims} {getattr(value.dtype, 'name', value.dtype)}>"
    if isinstance(value, (list, tuple)) and value and any(hasattr(v, "shape") for v in value):
        inner = ", ".join(describe(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def called(name: str, *args, **kwargs) -> str:
    """``called("feature_map", image, kernel, stride=2)``: 'called feature_map(<5x5 int64>, ...'."""
    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"called {name}({', '.join(parts)})"


# Types whose repr already says what they are: an int shows as 875, a str as '875'.
_PLAIN = (bool, int, float, type(None))


def show(value, limit: int = 80) -> str:
    """A result as the learner should see it: its repr, plus its type where the repr hides it.

    ``show("875")`` is ``'875' (a str)``, ``show(np.int64(875))`` is ``875 (a numpy.int64)``,
    ``show([1.0, 2.0])`` is ``[1.0, 2.0] (a list)``, an array shows its shape, dtype and values.
    """
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        kind = type(value).__module__.split(".")[0] + "." + type(value).__name__
        dims = "x".join(str(d) for d in tuple(shape)) or "scalar"
        text = f"a {dims} {getattr(value.dtype, 'name', value.dtype)} {kind}"
        try:
            import numpy as np

            values = np.array2string(np.asarray(value), precision=4, threshold=12)
            values = " ".join(values.split())
            if len(values) <= limit:
                text += f" {values}"
        except Exception:  # noqa: BLE001 - a description must never fail
            pass
        return text
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    if type(value) in _PLAIN:
        return text
    kind = type(value).__name__
    if type(value).__module__ not in ("builtins", None):
        kind = f"{type(value).__module__.split('.')[0]}.{kind}"
    return f"{text} (a {kind})"


def brief(values) -> str:
    """Numbers for a message: rounded values and their shape, without a misleading dtype."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    text = " ".join(np.array2string(array, precision=4, threshold=12).split())
    return f"{text} (shape {array.shape})"


# --- known slips ------------------------------------------------------------------------------


def within(rtol: float = 1e-5, atol: float = 1e-8) -> Callable[[object, object], bool]:
    """A comparison for ``slip_hint``: same shape, and equal to these tolerances."""
    import numpy as np

    def same(a, b) -> bool:
        return np.shape(a) == np.shape(b) and bool(np.allclose(a, b, rtol=rtol, atol=atol))

    return same


def _equal(a, b) -> bool:
    return bool(a == b)


def slip_hint(got, expected, slips, same: Callable[[object, object], bool] = _equal) -> str | None:
    """What a wrong result reveals: the text of the one known slip that gives ``got``, or None.

    ``slips`` holds (what a slip gives, what that reveals) pairs, or is a dict of them. The rule,
    the same for every question: a value that two slips (two different texts) give says nothing
    certain and gets no hint, nor does a "slip" that gives the right result for these arguments.
    ``same(a, b)`` compares results: ``==`` by default, ``within(rtol, atol)`` for floats.
    """
    texts = set()
    for value, text in slips.items() if isinstance(slips, dict) else slips:
        try:
            if same(got, value) and not same(expected, value):
                texts.add(text)
        except Exception:  # noqa: BLE001 - results that do not compare: no hint, and no crash
            pass
    return texts.pop() if len(texts) == 1 else None


def check_equal(got, expected, call: str, why: str, slips=()) -> None:
    """Fail unless ``got == expected`` with the same type family (numbers as numbers).

    ``call`` is the call that produced ``got`` ("called dense_params(3, 4)"); ``why`` says why
    ``expected`` is right; ``slips`` (pairs or a dict) maps a known wrong value to what it
    reveals (``slip_hint``).
    """
    __tracebackhide__ = True
    import numbers

    same_kind = isinstance(got, numbers.Number) == isinstance(expected, numbers.Number) and (
        isinstance(got, str) == isinstance(expected, str)
    )
    if isinstance(expected, numbers.Integral) and not isinstance(expected, bool):
        # True == 1 and 875.0 == 875 in Python, but a count is an int
        same_kind = same_kind and isinstance(got, numbers.Integral) and not isinstance(got, bool)
    if same_kind and got == expected:
        return
    reason = slip_hint(got, expected, slips) or why
    if not same_kind and isinstance(expected, numbers.Number):
        wanted = "an int" if isinstance(expected, numbers.Integral) else "a number"
        reason = f"a {type(got).__name__} is not {wanted}; return {wanted} itself. {reason}"
    fail(f"{call} returned {show(got)}, expected {show(expected)}: {reason}")


# --- choices ----------------------------------------------------------------------------------


def choice(name: str, got, options: Iterable):
    """The learner's answer ``name`` (its value ``got``), which must be one of ``options``."""
    __tracebackhide__ = True
    options = list(options)
    if got is None:
        fail(f"{name} is None: not answered yet; choose one of {options}")
    try:
        known = got in options
    except (TypeError, ValueError):  # an array, say: not one of the options either
        known = False
    if not known:
        fail(f"{name} is {show(got)}, which is not one of {options}: copy one of them exactly")
    return got


def check_choice(name: str, got, options: Iterable, key, wrong: dict) -> None:
    """Fail unless the learner's choice ``name`` (its value ``got``) is ``key``.

    ``wrong[option]`` says why another option is wrong; the message never names the right one.
    A hidden key (the learner's copy) leaves the verdict to grading (``kata.statements``).
    """
    __tracebackhide__ = True
    from kata.statements import at_grading, key_hidden

    choice(name, got, options)
    if key_hidden(key):
        at_grading(f"{name} = {got!r}")
    if got != key:
        fail(f"{name} = {got!r}: {wrong[got]}")


def key_of(key, name: str, hidden=None):
    """The answer key's entry for the answer ``name``: ``key[name]``, or ``hidden`` in the
    learner's copy, where the export replaced the key by None (``kata.statements.key_hidden``)."""
    from kata.statements import key_hidden

    return hidden if key_hidden(key) else key[name]


# --- results of the right type ------------------------------------------------------------------


def as_array(value, call: str, what: str = "an array"):
    """``value`` as a float64 NumPy array; fail if it is None or cannot be one."""
    __tracebackhide__ = True
    import numpy as np

    if value is None:
        fail(f"{call} returned None: did you forget to `return` the result?")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        fail(f"{call} returned {show(value)}, not {what} ({error})")


def as_scalar(value, call: str, why: str = "average over the batch") -> float:
    """``value`` as a float; fail unless it is one number (a 0-d tensor or array, or a float)."""
    __tracebackhide__ = True
    array = as_array(value, call, what="a number")
    if array.shape != ():
        fail(f"{call} returned {show(value)}, expected one number (a scalar tensor): {why}")
    return float(array)


def expect_float_array(got, call: str, shape=None, what: str = "a NumPy float array"):
    """Return ``got`` if it is a NumPy array of floats (of ``shape``, if given); fail otherwise.

    A list, a tuple, an int array or a TensorFlow tensor is a different contract from a float
    array, even when its numbers are right: the caller indexes, slices and broadcasts it.
    """
    __tracebackhide__ = True
    import numpy as np

    if got is None:
        fail(f"{call} returned None: did you forget to `return` the result?")
    if not isinstance(got, np.ndarray):
        hint = ""
        if isinstance(got, (list, tuple)):
            hint = " (np.asarray(...) turns it into one; `.tolist()` turns an array into a list)"
        elif hasattr(got, "numpy"):
            hint = " (a TensorFlow tensor: call `.numpy()` on it)"
        fail(f"{call} returned {show(got)}, expected {what}{hint}")
    if got.dtype.kind != "f":
        fail(
            f"{call} returned an array of dtype {got.dtype}, expected {what} (dtype float32 or "
            "float64): sums of products of real numbers are not integers"
        )
    if shape is not None:
        expect_shape(got, shape, call)
    return got


def expect_shape(got, shape, call: str, why: str = "") -> None:
    """Fail unless the array ``got`` has ``shape``; ``why`` says why that shape is the right one."""
    __tracebackhide__ = True
    if tuple(got.shape) != tuple(shape):
        because = f": {why}" if why else ""
        fail(f"{call} returned shape {got.shape}, expected {tuple(shape)}{because}")


def expect_close(got, expected, call: str, why: str, what: str = "", rtol=1e-5, atol=1e-8):
    """``expect_float_array`` of ``expected``'s shape, then fail unless it is ``expected`` to a
    tolerance, naming the first value that is not (``what`` names the result: "grad_b")."""
    __tracebackhide__ = True
    import numpy as np

    expected = np.asarray(expected)
    got = expect_float_array(got, call, shape=expected.shape)
    misses = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if misses.any():
        where = tuple(int(i) for i in np.argwhere(misses)[0])
        fail(
            f"{call} returned {what + ' ' if what else ''}{got[where]:.6g} at index {where}, "
            f"expected {expected[where]:.6g}: {why}"
        )
    return got


def expect_gradients(got, expected, names, of: str, hint: str, oracle: str, atol=1e-5) -> None:
    """Fail unless every gradient of ``got`` (one per name) exists and is ``expected``'s.

    ``of`` names what is differentiated, ``hint`` what cuts a gradient off, ``oracle`` where the
    expected gradients come from.
    """
    __tracebackhide__ = True
    import numpy as np

    for name, g, e in zip(names, got, expected, strict=True):
        require(g is not None, f"no gradient of {of} reaches `{name}`: {hint}")
        require(
            np.allclose(np.asarray(g), np.asarray(e), atol=atol),
            f"the gradient of {of} with respect to `{name}` is {show(np.asarray(g))}, expected "
            f"{show(np.asarray(e))} ({oracle})",
        )


def expect_raises(exception, function, call: str, why: str):
    """Call ``function()`` and fail unless it raises ``exception`` (precisely that type)."""
    __tracebackhide__ = True
    try:
        got = function()
    except exception as error:
        return error
    fail(f"{call} returned {show(got)}, expected it to raise {exception.__name__}: {why}")


PNG = b"\x89PNG\r\n\x1a\n"
"""The first bytes of every PNG file."""


def expect_png(path, min_bytes: int = 1) -> None:
    """Fail unless ``path`` was written and is a PNG file of ``min_bytes`` bytes or more."""
    __tracebackhide__ = True
    from pathlib import Path

    path = Path(path)
    require(path.is_file(), f"{path} was not written")
    data = path.read_bytes()
    require(data.startswith(PNG), f"{path} is not a PNG file (it starts with {data[:8]!r})")
    require(len(data) >= min_bytes, f"{path} holds {len(data)} bytes: is the figure empty?")


def saved_and_loaded(keras, model, path, hint: str):
    """``model`` saved to the .keras file ``path`` and loaded again; fail, with ``hint``, if it
    does not load."""
    __tracebackhide__ = True
    model.save(path)
    try:
        return keras.models.load_model(path)
    except Exception as error:  # noqa: BLE001 - any failure to load is the finding
        fail(
            f"model.save then keras.models.load_model failed ({type(error).__name__}: {error}): "
            f"{hint}"
        )


def layer_weight(layer, name: str, shape, owner: str, why: str = ""):
    """The weight ``name`` of a Keras layer after its first call: it must exist, with ``shape``.

    ``owner`` names the layer in the messages ("BahdanauAttention"); ``why`` explains the shape.
    """
    __tracebackhide__ = True
    weight = getattr(layer, name, None)
    if weight is None or not hasattr(weight, "assign"):
        fail(
            f"after its first call, {owner} has no weight `{name}` (got {show(weight)}): create "
            f"it in build with self.{name} = self.add_weight(...)"
        )
    if tuple(weight.shape) != tuple(shape):
        fail(
            f"{owner}.{name} has shape {tuple(weight.shape)}, expected {tuple(shape)}"
            + (f": {why}" if why else "")
        )
    return weight


def seeds(values, name: str = "seed", labels=None, **settings):
    """``@seeds(range(5))``: parametrize a test over seeds, with the ids seed0, seed1, ...

    ``labels`` names the seeds otherwise (one label a seed). Each keyword is a setting crossed
    with every seed: ``@seeds(range(2), saturating=(False, True))`` gives the cases
    (seed, saturating) (0, False), (0, True), (1, False), (1, True), with the ids
    seed0-saturating=False, seed0-saturating=True, ...
    """
    values = list(values)
    labels = [f"seed{value}" for value in values] if labels is None else list(labels)
    if not settings:
        return pytest.mark.parametrize(name, values, ids=labels)
    cases, ids = [], []
    for value, label in zip(values, labels, strict=True):
        for chosen in itertools.product(*settings.values()):
            cases.append((value, *chosen))
            named = [f"{key}={setting}" for key, setting in zip(settings, chosen, strict=True)]
            ids.append("-".join([label, *named]))
    return pytest.mark.parametrize([name, *settings], cases, ids=ids)


def seed_everything(seed: int, tensorflow: bool | None = None) -> None:
    """Seed python, numpy and, if it is imported (or ``tensorflow=True``), TensorFlow/Keras."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if tensorflow or (tensorflow is None and "tensorflow" in sys.modules):
        import keras

        keras.utils.set_random_seed(seed)


def run_command(target, test: str) -> str:
    """The command that runs one test of ``target``'s question against the same folder.

    ``run_command(target, "test_spike_height_is_fixed")`` ->
    ``pytest exercises/q01_neurons.py::test_spike_height_is_fixed``.
    """
    describe_target = getattr(target, "_kata_command", None)
    if describe_target is None:  # not the kata's target proxy (a test of the helpers)
        return f"pytest -k {test}"
    return describe_target(test)

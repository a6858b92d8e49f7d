"""Small helpers for the kata's tests: describe a call, seed everything, mark an empty answer."""

from __future__ import annotations

import os
import random
import sys

import pytest

__all__ = ["Unanswered", "called", "describe", "seed_everything", "unanswered"]


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


def seed_everything(seed: int, tensorflow: bool | None = None) -> None:
    """Seed python, numpy and, if it is imported (or ``tensorflow=True``), TensorFlow/Keras."""
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if tensorflow or (tensorflow is None and "tensorflow" in sys.modules):
        import keras

        keras.utils.set_random_seed(seed)


class Unanswered(pytest.fail.Exception):
    """A true/false statement left empty: the test fails, but the exam scores it 0, not minus."""


def unanswered(statement: str) -> None:
    """Fail the current test as *unanswered* (scored 0 under negative marking)."""
    __tracebackhide__ = True
    raise Unanswered(f"not answered yet: {statement}", pytrace=False)

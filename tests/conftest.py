"""Fixtures that every question's tests share (``tf`` and ``target`` come from ``kata.plugin``)."""

import pytest


@pytest.fixture
def keras(tf):
    """Keras 3, imported after the `tf` fixture has seeded everything."""
    import keras

    return keras

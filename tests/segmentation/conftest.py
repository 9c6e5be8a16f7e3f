"""Fixtures for the segmentation tests: cached tiny models and random images."""
import numpy as np
import pytest

from segmentation_cases import build_tiny

_CACHE = {}


@pytest.fixture
def tiny_model():
    """``tiny_model(case)``: the unknown-size model of ``case``, built once per session.

    Only for tests that don't change weights.
    """
    def get(case):
        if case not in _CACHE:
            _CACHE[case] = build_tiny(case)
        return _CACHE[case]

    return get


@pytest.fixture
def images():
    def make(height, width, batch=2, seed=0):
        return np.random.default_rng(seed).random((batch, height, width, 3), dtype=np.float32)

    return make

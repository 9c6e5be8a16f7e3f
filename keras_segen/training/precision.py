"""Scoped Keras dtype policies, so a recipe's precision never leaks into later code."""
import contextlib

import keras

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


@contextlib.contextmanager
def precision_policy(name: str):
    if name not in POLICIES:
        raise ValueError(f"precision must be one of {POLICIES}, got {name!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)

"""What a serving signature is, and the conversions every signature shares.

An ``Endpoint`` is one TF Serving signature: a Python function whose parameter names
are the signature's input names and which returns ``{output name: tensor}``, the
``tf.TensorSpec``s of its inputs, and a small example request (used for the warmup
records and by the tests). ``endpoints_for(model)`` picks the endpoints of a model by
its kind (``keras_segen.kinds``), whose endpoints live in ``segmentation.py`` and
``generation.py``.
"""
import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf

# TF Serving's REST API refuses nothing by itself: bound what one ``sample`` request may
# ask a server to generate, so that a typo cannot exhaust its memory.
MAX_SAMPLE_BATCH = 1024


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One signature: ``fn(**inputs) -> {name: tensor}``, its input specs, an example."""

    name: str
    fn: Callable
    input_signature: tuple
    example: dict  # input name -> numpy array (a small valid request)

    def __post_init__(self):
        names = [spec.name for spec in self.input_signature]
        if sorted(names) != sorted(self.example):
            raise ValueError(
                f"endpoint {self.name!r}: example inputs {sorted(self.example)} do not "
                f"match the signature's inputs {names}"
            )


def serving_kind(model) -> str:
    """The name of ``model``'s kind (``keras_segen.kinds.kind_of``); TypeError for a
    model of no known kind."""
    from keras_segen.kinds import kind_of

    return kind_of(model).name


def endpoints_for(model) -> list:
    """The endpoints of ``model`` (its kind's); the first is also ``serving_default``."""
    from keras_segen.kinds import kind_of

    return kind_of(model).endpoints(model)


def signature_names(endpoints) -> list:
    """Every SignatureDef the export writes: the endpoints, plus the default alias."""
    names = [endpoint.name for endpoint in endpoints]
    return names if "serving_default" in names else names + ["serving_default"]


def example_for(endpoints, signature_name) -> dict:
    """The example request of a signature (``serving_default`` may be an alias)."""
    by_name = {endpoint.name: endpoint for endpoint in endpoints}
    if signature_name == "serving_default" and signature_name not in by_name:
        return endpoints[0].example
    return by_name[signature_name].example


# --- conversions shared by the signatures ----------------------------------------------


def uint8_to_unit(images):
    """uint8 pixels -> float32 in [0, 1] (what every keras_segen model reads)."""
    return tf.cast(images, tf.float32) / 255.0


def unit_to_uint8(images):
    """float images in [0, 1] -> uint8, rounded to the nearest step."""
    images = tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0)
    return tf.cast(tf.round(images * 255.0), tf.uint8)


def tanh_to_uint8(images):
    """Generator output in [-1, 1] -> uint8, as ``generate()`` maps it to [0, 1]."""
    return unit_to_uint8((tf.cast(images, tf.float32) + 1.0) / 2.0)


def check_sample_batch(batch_size):
    """``batch_size`` as int32, with a runtime check that it is in [1, MAX_SAMPLE_BATCH]."""
    batch_size = tf.cast(batch_size, tf.int32)
    checks = [
        tf.debugging.assert_positive(batch_size, message="sample: batch_size must be >= 1"),
        tf.debugging.assert_less_equal(
            batch_size,
            MAX_SAMPLE_BATCH,
            message=f"sample: batch_size must be <= {MAX_SAMPLE_BATCH}",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(batch_size)


def check_labels(labels, num_classes, where):
    """int labels ``[N]`` with a runtime check that they lie in [0, num_classes)."""
    labels = tf.cast(labels, tf.int32)
    checks = [
        tf.debugging.assert_non_negative(labels, message=f"{where}: labels must be >= 0"),
        tf.debugging.assert_less(
            labels, num_classes, message=f"{where}: labels must be < {num_classes}"
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(labels)


def spec(shape, dtype, name):
    return tf.TensorSpec(shape, dtype, name=name)


def scalar_example(value, dtype):
    return np.asarray(value, dtype=dtype)

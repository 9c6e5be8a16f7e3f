"""What a serving signature is, and the conversions every signature shares.

An ``Endpoint`` is one TF Serving signature: a Python function whose parameter names
are the signature's input names and which returns ``{output name: tensor}``, the
``tf.TensorSpec``s of its inputs, and a small example request (used for the warmup
records and by the tests). ``endpoints_for(model)`` picks the endpoints of a model by
its kind; the kinds live in ``segmentation.py`` and ``generation.py``.
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
    """``"segmentation"``, ``"gan"``, ``"vae"`` or ``"pix2pix"``; TypeError otherwise."""
    generative = ("translate", "reconstruct", "generate")
    if any(callable(getattr(model, method, None)) for method in generative):
        from keras_segen.evaluation.generation import model_kind

        return model_kind(model)
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if inputs and outputs and len(inputs) == 1 and len(outputs) == 1:
        if len(inputs[0].shape) == 4 and len(outputs[0].shape) == 4:
            return "segmentation"
    raise TypeError(
        f"cannot export {getattr(model, 'name', type(model).__name__)!r}: it is neither a "
        "segmentation model (one image input [N,H,W,C] -> logits [N,H,W,classes]) nor a "
        "generative model with translate() (pix2pix), encode()/reconstruct() (VAE) or "
        "generate() (GAN)"
    )


def endpoints_for(model) -> list:
    """The endpoints of ``model``; the first one is also served as ``serving_default``."""
    kind = serving_kind(model)
    if kind == "segmentation":
        from keras_segen.serving.segmentation import segmentation_endpoints

        return segmentation_endpoints(model)
    from keras_segen.serving import generation

    builders = {
        "gan": generation.gan_endpoints,
        "vae": generation.vae_endpoints,
        "pix2pix": generation.pix2pix_endpoints,
    }
    return builders[kind](model)


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


def keras_seed(seed):
    """An int scalar -> the ``[2]`` int32 seed ``keras.random.normal(seed=int)`` uses, so
    a GAN's ``sample(seed=s)`` draws the latents ``model.generate(n, seed=s)`` draws."""
    pair = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
    return tf.cast(tf.math.floormod(pair, tf.int32.max - 1), tf.int32)


def plain_seed(seed):
    """An int scalar -> ``[seed, 0]`` (int64), the seed of ``VAE.sample_latents``."""
    return tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])


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

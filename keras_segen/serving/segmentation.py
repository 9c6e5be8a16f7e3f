"""Serving signatures of a segmentation model (float32 RGB in [0, 1] -> logits).

* ``serving_default``: ``images`` uint8 ``[N, H, W, C]`` of any size -> ``masks`` int32
  ``[N, H, W]`` and ``probabilities`` float32 ``[N, H, W, classes]`` at the input size.
* ``predict_bytes``: ``image_bytes`` string ``[N]`` (JPEG/PNG/GIF/BMP/WebP files, as TF
  Serving's REST API hands over ``{"b64": ...}`` values; a scalar string is a batch of
  one) -> the same outputs, the files decoded by keras_segen/image_decoding.py's rule
  (the pixels ``keras-segen predict`` reads). The images of one request must share a
  size; corrupt bytes, mixed sizes or a rank above 1 fail with InvalidArgumentError
  (HTTP 400 from TF Serving), not a crash.

A model with a fixed input size sees its inputs resized to that size, and its logits
are resized back (bilinear) before the softmax and the argmax.
"""
import numpy as np
import tensorflow as tf

from keras_segen.image_decoding import decode_rgb_tf
from keras_segen.serving.endpoints import Endpoint, spec, uint8_to_unit

EXAMPLE_SIZE = 32  # side of the warmup images of a model that takes any size


def model_image_size(model):
    """``(H, W)`` a model requires, or None when it takes any size."""
    height, width = model.inputs[0].shape[1:3]
    return None if height is None or width is None else (int(height), int(width))


def segment(model, images):
    """uint8 images ``[N, H, W, C]`` -> ``{"masks", "probabilities"}`` at the input size."""
    x = uint8_to_unit(images)
    fixed = model_image_size(model)
    if fixed is not None:
        x = tf.image.resize(x, fixed, method="bilinear")
    logits = tf.cast(model(x, training=False), tf.float32)
    if fixed is not None:
        logits = tf.image.resize(logits, tf.shape(images)[1:3], method="bilinear")
    return {
        "masks": tf.argmax(logits, axis=-1, output_type=tf.int32),
        "probabilities": tf.nn.softmax(logits, axis=-1),
    }


def decode_image_batch(image_bytes, channels):
    """Encoded images ``[N]`` (or one scalar string: a batch of one) -> uint8
    ``[N, H, W, channels]``, decoded by keras_segen/image_decoding.py's rule (the one
    ``keras-segen predict`` follows); all must share a size."""
    # TF Serving feeds what the client sends whatever the signature's shape says, so
    # check the rank at run time (Rank, not tf.rank: that folds to the declared rank).
    rank_check = tf.debugging.assert_less_equal(
        tf.raw_ops.Rank(input=image_bytes),
        1,
        message="predict_bytes: image_bytes must be a string tensor of shape [N] (one "
        "encoded image per element) or a scalar string; got more dimensions, rank",
    )
    with tf.control_dependencies([rank_check]):
        image_bytes = tf.reshape(image_bytes, [-1])
    nonempty = tf.debugging.assert_positive(
        tf.size(image_bytes), message="predict_bytes: image_bytes holds no image"
    )
    # Before anything reads image_bytes[0]: a slice is not ordered after the assert by
    # itself, and an empty request then failed (now and then) in strided_slice instead.
    with tf.control_dependencies([nonempty]):
        image_bytes = tf.identity(image_bytes)

    def decode(data):
        return decode_rgb_tf(data, channels)

    first = decode(image_bytes[0])

    def decode_same_size(data):
        image = decode(data)
        check = tf.debugging.assert_equal(
            tf.shape(image),
            tf.shape(first),
            message="predict_bytes: the images of one request must share one size "
            "(send images of other sizes in separate requests); first image shape vs",
        )
        with tf.control_dependencies([check]):
            return tf.identity(image)

    def decode_rest():
        rest = tf.map_fn(
            decode_same_size,
            image_bytes[1:],
            fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8),
        )
        return tf.concat([first[tf.newaxis], rest], axis=0)

    return tf.cond(tf.size(image_bytes) > 1, decode_rest, lambda: first[tf.newaxis])


def example_image(model):
    """A small uint8 test pattern the model accepts (the warmup request's image)."""
    height, width = model_image_size(model) or (EXAMPLE_SIZE, EXAMPLE_SIZE)
    channels = int(model.inputs[0].shape[-1])
    rows = np.arange(height, dtype=np.int64)[:, None, None]
    cols = np.arange(width, dtype=np.int64)[None, :, None]
    chans = np.arange(channels, dtype=np.int64)[None, None, :]
    return ((rows * 7 + cols * 13 + chans * 61) % 256).astype(np.uint8)[None]


def segmentation_endpoints(model):
    channels = model.inputs[0].shape[-1]
    if channels is None:
        raise ValueError(
            f"{model.name}: the number of input channels must be known to export it"
        )
    channels = int(channels)

    def serving_default(images):
        return segment(model, images)

    def predict_bytes(image_bytes):
        return segment(model, decode_image_batch(image_bytes, channels))

    image = example_image(model)
    png = tf.io.encode_png(image[0]).numpy()
    return [
        Endpoint(
            "serving_default",
            serving_default,
            (spec([None, None, None, channels], tf.uint8, "images"),),
            {"images": image},
        ),
        Endpoint(
            "predict_bytes",
            predict_bytes,
            (spec([None], tf.string, "image_bytes"),),
            {"image_bytes": np.array([png], dtype=object)},
        ),
    ]

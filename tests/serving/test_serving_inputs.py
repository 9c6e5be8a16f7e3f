"""Requests a server will get: encoded images, odd sizes, bad values (loaded in-process)."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from serving_cases import assert_masks_match, png_batch, segmentation_answer

import keras
import keras_segen
from keras_segen.serving import export

_LOADED = {}


def loaded(item):
    if item.path not in _LOADED:
        _LOADED[item.path] = tf.saved_model.load(str(item.path))
    return _LOADED[item.path]


def call(item, signature, **inputs):
    outputs = loaded(item).signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}


def encoded(image, fmt, mode="RGB"):
    buffer = io.BytesIO()
    Image.fromarray(image).convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_corrupt_bytes_are_an_invalid_argument(exported, data):
    with pytest.raises(tf.errors.InvalidArgumentError):
        call(exported["unet"], "predict_bytes", image_bytes=np.array([data], dtype=object))


def test_an_empty_request_is_an_invalid_argument(exported):
    with pytest.raises(tf.errors.InvalidArgumentError, match="holds no image"):
        call(exported["unet"], "predict_bytes", image_bytes=np.array([], dtype=object))


def test_images_of_two_sizes_in_one_request_are_refused(exported):
    rng = np.random.default_rng(1)
    small, large = (rng.integers(0, 256, s, dtype=np.uint8) for s in [(8, 8, 3), (9, 8, 3)])
    data = np.array([encoded(small, "PNG"), encoded(large, "PNG")], dtype=object)
    with pytest.raises(tf.errors.InvalidArgumentError, match="share one size"):
        call(exported["unet"], "predict_bytes", image_bytes=data)


def test_jpeg_and_grayscale_files_decode_to_rgb_masks(exported):
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    for data in (encoded(image, "JPEG"), encoded(image, "PNG", mode="L"), encoded(image, "BMP")):
        outputs = call(exported["unet"], "predict_bytes", image_bytes=np.array([data] * 2, object))
        assert outputs["masks"].shape == (2, 12, 20)
        assert outputs["masks"].dtype == np.int32


def test_one_export_serves_every_image_size(exported):
    unet = exported["unet"]
    for height, width in [(1, 1), (7, 33), (40, 24)]:
        images = np.random.default_rng(height).integers(0, 256, (1, height, width, 3), np.uint8)
        outputs = call(unet, "serving_default", images=images)
        assert outputs["masks"].shape == (1, height, width)
        expected, logits = segmentation_answer(unet.model, images)
        np.testing.assert_allclose(outputs["probabilities"], expected["probabilities"],
                                   rtol=1e-4, atol=1e-5)
        by_bytes = call(unet, "predict_bytes", image_bytes=png_batch(images))
        # Two signatures are two traced graphs: compare each with Keras away from near ties.
        assert_masks_match(outputs["masks"], logits)
        assert_masks_match(by_bytes["masks"], logits)


def test_a_fixed_size_model_serves_other_sizes_by_resizing(tmp_path):
    keras.utils.set_random_seed(5)
    model = keras_segen.build("unet", input_shape=(16, 16, 3), num_classes=2, depth=2,
                              base_filters=4)
    path = export(model, tmp_path, name="fixed")
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), np.uint8)
    native = serve(images=tf.constant(images))
    expected, _ = segmentation_answer(model, images)
    np.testing.assert_allclose(native["probabilities"], expected["probabilities"],
                               rtol=1e-4, atol=1e-5)
    other = serve(images=tf.constant(np.zeros((1, 23, 9, 3), np.uint8)))
    assert tuple(other["masks"].shape) == (1, 23, 9)
    assert tuple(other["probabilities"].shape) == (1, 23, 9, 2)


@pytest.mark.parametrize(
    "case, signature, inputs, match",
    [
        ("cgan", "serving_default",
         {"z": np.zeros((1, 4), np.float32), "labels": np.array([3], np.int32)}, "labels"),
        ("cvae", "decode",
         {"z": np.zeros((1, 2), np.float32), "labels": np.array([-1], np.int32)}, "labels"),
        ("pix2pix", "translate", {"masks": np.full((1, 8, 8), 3, np.int32)}, "class ids"),
        ("dcgan", "sample",
         {"batch_size": np.array(0, np.int32), "seed": np.array(0, np.int64)}, "batch_size"),
        ("vae", "sample",
         {"batch_size": np.array(10**6, np.int32), "seed": np.array(0, np.int64)}, "batch_size"),
    ],
)
def test_out_of_range_values_are_invalid_arguments(exported, case, signature, inputs, match):
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        call(exported[case], signature, **inputs)


@pytest.mark.parametrize("case", ["dcgan", "cgan", "cvae"])
def test_sample_is_a_function_of_the_seed(exported, case):
    def sample(seed):
        return call(exported[case], "sample", batch_size=np.array(3, np.int32),
                    seed=np.array(seed, np.int64))["images"]

    np.testing.assert_array_equal(sample(11), sample(11))
    assert not np.array_equal(sample(11), sample(12))

"""The optional TFLite model gives the Keras model's masks at its fixed size."""
import numpy as np
import pytest
import tensorflow as tf

from serving_cases import segmentation_answer

import keras
import keras_segen
from keras_segen.serving import TFLITE_FILE, export
from keras_segen.serving.tflite import float32_copy, resolve_tflite_size


def run_tflite(path, images):
    interpreter = tf.lite.Interpreter(model_path=str(path))
    runner = interpreter.get_signature_runner("serving_default")
    return runner(images=images)


def test_tflite_masks_match_the_keras_model(tmp_path):
    keras.utils.set_random_seed(1)
    model = keras_segen.build("unet", input_shape=(None, None, 3), num_classes=3, depth=2,
                              base_filters=4)
    card = {"name": "seg", "dataset": {"options": {"tile_size": 24}}}
    path = export(model, tmp_path, name="seg", card=card, tflite=True)
    images = np.random.default_rng(0).integers(0, 256, (1, 24, 24, 3), np.uint8)
    outputs = run_tflite(path / TFLITE_FILE, images)
    expected, logits = segmentation_answer(model, images)
    assert outputs["masks"].shape == (1, 24, 24) and outputs["masks"].dtype == np.int32
    np.testing.assert_allclose(outputs["probabilities"], expected["probabilities"], atol=1e-4)
    top2 = np.sort(logits, axis=-1)[..., -2:]
    gap = top2[..., 1] - top2[..., 0]
    compared = (gap == 0) | (gap > 1e-4)
    assert compared.mean() > 0.99
    np.testing.assert_array_equal(outputs["masks"][compared], expected["masks"][compared])


def test_tflite_size_comes_from_the_argument_the_model_or_the_card():
    any_size = keras_segen.build("unet", num_classes=2, depth=2, base_filters=4)
    fixed = keras_segen.build("unet", input_shape=(16, 32, 3), num_classes=2, depth=2,
                              base_filters=4)
    assert resolve_tflite_size(any_size, 8) == (8, 8)
    assert resolve_tflite_size(fixed) == (16, 32)
    assert resolve_tflite_size(any_size, card={"input": {"shape": [64, 48, 3]}}) == (64, 48)
    assert resolve_tflite_size(
        any_size, card={"recipe": {"dataset": {"options": {"tile_size": 40}}}}) == (40, 40)
    with pytest.raises(ValueError, match="tflite_size"):
        resolve_tflite_size(any_size)


def test_tflite_is_for_segmentation_models_only(tmp_path):
    model = keras_segen.build("dcgan", image_shape=(8, 8, 1), latent_dim=4, base_filters=4)
    with pytest.raises(ValueError, match="segmentation"):
        export(model, tmp_path, name="gan", tflite=True)
    assert not (tmp_path / "gan").exists()


def test_mixed_precision_models_convert_through_a_float32_copy():
    keras.utils.set_random_seed(2)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)
    finally:
        keras.config.set_dtype_policy("float32")
    copy = float32_copy(model)
    assert copy is not model
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    images = np.random.default_rng(0).random((1, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(copy(images)), np.asarray(model(images), np.float32),
                               atol=0.05)
    plain = keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)
    assert float32_copy(plain) is plain

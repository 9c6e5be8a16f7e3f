"""TFLite conversion of a segmentation model, at one fixed input size.

The TFLite model has the serving signature's contract at that size: input ``images``
uint8 ``[1, H, W, C]`` -> ``masks`` int32 ``[1, H, W]`` and ``probabilities`` float32
``[1, H, W, classes]`` (preprocessing inside). Mobile runtimes want static shapes, so
the size is fixed: ``tflite_size``, else the model's own input size, else the card's
tile size.
"""
import pathlib
import tempfile

import numpy as np
import tensorflow as tf

from keras_segen.serving.endpoints import Endpoint
from keras_segen.serving.saved_model import write_saved_model
from keras_segen.serving.segmentation import model_image_size, segment

TFLITE_FILE = "model.tflite"


def _size_pair(size, where):
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in pair):
        raise ValueError(
            f"{where}: expected an int or (height, width) of positive ints, got {size!r}"
        )
    return pair


def card_tile_size(card):
    """The input size a zoo card records (``input.shape`` or the dataset's tile size)."""
    if not card:
        return None
    shape = _field(card, "input", "shape")
    if shape and len(shape) >= 3 and all(isinstance(s, int) for s in shape[-3:-1]):
        return tuple(shape[-3:-1])
    for holder in (card, _field(card, "recipe")):
        tile = _field(holder, "dataset", "options", "tile_size")
        if tile:
            return _size_pair(tile, "card tile_size")
    return None


def _field(record, *keys):
    for key in keys:
        record = record.get(key) if isinstance(record, dict) else None
    return record


def resolve_tflite_size(model, tflite_size=None, card=None):
    """``(H, W)`` of the TFLite model; ValueError saying how to give one when unknown."""
    if tflite_size is not None:
        return _size_pair(tflite_size, "tflite_size")
    size = model_image_size(model) or card_tile_size(card)
    if size is None:
        raise ValueError(
            f"{model.name} takes any input size and no card gives its tile size: pass "
            "tflite_size=(height, width) for the TFLite model"
        )
    return size


def float32_copy(model):
    """``model`` itself, or a float32 copy of a mixed-precision model: TFLite has no
    bfloat16/float16 convolutions, and the weights are float32 anyway."""
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in _all_layers(model)):
        return model
    copy = model.__class__.from_config(_with_float32_policies(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def _all_layers(layer):
    yield layer
    for child in getattr(layer, "layers", []):
        yield from _all_layers(child)


def _with_float32_policies(config):
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and "config" in config:
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _with_float32_policies(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_with_float32_policies(value) for value in config]
    return config


def convert_segmentation(model, size) -> bytes:
    """The TFLite flatbuffer of ``model`` for uint8 images of ``size`` (H, W)."""
    model = float32_copy(model)
    height, width = size
    channels = int(model.inputs[0].shape[-1])

    def serving_default(images):
        return segment(model, images)

    endpoint = Endpoint(
        "serving_default",
        serving_default,
        (tf.TensorSpec([1, height, width, channels], tf.uint8, name="images"),),
        {"images": np.zeros((1, height, width, channels), np.uint8)},
    )
    # Through a SavedModel, as keras.Model.export(format="litert") does: converting a
    # concrete function directly keeps Keras variables as uninitialized READ_VARIABLE
    # ops (the TFLite model then answers NaN).
    with tempfile.TemporaryDirectory(prefix="keras_segen_tflite_") as folder:
        write_saved_model(model, [endpoint], folder)
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        return converter.convert()


def write_tflite(model, version_dir, size) -> pathlib.Path:
    path = pathlib.Path(version_dir) / TFLITE_FILE
    path.write_bytes(convert_segmentation(model, size))
    return path

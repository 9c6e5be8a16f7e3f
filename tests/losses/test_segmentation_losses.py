"""Segmentation losses against hand-written numpy references on tiny arrays."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from keras_segen.losses import (
    CombinedLoss,
    DiceLoss,
    FocalLoss,
    JaccardLoss,
    SparseCrossEntropy,
    TverskyLoss,
)

NUM_CLASSES = 3


def _data(seed=0, n=2, size=5):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, size, size, NUM_CLASSES)).astype("float32") * 2
    labels = rng.integers(0, NUM_CLASSES, size=(n, size, size)).astype("int32")
    labels[0, 0, :3] = 255
    labels[1, 2, 2] = 255
    return labels, logits


def _softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _kept(labels, logits):
    keep = labels != 255
    return labels[keep], _softmax(logits.astype("float64"))[keep]


def _np_soft_counts(labels, logits):
    y, p = _kept(labels, logits)
    t = np.eye(NUM_CLASSES)[y]
    return (p * t).sum(0), p.sum(0), t.sum(0)


def test_cross_entropy_ignores_label_255_like_numpy_and_keras():
    labels, logits = _data()
    y, p = _kept(labels, logits)
    expected = np.mean(-np.log(p[np.arange(len(y)), y]))
    got = SparseCrossEntropy()(labels, logits)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    keras_ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=255)
    np.testing.assert_allclose(got, keras_ce(labels, logits), rtol=1e-5)
    # [N, H, W, 1] masks and probabilities are accepted too.
    probs = _softmax(logits).astype("float32")
    np.testing.assert_allclose(
        SparseCrossEntropy(from_logits=False)(labels[..., None], probs), expected, rtol=1e-4
    )


def test_weighted_cross_entropy_normalizes_by_counted_weights():
    labels, logits = _data(1)
    weights = np.array([0.5, 2.0, 4.0])
    y, p = _kept(labels, logits)
    nll = -np.log(p[np.arange(len(y)), y])
    expected = np.sum(weights[y] * nll) / np.sum(weights[y])
    got = SparseCrossEntropy(class_weights=weights)(labels, logits)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_cross_entropy_label_smoothing():
    labels, logits = _data(2)
    eps = 0.2
    y, p = _kept(labels, logits)
    targets = np.eye(NUM_CLASSES)[y] * (1 - eps) + eps / NUM_CLASSES
    expected = np.mean(-(targets * np.log(p)).sum(-1))
    got = SparseCrossEntropy(label_smoothing=eps)(labels, logits)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_pixelwise_reductions_and_sample_weights():
    labels, logits = _data(3)
    weights = np.array([1.0, 2.0, 3.0])
    y_all = np.where(labels == 255, 0, labels)
    probs = _softmax(logits.astype("float64"))
    nll = -np.log(np.take_along_axis(probs, y_all[..., None], -1)[..., 0])
    keep = labels != 255
    c = weights[y_all] * keep
    per_image = np.array([1.0, 3.0])[:, None, None]

    def loss(reduction):
        return SparseCrossEntropy(class_weights=weights, reduction=reduction)

    unreduced = loss(None)(labels, logits)
    assert unreduced.shape == labels.shape
    np.testing.assert_allclose(unreduced, c * nll, rtol=1e-5)
    assert np.all(unreduced.numpy()[~keep] == 0)
    np.testing.assert_allclose(loss("sum")(labels, logits), np.sum(c * nll), rtol=1e-5)
    sw = np.array([1.0, 3.0])
    np.testing.assert_allclose(
        loss("sum_over_batch_size")(labels, logits, sample_weight=sw),
        np.sum(c * per_image * nll) / np.sum(c), rtol=1e-5,
    )
    np.testing.assert_allclose(
        loss("mean_with_sample_weight")(labels, logits, sample_weight=sw),
        np.sum(c * per_image * nll) / np.sum(c * per_image), rtol=1e-5,
    )
    # A per-pixel weight map of zeros removes pixels like the ignore label does.
    pixel_sw = np.ones(labels.shape, "float32")
    pixel_sw[1] = 0
    np.testing.assert_allclose(
        loss("mean_with_sample_weight")(labels, logits, sample_weight=pixel_sw),
        np.sum((c * nll)[0]) / np.sum(c[0]), rtol=1e-5,
    )


def test_focal_loss_against_numpy_and_gamma_zero_is_cross_entropy():
    labels, logits = _data(4)
    alpha = np.array([0.25, 0.5, 1.0])
    y, p = _kept(labels, logits)
    p_true = p[np.arange(len(y)), y]
    expected = np.mean(-alpha[y] * (1 - p_true) ** 2.0 * np.log(p_true))
    np.testing.assert_allclose(FocalLoss(gamma=2.0, alpha=alpha)(labels, logits), expected,
                               rtol=1e-5)
    np.testing.assert_allclose(FocalLoss(gamma=0.0)(labels, logits),
                               SparseCrossEntropy()(labels, logits), rtol=1e-6)


def test_dice_jaccard_tversky_against_numpy():
    labels, logits = _data(5)
    i, p, t = _np_soft_counts(labels, logits)
    s = 1.0
    dice = 1 - np.mean((2 * i + s) / (p + t + s))
    jaccard = 1 - np.mean((i + s) / (p + t - i + s))
    a, b = 0.3, 0.7
    tversky = 1 - np.mean((i + s) / (i + a * (p - i) + b * (t - i) + s))
    np.testing.assert_allclose(DiceLoss(smooth=s)(labels, logits), dice, rtol=1e-5)
    np.testing.assert_allclose(JaccardLoss(smooth=s)(labels, logits), jaccard, rtol=1e-5)
    np.testing.assert_allclose(TverskyLoss(a, b, smooth=s)(labels, logits), tversky, rtol=1e-5)
    weights = np.array([0.0, 1.0, 3.0])
    weighted = 1 - np.sum(weights * (2 * i + s) / (p + t + s)) / weights.sum()
    np.testing.assert_allclose(DiceLoss(smooth=s, class_weights=weights)(labels, logits),
                               weighted, rtol=1e-5)


def test_tversky_special_cases_are_exactly_jaccard_and_dice():
    labels, logits = _data(6)
    for smooth in (0.0, 0.5, 1.0):
        np.testing.assert_allclose(
            TverskyLoss(alpha=1.0, beta=1.0, smooth=smooth)(labels, logits),
            JaccardLoss(smooth=smooth)(labels, logits), rtol=1e-6)
        np.testing.assert_allclose(
            TverskyLoss(alpha=0.5, beta=0.5, smooth=smooth / 2)(labels, logits),
            DiceLoss(smooth=smooth)(labels, logits), rtol=1e-6)


def test_region_losses_per_image_reductions():
    labels, logits = _data(7)
    per_image = []
    for k in range(2):
        i, p, t = _np_soft_counts(labels[k:k + 1], logits[k:k + 1])
        per_image.append(1 - np.mean((2 * i + 1) / (p + t + 1)))
    per_image = np.array(per_image)
    np.testing.assert_allclose(DiceLoss(per_image=True, reduction=None)(labels, logits),
                               per_image, rtol=1e-5)
    np.testing.assert_allclose(DiceLoss(per_image=True, reduction="sum")(labels, logits),
                               per_image.sum(), rtol=1e-5)
    np.testing.assert_allclose(DiceLoss(per_image=True)(labels, logits), per_image.mean(),
                               rtol=1e-5)
    # Batch-level aggregation has no per-sample values: one scalar whatever the reduction.
    assert DiceLoss(reduction=None)(labels, logits).shape == ()


def test_absent_classes_in_region_losses():
    # Class 2 is absent from the truth and (almost) never predicted.
    labels = np.array([[[0, 1], [1, 0]]], "int32")
    logits = np.zeros((1, 2, 2, 3), "float32")
    logits[..., 2] = -30.0
    logits[..., 0] = np.where(labels[0] == 0, 5.0, -5.0)
    logits[..., 1] = -logits[..., 0]
    i, p, t = _np_soft_counts(labels, logits)
    scores = (2 * i + 1) / (p + t + 1)
    assert scores[2] == pytest.approx(1.0, abs=1e-6)  # absent class scores ~1: no loss
    np.testing.assert_allclose(DiceLoss()(labels, logits), 1 - scores.mean(), atol=1e-6)
    # Exact zeros with smooth=0: 0/0 for the absent class is scored 1, gradients finite.
    probs = tf.Variable(np.eye(3, dtype="float32")[labels])
    with tf.GradientTape() as tape:
        value = DiceLoss(smooth=0.0, from_logits=False)(labels, probs)
    assert float(value) == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.isfinite(tape.gradient(value, probs)))
    # A class absent from the truth but predicted is still penalized.
    wrong = np.full((1, 2, 2, 3), 1 / 3, "float32")
    assert float(DiceLoss(smooth=0.0, from_logits=False)(labels, wrong)) > 0.3


def test_combined_loss_is_the_weighted_sum():
    labels, logits = _data(8)
    parts = [SparseCrossEntropy(class_weights=[1, 2, 3]), DiceLoss(), FocalLoss()]
    weights = [1.0, 0.5, 2.0]
    expected = sum(w * float(loss(labels, logits)) for w, loss in zip(weights, parts))
    np.testing.assert_allclose(CombinedLoss(parts, weights)(labels, logits), expected,
                               rtol=1e-5)
    np.testing.assert_allclose(CombinedLoss(parts)(labels, logits),
                               sum(float(loss(labels, logits)) for loss in parts), rtol=1e-5)


def test_bfloat16_predictions_are_computed_in_float32():
    labels, logits = _data(9)
    for loss in (SparseCrossEntropy(), FocalLoss(), DiceLoss(), TverskyLoss()):
        value = loss(labels, tf.cast(logits, "bfloat16"))
        assert value.dtype == tf.float32
        np.testing.assert_allclose(value, loss(labels, logits), rtol=2e-2)


ALL_LOSSES = [
    SparseCrossEntropy(class_weights=[1.0, 2.0, 3.0], ignore_label=None, label_smoothing=0.1,
                       name="ce"),
    FocalLoss(gamma=1.5, alpha=[0.2, 0.3, 0.5], from_logits=False, reduction="sum"),
    DiceLoss(smooth=0.5, class_weights=[0, 1, 1], per_image=True),
    JaccardLoss(smooth=2.0, ignore_label=0),
    TverskyLoss(alpha=0.3, beta=0.7),
    CombinedLoss([SparseCrossEntropy(), DiceLoss()], [1.0, 0.5], name="ce_dice"),
]


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda loss: type(loss).__name__)
def test_config_round_trip(loss):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is type(loss)
    assert restored.get_config() == loss.get_config()
    assert type(loss).from_config(loss.get_config()).get_config() == loss.get_config()


def test_losses_train_and_survive_a_keras_file(tmp_path):
    labels, _ = _data(10, n=4, size=8)
    images = np.random.default_rng(10).normal(size=(4, 8, 8, 3)).astype("float32")
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(NUM_CLASSES, 1)(inputs))
    loss = CombinedLoss(
        [SparseCrossEntropy(class_weights=[1, 2, 3]), DiceLoss(), JaccardLoss(),
         TverskyLoss(0.3, 0.7), FocalLoss(alpha=[1, 1, 2])],
        [1.0, 0.5, 0.5, 0.5, 1.0],
    )
    model.compile(optimizer="adam", loss=loss)
    history = model.fit(images, labels, batch_size=2, epochs=1, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.loss.get_config() == loss.get_config()
    np.testing.assert_allclose(restored.evaluate(images, labels, verbose=0),
                               model.evaluate(images, labels, verbose=0), rtol=1e-5)


def test_mirrored_strategy_cross_entropy_matches_one_device():
    labels, _ = _data(11, n=4, size=6)
    labels[:] = np.where(labels == 255, 0, labels)
    labels[:, 0, 0] = 255  # equal counted pixels per replica: the global mean is exact
    images = np.random.default_rng(11).normal(size=(4, 6, 6, 3)).astype("float32")

    def evaluate(strategy):
        with strategy.scope():
            inputs = keras.Input((6, 6, 3))
            model = keras.Model(inputs, keras.layers.Conv2D(NUM_CLASSES, 1, name="c")(inputs))
            model.compile(loss=SparseCrossEntropy())
        model.get_layer("c").set_weights([np.full((1, 1, 3, 3), 0.1, "float32") *
                                          np.arange(9).reshape(1, 1, 3, 3),
                                          np.zeros(3, "float32")])
        return model.evaluate(images, labels, batch_size=4, verbose=0)

    mirrored = evaluate(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    np.testing.assert_allclose(mirrored, evaluate(tf.distribute.get_strategy()), rtol=1e-5)


def test_out_of_range_labels_raise_with_the_valid_range():
    labels, logits = _data(12)
    labels[0, 1, 1] = 7
    for loss in (SparseCrossEntropy(), DiceLoss(), FocalLoss()):
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"valid range \[0, 2\]"):
            loss(labels, logits)
    labels[0, 1, 1] = 0
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 2\]"):
        SparseCrossEntropy(ignore_label=None)(labels, logits)  # 255 is no longer allowed


def test_bad_arguments_and_shapes_raise_value_errors():
    labels, logits = _data(13)
    with pytest.raises(ValueError, match="3 classes"):
        SparseCrossEntropy(class_weights=[1.0, 2.0])(labels, logits)
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        DiceLoss()(labels, logits[..., 0])
    with pytest.raises(ValueError, match="does not match"):
        SparseCrossEntropy()(labels[:, :4], logits)
    with pytest.raises(ValueError, match="y_true"):
        SparseCrossEntropy()(labels[0], logits)
    with pytest.raises(ValueError, match="non-negative"):
        SparseCrossEntropy(class_weights=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="label_smoothing"):
        SparseCrossEntropy(label_smoothing=1.0)
    with pytest.raises(ValueError, match="alpha"):
        FocalLoss(alpha=0.25)
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="smooth"):
        DiceLoss(smooth=-1)
    with pytest.raises(ValueError, match="weights"):
        CombinedLoss([DiceLoss(), FocalLoss()], [1.0])
    with pytest.raises(ValueError, match="sample_weight"):
        SparseCrossEntropy()(labels, logits, sample_weight=np.ones((2, 5, 5, 3, 1)))

"""Streaming segmentation metrics against a one-shot numpy confusion matrix."""
import numpy as np
import pytest
import tensorflow as tf
import keras

from keras_segen.metrics import (
    DiceScore,
    MeanClassAccuracy,
    MeanIoU,
    PerClassIoU,
    PixelAccuracy,
)

NUM_CLASSES = 4


def _batch(seed, n=2, size=6):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=(n, size, size)).astype("int32")  # class 3 absent
    labels[0, 0, :4] = 255
    logits = rng.normal(size=(n, size, size, NUM_CLASSES)).astype("float32")
    logits[..., 3] -= 100.0  # ... and never predicted
    return labels, logits


def _numpy_confusion(labels, logits):
    keep = labels != 255
    matrix = np.zeros((NUM_CLASSES, NUM_CLASSES))
    np.add.at(matrix, (labels[keep], logits.argmax(-1)[keep]), 1)
    return matrix


def _numpy_scores(matrix):
    tp = np.diag(matrix)
    true, predicted = matrix.sum(1), matrix.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (true + predicted - tp)
        dice = 2 * tp / (true + predicted)
        recall = tp / true
    return {
        "pixel_accuracy": tp.sum() / matrix.sum(),
        "mean_iou": np.nanmean(iou),
        "dice_score": np.nanmean(dice),
        "mean_class_accuracy": np.nanmean(recall),
        "iou": iou,
        "dice": dice,
    }


def _all_metrics():
    return [PixelAccuracy(NUM_CLASSES), MeanClassAccuracy(NUM_CLASSES), MeanIoU(NUM_CLASSES),
            DiceScore(NUM_CLASSES), PerClassIoU(NUM_CLASSES, class_id=1, name="iou_land")]


def test_streaming_two_batches_equals_one_shot_numpy():
    (y1, p1), (y2, p2) = _batch(0), _batch(1, n=3)
    matrix = _numpy_confusion(np.concatenate([y1, y2]), np.concatenate([p1, p2]))
    expected = _numpy_scores(matrix)
    for metric in _all_metrics():
        metric.update_state(y1, p1)
        metric.update_state(y2[..., None], p2)  # [N, H, W, 1] masks too
        np.testing.assert_array_equal(metric.confusion_matrix(), matrix)
        if isinstance(metric, PerClassIoU):
            np.testing.assert_allclose(metric.result(), expected["iou"][1], rtol=1e-6)
        else:
            np.testing.assert_allclose(metric.result(), expected[metric.name], rtol=1e-6)
    assert matrix.sum() == y1.size + y2.size - 8  # the ignored pixels are not counted


def test_absent_class_is_nan_per_class_and_left_out_of_the_means():
    labels, logits = _batch(2)
    metric = MeanIoU(NUM_CLASSES)
    metric.update_state(labels, logits)
    per_class_iou = metric.per_class_iou().numpy()
    per_class_dice = metric.per_class_dice().numpy()
    assert np.isnan(per_class_iou[3]) and np.isnan(per_class_dice[3])
    assert np.all(np.isfinite(per_class_iou[:3]))
    np.testing.assert_allclose(metric.result(), per_class_iou[:3].mean(), rtol=1e-6)
    assert np.isnan(PerClassIoU(NUM_CLASSES, class_id=3)(labels, logits))
    # A class absent from the truth but predicted has IoU 0 and stays in the mean.
    logits[0, 1, 1, 3] = 1000.0
    metric.reset_state()
    metric.update_state(labels, logits)
    assert metric.per_class_iou().numpy()[3] == 0.0
    # Nothing counted yet: means are 0, not NaN.
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_reset_state_starts_over():
    (y1, p1), (y2, p2) = _batch(3), _batch(4)
    metric = DiceScore(NUM_CLASSES)
    metric.update_state(y1, p1)
    metric.reset_state()
    metric.update_state(y2, p2)
    np.testing.assert_array_equal(metric.confusion_matrix(), _numpy_confusion(y2, p2))


def test_prediction_formats_and_sample_weights():
    labels, logits = _batch(5)
    matrix = _numpy_confusion(labels, logits)
    classes = logits.argmax(-1)
    probs = tf.nn.softmax(logits).numpy()
    for y_pred in (classes, classes[..., None].astype("float32"), probs):
        metric = MeanIoU(NUM_CLASSES, from_logits=False)
        metric.update_state(labels, y_pred)
        np.testing.assert_array_equal(metric.confusion_matrix(), matrix)
    with pytest.raises(ValueError, match="from_logits=False"):
        MeanIoU(NUM_CLASSES).update_state(labels, classes)
    metric = PixelAccuracy(NUM_CLASSES)
    metric.update_state(labels, logits, sample_weight=np.array([2.0, 0.0]))
    np.testing.assert_array_equal(metric.confusion_matrix(),
                                  2 * _numpy_confusion(labels[:1], logits[:1]))


def test_counts_are_exact_beyond_float32_precision():
    labels = np.zeros((1, 1, 1), "int32")
    logits = np.zeros((1, 1, 1, NUM_CLASSES), "float32")
    metric = PixelAccuracy(NUM_CLASSES)
    metric.update_state(labels, logits, sample_weight=np.array([2.0**30]))
    metric.update_state(labels, logits)
    assert metric.confusion_matrix().numpy().sum() == 2**30 + 1


def test_ignore_label_options_and_out_of_range_labels():
    labels, logits = _batch(7)
    metric = PixelAccuracy(NUM_CLASSES, ignore_label=0)
    metric.update_state(np.where(labels == 255, 0, labels), logits)
    assert metric.confusion_matrix().numpy()[0].sum() == 0
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"valid range \[0, 3\]"):
        MeanIoU(NUM_CLASSES, ignore_label=None).update_state(labels, logits)
    labels[1, 2, 2] = 4
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"valid range \[0, 3\]"):
        MeanIoU(NUM_CLASSES).update_state(labels, logits)


def _model(metrics, loss=None):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(NUM_CLASSES, 1, name="head")(inputs))
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),  # fit leaves the weights as they are
        loss=loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                ignore_class=255),
        metrics=metrics,
    )
    return model


def _dataset(batches=3):
    rng = np.random.default_rng(8)
    images = rng.normal(size=(4 * batches, 6, 6, 3)).astype("float32")
    labels = rng.integers(0, 3, size=(4 * batches, 6, 6)).astype("int32")
    labels[::3, 0] = 255
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(4), images, labels


def test_fit_resets_between_epochs_and_evaluate_matches_numpy():
    dataset, images, labels = _dataset()
    metrics = _all_metrics()
    model = _model(metrics)
    model.fit(dataset, epochs=2, shuffle=False, verbose=0)
    counted = np.sum(labels != 255)
    assert metrics[0].confusion_matrix().numpy().sum() == counted  # one epoch, not two
    results = model.evaluate(dataset, return_dict=True, verbose=0)
    expected = _numpy_scores(_numpy_confusion(labels, model.predict(images, verbose=0)))
    for name in ("pixel_accuracy", "mean_iou", "dice_score", "mean_class_accuracy"):
        np.testing.assert_allclose(results[name], expected[name], rtol=1e-5)
    np.testing.assert_allclose(results["iou_land"], expected["iou"][1], rtol=1e-5)


def test_mirrored_strategy_evaluate_equals_single_device():
    dataset, _, _ = _dataset()
    weights = None
    results = []
    for strategy in (tf.distribute.get_strategy(),
                     tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
        with strategy.scope():
            model = _model(_all_metrics())
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        results.append(model.evaluate(dataset, return_dict=True, verbose=0))
    assert results[0].keys() == results[1].keys()
    # (The loss differs a little: each replica averages over its own pixels.)
    for name in ("pixel_accuracy", "mean_class_accuracy", "mean_iou", "dice_score",
                 "iou_land"):
        np.testing.assert_allclose(results[1][name], results[0][name], rtol=1e-6,
                                   err_msg=name)


def test_out_of_range_label_fails_inside_evaluate():
    dataset, _, _ = _dataset(batches=1)
    bad = dataset.map(lambda x, y: (x, tf.tensor_scatter_nd_update(y, [[0, 1, 1]], [9])))
    # A loss that ignores the labels, so that the metric is what catches them.
    model = _model([MeanIoU(NUM_CLASSES)], loss=lambda y_true, y_pred: keras.ops.mean(y_pred))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"MeanIoU: y_true holds labels outside the valid range \[0, 3\]"):
        model.evaluate(bad, verbose=0)


@pytest.mark.parametrize("metric", _all_metrics() + [
    MeanIoU(3, ignore_label=None, from_logits=False, name="miou", dtype="float64")
], ids=lambda metric: metric.name)
def test_config_round_trip(metric):
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric))
    assert type(restored) is type(metric)
    assert restored.get_config() == metric.get_config()


def test_compiled_metrics_survive_a_keras_file(tmp_path):
    dataset, _, _ = _dataset(batches=1)
    model = _model(_all_metrics())
    before = model.evaluate(dataset, return_dict=True, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    after = restored.evaluate(dataset, return_dict=True, verbose=0)
    assert after == pytest.approx(before)


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError, match="num_classes"):
        MeanIoU(1)
    with pytest.raises(ValueError, match="class_id"):
        PerClassIoU(3, class_id=3)
    assert PerClassIoU(3, class_id=2).name == "iou_2"
    labels, logits = _batch(9)
    with pytest.raises(ValueError, match=r"\[N, H, W, 4\]"):
        MeanIoU(NUM_CLASSES).update_state(labels, logits[..., :3])
    with pytest.raises(ValueError, match="does not match"):
        MeanIoU(NUM_CLASSES).update_state(labels[:, :5], logits)

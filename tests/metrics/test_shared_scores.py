"""ConfusionMatrixScores (one confusion matrix, every score) against the one-score metrics
it replaces in the segmentation kind: equal values, equal logs, distributed, saved."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from architecture_harness import two_cpu_strategy
from keras_segen.callbacks.history import ResumableCSVLogger
from keras_segen.evaluation.segmentation import summarize_confusion
from keras_segen.kinds.segmentation import segmentation_metrics
from keras_segen.metrics.confusion import argmax_classes
from keras_segen.metrics import (
    ConfusionMatrixScores,
    DiceScore,
    MeanClassAccuracy,
    MeanIoU,
    PerClassIoU,
    PixelAccuracy,
)

NAMES = ["ocean", "land", "lake", "ice"]
C = len(NAMES)
EVERY_SCORE = ("pixel_accuracy", "mean_class_accuracy", "mean_iou", "dice_score")


def _old_metrics():
    """The one-score metrics for every key ConfusionMatrixScores(all scores) logs."""
    found = [PixelAccuracy(C), MeanClassAccuracy(C), MeanIoU(C), DiceScore(C)]
    return found + [PerClassIoU(C, class_id=k, name=f"iou_{n}") for k, n in enumerate(NAMES)]


def _batches(seed, count=3, n=3, size=7):
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(count):
        labels = rng.integers(0, 3, (n, size, size)).astype("int32")  # "ice" never true
        labels[rng.uniform(size=labels.shape) < 0.15] = 255
        logits = rng.normal(size=(n, size, size, C)).astype("float32")
        logits[0, 0, 0, 3] = 50.0  # ... but predicted once: IoU 0, not NaN
        found.append((labels, logits))
    return found


def _results(metrics):
    found = {}
    for metric in metrics:
        value = metric.result()
        found.update(value if isinstance(value, dict) else {metric.name: value})
    return {key: np.asarray(value) for key, value in found.items()}


@pytest.mark.parametrize("weighting", [None, "per_image", "per_pixel"])
def test_streaming_values_equal_the_one_score_metrics_exactly(weighting):
    shared = ConfusionMatrixScores(NAMES, scores=EVERY_SCORE)
    old = _old_metrics()
    rng = np.random.default_rng(1)
    for labels, logits in _batches(0):
        weights = {None: None, "per_image": rng.uniform(0, 2, len(labels)),
                   "per_pixel": rng.integers(0, 3, labels.shape).astype("float32")}[weighting]
        for metric in [shared] + old:
            metric.update_state(labels, logits, sample_weight=weights)
    expected, got = _results(old), _results([shared])
    assert list(got) == shared.log_names() and sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
        assert got[key].dtype == expected[key].dtype == np.float32
    np.testing.assert_array_equal(shared.confusion_matrix(), old[0].confusion_matrix())
    assert got["iou_ice"] == 0.0 and 0 < got["mean_iou"] < 1


def test_absent_class_is_nan_and_reset_starts_over():
    labels, logits = _batches(2, count=1)[0]
    logits[..., 3] = -100.0  # "ice" neither true nor predicted
    metric = ConfusionMatrixScores(NAMES, per_class=("iou", "dice", "accuracy"))
    metric.update_state(labels, logits)
    result = _results([metric])
    assert np.isnan(result["iou_ice"]) and np.isnan(result["dice_ice"])
    assert np.isnan(result["accuracy_ice"])
    np.testing.assert_array_equal(result["mean_iou"], MeanIoU(C)(labels, logits))
    metric.reset_state()
    assert float(metric.result()["mean_iou"]) == 0.0
    assert np.isnan(metric.result()["iou_ocean"])


def test_the_kind_compiles_one_metric_with_the_old_log_names():
    (metric,) = segmentation_metrics(NAMES)
    assert isinstance(metric, ConfusionMatrixScores)
    assert metric.log_names() == ["pixel_accuracy", "mean_iou", "iou_ocean", "iou_land",
                                  "iou_lake", "iou_ice"]


def test_summarize_confusion_gives_the_same_numbers():
    metric = ConfusionMatrixScores(NAMES)
    for labels, logits in _batches(3):
        metric.update_state(labels, logits)
    summary = summarize_confusion(np.asarray(metric.confusion_matrix()), NAMES)
    result = _results([metric])
    for key in ("pixel_accuracy", "mean_iou"):
        np.testing.assert_allclose(result[key], summary[key], rtol=1e-6, err_msg=key)
    for name in NAMES:
        np.testing.assert_allclose(result[f"iou_{name}"], summary["per_class_iou"][name],
                                   rtol=1e-6, err_msg=name)


# ------------------------------------------------------------------- inside fit
def _model(metrics):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(C, 1, name="head")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.0),  # the weights stay as they are
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                  ignore_class=255),
                  metrics=metrics)
    return model


def _dataset():
    rng = np.random.default_rng(4)
    images = rng.normal(size=(8, 6, 6, 3)).astype("float32")
    labels = rng.integers(0, C, (8, 6, 6)).astype("int32")
    labels[::3, 0] = 255
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)


def _old_recipe_metrics():
    return [PixelAccuracy(C, name="pixel_accuracy"), MeanIoU(C, name="mean_iou")] + [
        PerClassIoU(C, class_id=k, name=f"iou_{n}") for k, n in enumerate(NAMES)]


def test_fit_logs_and_history_csv_are_the_old_ones(tmp_path):
    dataset = _dataset()
    histories, files = [], []
    for k, metrics in enumerate((_old_recipe_metrics(), segmentation_metrics(NAMES))):
        keras.utils.set_random_seed(0)
        model = _model(metrics)
        files.append(tmp_path / f"history_{k}.csv")
        history = model.fit(dataset, validation_data=dataset, epochs=2, verbose=0,
                            callbacks=[ResumableCSVLogger(files[-1])])
        histories.append(history.history)
    old, new = histories
    # Only the key order of the History dict differs (Keras flattens a dict result
    # where its metric's name sorts); history.csv sorts its columns.
    assert sorted(new) == sorted(old) and "val_mean_iou" in new and "val_iou_lake" in new
    for key in old:
        np.testing.assert_array_equal(new[key], old[key], err_msg=key)
    assert files[1].read_text() == files[0].read_text()


def test_mirrored_evaluate_equals_one_device():
    dataset = _dataset()
    keras.utils.set_random_seed(0)
    single = _model(segmentation_metrics(NAMES))
    expected = single.evaluate(dataset, return_dict=True, verbose=0)
    with two_cpu_strategy().scope():
        mirrored = _model(segmentation_metrics(NAMES))
    mirrored.set_weights(single.get_weights())
    got = mirrored.evaluate(dataset, return_dict=True, verbose=0)
    assert got.keys() == expected.keys()
    for key in expected:
        if key != "loss":  # each replica averages the loss over its own pixels
            assert got[key] == expected[key], key


def test_config_round_trip_and_keras_file(tmp_path):
    metric = ConfusionMatrixScores(NAMES, scores=["mean_iou"], per_class=["dice"],
                                   ignore_label=None, from_logits=False, name="scores",
                                   dtype="float64")
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(metric))
    assert type(restored) is ConfusionMatrixScores
    assert restored.get_config() == metric.get_config()
    assert restored.log_names() == ["mean_iou"] + [f"dice_{n}" for n in NAMES]

    dataset = _dataset()
    model = _model(segmentation_metrics(NAMES))
    before = model.evaluate(dataset, return_dict=True, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    assert loaded.evaluate(dataset, return_dict=True, verbose=0) == before


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="class_names must be a list of strings"):
        ConfusionMatrixScores("ocean")
    with pytest.raises(ValueError, match="num_classes"):
        ConfusionMatrixScores(["ocean"])
    with pytest.raises(ValueError, match=r"log name\(s\) \[.iou_land.\] more than once"):
        ConfusionMatrixScores(["land", "land"])
    with pytest.raises(ValueError, match="scores must be distinct names from"):
        ConfusionMatrixScores(NAMES, scores=["miou"])
    with pytest.raises(ValueError, match="per_class must be distinct"):
        ConfusionMatrixScores(NAMES, per_class=["iou", "iou"])
    with pytest.raises(ValueError, match="nothing would be logged"):
        ConfusionMatrixScores(NAMES, scores=[], per_class=[])
    with pytest.raises(ValueError, match=r"\[N, H, W, 4\]"):
        ConfusionMatrixScores(NAMES).update_state(np.zeros((1, 2, 2), "int32"),
                                                  np.zeros((1, 2, 2, 3), "float32"))


@pytest.mark.parametrize("num_classes", [2, 3, 8, 9])
def test_argmax_classes_is_tf_argmax_ties_included(num_classes):
    scores = np.random.default_rng(num_classes).normal(size=(2, 5, 6, num_classes))
    scores = np.minimum(scores, 0.8).astype("float32")  # many ties at 0.8
    scores[0, 0, 0] = 0.0  # an all-equal pixel: class 0
    expected = tf.argmax(scores, axis=-1, output_type="int32")
    got = tf.function(argmax_classes)(tf.constant(scores))
    assert got.dtype == tf.int32 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert int(got[0, 0, 0]) == 0


def test_unweighted_and_unit_weighted_counts_agree_with_numpy():
    metric = ConfusionMatrixScores(NAMES)
    (labels, logits), = _batches(5, count=1)
    counted = labels != 255
    expected = np.zeros((C, C))
    np.add.at(expected, (labels[counted], logits.argmax(-1)[counted]), 1)
    np.testing.assert_array_equal(metric.batch_confusion(labels, logits), expected)
    np.testing.assert_array_equal(
        metric.batch_confusion(labels, logits, np.ones(len(labels))), expected)

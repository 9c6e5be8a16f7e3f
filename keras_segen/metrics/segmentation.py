"""Streaming segmentation metrics (Keras ``Metric`` objects) over a confusion matrix.

Every metric here accumulates one ``[C, C]`` confusion matrix (rows: true class,
columns: predicted class) across batches, so results are exact over a whole epoch or
evaluation, not averages of per-batch values. Conventions:

* ``y_true``: integer masks ``[N, H, W]`` or ``[N, H, W, 1]``. Pixels labelled
  ``ignore_label`` (255 by default; ``None`` disables it) are not counted. Any other
  label outside ``[0, C-1]`` raises ``tf.errors.InvalidArgumentError`` naming the valid
  range (a ``tf.debugging.Assert``; XLA-compiled steps skip such asserts).
* ``y_pred``: ``[N, H, W, C]`` logits or probabilities; the predicted class is the
  argmax. With ``from_logits=False`` it may also be a class-index map ``[N, H, W]`` /
  ``[N, H, W, 1]`` (e.g. the output of a serving signature).
* ``sample_weight`` (optional, ``[N]`` or ``[N, H, W]``) weights pixel counts.
* Counts are float64 variables with ``aggregation="sum"``: exact for up to 2**53
  pixels, and summed across replicas under ``tf.distribute`` strategies (tested with
  ``MirroredStrategy``: results equal the single-device ones).
* A class absent from both the truth and the predictions has an undefined IoU/Dice
  (0/0): ``per_class_iou()``/``per_class_dice()`` give NaN for it and the means skip
  it. A mean over no defined class (nothing counted yet) is 0.
"""
import keras
import tensorflow as tf
from keras import ops

from keras_segen.losses.segmentation import (
    broadcast_pixel_weights,
    check_spatial_shapes,
    prepare_sparse_labels,
)


def _ratio_or_nan(numerator, denominator):
    """Elementwise ``numerator / denominator`` with NaN where the denominator is 0."""
    nan = tf.constant(float("nan"), dtype=numerator.dtype)
    return tf.where(denominator > 0, numerator / tf.where(denominator > 0, denominator, 1),
                    nan)


def _mean_of_defined(values):
    """Mean over the non-NaN entries; 0 when there are none."""
    defined = tf.logical_not(tf.math.is_nan(values))
    total = tf.reduce_sum(tf.where(defined, values, tf.zeros_like(values)))
    return tf.math.divide_no_nan(total, tf.reduce_sum(tf.cast(defined, values.dtype)))


class ConfusionMatrixMetric(keras.metrics.Metric):
    """Base of the segmentation metrics: a streaming ``[C, C]`` confusion matrix.

    Subclasses define ``result()``; every subclass also offers the per-class views
    ``per_class_iou()``, ``per_class_dice()`` and ``per_class_accuracy()``.

    Args:
        num_classes: number of classes ``C`` (>= 2).
        ignore_label: label of pixels that are not counted (``None``: count all).
        from_logits: ``y_pred`` holds class scores ``[N,H,W,C]`` (True). False also
            accepts probabilities, or class-index maps ``[N,H,W]`` / ``[N,H,W,1]``.
        name, dtype: as for ``keras.metrics.Metric`` (``dtype`` is the result dtype).
    """

    def __init__(self, num_classes, ignore_label=255, from_logits=True, name=None,
                 dtype=None):
        super().__init__(name=name, dtype=dtype)
        if int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(f"{type(self).__name__}: num_classes must be an integer >= 2, "
                             f"got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        self.from_logits = bool(from_logits)
        self._confusion = self.add_variable(
            shape=(self.num_classes, self.num_classes),
            initializer="zeros",
            dtype="float64",
            aggregation="sum",
            name="confusion_matrix",
        )

    def _predicted_classes(self, y_pred):
        context = type(self).__name__
        y_pred = tf.convert_to_tensor(y_pred)
        shape = y_pred.shape
        if shape.rank == 4 and shape[-1] == self.num_classes:
            return tf.argmax(y_pred, axis=-1, output_type="int32")
        is_index_map = shape.rank == 3 or (shape.rank == 4 and shape[-1] == 1)
        if is_index_map and not self.from_logits:
            if shape.rank == 4:
                y_pred = tf.squeeze(y_pred, axis=-1)
            if y_pred.dtype.is_floating:
                y_pred = tf.round(y_pred)
            predictions = tf.cast(y_pred, "int32")
            check = tf.debugging.Assert(
                tf.reduce_all((predictions >= 0) & (predictions < self.num_classes)),
                [f"{context}: predicted class indices outside [0, {self.num_classes - 1}]"],
            )
            with tf.control_dependencies([check]):
                return tf.identity(predictions)
        hint = " (pass from_logits=False for class-index maps)" if is_index_map else ""
        raise ValueError(
            f"{context}: y_pred must be [N, H, W, {self.num_classes}] class scores"
            f"{hint}, got shape {shape}"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add one batch's pixels to the confusion matrix."""
        context = type(self).__name__
        predictions = self._predicted_classes(y_pred)
        labels, valid = prepare_sparse_labels(
            y_true, self.num_classes, self.ignore_label, context
        )
        check_spatial_shapes(labels, predictions[..., None], context)
        weights = tf.cast(valid, "float64")
        if sample_weight is not None:
            weights = weights * broadcast_pixel_weights(sample_weight, weights)
        pair_ids = labels * self.num_classes + predictions
        counts = tf.math.unsorted_segment_sum(
            tf.reshape(weights, [-1]),
            tf.reshape(pair_ids, [-1]),
            num_segments=self.num_classes * self.num_classes,
        )
        self._confusion.assign_add(
            tf.reshape(counts, [self.num_classes, self.num_classes])
        )

    def confusion_matrix(self):
        """The accumulated ``[C, C]`` float64 counts: rows true, columns predicted."""
        return tf.convert_to_tensor(self._confusion)

    def _totals(self):
        matrix = self.confusion_matrix()
        true_positives = tf.linalg.diag_part(matrix)
        return true_positives, tf.reduce_sum(matrix, axis=1), tf.reduce_sum(matrix, axis=0)

    def per_class_iou(self):
        """``[C]`` IoU ``TP / (TP + FP + FN)``; NaN for classes never seen nor predicted."""
        true_positives, true_counts, predicted_counts = self._totals()
        return _ratio_or_nan(true_positives, true_counts + predicted_counts - true_positives)

    def per_class_dice(self):
        """``[C]`` Dice/F1 ``2 TP / (2 TP + FP + FN)``; NaN where IoU is NaN."""
        true_positives, true_counts, predicted_counts = self._totals()
        return _ratio_or_nan(2.0 * true_positives, true_counts + predicted_counts)

    def per_class_accuracy(self):
        """``[C]`` recall ``TP / (TP + FN)``; NaN for classes absent from the truth."""
        true_positives, true_counts, _ = self._totals()
        return _ratio_or_nan(true_positives, true_counts)

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} does not define result()")

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, ignore_label=self.ignore_label,
                      from_logits=self.from_logits)
        return config


@keras.saving.register_keras_serializable(package="keras_segen")
class PixelAccuracy(ConfusionMatrixMetric):
    """Fraction of counted pixels whose predicted class is the true class."""

    def __init__(self, num_classes, ignore_label=255, from_logits=True,
                 name="pixel_accuracy", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, from_logits=from_logits,
                         name=name, dtype=dtype)

    def result(self):
        matrix = self.confusion_matrix()
        accuracy = tf.math.divide_no_nan(tf.linalg.trace(matrix), tf.reduce_sum(matrix))
        return ops.cast(accuracy, self.dtype)


@keras.saving.register_keras_serializable(package="keras_segen")
class MeanClassAccuracy(ConfusionMatrixMetric):
    """Mean over the classes present in the truth of their recall."""

    def __init__(self, num_classes, ignore_label=255, from_logits=True,
                 name="mean_class_accuracy", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, from_logits=from_logits,
                         name=name, dtype=dtype)

    def result(self):
        return ops.cast(_mean_of_defined(self.per_class_accuracy()), self.dtype)


@keras.saving.register_keras_serializable(package="keras_segen")
class MeanIoU(ConfusionMatrixMetric):
    """Mean IoU over the classes present in the truth or the predictions.

    Unlike ``keras.metrics.MeanIoU`` it takes logits, skips the ignore label and leaves
    classes absent from both truth and prediction out of the mean (NaN in
    ``per_class_iou()``) instead of counting them as 0.
    """

    def __init__(self, num_classes, ignore_label=255, from_logits=True,
                 name="mean_iou", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, from_logits=from_logits,
                         name=name, dtype=dtype)

    def result(self):
        return ops.cast(_mean_of_defined(self.per_class_iou()), self.dtype)


@keras.saving.register_keras_serializable(package="keras_segen")
class DiceScore(ConfusionMatrixMetric):
    """Mean Dice/F1 over the classes present in the truth or the predictions."""

    def __init__(self, num_classes, ignore_label=255, from_logits=True,
                 name="dice_score", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, from_logits=from_logits,
                         name=name, dtype=dtype)

    def result(self):
        return ops.cast(_mean_of_defined(self.per_class_dice()), self.dtype)


@keras.saving.register_keras_serializable(package="keras_segen")
class PerClassIoU(ConfusionMatrixMetric):
    """IoU of one class, for fit logs: ``PerClassIoU(3, class_id=2, name="iou_lake")``.

    NaN while the class has been neither seen nor predicted.
    """

    def __init__(self, num_classes, class_id, ignore_label=255, from_logits=True,
                 name=None, dtype=None):
        if int(class_id) != class_id or not 0 <= class_id < num_classes:
            raise ValueError(
                f"PerClassIoU: class_id must be an integer in [0, {num_classes - 1}], "
                f"got {class_id!r}"
            )
        super().__init__(num_classes, ignore_label=ignore_label, from_logits=from_logits,
                         name=name or f"iou_{int(class_id)}", dtype=dtype)
        self.class_id = int(class_id)

    def result(self):
        return ops.cast(self.per_class_iou()[self.class_id], self.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(class_id=self.class_id)
        return config


__all__ = [
    "ConfusionMatrixMetric",
    "PixelAccuracy",
    "MeanClassAccuracy",
    "MeanIoU",
    "DiceScore",
    "PerClassIoU",
]

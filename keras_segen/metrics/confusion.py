"""The streaming ``[C, C]`` confusion matrix that every segmentation metric reads.

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

from keras_segen.losses.segmentation import (
    broadcast_pixel_weights,
    check_spatial_shapes,
    prepare_sparse_labels,
)


def ratio_or_nan(numerator, denominator):
    """Elementwise ``numerator / denominator`` with NaN where the denominator is 0."""
    nan = tf.constant(float("nan"), dtype=numerator.dtype)
    return tf.where(denominator > 0, numerator / tf.where(denominator > 0, denominator, 1),
                    nan)


def mean_of_defined(values):
    """Mean over the non-NaN entries; 0 when there are none."""
    defined = tf.logical_not(tf.math.is_nan(values))
    total = tf.reduce_sum(tf.where(defined, values, tf.zeros_like(values)))
    return tf.math.divide_no_nan(total, tf.reduce_sum(tf.cast(defined, values.dtype)))


# Up to this many classes, argmax_classes compares class by class: on CPU, tf.argmax over
# a short last axis measured 3-4x the time of these elementwise passes (3 classes).
_COMPARE_UP_TO = 8


def argmax_classes(scores):
    """``tf.argmax(scores, -1)`` as int32, the first index on ties (as tf.argmax)."""
    num_classes = scores.shape[-1]
    if num_classes is None or num_classes > _COMPARE_UP_TO:
        return tf.argmax(scores, axis=-1, output_type="int32")
    columns = tf.unstack(scores, axis=-1)
    best, index = columns[0], tf.zeros(tf.shape(columns[0]), "int32")
    for k, column in enumerate(columns[1:], start=1):
        better = column > best  # strict: an equal score keeps the earlier class
        index = tf.where(better, k, index)
        best = tf.where(better, column, best)
    return index


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
            return argmax_classes(y_pred)
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

    def batch_confusion(self, y_true, y_pred, sample_weight=None):
        """One batch's ``[C, C]`` float64 counts (what ``update_state`` adds)."""
        context = type(self).__name__
        predictions = self._predicted_classes(y_pred)
        labels, valid = prepare_sparse_labels(
            y_true, self.num_classes, self.ignore_label, context
        )
        check_spatial_shapes(labels, predictions[..., None], context)
        cells = self.num_classes * self.num_classes
        pair_ids = labels * self.num_classes + predictions
        if sample_weight is None:
            # Integer counts, ignored pixels in an extra cell: half the cost of summing
            # float64 weights. Exact while a batch holds < 2**31 pixels. A segment sum,
            # not bincount: XLA (jit_compile) needs bincount's size as a constant.
            flat_ids = tf.reshape(tf.where(valid, pair_ids, cells), [-1])
            counts = tf.math.unsorted_segment_sum(tf.ones_like(flat_ids, tf.int32), flat_ids,
                                                  num_segments=cells + 1)
            counts = tf.cast(counts[:cells], "float64")
        else:
            weights = tf.cast(valid, "float64")
            weights = weights * broadcast_pixel_weights(sample_weight, weights)
            counts = tf.math.unsorted_segment_sum(
                tf.reshape(weights, [-1]), tf.reshape(pair_ids, [-1]), num_segments=cells
            )
        return tf.reshape(counts, [self.num_classes, self.num_classes])

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add one batch's pixels to the confusion matrix."""
        self._confusion.assign_add(self.batch_confusion(y_true, y_pred, sample_weight))

    def confusion_matrix(self):
        """The accumulated ``[C, C]`` float64 counts: rows true, columns predicted."""
        return tf.convert_to_tensor(self._confusion)

    def _totals(self):
        matrix = self.confusion_matrix()
        true_positives = tf.linalg.diag_part(matrix)
        return true_positives, tf.reduce_sum(matrix, axis=1), tf.reduce_sum(matrix, axis=0)

    def pixel_accuracy(self):
        """Counted pixels on the diagonal over all counted pixels (0 before any)."""
        matrix = self.confusion_matrix()
        return tf.math.divide_no_nan(tf.linalg.trace(matrix), tf.reduce_sum(matrix))

    def per_class_iou(self):
        """``[C]`` IoU ``TP / (TP + FP + FN)``; NaN for classes never seen nor predicted."""
        true_positives, true_counts, predicted_counts = self._totals()
        return ratio_or_nan(true_positives, true_counts + predicted_counts - true_positives)

    def per_class_dice(self):
        """``[C]`` Dice/F1 ``2 TP / (2 TP + FP + FN)``; NaN where IoU is NaN."""
        true_positives, true_counts, predicted_counts = self._totals()
        return ratio_or_nan(2.0 * true_positives, true_counts + predicted_counts)

    def per_class_accuracy(self):
        """``[C]`` recall ``TP / (TP + FN)``; NaN for classes absent from the truth."""
        true_positives, true_counts, _ = self._totals()
        return ratio_or_nan(true_positives, true_counts)

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} does not define result()")

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes, ignore_label=self.ignore_label,
                      from_logits=self.from_logits)
        return config

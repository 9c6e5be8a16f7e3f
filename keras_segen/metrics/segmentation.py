"""Streaming segmentation metrics (Keras ``Metric`` objects) over a confusion matrix.

``ConfusionMatrixScores`` builds one confusion matrix per step and logs every score
from it (what the segmentation kind compiles). The one-score metrics below
(``PixelAccuracy``, ``MeanIoU``, ...) each build their own; they stay for standalone
use and for saved models whose compile config names them. Conventions (label and
prediction formats, ignore label, sample weights, NaN for absent classes, float64
counts summed across replicas): ``keras_segen.metrics.confusion``.
"""
import keras
from keras import ops

from keras_segen.metrics.confusion import ConfusionMatrixMetric, mean_of_defined

@keras.saving.register_keras_serializable(package="keras_segen")
class PixelAccuracy(ConfusionMatrixMetric):
    """Fraction of counted pixels whose predicted class is the true class."""

    def __init__(self, num_classes, ignore_label=255, from_logits=True,
                 name="pixel_accuracy", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, from_logits=from_logits,
                         name=name, dtype=dtype)

    def result(self):
        return ops.cast(self.pixel_accuracy(), self.dtype)


@keras.saving.register_keras_serializable(package="keras_segen")
class MeanClassAccuracy(ConfusionMatrixMetric):
    """Mean over the classes present in the truth of their recall."""

    def __init__(self, num_classes, ignore_label=255, from_logits=True,
                 name="mean_class_accuracy", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, from_logits=from_logits,
                         name=name, dtype=dtype)

    def result(self):
        return ops.cast(mean_of_defined(self.per_class_accuracy()), self.dtype)


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
        return ops.cast(mean_of_defined(self.per_class_iou()), self.dtype)


@keras.saving.register_keras_serializable(package="keras_segen")
class DiceScore(ConfusionMatrixMetric):
    """Mean Dice/F1 over the classes present in the truth or the predictions."""

    def __init__(self, num_classes, ignore_label=255, from_logits=True,
                 name="dice_score", dtype=None):
        super().__init__(num_classes, ignore_label=ignore_label, from_logits=from_logits,
                         name=name, dtype=dtype)

    def result(self):
        return ops.cast(mean_of_defined(self.per_class_dice()), self.dtype)


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


# Score name -> what it reads from the metric; the names are the one-score metrics'.
_SCORES = {
    "pixel_accuracy": lambda m: m.pixel_accuracy(),
    "mean_class_accuracy": lambda m: mean_of_defined(m.per_class_accuracy()),
    "mean_iou": lambda m: mean_of_defined(m.per_class_iou()),
    "dice_score": lambda m: mean_of_defined(m.per_class_dice()),
}
# Per-class score -> (log key prefix, per-class values).
_PER_CLASS = {
    "iou": ("iou_", lambda m: m.per_class_iou()),
    "dice": ("dice_", lambda m: m.per_class_dice()),
    "accuracy": ("accuracy_", lambda m: m.per_class_accuracy()),
}


@keras.saving.register_keras_serializable(package="keras_segen")
class ConfusionMatrixScores(ConfusionMatrixMetric):
    """Several segmentation scores from one confusion matrix per step.

    ``result()`` is a dict, which ``fit``/``evaluate`` flatten into the logs, so
    ``ConfusionMatrixScores(["ocean", "land", "lake"])`` logs ``pixel_accuracy``,
    ``mean_iou`` and ``iou_ocean``, ``iou_land``, ``iou_lake`` (``val_...`` on
    validation) with the values ``PixelAccuracy``, ``MeanIoU`` and ``PerClassIoU``
    give, at the cost of one of them.

    Args:
        class_names: one name per class (``C >= 2`` distinct strings); per-class
            scores are logged as ``<prefix><name>``.
        scores: overall scores to log, from ``pixel_accuracy``,
            ``mean_class_accuracy``, ``mean_iou`` and ``dice_score``.
        per_class: per-class scores to log, from ``iou`` (``iou_<name>``), ``dice``
            (``dice_<name>``) and ``accuracy`` (recall, ``accuracy_<name>``).
        ignore_label, from_logits, name, dtype: as for ``ConfusionMatrixMetric``.
    """

    def __init__(self, class_names, scores=("pixel_accuracy", "mean_iou"),
                 per_class=("iou",), ignore_label=255, from_logits=True,
                 name="segmentation_scores", dtype=None):
        if isinstance(class_names, str) or not all(isinstance(n, str) for n in class_names):
            raise ValueError(f"ConfusionMatrixScores: class_names must be a list of "
                             f"strings, got {class_names!r}")
        self.class_names = list(class_names)
        self.scores = _known(scores, _SCORES, "scores")
        self.per_class = _known(per_class, _PER_CLASS, "per_class")
        super().__init__(len(self.class_names), ignore_label=ignore_label,
                         from_logits=from_logits, name=name, dtype=dtype)
        keys = self.log_names()
        if not keys:
            raise ValueError("ConfusionMatrixScores: scores and per_class are both empty; "
                             "nothing would be logged")
        if len(set(keys)) != len(keys):
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            raise ValueError(f"ConfusionMatrixScores: class_names {self.class_names} give "
                             f"the log name(s) {repeated} more than once")

    def log_names(self):
        """The keys of ``result()``, in order."""
        return self.scores + [_PER_CLASS[kind][0] + class_name for kind in self.per_class
                              for class_name in self.class_names]

    def result(self):
        found = {score: _SCORES[score](self) for score in self.scores}
        for kind in self.per_class:
            prefix, values = _PER_CLASS[kind]
            per_class = values(self)
            found.update({prefix + class_name: per_class[k]
                          for k, class_name in enumerate(self.class_names)})
        return {key: ops.cast(value, self.dtype) for key, value in found.items()}

    def get_config(self):
        config = super().get_config()
        del config["num_classes"]  # given by class_names
        config.update(class_names=list(self.class_names), scores=list(self.scores),
                      per_class=list(self.per_class))
        return config


def _known(chosen, table, what):
    if isinstance(chosen, str):
        chosen = [chosen]
    chosen = list(chosen)
    unknown = [c for c in chosen if c not in table]
    if unknown or len(set(chosen)) != len(chosen):
        raise ValueError(f"ConfusionMatrixScores: {what} must be distinct names from "
                         f"{sorted(table)}, got {chosen!r}")
    return chosen


__all__ = [
    "ConfusionMatrixMetric",
    "ConfusionMatrixScores",
    "PixelAccuracy",
    "MeanClassAccuracy",
    "MeanIoU",
    "DiceScore",
    "PerClassIoU",
]

"""Segmentation evaluation: one pass over a dataset, a confusion matrix, every metric."""
import numpy as np
import tensorflow as tf

from keras_segen.datasets.info import IGNORE_LABEL
from keras_segen.metrics.segmentation import ConfusionMatrixMetric


def summarize_confusion(confusion: np.ndarray, class_names) -> dict:
    """Metrics from a confusion matrix (rows truth, columns prediction)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    true_pos = np.diag(confusion)
    truth = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    union = truth + predicted - true_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, true_pos / union, np.nan)
        class_acc = np.where(truth > 0, true_pos / truth, np.nan)
        dice = np.where(truth + predicted > 0, 2 * true_pos / (truth + predicted), np.nan)
    total = confusion.sum()

    def by_name(values):
        return {name: (None if np.isnan(v) else float(v)) for name, v in zip(class_names, values)}

    return {
        "pixel_accuracy": float(true_pos.sum() / total) if total else float("nan"),
        "mean_class_accuracy": float(np.nanmean(class_acc)),
        "mean_iou": float(np.nanmean(iou)),
        "mean_dice": float(np.nanmean(dice)),
        "per_class_iou": by_name(iou),
        "per_class_accuracy": by_name(class_acc),
        "num_pixels": int(total),
        "confusion_matrix": confusion.astype(np.int64).tolist(),
    }


def evaluate_segmentation(model, dataset, class_names, *, batch_size=64,
                          ignore_label=IGNORE_LABEL) -> dict:
    """Evaluate ``model`` (logits [N,H,W,C]) on an unbatched or batched dataset of
    ``(image, mask)``. Returns the dict of ``summarize_confusion``."""
    num_classes = len(class_names)
    if dataset.element_spec[0].shape.rank == 3:
        dataset = dataset.batch(batch_size)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    predicted_classes = model.outputs[0].shape[-1] if model.outputs else None
    if predicted_classes not in (None, num_classes):
        raise ValueError(
            f"the model predicts {predicted_classes} classes but the dataset has "
            f"{num_classes} ({', '.join(class_names)})"
        )
    metric = ConfusionMatrixMetric(num_classes=num_classes, ignore_label=ignore_label)

    @tf.function(reduce_retracing=True)  # one graph for model + confusion update
    def update(images, masks):
        metric.update_state(masks, model(images, training=False))

    from keras_segen.progress import progress_bar

    batches = int(dataset.cardinality())
    bar = progress_bar(batches if batches > 0 else None, "batch")
    for images, masks in dataset:
        update(images, masks)
        bar.add(1)
    return summarize_confusion(np.asarray(metric.confusion_matrix()), class_names)


def format_table(results: dict, title: str = "") -> str:
    """A plain-text table of headline metrics and per-class IoU."""
    lines = [title] if title else []
    for key in ("pixel_accuracy", "mean_class_accuracy", "mean_iou", "mean_dice"):
        lines.append(f"  {key:<22}{results[key]:>8.4f}")
    for name, value in results["per_class_iou"].items():
        shown = "     n/a" if value is None else f"{value:>8.4f}"
        lines.append(f"  {'iou_' + name:<22}{shown}")
    return "\n".join(lines)

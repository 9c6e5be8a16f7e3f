"""Scoring predictions from any function (e.g. a classical baseline) with the same
confusion matrix and metrics as ``evaluate_segmentation`` uses for Keras models."""
import numpy as np
import tensorflow as tf

from keras_segen.datasets.info import IGNORE_LABEL
from keras_segen.evaluation.segmentation import summarize_confusion
from keras_segen.metrics.segmentation import ConfusionMatrixMetric


def evaluate_predictions(predict_fn, dataset, class_names, *, batch_size=64,
                         ignore_label=IGNORE_LABEL) -> dict:
    """Score ``predict_fn`` on an unbatched or batched dataset of ``(image, mask)``.

    ``predict_fn`` takes a numpy batch of images ``[N, H, W, 3]`` and returns class
    indices ``[N, H, W]`` (or class scores ``[N, H, W, C]``, argmaxed). Returns the dict
    of ``summarize_confusion``, exactly as ``evaluate_segmentation`` does.
    """
    num_classes = len(class_names)
    if dataset.element_spec[0].shape.rank == 3:
        dataset = dataset.batch(batch_size)
    metric = ConfusionMatrixMetric(num_classes=num_classes, ignore_label=ignore_label,
                                   from_logits=False)
    for images, masks in dataset.prefetch(tf.data.AUTOTUNE):
        predicted = np.asarray(predict_fn(images.numpy()))
        if predicted.shape[:3] != tuple(masks.shape[:3]):
            raise ValueError(f"predict_fn returned shape {predicted.shape} for images "
                             f"{tuple(images.shape)}; expected [N, H, W] class indices")
        if predicted.ndim == 3:
            predicted = predicted.astype(np.int32)
        metric.update_state(masks, predicted)
    return summarize_confusion(np.asarray(metric.confusion_matrix()), class_names)


__all__ = ["evaluate_predictions"]

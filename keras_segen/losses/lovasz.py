"""Lovász-softmax loss (Berman, Rannen Triki & Blaschko, CVPR 2018).

A convex surrogate of the per-class Jaccard (IoU) loss: for class ``c`` the pixel errors
``e_i = |[y_i = c] - p_ic|`` are sorted in decreasing order and dotted with the
gradient of the Lovász extension of the Jaccard loss, ``g_k = J(k) - J(k-1)``, where
``J(k) = 1 - |T ∩ S_k| / |T ∪ S_k|`` treats the ``k`` largest errors as the predicted
set's mistakes (``T``: the class's true pixels). The loss is the mean over classes,
as segmentation_models_pytorch's ``LovaszLoss`` (multiclass mode) computes it:

* ``classes="present"`` (default): only classes present in the truth count (a class
  absent from the truth would contribute its largest error, which punishes one stray
  pixel as much as a whole wrong image). ``"all"``: every class counts.
* ``class_weights`` weigh the classes in that mean (0 leaves a class out).
* Ignored pixels (``ignore_label``) are left out exactly as if they were not there;
  ``sample_weight`` weighs pixels inside the Jaccard counts (weight 0 = left out; for
  0/1 weights this is the unweighted loss on the kept pixels).
* ``per_image=False`` (default): one sort over every pixel of the batch, one scalar,
  returned for every ``reduction`` (like the region losses of ``segmentation.py``).
  ``per_image=True``: one loss per image (``[N]``), averaged over present classes of
  that image, reduced over the batch as Keras does.

Under ``tf.distribute`` (as the ``segmentation.py`` docstring describes for the region
losses) the batch-level loss equals the one-device loss of the whole global batch: the
sort has to see every pixel, so each replica all-gathers the (gradient-free) errors,
truths and weights, sorts the global batch, and keeps the gradient of its own pixels'
terms. Each replica reports a ``1/replicas`` share of the global value, and the summed
gradients are the global gradient (tested against one device). ``per_image=True`` needs
no communication (each image is sorted on its own replica).
"""
import keras
import tensorflow as tf

from keras_segen.losses.segmentation import (
    _as_float_list,
    _replicas_sharing_the_batch,
    _SegmentationLoss,
    scale_for_replicas,
)

CLASS_CHOICES = ("present", "all")


def lovasz_gradient(truth_sorted, weights_sorted):
    """``g_k = J(k) - J(k-1)`` along the last axis, for pixels sorted by decreasing error.

    ``truth_sorted``: 0/1 class membership; ``weights_sorted``: pixel weights (0 for
    left-out pixels, which must be sorted last so they change nothing)."""
    positives = truth_sorted * weights_sorted
    negatives = (1.0 - truth_sorted) * weights_sorted
    total = tf.reduce_sum(positives, axis=-1, keepdims=True)
    intersection = total - tf.cumsum(positives, axis=-1)
    union = total + tf.cumsum(negatives, axis=-1)
    # union = 0 only before any counted pixel of a class-less image: J(empty, empty) = 0.
    jaccard = tf.where(union > 0, 1.0 - intersection / tf.where(union > 0, union, 1.0), 0.0)
    previous = tf.concat([tf.zeros_like(jaccard[..., :1]), jaccard[..., :-1]], axis=-1)
    return jaccard - previous


def weights_mask(weights):
    """1 where a pixel counts, 0 where it is left out (its error then adds nothing)."""
    return tf.cast(weights > 0, weights.dtype)


def _gradient_in_pixel_order(errors, truth, weights):
    """``g`` for ``[B, C, P]`` errors, put back in the pixels' own order (no gradient)."""
    # Left-out pixels get error -1: sorted after every real one (errors are in [0, 1]).
    keyed = tf.where(weights > 0, errors, -1.0)
    order = tf.argsort(keyed, axis=-1, direction="DESCENDING", stable=True)
    gradient = lovasz_gradient(tf.gather(truth, order, batch_dims=2),
                               tf.gather(weights, order, batch_dims=2))
    return tf.gather(gradient, tf.argsort(order, axis=-1), batch_dims=2)


@keras.saving.register_keras_serializable(package="keras_segen")
class LovaszSoftmaxLoss(_SegmentationLoss):
    """Lovász-softmax: a convex surrogate of ``1 - mean IoU``; see the module docstring.

    Args:
        classes: ``"present"`` (classes in the truth, the default) or ``"all"``.
        class_weights: optional list of ``C`` weights for the mean over classes.
        per_image: one loss per image instead of one sort over the whole batch.
        ignore_label, from_logits, reduction, name, dtype: as in ``SparseCrossEntropy``.
    """

    def __init__(self, classes="present", class_weights=None, per_image=False,
                 ignore_label=255, from_logits=True, reduction="sum_over_batch_size",
                 name="lovasz_softmax_loss", dtype=None):
        super().__init__(ignore_label=ignore_label, from_logits=from_logits,
                         reduction=reduction, name=name, dtype=dtype)
        if classes not in CLASS_CHOICES:
            raise ValueError(f"classes must be one of {CLASS_CHOICES}, got {classes!r}")
        self.classes = classes
        self.class_weights = _as_float_list(class_weights, "class_weights")
        self.per_image = bool(per_image)

    def _flat(self, labels, pixel_weights, y_pred):
        """``(errors, truth, weights)`` as ``[B, C, P]``: B = N per image, else 1."""
        num_classes = y_pred.shape[-1]
        probs = self._probabilities(y_pred)
        truth = tf.one_hot(labels, num_classes, dtype=probs.dtype)
        errors = tf.abs(truth - probs)
        rows = tf.shape(labels)[0] if self.per_image else 1
        flat = lambda x: tf.transpose(tf.reshape(x, [rows, -1, num_classes]), [0, 2, 1])
        weights = tf.reshape(pixel_weights, [rows, 1, -1])
        return flat(errors), flat(truth), tf.broadcast_to(weights, tf.shape(flat(errors)))

    def _class_losses(self, errors, truth, weights):
        """``([B, C] losses, [B, C] presence)``; global over replicas for one batch."""
        context = None if self.per_image else _replicas_sharing_the_batch()
        if context is None:
            gradient = _gradient_in_pixel_order(tf.stop_gradient(errors), truth, weights)
            losses = tf.reduce_sum(tf.stop_gradient(gradient) * errors * weights_mask(weights),
                                   axis=-1)
            return losses, tf.reduce_sum(truth * weights, axis=-1) > 0
        # Gather everyone's pixels (without gradient), sort globally, keep own terms.
        gathered = [context.all_gather(tf.stop_gradient(x), axis=2)
                    for x in (errors, truth, weights)]
        sizes = context.all_gather(tf.shape(errors)[2:], axis=0)
        offset = tf.reduce_sum(sizes[: context.replica_id_in_sync_group])
        gradient = tf.stop_gradient(_gradient_in_pixel_order(*gathered))
        total = tf.reduce_sum(gradient * gathered[0] * weights_mask(gathered[2]), axis=-1)
        own_gradient = gradient[..., offset: offset + tf.shape(errors)[2]]
        own = tf.reduce_sum(own_gradient * errors * weights_mask(weights), axis=-1)
        present = tf.reduce_sum(gathered[1] * gathered[2], axis=-1) > 0
        return own + tf.stop_gradient(total - own), present

    def _mean_over_classes(self, losses, present):
        weights = tf.ones_like(losses)
        if self.class_weights is not None:
            weights = weights * self._class_weight_vector(self.class_weights, losses.shape[-1])
        if self.classes == "present":
            weights = weights * tf.cast(present, losses.dtype)
        return tf.math.divide_no_nan(tf.reduce_sum(losses * weights, axis=-1),
                                     tf.reduce_sum(weights, axis=-1))

    def _losses(self, y_true, y_pred, sample_weight):
        labels, _, pixel_weights, y_pred = self._prepare(y_true, y_pred, sample_weight)
        losses = self._mean_over_classes(
            *self._class_losses(*self._flat(labels, pixel_weights, y_pred)))
        return losses if self.per_image else losses[0]

    def call(self, y_true, y_pred):
        """Scalar loss (``per_image=False``) or ``[N]`` per-image losses."""
        return self._losses(y_true, y_pred, None)

    def __call__(self, y_true, y_pred, sample_weight=None):
        with tf.name_scope(self.name):
            loss = self._losses(y_true, y_pred, sample_weight)
            if self.reduction is None or self.reduction == "none":
                return loss
            if not self.per_image:
                context = _replicas_sharing_the_batch()
                if context is None:
                    return scale_for_replicas(loss)
                # Global value everywhere, own pixels' gradient: report a 1/replicas share.
                replicas = context.num_replicas_in_sync
                return loss + tf.stop_gradient(loss / replicas - loss)
            if self.reduction == "sum":
                return tf.reduce_sum(loss)
            return scale_for_replicas(tf.reduce_mean(loss))

    def get_config(self):
        config = super().get_config()
        config.update(classes=self.classes, class_weights=self.class_weights,
                      per_image=self.per_image)
        return config


__all__ = ["LovaszSoftmaxLoss", "lovasz_gradient"]

"""Segmentation losses as Keras ``Loss`` objects, usable in ``model.compile``.

Conventions shared by every loss here:

* ``y_true``: integer class masks ``[N, H, W]`` (``[N, H, W, 1]`` is accepted too).
* ``y_pred``: ``[N, H, W, C]`` logits (``from_logits=True``, the default) or
  probabilities (``from_logits=False``). Any float dtype (e.g. ``bfloat16`` under a
  mixed policy); the loss is always computed in float32 (float64 if ``dtype`` asks).
* Pixels whose label equals ``ignore_label`` (255 by default, ``None`` to disable) are
  excluded from the loss and its normalization. Any other label outside
  ``[0, C-1]`` raises ``tf.errors.InvalidArgumentError`` naming the valid range
  (a ``tf.debugging.Assert``; XLA-compiled steps, e.g. ``jit_compile=True``, skip it).
* ``sample_weight`` (optional, broadcastable to ``[N, H, W]``, e.g. per-image ``[N]``
  or a per-pixel map) weights pixels.

Two families, with different reduction behaviour:

* **Pixel-wise** (``SparseCrossEntropy``, ``FocalLoss``): one loss value per pixel.
  ``reduction`` follows Keras' meaning, where "the number of elements" is the number of
  counted (non-ignored) pixels, each counted with its class weight:

  - ``"sum_over_batch_size"`` / ``"mean"`` (default):
    ``sum(c_i * s_i * l_i) / sum(c_i)`` over non-ignored pixels ``i``
    (``c``: class weight of the pixel's label, ``s``: sample weight). Without sample
    weights this is exactly PyTorch's ``CrossEntropyLoss(weight=c, ignore_index=255)``.
  - ``"mean_with_sample_weight"``: ``sum(c_i * s_i * l_i) / sum(c_i * s_i)``.
  - ``"sum"``: ``sum(c_i * s_i * l_i)``.
  - ``None`` / ``"none"``: the ``[N, H, W]`` map ``c_i * s_i * l_i`` (0 on ignored pixels).

* **Region** (``TverskyLoss``, ``DiceLoss``, ``JaccardLoss``): a score per class
  computed from *soft* counts ``I = sum p*t``, ``P = sum p``, ``T = sum t`` (``p`` softmax
  probability of the class, ``t`` its one-hot truth), summed over counted pixels with
  the sample weight as a pixel weight. The loss is ``1 - mean over classes`` of the score
  (weighted by ``class_weights`` when given).

  - ``per_image=False`` (default, the usual choice): counts are aggregated over the
    whole batch, so a class that is rare in one image still gets a stable score. The
    loss is one scalar per batch; it has no per-sample values, so every ``reduction``
    returns that scalar.
  - ``per_image=True``: one score per image, ``[N]`` loss values, reduced over the
    batch as Keras does (``None`` returns the ``[N]`` vector, ``"sum"`` sums, the mean
    reductions average).

  *Absent classes*: a class absent from both the truth and the prediction has
  ``I = P = T ~ 0``, so its score is ``smooth / smooth = 1`` and it adds (almost) zero
  loss; with ``smooth=0`` the exact 0/0 is defined as score 1 (gradients stay finite).
  A class absent from the truth but predicted with soft mass ``P`` scores
  ``smooth / (k*P + smooth)`` (``k`` = 1 for Dice and Jaccard, ``alpha`` for Tversky),
  so false positives are still penalized. To leave a class out of the mean (e.g.
  background), give it class weight 0.

  Relations (exact, tested): ``JaccardLoss(smooth=s) == TverskyLoss(alpha=1, beta=1,
  smooth=s)`` and ``DiceLoss(smooth=s) == TverskyLoss(alpha=0.5, beta=0.5,
  smooth=s/2)``.

Under ``tf.distribute`` every loss here equals the one-device loss of the whole global
batch, whatever each replica's share of ignored pixels or classes. Keras' contract is
that each replica returns a share of the loss (its local mean divided by the number of
replicas, ``scale_for_replicas``) and the replicas' gradients are summed. A local mean
over the *counted* pixels, or a Dice score from local soft counts, would make that sum
differ from the global loss, so the mean reductions divide by the pixel count summed
over the replicas (``_global_mean_share``), and batch-level region scores use soft
counts summed over the replicas (``_global_counts``).
"""
import keras
import numpy as np
import tensorflow as tf

# Probabilities are clipped to [eps, 1] before the log when from_logits=False.
_EPSILON = 1e-7


def prepare_sparse_labels(y_true, num_classes, ignore_label, context):
    """Return ``(labels, valid)`` for an integer mask ``y_true`` of ``[N,H,W(,1)]``.

    ``labels`` is int32 ``[N, H, W]`` with ignored pixels replaced by 0 (so it can index
    safely); ``valid`` is a boolean ``[N, H, W]`` mask of the counted pixels. Labels
    outside ``[0, num_classes-1]`` that are not ``ignore_label`` make the returned
    tensors fail with ``tf.errors.InvalidArgumentError`` naming the valid range
    (``context`` names the caller in that message).
    """
    labels = tf.convert_to_tensor(y_true)
    if labels.shape.rank == 4 and labels.shape[-1] == 1:
        labels = tf.squeeze(labels, axis=-1)
    if labels.shape.rank is not None and labels.shape.rank != 3:
        raise ValueError(
            f"{context}: y_true must be an integer mask of shape [N, H, W] or "
            f"[N, H, W, 1], got shape {labels.shape}"
        )
    labels = tf.cast(labels, "int32")
    if ignore_label is None:
        valid = tf.ones_like(labels, dtype="bool")
        allowed = ""
    else:
        valid = tf.not_equal(labels, int(ignore_label))
        allowed = f" (or the ignore label {ignore_label})"
    labels = tf.where(valid, labels, 0)
    in_range = tf.reduce_all((labels >= 0) & (labels < num_classes))
    check = tf.debugging.Assert(
        in_range,
        [
            f"{context}: y_true holds labels outside the valid range "
            f"[0, {num_classes - 1}]{allowed}; found min/max:",
            tf.reduce_min(labels),
            tf.reduce_max(labels),
        ],
    )
    with tf.control_dependencies([check]):
        return tf.identity(labels), tf.identity(valid)


def check_spatial_shapes(labels, y_pred, context):
    """Raise ValueError when the static ``[N,H,W]`` of labels and scores disagree."""
    want = labels.shape
    got = y_pred.shape[:-1]
    if want.rank is not None and got.rank is not None and not want.is_compatible_with(got):
        raise ValueError(
            f"{context}: y_true mask shape {tuple(want)} does not match the first "
            f"three dimensions of y_pred {tuple(y_pred.shape)} (expected [N, H, W, C])"
        )


def _as_float_list(values, what):
    if values is None:
        return None
    values = [float(v) for v in np.asarray(values, dtype="float64").reshape(-1)]
    if not all(np.isfinite(v) and v >= 0 for v in values):
        raise ValueError(f"{what} must be finite and non-negative, got {values}")
    return values


def broadcast_pixel_weights(sample_weight, like):
    """Sample weights of shape [N], [N,H,W] or [N,H,W,1] -> [N,H,W] like ``like``
    (whose dtype they take): per-image weights spread over the image's pixels."""
    sample_weight = tf.cast(tf.convert_to_tensor(sample_weight), like.dtype)
    if sample_weight.shape.rank == 4 and sample_weight.shape[-1] == 1:
        sample_weight = tf.squeeze(sample_weight, axis=-1)
    rank = sample_weight.shape.rank
    if rank is None or rank > 3:
        raise ValueError(
            f"sample_weight must have shape [N], [N, H, W] or [N, H, W, 1], got "
            f"{sample_weight.shape}"
        )
    sample_weight = tf.reshape(
        sample_weight, tf.concat([tf.shape(sample_weight), [1] * (3 - rank)], axis=0)
    )
    return tf.broadcast_to(sample_weight, tf.shape(like))


def scale_for_replicas(value):
    """Divide a mean-reduced loss by the number of replicas in sync.

    Keras' contract under ``tf.distribute`` (what its own losses do): each replica
    returns its local mean divided by the replica count, the gradients are summed
    across replicas, and ``fit`` multiplies the value back for its logs.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        value = value / tf.cast(replicas, value.dtype)
    return value


def _replicas_sharing_the_batch():
    """The replica context when this runs as one of several replicas, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return None
    return context


def _global_mean_share(total, denominator):
    """This replica's share of ``sum(total) / sum(denominator)`` over all replicas.

    The denominator (a pixel count, never a function of the predictions) is summed
    across replicas; the replicas' shares and their gradients then add up to the
    global mean. On one device: ``total / denominator``.
    """
    context = _replicas_sharing_the_batch()
    if context is None:
        return scale_for_replicas(tf.math.divide_no_nan(total, denominator))
    denominator = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(denominator))
    return tf.math.divide_no_nan(total, denominator)


def _global_counts(counts):
    """Soft counts with the other replicas' counts added as constants.

    The value is the global count; the gradient flows through this replica's own
    pixels only, so the replicas' summed gradients are the gradient of the global
    score. Returns ``(counts, replicas)``; on one device the counts are unchanged.
    """
    context = _replicas_sharing_the_batch()
    if context is None:
        return counts, 1
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.stop_gradient(counts))
    return counts + tf.stop_gradient(total - counts), context.num_replicas_in_sync


class _SegmentationLoss(keras.losses.Loss):
    """Shared plumbing: input checks, float32 compute, ignore label, sample weights."""

    def __init__(self, ignore_label=255, from_logits=True,
                 reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.ignore_label = None if ignore_label is None else int(ignore_label)
        self.from_logits = bool(from_logits)

    @property
    def _compute_dtype(self):
        # bfloat16/float16 logits are promoted: losses need float32 range and precision.
        return "float64" if self.dtype == "float64" else "float32"

    def _prepare(self, y_true, y_pred, sample_weight):
        """Return ``(labels, valid, pixel_weights, y_pred)``.

        ``labels`` int32 [N,H,W] (ignored pixels set to 0), ``valid`` 0/1 [N,H,W],
        ``pixel_weights`` = valid * sample weight, ``y_pred`` cast to the compute dtype.
        """
        context = type(self).__name__
        y_pred = tf.convert_to_tensor(y_pred)
        if y_pred.shape.rank is not None and y_pred.shape.rank != 4:
            raise ValueError(
                f"{context}: y_pred must be [N, H, W, C] class scores, got shape "
                f"{y_pred.shape}"
            )
        num_classes = y_pred.shape[-1]
        if num_classes is None:
            raise ValueError(f"{context}: the class axis of y_pred must have a known size")
        y_pred = tf.cast(y_pred, self._compute_dtype)
        labels, valid = prepare_sparse_labels(y_true, num_classes, self.ignore_label, context)
        check_spatial_shapes(labels, y_pred, context)
        valid = tf.cast(valid, self._compute_dtype)
        pixel_weights = valid
        if sample_weight is not None:
            pixel_weights = valid * broadcast_pixel_weights(sample_weight, valid)
        return labels, valid, pixel_weights, y_pred

    def _log_probabilities(self, y_pred):
        if self.from_logits:
            return tf.nn.log_softmax(y_pred, axis=-1)
        return tf.math.log(tf.clip_by_value(y_pred, _EPSILON, 1.0))

    def _probabilities(self, y_pred):
        if self.from_logits:
            return tf.nn.softmax(y_pred, axis=-1)
        return y_pred

    def _class_weight_vector(self, class_weights, num_classes):
        if len(class_weights) != num_classes:
            raise ValueError(
                f"{type(self).__name__}: got {len(class_weights)} class weights for "
                f"y_pred with {num_classes} classes"
            )
        return tf.constant(class_weights, dtype=self._compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(ignore_label=self.ignore_label, from_logits=self.from_logits)
        return config


class _PixelwiseLoss(_SegmentationLoss):
    """A loss with one value per pixel, reduced as the module docstring describes."""

    def _pixel_losses(self, labels, y_pred):
        """Return ``(losses, normalizers)``, both [N,H,W]: the per-pixel loss with its
        class weight applied, and what the pixel adds to the mean's denominator."""
        raise NotImplementedError

    def call(self, y_true, y_pred):
        """The unreduced [N, H, W] loss map, 0 on ignored pixels."""
        labels, valid, _, y_pred = self._prepare(y_true, y_pred, None)
        losses, _ = self._pixel_losses(labels, y_pred)
        return losses * valid

    def __call__(self, y_true, y_pred, sample_weight=None):
        with tf.name_scope(self.name):
            labels, valid, pixel_weights, y_pred = self._prepare(
                y_true, y_pred, sample_weight
            )
            losses, normalizers = self._pixel_losses(labels, y_pred)
            values = losses * pixel_weights
            if self.reduction is None or self.reduction == "none":
                return values
            total = tf.reduce_sum(values)
            if self.reduction == "sum":
                return total
            if self.reduction == "mean_with_sample_weight":
                denominator = tf.reduce_sum(normalizers * pixel_weights)
            else:  # "sum_over_batch_size" / "mean": the (class-weighted) pixel count.
                denominator = tf.reduce_sum(normalizers * valid)
            return _global_mean_share(total, denominator)


@keras.saving.register_keras_serializable(package="keras_segen")
class SparseCrossEntropy(_PixelwiseLoss):
    """Softmax cross-entropy on integer masks, with an ignore label and class weights.

    Keras' ``fit(class_weight=...)`` refuses dense (per-pixel) targets; pass the
    weights here instead, e.g. from :func:`class_weights_from_frequencies`. With the
    default reduction the loss is ``sum_i c[y_i] * CE_i / sum_i c[y_i]`` over the
    non-ignored pixels ``i`` -- PyTorch's ``CrossEntropyLoss(weight, ignore_index)``.

    Args:
        class_weights: optional list of ``C`` non-negative per-class weights.
        ignore_label: label excluded from the loss (``None``: count every pixel).
        from_logits: ``y_pred`` holds logits (True) or probabilities (False).
        label_smoothing: ``eps`` in ``[0, 1)``; targets become ``(1-eps)*onehot + eps/C``.
            The smoothed per-pixel loss is then weighted by the class of the true label.
        reduction, name, dtype: as for ``keras.losses.Loss``.
    """

    def __init__(self, class_weights=None, ignore_label=255, from_logits=True,
                 label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="sparse_cross_entropy", dtype=None):
        super().__init__(ignore_label=ignore_label, from_logits=from_logits,
                         reduction=reduction, name=name, dtype=dtype)
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.class_weights = _as_float_list(class_weights, "class_weights")
        self.label_smoothing = float(label_smoothing)

    def _pixel_losses(self, labels, y_pred):
        num_classes = y_pred.shape[-1]
        log_probs = self._log_probabilities(y_pred)
        targets = tf.one_hot(labels, num_classes, dtype=log_probs.dtype)
        if self.label_smoothing:
            targets = targets * (1.0 - self.label_smoothing) + (
                self.label_smoothing / num_classes
            )
        losses = -tf.reduce_sum(targets * log_probs, axis=-1)
        if self.class_weights is None:
            return losses, tf.ones_like(losses)
        pixel_class_weights = tf.gather(
            self._class_weight_vector(self.class_weights, num_classes), labels
        )
        return losses * pixel_class_weights, pixel_class_weights

    def get_config(self):
        config = super().get_config()
        config.update(class_weights=self.class_weights,
                      label_smoothing=self.label_smoothing)
        return config


@keras.saving.register_keras_serializable(package="keras_segen")
class FocalLoss(_PixelwiseLoss):
    """Multi-class focal loss (Lin et al. 2017): ``-alpha[y] (1 - p_y)^gamma log p_y``.

    Averaged over the non-ignored pixels (``alpha`` scales pixels but, unlike
    ``SparseCrossEntropy``'s class weights, does not enter the denominator, as in the
    paper). ``gamma=0`` and no ``alpha`` give plain cross-entropy.

    Args:
        gamma: focusing exponent, ``>= 0``.
        alpha: optional list of ``C`` per-class factors, or ``None`` (all 1).
        ignore_label, from_logits, reduction, name, dtype: as in ``SparseCrossEntropy``.
    """

    def __init__(self, gamma=2.0, alpha=None, ignore_label=255, from_logits=True,
                 reduction="sum_over_batch_size", name="focal_loss", dtype=None):
        super().__init__(ignore_label=ignore_label, from_logits=from_logits,
                         reduction=reduction, name=name, dtype=dtype)
        if float(gamma) < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if alpha is not None and np.ndim(alpha) == 0:
            raise ValueError(
                "alpha must be a list of per-class factors (or None); a single number "
                "only rescales a softmax focal loss"
            )
        self.gamma = float(gamma)
        self.alpha = _as_float_list(alpha, "alpha")

    def _pixel_losses(self, labels, y_pred):
        num_classes = y_pred.shape[-1]
        log_probs = self._log_probabilities(y_pred)
        log_p_true = tf.gather(log_probs, labels[..., None], batch_dims=3)[..., 0]
        p_true = tf.exp(log_p_true)
        losses = -tf.pow(tf.maximum(1.0 - p_true, 0.0), self.gamma) * log_p_true
        if self.alpha is not None:
            losses *= tf.gather(self._class_weight_vector(self.alpha, num_classes), labels)
        return losses, tf.ones_like(losses)

    def get_config(self):
        config = super().get_config()
        config.update(gamma=self.gamma, alpha=self.alpha)
        return config


class _RegionLoss(_SegmentationLoss):
    """``1 - (weighted) mean over classes of a soft overlap score``; see the module
    docstring for batch-level vs per-image aggregation and absent classes."""

    def __init__(self, smooth=1.0, class_weights=None, per_image=False,
                 ignore_label=255, from_logits=True, reduction="sum_over_batch_size",
                 name=None, dtype=None):
        super().__init__(ignore_label=ignore_label, from_logits=from_logits,
                         reduction=reduction, name=name, dtype=dtype)
        if float(smooth) < 0:
            raise ValueError(f"smooth must be >= 0, got {smooth}")
        self.smooth = float(smooth)
        self.class_weights = _as_float_list(class_weights, "class_weights")
        self.per_image = bool(per_image)

    def _score(self, intersection, predicted, true):
        """Per-class score from soft counts (same shapes), in [0, 1]."""
        raise NotImplementedError

    def _soft_counts(self, labels, pixel_weights, y_pred):
        """``[3, C]`` (batch) or ``[3, N, C]`` (per image) soft counts ``I, P, T``,
        each pixel counted with its weight (0 for ignored pixels)."""
        num_classes = y_pred.shape[-1]
        weights = pixel_weights[..., None]
        probs = self._probabilities(y_pred)
        truth = tf.one_hot(labels, num_classes, dtype=probs.dtype)
        axes = [1, 2] if self.per_image else [0, 1, 2]
        return tf.stack([
            tf.reduce_sum(probs * truth * weights, axis=axes),
            tf.reduce_sum(probs * weights, axis=axes),
            tf.reduce_sum(truth * weights, axis=axes),
        ])

    def _losses_from_counts(self, counts):
        """Scalar (batch) or ``[N]`` (per image) losses from ``_soft_counts``."""
        scores = self._score(*tf.unstack(counts))  # [C] or [N, C]
        return self._mean_over_classes(scores, counts.shape[-1])

    def _mean_over_classes(self, scores, num_classes):
        if self.class_weights is None:
            return 1.0 - tf.reduce_mean(scores, axis=-1)
        class_weights = self._class_weight_vector(self.class_weights, num_classes)
        return 1.0 - tf.math.divide_no_nan(
            tf.reduce_sum(scores * class_weights, axis=-1), tf.reduce_sum(class_weights)
        )

    def _ratio(self, numerator, denominator):
        # 0/0 only happens with smooth=0 for a class absent from truth and prediction:
        # score it 1 (nothing to find, nothing found). Guarded so gradients stay finite.
        defined = denominator > 0
        return tf.where(defined, numerator, 1.0) / tf.where(defined, denominator, 1.0)

    def call(self, y_true, y_pred):
        """Scalar loss (``per_image=False``) or ``[N]`` per-image losses."""
        labels, _, pixel_weights, y_pred = self._prepare(y_true, y_pred, None)
        return self._losses_from_counts(self._soft_counts(labels, pixel_weights, y_pred))

    def __call__(self, y_true, y_pred, sample_weight=None):
        with tf.name_scope(self.name):
            labels, _, pixel_weights, y_pred = self._prepare(y_true, y_pred, sample_weight)
            counts = self._soft_counts(labels, pixel_weights, y_pred)
            if not self.per_image:  # A batch-level score already, whatever the reduction.
                counts, replicas = _global_counts(counts)
                loss = self._losses_from_counts(counts)
                if self.reduction is None or self.reduction == "none":
                    return loss
                if replicas == 1:  # One device, or called outside the replicas' step.
                    return scale_for_replicas(loss)
                # Every replica holds the global loss and the gradient of its own pixels'
                # part of it: report a 1/replicas share, keep the gradient whole.
                return loss + tf.stop_gradient(loss / replicas - loss)
            losses = self._losses_from_counts(counts)
            if self.reduction is None or self.reduction == "none":
                return losses
            if self.reduction == "sum":
                return tf.reduce_sum(losses)
            return scale_for_replicas(tf.reduce_mean(losses))

    def get_config(self):
        config = super().get_config()
        config.update(smooth=self.smooth, class_weights=self.class_weights,
                      per_image=self.per_image)
        return config


_REGION_ARGS_DOC = """
    Args:
        smooth: added to numerator and denominator; keeps absent classes at score 1
            and the gradient smooth. ``>= 0``.
        class_weights: optional list of ``C`` weights for the mean over classes
            (0 leaves a class out, e.g. background).
        per_image: score each image separately (``[N]`` loss values) instead of the
            whole batch at once (one scalar).
        ignore_label, from_logits, reduction, name, dtype: as in ``SparseCrossEntropy``.
"""


@keras.saving.register_keras_serializable(package="keras_segen")
class TverskyLoss(_RegionLoss):
    """``1 - mean_k (I + s) / (I + alpha * FP + beta * FN + s)`` (Salehi et al. 2017).

    Soft counts per class: ``I = sum p t``, ``FP = sum p (1 - t) = P - I``,
    ``FN = sum (1 - p) t = T - I``. ``alpha`` weighs false positives, ``beta`` false
    negatives (``beta > alpha`` favours recall of small classes).
    ``alpha = beta = 1`` is exactly ``JaccardLoss(smooth=s)``;
    ``alpha = beta = 0.5`` is exactly ``DiceLoss(smooth=2 * s)``.
    """

    def __init__(self, alpha=0.5, beta=0.5, smooth=1.0, class_weights=None,
                 per_image=False, ignore_label=255, from_logits=True,
                 reduction="sum_over_batch_size", name="tversky_loss", dtype=None):
        super().__init__(smooth=smooth, class_weights=class_weights, per_image=per_image,
                         ignore_label=ignore_label, from_logits=from_logits,
                         reduction=reduction, name=name, dtype=dtype)
        if float(alpha) < 0 or float(beta) < 0:
            raise ValueError(f"alpha and beta must be >= 0, got {alpha}, {beta}")
        self.alpha = float(alpha)
        self.beta = float(beta)

    def _score(self, intersection, predicted, true):
        false_positives = predicted - intersection
        false_negatives = true - intersection
        return self._ratio(
            intersection + self.smooth,
            intersection + self.alpha * false_positives + self.beta * false_negatives
            + self.smooth,
        )

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, beta=self.beta)
        return config


@keras.saving.register_keras_serializable(package="keras_segen")
class DiceLoss(_RegionLoss):
    """Soft Dice: ``1 - mean_k (2 I + s) / (P + T + s)`` on softmax probabilities.

    ``I, P, T``: soft intersection, predicted mass and true pixel count of class ``k``.
    Equal to ``TverskyLoss(alpha=0.5, beta=0.5, smooth=s / 2)``.
    """

    def __init__(self, smooth=1.0, class_weights=None, per_image=False,
                 ignore_label=255, from_logits=True, reduction="sum_over_batch_size",
                 name="dice_loss", dtype=None):
        super().__init__(smooth=smooth, class_weights=class_weights, per_image=per_image,
                         ignore_label=ignore_label, from_logits=from_logits,
                         reduction=reduction, name=name, dtype=dtype)

    def _score(self, intersection, predicted, true):
        return self._ratio(2.0 * intersection + self.smooth, predicted + true + self.smooth)


@keras.saving.register_keras_serializable(package="keras_segen")
class JaccardLoss(_RegionLoss):
    """Soft Jaccard (IoU): ``1 - mean_k (I + s) / (P + T - I + s)``.

    Equal to ``TverskyLoss(alpha=1, beta=1, smooth=s)``.
    """

    def __init__(self, smooth=1.0, class_weights=None, per_image=False,
                 ignore_label=255, from_logits=True, reduction="sum_over_batch_size",
                 name="jaccard_loss", dtype=None):
        super().__init__(smooth=smooth, class_weights=class_weights, per_image=per_image,
                         ignore_label=ignore_label, from_logits=from_logits,
                         reduction=reduction, name=name, dtype=dtype)

    def _score(self, intersection, predicted, true):
        return self._ratio(intersection + self.smooth,
                           predicted + true - intersection + self.smooth)


@keras.saving.register_keras_serializable(package="keras_segen")
class CombinedLoss(keras.losses.Loss):
    """Weighted sum of losses: ``sum_k weights[k] * losses[k](y_true, y_pred, sw)``.

    Each sub-loss reduces itself (with its own ``reduction``), so the sum is of
    scalars; e.g. ``CombinedLoss([SparseCrossEntropy(), DiceLoss()], [1.0, 0.5])``.

    Args:
        losses: list of ``keras.losses.Loss`` objects (or their serialized configs).
        weights: one float per loss; defaults to all 1.
        name: loss name.
    """

    def __init__(self, losses, weights=None, name="combined_loss", dtype=None):
        super().__init__(name=name, dtype=dtype)
        if not losses:
            raise ValueError("CombinedLoss needs at least one loss")
        self.losses = [self._as_loss(loss) for loss in losses]
        if weights is None:
            weights = [1.0] * len(self.losses)
        weights = [float(w) for w in weights]
        if len(weights) != len(self.losses):
            raise ValueError(
                f"CombinedLoss got {len(self.losses)} losses but {len(weights)} weights"
            )
        self.weights = weights

    @staticmethod
    def _as_loss(loss):
        if isinstance(loss, dict):
            loss = keras.saving.deserialize_keras_object(loss)
        elif isinstance(loss, str):
            loss = keras.losses.get(loss)
        if not callable(loss):
            raise TypeError(f"CombinedLoss: expected a keras Loss, got {loss!r}")
        return loss

    def call(self, y_true, y_pred):
        return self(y_true, y_pred)

    def __call__(self, y_true, y_pred, sample_weight=None):
        with tf.name_scope(self.name):
            total = 0.0
            for weight, loss in zip(self.weights, self.losses):
                value = loss(y_true, y_pred, sample_weight=sample_weight)
                total = total + weight * tf.cast(value, "float32")
            return total

    def get_config(self):
        return {
            "name": self.name,
            "losses": [keras.saving.serialize_keras_object(loss) for loss in self.losses],
            "weights": list(self.weights),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


for _region_loss in (TverskyLoss, DiceLoss, JaccardLoss):
    _region_loss.__doc__ += _REGION_ARGS_DOC


from keras_segen.losses.class_weights import (  # noqa: E402  (re-exported below)
    class_frequencies,
    class_weights_from_frequencies,
)

__all__ = [
    "SparseCrossEntropy",
    "FocalLoss",
    "DiceLoss",
    "JaccardLoss",
    "TverskyLoss",
    "CombinedLoss",
    "class_frequencies",
    "class_weights_from_frequencies",
]

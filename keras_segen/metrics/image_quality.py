"""Streaming PSNR and SSIM: the mean over all images seen, built on ``tf.image``.

Images are float ``[N, H, W, C]`` tensors in ``[0, max_val]`` (use ``max_val=2.0`` for
images in [-1, 1]: the value is the dynamic range). An image pair that is identical has
an infinite PSNR, so the mean is then infinite too, as in ``tf.image.psnr``.
"""
import keras
import tensorflow as tf

__all__ = ["PSNR", "SSIM"]


class _MeanOverImages(keras.metrics.Metric):
    """Running (optionally weighted) mean of a per-image score."""

    def __init__(self, max_val=1.0, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if max_val <= 0:
            raise ValueError(f"max_val must be positive, got {max_val}")
        self.max_val = float(max_val)
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="count")

    def _per_image(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.cast(tf.convert_to_tensor(y_true), tf.float32)
        y_pred = tf.cast(tf.convert_to_tensor(y_pred), tf.float32)
        _check_image_pair(y_true, y_pred, type(self).__name__)
        scores = tf.cast(self._per_image(y_true, y_pred), tf.float64)
        if sample_weight is None:
            weights = tf.ones_like(scores)
        else:
            weights = tf.cast(tf.convert_to_tensor(sample_weight), tf.float64)
            weights = tf.broadcast_to(tf.reshape(weights, [-1]), tf.shape(scores))
        self.total.assign_add(tf.reduce_sum(scores * weights))
        self.count.assign_add(tf.reduce_sum(weights))

    def result(self):
        return tf.cast(tf.math.divide_no_nan(self.total, self.count), self.dtype)

    def get_config(self):
        return {**super().get_config(), "max_val": self.max_val}


def _check_image_pair(y_true, y_pred, metric_name):
    """Raise ValueError unless both are [N, H, W, C] batches of the same shape."""
    for label, tensor in (("y_true", y_true), ("y_pred", y_pred)):
        if tensor.shape.rank is not None and tensor.shape.rank != 4:
            raise ValueError(
                f"{metric_name}: {label} must be a batch of images [N, H, W, C], got shape "
                f"{tensor.shape}"
            )
    if not y_true.shape.is_compatible_with(y_pred.shape):
        raise ValueError(
            f"{metric_name}: y_true and y_pred shapes differ: {y_true.shape} vs {y_pred.shape}"
        )
    # Unknown (None) dimensions are checked when the values arrive.
    tf.debugging.assert_equal(
        tf.shape(y_true), tf.shape(y_pred),
        message=f"{metric_name}: y_true and y_pred shapes differ",
    )


@keras.saving.register_keras_serializable(package="keras_segen")
class PSNR(_MeanOverImages):
    """Mean peak signal-to-noise ratio (dB) over images, via ``tf.image.psnr``."""

    def __init__(self, max_val=1.0, name="psnr", dtype=None):
        super().__init__(max_val=max_val, name=name, dtype=dtype)

    def _per_image(self, y_true, y_pred):
        return tf.image.psnr(y_true, y_pred, max_val=self.max_val)


@keras.saving.register_keras_serializable(package="keras_segen")
class SSIM(_MeanOverImages):
    """Mean structural similarity over images, via ``tf.image.ssim``.

    ``filter_size``, ``filter_sigma``, ``k1`` and ``k2`` are passed to ``tf.image.ssim``
    (Gaussian window; images must be at least ``filter_size`` pixels on each side).
    """

    def __init__(self, max_val=1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03,
                 name="ssim", dtype=None):
        super().__init__(max_val=max_val, name=name, dtype=dtype)
        self.filter_size = int(filter_size)
        self.filter_sigma = float(filter_sigma)
        self.k1 = float(k1)
        self.k2 = float(k2)

    def _per_image(self, y_true, y_pred):
        for axis in (1, 2):
            size = y_true.shape[axis]
            if size is not None and size < self.filter_size:
                raise ValueError(
                    f"SSIM: images of shape {y_true.shape} are smaller than "
                    f"filter_size={self.filter_size}; pass a smaller filter_size"
                )
        return tf.image.ssim(
            y_true, y_pred, max_val=self.max_val, filter_size=self.filter_size,
            filter_sigma=self.filter_sigma, k1=self.k1, k2=self.k2,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filter_size": self.filter_size,
            "filter_sigma": self.filter_sigma,
            "k1": self.k1,
            "k2": self.k2,
        }

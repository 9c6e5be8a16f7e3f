"""Dilated (atrous) convolution that skips the taps which can only read padding."""
import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_segen")
class AtrousConv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D`` with ``dilation_rate > 1``, exact but fast on small maps.

    With "same" padding and stride 1, an off-centre tap sits ``k * rate`` pixels away; if
    the feature map is no larger than the rate in a dimension, those taps read only zero
    padding for every output pixel, so the result equals the convolution with the central
    row/column of the kernel. TensorFlow's CPU atrous convolution still pays for the
    padding (DeepLab's rates 6/12/18 on the 4x4 map of a 64x64 tile ran ~10x slower than
    rates 1/2/3), so this layer picks the trimmed kernel at run time (``tf.cond``, stock
    ops only) and the unknown-size graph stays exact at every input size.
    """

    def _can_trim_taps(self):
        return (
            self.padding == "same"
            and self.data_format == "channels_last"
            and self.groups == 1
            and tuple(self.strides) == (1, 1)
            and all(size % 2 == 1 for size in self.kernel_size)
            and max(self.dilation_rate) > 1
        )

    def convolution_op(self, inputs, kernel):
        if not self._can_trim_taps():
            return super().convolution_op(inputs, kernel)
        kernel = tf.cast(kernel, inputs.dtype)
        rate_h, rate_w = self.dilation_rate
        center_h, center_w = self.kernel_size[0] // 2, self.kernel_size[1] // 2

        def conv(rows_only_center, cols_only_center):
            trimmed = kernel
            if rows_only_center:
                trimmed = trimmed[center_h : center_h + 1]
            if cols_only_center:
                trimmed = trimmed[:, center_w : center_w + 1]
            dilation = (1 if rows_only_center else rate_h, 1 if cols_only_center else rate_w)
            return keras.ops.conv(inputs, trimmed, strides=1, padding="same", dilation_rate=dilation)

        rows_small = _no_larger_than(inputs, axis=1, rate=rate_h)
        cols_small = _no_larger_than(inputs, axis=2, rate=rate_w)
        if isinstance(rows_small, bool) and isinstance(cols_small, bool):
            return conv(rows_small, cols_small)  # static sizes: decide while building

        def by_cols(rows_only_center):
            if isinstance(cols_small, bool):
                return lambda: conv(rows_only_center, cols_small)
            return lambda: tf.cond(
                cols_small,
                lambda: conv(rows_only_center, True),
                lambda: conv(rows_only_center, False),
            )

        if isinstance(rows_small, bool):
            return by_cols(rows_small)()
        return tf.cond(rows_small, by_cols(True), by_cols(False))


def _no_larger_than(inputs, *, axis, rate):
    """``size <= rate`` along ``axis``: a Python bool when the size is static, else a tensor."""
    if rate == 1:
        return False  # nothing to trim: the 3x3 taps are adjacent
    static = inputs.shape[axis]
    if static is not None:
        return static <= rate
    return tf.shape(inputs)[axis] <= rate

"""Layers that bring a feature map to the spatial size of a reference tensor.

Both work when the spatial size is only known at run time (inputs of shape
``(None, None, C)``), which is what lets every segmentation model accept any image size.
"""
import keras
import tensorflow as tf

INTERPOLATIONS = ("bilinear", "nearest")


def _reference_output_shape(input_shape):
    x_shape, reference_shape = input_shape
    return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[-1])


def _check_pair(inputs, layer_name):
    if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
        raise ValueError(
            f"{layer_name} expects a list [x, reference] of two NHWC tensors, got {inputs!r}"
        )
    return inputs


@keras.saving.register_keras_serializable(package="keras_segen")
class ResizeToReference(keras.layers.Layer):
    """Resize ``x`` (NHWC) to the height and width of ``reference``: ``layer([x, reference])``.

    Used where the two sizes differ by a non-integer factor (DeepLab's decoder, the image
    pooling branch of ASPP, the final upsampling to the input size).
    """

    def __init__(self, interpolation="bilinear", **kwargs):
        super().__init__(**kwargs)
        if interpolation not in INTERPOLATIONS:
            raise ValueError(
                f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}"
            )
        self.interpolation = interpolation

    def call(self, inputs):
        x, reference = _check_pair(inputs, type(self).__name__)
        size = tf.shape(reference)[1:3]
        resized = tf.image.resize(x, size, method=self.interpolation)
        # tf.image.resize returns float32 for bilinear; keep bfloat16 under mixed precision.
        return tf.cast(resized, x.dtype)

    def compute_output_shape(self, input_shape):
        return _reference_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "interpolation": self.interpolation}


@keras.saving.register_keras_serializable(package="keras_segen")
class CropToReference(keras.layers.Layer):
    """Crop ``x`` (NHWC) to the height and width of ``reference``, keeping the top-left corner.

    Our encoders pool and stride with "same" padding, which keeps every scale aligned at
    the top-left corner and rounds sizes up; an upsampled map is therefore at least as big
    as the skip it meets and its extra rows/columns are at the bottom/right. If ``x`` is
    smaller than the reference it is zero-padded at the bottom/right instead, so the layer
    never fails on a size mismatch.
    """

    def call(self, inputs):
        x, reference = _check_pair(inputs, type(self).__name__)
        target = tf.shape(reference)[1:3]
        current = tf.shape(x)[1:3]
        shortfall = tf.maximum(target - current, 0)
        x = tf.pad(x, [[0, 0], [0, shortfall[0]], [0, shortfall[1]], [0, 0]])
        return x[:, : target[0], : target[1], :]

    def compute_output_shape(self, input_shape):
        return _reference_output_shape(input_shape)

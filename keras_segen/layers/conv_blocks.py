"""Convolution + normalization + activation blocks built from stock Keras layers.

They are plain functions over tensors (not layer subclasses) so that every weight keeps
a readable, stable layer name in the enclosing functional model; the zoo relies on those
names when it transfers a backbone into a model with a fresh head.
"""
import math

import keras

from keras_segen.layers.atrous import AtrousConv2D

NORMALIZATIONS = ("batch", "group", "none")

# PyTorch's default (0.1 there) rather than Keras' 0.99: our CPU training runs are short,
# and with 0.99 the moving statistics lag far behind the weights after a few hundred steps.
BATCH_NORM_MOMENTUM = 0.9


def check_normalization(normalization):
    """Raise ValueError unless ``normalization`` is one of :data:`NORMALIZATIONS`."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}"
        )
    return normalization


def group_count(channels):
    """Groups for GroupNormalization: at most 8, and always a divisor of ``channels``."""
    return math.gcd(channels, 8)


def normalization_layer(normalization, channels, *, name, gamma_initializer="ones"):
    """A normalization layer named ``name``, or None for ``normalization="none"``."""
    check_normalization(normalization)
    if normalization == "batch":
        return keras.layers.BatchNormalization(
            momentum=BATCH_NORM_MOMENTUM, gamma_initializer=gamma_initializer, name=name
        )
    if normalization == "group":
        return keras.layers.GroupNormalization(
            groups=group_count(channels), gamma_initializer=gamma_initializer, name=name
        )
    return None


def conv_norm_act(
    x,
    filters,
    kernel_size=3,
    *,
    name,
    strides=1,
    dilation_rate=1,
    normalization="batch",
    activation="relu",
    gamma_initializer="ones",
):
    """Conv2D ("same" padding) -> optional normalization -> optional activation.

    Layers are named ``{name}_conv``, ``{name}_norm`` and ``{name}_{activation}``. The
    convolution has no bias when a normalization follows (the norm's beta replaces it);
    a dilated one is an :class:`AtrousConv2D` (same weights, faster on small maps).
    """
    norm = normalization_layer(
        normalization, filters, name=f"{name}_norm", gamma_initializer=gamma_initializer
    )
    conv_class = AtrousConv2D if dilation_rate != 1 else keras.layers.Conv2D
    x = conv_class(
        filters,
        kernel_size,
        strides=strides,
        dilation_rate=dilation_rate,
        padding="same",
        use_bias=norm is None,
        kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    if norm is not None:
        x = norm(x)
    if activation is not None:
        x = keras.layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def double_conv(x, filters, *, name, normalization="batch"):
    """Two 3x3 conv-norm-ReLU units, the building block of U-Net (``{name}_1``, ``{name}_2``)."""
    x = conv_norm_act(x, filters, name=f"{name}_1", normalization=normalization)
    return conv_norm_act(x, filters, name=f"{name}_2", normalization=normalization)

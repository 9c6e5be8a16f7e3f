"""Bilinear initialization for learned (transposed-convolution) upsampling, as in FCN."""
import keras
import numpy as np


def bilinear_kernel_1d(size):
    """The 1-D bilinear interpolation filter of length ``size`` (Long et al.'s Caffe recipe)."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    positions = np.arange(size, dtype=np.float64)
    return 1.0 - np.abs(positions - center) / factor


@keras.saving.register_keras_serializable(package="keras_segen")
class BilinearUpsamplingInitializer(keras.initializers.Initializer):
    """Initializer for a ``Conv2DTranspose`` kernel ``(kh, kw, out_channels, in_channels)``.

    Channel ``i`` is upsampled bilinearly into channel ``i`` (no cross-channel mixing). With
    kernel size ``2 * f``, strides ``f`` and ``padding="same"`` the transposed convolution
    then equals half-pixel-centred bilinear upsampling by ``f`` away from the borders.
    """

    def __call__(self, shape, dtype=None):
        if len(shape) != 4:
            raise ValueError(
                f"BilinearUpsamplingInitializer needs a 4-D conv kernel shape, got {shape}"
            )
        kernel_h, kernel_w, out_channels, in_channels = shape
        filt = np.outer(bilinear_kernel_1d(kernel_h), bilinear_kernel_1d(kernel_w))
        weights = np.zeros(shape, dtype=np.float32)
        for channel in range(min(out_channels, in_channels)):
            weights[:, :, channel, channel] = filt
        return keras.ops.convert_to_tensor(weights, dtype=dtype or "float32")

    def get_config(self):
        return {}


def bilinear_upsampling(x, channels, factor, *, name, trainable=True):
    """Learned upsampling by an integer ``factor``, initialized to bilinear interpolation."""
    return keras.layers.Conv2DTranspose(
        channels,
        kernel_size=2 * factor,
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearUpsamplingInitializer(),
        trainable=trainable,
        name=name,
    )(x)

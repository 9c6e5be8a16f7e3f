"""The layers of StyleGAN (Karras et al. 2019) with StyleGAN2's weight (de)modulation.

Every layer is a serializable ``keras.layers.Layer`` that computes in the layer's dtype
policy (bfloat16 under ``mixed_bfloat16``) except where a comment says float32.

* ``EqualizedDense`` / ``EqualizedConv2D``: weights stored as N(0, 1 / lr_multiplier)
  and scaled at run time by ``lr_multiplier / sqrt(fan_in)`` (the "equalized learning
  rate" of ProGAN): Adam then moves every layer at the same relative speed, and the
  mapping network's ``lr_multiplier=0.01`` slows it 100x, as in the papers.
* ``PixelNorm``: ``z / sqrt(mean(z^2) + eps)`` over the last axis (the mapping input).
* ``ScaledLeakyReLU``: ``leaky_relu(x, 0.2) * sqrt(2)``, keeping unit variance.
* ``ConstantInput``: the learned ``[h0, w0, C]`` start map, repeated over the batch.
* ``ModulatedConv2D``: StyleGAN2's style convolution. The per-sample style
  ``s = affine(w)`` scales the kernel's input channels, and demodulation divides each
  output channel by the norm of its modulated kernel, ``d = rsqrt(sum_{k,i} (W s)^2)``.
  Computed without per-sample kernels (StyleGAN2's non-fused form): scale the input
  channels by ``s``, convolve with the shared kernel, scale the output channels by
  ``d`` -- the same numbers as a per-sample convolution, on any device (TF has no grouped
  convolution on CPU), and one ordinary ``conv2d`` for the whole batch.
* ``NoiseInjection``: adds ``strength[c] * noise[n, y, x]`` (one noise map per sample,
  broadcast over channels; ``strength`` learned per channel, starting at 0). Training
  draws the noise from the layer's ``SeedGenerator`` (replica-safe, as every draw in
  this package); inference adds a fixed noise map stored with the weights
  (StyleGAN2-ADA's ``noise_mode="const"``), so a latent always gives the same image.
* ``MinibatchStdDev``: appends the mean standard deviation of each group of
  ``group_size`` *consecutive* samples as one extra channel (StyleGAN groups strided
  samples; consecutive groups never straddle two replicas' shares of a batch, so a
  ``MirroredStrategy`` step computes what one device computes when the per-replica
  batch is a multiple of ``group_size``). A batch that ``group_size`` does not divide
  uses its largest divisor below ``group_size``.
"""
import math

import keras
import tensorflow as tf
from keras import ops

from keras_segen.layers.sampling import draw_for_this_replica

LEAKY_SLOPE = 0.2
LEAKY_GAIN = math.sqrt(2.0)


def _positive_int(value, what):
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


def _positive_float(value, what):
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and value > 0):
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return float(value)


def scaled_leaky_relu(x):
    # maximum(x, 0.2 x) rather than leaky_relu: grappler's remapper fails (and logs an
    # error) fusing LeakyRelu under the double backward pass of R1.
    return ops.maximum(x, x * ops.cast(LEAKY_SLOPE, x.dtype)) * ops.cast(LEAKY_GAIN, x.dtype)


@keras.saving.register_keras_serializable(package="keras_segen")
class PixelNorm(keras.layers.Layer):
    """``x / sqrt(mean(x^2, axis=-1) + epsilon)`` (computed in float32)."""

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.built = True

    def call(self, x):
        x32 = ops.cast(x, "float32")
        x32 = x32 * ops.rsqrt(ops.mean(ops.square(x32), axis=-1, keepdims=True) + self.epsilon)
        return ops.cast(x32, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_segen")
class ScaledLeakyReLU(keras.layers.Layer):
    """``leaky_relu(x, 0.2) * sqrt(2)``."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def call(self, x):
        return scaled_leaky_relu(x)


@keras.saving.register_keras_serializable(package="keras_segen")
class EqualizedDense(keras.layers.Layer):
    """Dense layer with an equalized learning rate (see the module docstring).

    Args:
        units: output size.
        lr_multiplier: learning-rate multiplier of the weights and bias.
        bias_init: the bias' (effective) starting value (1 for StyleGAN's style affines,
            so styles start at 1 and modulation starts as the identity).
        activation: ``None`` or ``"lrelu"`` (``ScaledLeakyReLU``).
    """

    def __init__(self, units, lr_multiplier=1.0, bias_init=0.0, activation=None, **kwargs):
        super().__init__(**kwargs)
        if activation not in (None, "lrelu"):
            raise ValueError(f"activation must be None or 'lrelu', got {activation!r}")
        self.units = _positive_int(units, "units")
        self.lr_multiplier = _positive_float(lr_multiplier, "lr_multiplier")
        self.bias_init = float(bias_init)
        self.activation = activation

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(fan_in, self.units), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier))
        self.bias = self.add_weight(
            shape=(self.units,), name="bias",
            initializer=keras.initializers.Constant(self.bias_init / self.lr_multiplier))
        self.weight_gain = self.lr_multiplier / math.sqrt(fan_in)

    def call(self, x):
        x = ops.matmul(x, self.kernel * self.weight_gain) + self.bias * self.lr_multiplier
        return scaled_leaky_relu(x) if self.activation else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "lr_multiplier": self.lr_multiplier, "bias_init": self.bias_init,
                "activation": self.activation}


@keras.saving.register_keras_serializable(package="keras_segen")
class EqualizedConv2D(keras.layers.Layer):
    """Stride-1 "same" convolution with an equalized learning rate (the discriminator's).

    Args:
        filters, kernel_size: as ``keras.layers.Conv2D``.
        use_bias: add a (zero-initialized) bias.
        activation: ``None`` or ``"lrelu"``.
    """

    def __init__(self, filters, kernel_size, use_bias=True, activation=None, **kwargs):
        super().__init__(**kwargs)
        if activation not in (None, "lrelu"):
            raise ValueError(f"activation must be None or 'lrelu', got {activation!r}")
        self.filters = _positive_int(filters, "filters")
        self.kernel_size = _positive_int(kernel_size, "kernel_size")
        self.use_bias = bool(use_bias)
        self.activation = activation

    def build(self, input_shape):
        channels = int(input_shape[-1])
        k = self.kernel_size
        self.kernel = self.add_weight(shape=(k, k, channels, self.filters), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = (self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
                     if self.use_bias else None)
        self.weight_gain = 1.0 / math.sqrt(k * k * channels)

    def call(self, x):
        x = ops.conv(x, self.kernel * self.weight_gain, padding="same")
        if self.bias is not None:
            x = x + self.bias
        return scaled_leaky_relu(x) if self.activation else x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "use_bias": self.use_bias,
                "activation": self.activation}


@keras.saving.register_keras_serializable(package="keras_segen")
class ConstantInput(keras.layers.Layer):
    """The learned start map ``[height, width, channels]`` (N(0, 1) at first), repeated
    once per row of its input (any tensor with a batch axis: the ``ws``)."""

    def __init__(self, height, width, channels, **kwargs):
        super().__init__(**kwargs)
        self.height = _positive_int(height, "height")
        self.width = _positive_int(width, "width")
        self.channels = _positive_int(channels, "channels")

    def build(self, input_shape):
        self.constant = self.add_weight(
            shape=(self.height, self.width, self.channels), name="constant",
            initializer=keras.initializers.RandomNormal(stddev=1.0))

    def call(self, reference):
        batch = ops.shape(reference)[0]
        return ops.broadcast_to(self.constant[None],
                                (batch, self.height, self.width, self.channels))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.height, self.width, self.channels)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "channels": self.channels}


@keras.saving.register_keras_serializable(package="keras_segen")
class ModulatedConv2D(keras.layers.Layer):
    """StyleGAN2's modulated (and demodulated) convolution; see the module docstring.

    Call with ``[x, ws]``: ``x`` ``[N, H, W, C_in]``; ``ws`` ``[N, w_dim]`` or the
    synthesis network's ``[N, num_ws, w_dim]``, of which row ``w_index`` is used.

    Args:
        filters, kernel_size: output channels and (odd) kernel size; "same" padding.
        w_index: which ``w`` of a ``[N, num_ws, w_dim]`` input styles this layer.
        demodulate: normalize each output channel (False for the toRGB layers).
        use_bias: add a bias after the (de)modulated convolution.
        epsilon: inside demodulation's square root.
    """

    def __init__(self, filters, kernel_size=3, w_index=0, demodulate=True, use_bias=True,
                 epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.filters = _positive_int(filters, "filters")
        self.kernel_size = _positive_int(kernel_size, "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if isinstance(w_index, bool) or int(w_index) != w_index or w_index < 0:
            raise ValueError(f"w_index must be a non-negative int, got {w_index!r}")
        self.w_index = int(w_index)
        self.demodulate = bool(demodulate)
        self.use_bias = bool(use_bias)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        x_shape, w_shape = input_shape
        channels = int(x_shape[-1])
        k = self.kernel_size
        # Styles start at 1 (bias_init=1): modulation starts as the identity.
        self.affine = EqualizedDense(channels, bias_init=1.0, name="affine",
                                     dtype=self.dtype_policy)
        self.affine.build(tuple(w_shape[:1]) + tuple(w_shape[-1:]))
        self.kernel = self.add_weight(shape=(k, k, channels, self.filters), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.bias = (self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
                     if self.use_bias else None)
        self.weight_gain = 1.0 / math.sqrt(k * k * channels)

    def styles(self, ws):
        """``[N, C_in]`` styles of the layer's ``w``."""
        w = ws[:, self.w_index] if len(ws.shape) == 3 else ws
        return self.affine(w)

    def call(self, inputs):
        x, ws = inputs
        styles = self.styles(ws)
        kernel = self.kernel * self.weight_gain
        x = x * ops.cast(styles[:, None, None, :], x.dtype)
        x = ops.conv(x, kernel, padding="same")
        if self.demodulate:
            # float32: a sum of k*k*C_in squares, too coarse in bfloat16.
            squares = ops.sum(ops.square(ops.cast(kernel, "float32")), axis=(0, 1))  # [C_in, C_out]
            energy = ops.matmul(ops.square(ops.cast(styles, "float32")), squares)
            demodulation = ops.rsqrt(energy + self.epsilon)  # [N, C_out]
            x = x * ops.cast(demodulation[:, None, None, :], x.dtype)
        if self.bias is not None:
            x = x + self.bias
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "w_index": self.w_index,
                "demodulate": self.demodulate, "use_bias": self.use_bias,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_segen")
class NoiseInjection(keras.layers.Layer):
    """``x + strength[c] * noise[n, y, x]``; see the module docstring.

    Args:
        seed: seed of the training noise's ``SeedGenerator`` and of the fixed inference
            noise map (None: random).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        height, width, channels = (int(d) for d in input_shape[1:])
        self.strength = self.add_weight(shape=(channels,), name="strength", initializer="zeros")
        self.constant_noise = self.add_weight(
            shape=(height, width, 1), name="constant_noise", trainable=False,
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed))

    def call(self, x, training=False):
        if training:
            shape = ops.shape(x)
            noise = draw_for_this_replica(self.seed_generator, tf.random.stateless_normal,
                                          (shape[0], shape[1], shape[2], 1), self.compute_dtype)
        else:
            noise = self.constant_noise[None]
        return x + noise * self.strength

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_segen")
class MinibatchStdDev(keras.layers.Layer):
    """Appends one channel: the average, over features, of the standard deviation within
    each group of ``group_size`` consecutive samples (see the module docstring)."""

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size = _positive_int(group_size, "group_size")
        self.epsilon = float(epsilon)
        self.built = True

    def call(self, x):
        shape = ops.shape(x)
        batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
        # The largest divisor of the batch that is <= group_size (1 always divides).
        group = tf.constant(1, tf.int32)
        for candidate in range(2, self.group_size + 1):
            group = tf.where(tf.math.floormod(batch, candidate) == 0, candidate, group)
        x32 = ops.cast(x, "float32")
        grouped = ops.reshape(x32, (-1, group, height, width, channels))  # consecutive rows
        centred = grouped - ops.mean(grouped, axis=1, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(centred), axis=1) + self.epsilon)  # [M, H, W, C]
        feature = ops.mean(std, axis=(1, 2, 3))  # [M]
        feature = ops.repeat(feature, group, axis=0)  # back to one value per row
        feature = ops.broadcast_to(feature[:, None, None, None], (batch, height, width, 1))
        return ops.concatenate([x, ops.cast(feature, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size,
                "epsilon": self.epsilon}

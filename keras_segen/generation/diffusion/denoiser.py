"""The DDPM denoiser: a U-Net ``[x_t, t(, labels)] -> predicted noise``.

* **Time.** ``SinusoidalEmbedding`` (Transformer-style sin/cos features of the integer
  timestep, Ho et al. 2020) projected by a two-layer swish MLP to ``embedding_dim``;
  every residual block adds its own dense projection of it to its feature maps.
* **Classes** (``num_classes`` > 0): a learned embedding of ``num_classes + 1`` rows --
  the last row is the "null" class of classifier-free guidance -- added to the time
  embedding.
* **Blocks.** Residual blocks GroupNorm -> swish -> conv3x3 (+ embedding) -> GroupNorm ->
  swish -> conv3x3, a 1x1 convolution on the shortcut where the width changes;
  self-attention (``keras.layers.MultiHeadAttention`` over the flattened ``H x W``
  positions, residual) after the blocks of each resolution in ``attention_resolutions``
  and in the middle when the lowest resolution is listed.
* **U-Net.** ``len(widths)`` levels of ``block_depth`` blocks, a stride-2 conv between
  levels, the mirror image on the way up (nearest upsampling + conv), each up block
  eating one skip connection; the output conv starts at zero (the first prediction is
  "no noise", a stable start) and computes in float32.
* **Any size.** Inputs whose height or width is not a multiple of ``2 ** (levels - 1)``
  are zero-padded to one inside the network and the output is cropped back (28x28
  Fashion-MNIST runs through a 32x32 U-Net and stays 28x28 everywhere else).
"""
import math

import keras
from keras import layers, ops

_MAX_GROUPS = 8
_MAX_PERIOD = 10_000.0


@keras.saving.register_keras_serializable(package="keras_segen")
class SinusoidalEmbedding(layers.Layer):
    """Timesteps ``[N]`` (any number type) -> ``[N, dim]`` sin/cos features, float32.

    Frequencies ``max_period ** (-k / (dim / 2))``, ``k = 0 .. dim/2 - 1``: the first
    feature pair turns once per timestep, the last once per ``max_period``.
    """

    def __init__(self, dim, max_period=_MAX_PERIOD, **kwargs):
        kwargs.setdefault("dtype", "float32")  # exact under mixed precision
        super().__init__(**kwargs)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
            raise ValueError(f"embedding dim must be an even int >= 2, got {dim!r}")
        self.dim = dim
        self.max_period = float(max_period)
        self.built = True

    def call(self, timesteps):
        half = self.dim // 2
        frequencies = ops.exp(
            -math.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        angles = ops.cast(ops.reshape(timesteps, (-1, 1)), "float32") * frequencies[None, :]
        return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


def _groups(channels):
    # Up to 8 groups of at least 4 channels: with one channel per group GroupNorm would
    # be an instance norm and cancel the embedding added to each channel.
    return math.gcd(channels, min(_MAX_GROUPS, max(1, channels // 4)))


def _norm_swish(x, name):
    x = layers.GroupNormalization(_groups(x.shape[-1]), epsilon=1e-5, name=f"{name}_gn")(x)
    return layers.Activation("swish", name=f"{name}_swish")(x)


def residual_block(x, embedding, width, name):
    """GN-swish-conv, + dense(embedding), GN-swish-conv, + shortcut."""
    shortcut = x
    if x.shape[-1] != width:
        shortcut = layers.Conv2D(width, 1, name=f"{name}_shortcut")(x)
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv1")(_norm_swish(x, f"{name}_1"))
    shift = layers.Dense(width, name=f"{name}_embedding")(embedding)
    h = layers.Add(name=f"{name}_add_embedding")([h, layers.Reshape((1, 1, width),
                                                                     name=f"{name}_e4d")(shift)])
    h = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(_norm_swish(h, f"{name}_2"))
    return layers.Add(name=f"{name}_out")([shortcut, h])


def attention_block(x, num_heads, name):
    """Residual self-attention over the ``H x W`` positions of ``x``."""
    height, width, channels = x.shape[1:]
    heads = max(1, min(num_heads, channels))
    while channels % heads:
        heads -= 1
    h = layers.GroupNormalization(_groups(channels), epsilon=1e-5, name=f"{name}_gn")(x)
    h = layers.Reshape((height * width, channels), name=f"{name}_flatten")(h)
    h = layers.MultiHeadAttention(heads, channels // heads, name=f"{name}_mha")(h, h)
    h = layers.Reshape((height, width, channels), name=f"{name}_unflatten")(h)
    return layers.Add(name=f"{name}_out")([x, h])


def unet_resolutions(image_shape, levels):
    """The feature-map heights of the ``levels`` U-Net levels (after padding)."""
    multiple = 2 ** (levels - 1)
    height = -(-int(image_shape[0]) // multiple) * multiple
    return [height // 2**level for level in range(levels)]


def build_denoiser(image_shape, *, widths, block_depth, attention_resolutions,
                   embedding_dim, num_classes=0, num_heads=4, name="denoiser"):
    """The U-Net of the module docstring as a functional ``keras.Model``.

    Inputs ``noisy_images`` float32 ``[N, H, W, C]``, ``timesteps`` int32 ``[N]`` and,
    when ``num_classes`` > 0, ``labels`` int32 ``[N]`` in ``[0, num_classes]`` (the last
    is the null class); output: the predicted noise, float32 ``[N, H, W, C]``.
    """
    height, width, channels = (int(d) for d in image_shape)
    levels = len(widths)
    multiple = 2 ** (levels - 1)
    pad_h, pad_w = -height % multiple, -width % multiple
    resolutions = unet_resolutions(image_shape, levels)

    images = keras.Input((height, width, channels), name="noisy_images")
    timesteps = keras.Input((), dtype="int32", name="timesteps")
    inputs = [images, timesteps]
    embedding = SinusoidalEmbedding(embedding_dim, name="time_sinusoids")(timesteps)
    embedding = layers.Dense(embedding_dim, activation="swish", name="time_mlp1")(embedding)
    embedding = layers.Dense(embedding_dim, name="time_mlp2")(embedding)
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        label_embedding = layers.Embedding(num_classes + 1, embedding_dim,
                                           name="label_embedding")(labels)
        embedding = layers.Add(name="time_and_label")([embedding, label_embedding])
    embedding = layers.Activation("swish", name="embedding_swish")(embedding)

    x = images
    if pad_h or pad_w:
        x = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2),
                                  (pad_w // 2, pad_w - pad_w // 2)), name="pad")(x)
    x = layers.Conv2D(widths[0], 3, padding="same", name="conv_in")(x)
    skips = []
    for level, level_width in enumerate(widths):
        attend = resolutions[level] in attention_resolutions
        for block in range(block_depth):
            x = residual_block(x, embedding, level_width, f"down{level}_{block}")
            if attend:
                x = attention_block(x, num_heads, f"down{level}_{block}_attention")
            skips.append(x)
        if level < levels - 1:
            x = layers.Conv2D(level_width, 3, strides=2, padding="same",
                              name=f"down{level}_downsample")(x)
    x = residual_block(x, embedding, widths[-1], "middle_0")
    if resolutions[-1] in attention_resolutions:
        x = attention_block(x, num_heads, "middle_attention")
    x = residual_block(x, embedding, widths[-1], "middle_1")
    for level in reversed(range(levels)):
        attend = resolutions[level] in attention_resolutions
        for block in range(block_depth):
            x = layers.Concatenate(name=f"up{level}_{block}_skip")([x, skips.pop()])
            x = residual_block(x, embedding, widths[level], f"up{level}_{block}")
            if attend:
                x = attention_block(x, num_heads, f"up{level}_{block}_attention")
        if level > 0:
            x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{level}_upsample")(x)
            x = layers.Conv2D(widths[level - 1], 3, padding="same",
                              name=f"up{level}_upsample_conv")(x)
    x = _norm_swish(x, "out")
    x = layers.Conv2D(channels, 3, padding="same", kernel_initializer="zeros",
                      dtype="float32", name="conv_out")(x)
    if pad_h or pad_w:
        x = layers.Cropping2D(((pad_h // 2, pad_h - pad_h // 2),
                               (pad_w // 2, pad_w - pad_w // 2)), dtype="float32",
                              name="crop")(x)
    return keras.Model(inputs, x, name=name)

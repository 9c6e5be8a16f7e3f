"""The layers of the gated PixelCNN (van den Oord et al. 2016): masked convolutions and
the gated block with a vertical and a horizontal stack.

**Raster order and colour order.** Pixel ``(i, j)`` may depend on pixels ``(i', j')``
with ``i' < i``, or ``i' == i and j' < j``; within a pixel, channel ``c`` may depend on
channels ``< c`` (R < G < B). Feature maps carry the colour order in their channels:
channel ``k`` of any map belongs to colour group ``k mod C`` (so the two halves of a
``2F``-channel map split by the gate have the same groups when ``F % C == 0``).

* ``MaskedConv2D``: a ``Conv2D`` ("same" padding, odd kernel) whose kernel is multiplied
  by the PixelCNN mask: rows above the centre, the centre row left of the centre, and at
  the centre itself input group < output group (mask ``"A"``, the first layer: a pixel
  never sees itself) or <= (mask ``"B"``, every later layer).
* ``VerticalStackConv``: a ``(k//2 + 1, k)`` convolution padded so that output row ``i``
  sees input rows ``i - k//2 .. i`` (all columns): rows at or above. Its output is
  down-shifted (``DownShift``) before the horizontal stack reads it, so the horizontal
  stack only gets rows strictly above -- and, since the vertical stack spans the whole
  width, the receptive field has no blind spot.
* ``PixelCNNInput``: the first layer: ``v = VerticalStackConv(x)``,
  ``h = MaskedConv2D_A(1 x k)(x) + DownShift(1x1(v))``.
* ``GatedPixelCNNBlock``: ``v' = gate(Vconv(v) + cond)``, ``h' = h + 1x1_B(gate(
  Hconv_B(h) + DownShift(1x1(Vconv(v) + cond)) + cond))``, ``gate(a|b) = tanh(a) * sigmoid(b)``
  and ``cond`` a learned bias per class when ``num_classes > 0``.

Both stacked layers expose their two halves (``vertical_step`` / ``horizontal_step``):
the sampler (model.py) runs the vertical stack once per row and only the horizontal stack
(one image row) per pixel -- the same layers and weights, exactly the same function.
"""
import keras
import numpy as np
from keras import layers, ops


def _odd_kernel(kernel_size, what="kernel_size"):
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    kernel_size = tuple(kernel_size)
    if len(kernel_size) != 2 or any(
        isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or k % 2 == 0
        for k in kernel_size
    ):
        raise ValueError(f"{what} must be an odd positive int or a pair of them, got {kernel_size!r}")
    return tuple(int(k) for k in kernel_size)


def colour_groups(channels, color_channels):
    """The colour group of each of ``channels`` feature channels: ``k mod C``."""
    return np.arange(channels) % color_channels


def causal_mask(kernel_size, in_channels, out_channels, mask_type, color_channels=1):
    """The PixelCNN mask ``[kh, kw, in, out]`` (float32 0/1) of a "same"-padded kernel."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
    kh, kw = _odd_kernel(kernel_size)
    ch, cw = kh // 2, kw // 2
    mask = np.zeros((kh, kw, in_channels, out_channels), np.float32)
    mask[:ch] = 1.0  # rows above the centre
    mask[ch, :cw] = 1.0  # the centre row, left of the centre
    g_in = colour_groups(in_channels, color_channels)[:, None]
    g_out = colour_groups(out_channels, color_channels)[None, :]
    centre = g_in < g_out if mask_type == "A" else g_in <= g_out
    mask[ch, cw] = centre.astype(np.float32)
    return mask


def _check_groups(channels, color_channels, what):
    if channels % color_channels:
        raise ValueError(f"{what} ({channels}) must be a multiple of the image's "
                         f"{color_channels} colour channels")


@keras.saving.register_keras_serializable(package="keras_segen")
class MaskedConv2D(layers.Conv2D):
    """``Conv2D`` with the PixelCNN kernel mask (see the module docstring).

    Args:
        filters, kernel_size: as ``Conv2D`` (odd kernel sizes; padding is "same").
        mask_type: ``"A"`` (centre excluded) or ``"B"`` (centre included).
        color_channels: ``C``; channel ``k`` of the input and output is colour group
            ``k mod C`` (input and output channels must be multiples of ``C``).
    """

    def __init__(self, filters, kernel_size, mask_type="B", color_channels=1, **kwargs):
        kwargs.pop("padding", None)
        super().__init__(filters, _odd_kernel(kernel_size), padding="same", **kwargs)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        if isinstance(color_channels, bool) or not isinstance(color_channels, int) \
                or color_channels < 1:
            raise ValueError(f"color_channels must be a positive int, got {color_channels!r}")
        if tuple(self.strides) != (1, 1) or tuple(self.dilation_rate) != (1, 1):
            raise ValueError("MaskedConv2D takes no strides or dilation (the mask assumes neither)")
        _check_groups(filters, color_channels, "filters")
        self.mask_type = mask_type
        self.color_channels = color_channels
        self._mask = None

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        _check_groups(in_channels, self.color_channels, "input channels")
        super().build(input_shape)
        # A constant, not a weight: rebuilt from the config, never saved.
        self._mask = causal_mask(self.kernel_size, in_channels, self.filters,
                                 self.mask_type, self.color_channels)

    @property
    def mask(self):
        return self._mask

    def convolution_op(self, inputs, kernel):
        kernel = ops.multiply(kernel, ops.cast(self._mask, kernel.dtype))
        return super().convolution_op(inputs, kernel)

    def get_config(self):
        config = super().get_config()
        config.pop("padding", None)
        config.update(mask_type=self.mask_type, color_channels=self.color_channels)
        return config


@keras.saving.register_keras_serializable(package="keras_segen")
class DownShift(layers.Layer):
    """Shift a map down by one row (a zero row on top): row ``i`` gets row ``i - 1``."""

    def call(self, inputs):
        padded = ops.pad(inputs, [[0, 0], [1, 0], [0, 0], [0, 0]])
        return padded[:, :-1]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_segen")
class VerticalStackConv(layers.Conv2D):
    """A ``(k//2 + 1, k)`` convolution padded so that output row ``i`` reads input rows
    ``i - k//2 .. i`` across columns ``j - k//2 .. j + k//2`` (output size = input size)."""

    def __init__(self, filters, kernel_size=3, **kwargs):
        kwargs.pop("padding", None)
        size = kernel_size if isinstance(kernel_size, int) else kernel_size[-1]
        size = _odd_kernel(size)[1]
        super().__init__(filters, (size // 2 + 1, size), padding="valid", **kwargs)
        self.size = size

    def convolution_op(self, inputs, kernel):
        half = self.size // 2
        inputs = ops.pad(inputs, [[0, 0], [half, 0], [half, half], [0, 0]])
        return super().convolution_op(inputs, kernel)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        config = super().get_config()
        config.pop("padding", None)
        config["kernel_size"] = self.size
        return config


def _gate(x):
    a, b = ops.split(x, 2, axis=-1)
    return ops.tanh(a) * ops.sigmoid(b)


def _initializer(seed, offset):
    return "glorot_uniform" if seed is None else keras.initializers.GlorotUniform(seed + offset)


@keras.saving.register_keras_serializable(package="keras_segen")
class PixelCNNInput(layers.Layer):
    """The first layer: image ``x [N, H, W, C]`` in [-1, 1] -> ``[v, h]`` (``filters``
    channels each); ``h`` never sees pixel ``(i, j)`` itself (mask A)."""

    def __init__(self, filters, kernel_size=7, color_channels=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), _odd_kernel(kernel_size)[0]
        self.color_channels, self.seed = int(color_channels), seed
        self.vertical = VerticalStackConv(self.filters, self.kernel_size,
                                          kernel_initializer=_initializer(seed, 0),
                                          name="vertical")
        self.horizontal = MaskedConv2D(self.filters, (1, self.kernel_size), "A",
                                       self.color_channels,
                                       kernel_initializer=_initializer(seed, 1),
                                       name="horizontal")
        self.link = layers.Conv2D(self.filters, 1, kernel_initializer=_initializer(seed, 2),
                                  name="vertical_to_horizontal")
        self.shift = DownShift(name="down_shift")

    def build(self, input_shape):
        image = tuple(input_shape)
        self.vertical.build(image)
        self.horizontal.build(image)
        self.link.build((*image[:-1], self.filters))
        self.built = True

    def vertical_step(self, x):
        """``(v, link)``: the vertical stack and its down-shifted contribution to ``h``."""
        v = self.vertical(x)
        return v, self.shift(self.link(v))

    def horizontal_step(self, x, link):
        return self.horizontal(x) + link

    def call(self, x):
        v, link = self.vertical_step(x)
        return [v, self.horizontal_step(x, link)]

    def compute_output_shape(self, input_shape):
        shape = (*input_shape[:-1], self.filters)
        return [shape, shape]

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size,
                      color_channels=self.color_channels, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="keras_segen")
class GatedPixelCNNBlock(layers.Layer):
    """One gated layer: ``[v, h]`` (or ``[v, h, labels]`` when ``num_classes > 0``) ->
    ``[v', h']`` (see the module docstring); ``h`` is residual."""

    def __init__(self, filters, kernel_size=3, color_channels=1, num_classes=0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), _odd_kernel(kernel_size)[0]
        self.color_channels, self.num_classes, self.seed = (int(color_channels),
                                                            int(num_classes), seed)
        _check_groups(self.filters, self.color_channels, "filters")
        two = 2 * self.filters
        self.vertical = VerticalStackConv(two, self.kernel_size,
                                          kernel_initializer=_initializer(seed, 0),
                                          name="vertical")
        self.link = layers.Conv2D(two, 1, kernel_initializer=_initializer(seed, 1),
                                  name="vertical_to_horizontal")
        self.horizontal = MaskedConv2D(two, (1, self.kernel_size), "B", self.color_channels,
                                       kernel_initializer=_initializer(seed, 2),
                                       name="horizontal")
        self.residual = MaskedConv2D(self.filters, 1, "B", self.color_channels,
                                     kernel_initializer=_initializer(seed, 3),
                                     name="horizontal_out")
        self.shift = DownShift(name="down_shift")
        if self.num_classes:
            init = keras.initializers.RandomNormal(stddev=0.01, seed=None if seed is None
                                                   else seed + 4)
            self.v_class_bias = layers.Embedding(self.num_classes, two,
                                                 embeddings_initializer=init,
                                                 name="vertical_class_bias")
            self.h_class_bias = layers.Embedding(self.num_classes, two,
                                                 embeddings_initializer=init,
                                                 name="horizontal_class_bias")

    def build(self, input_shape):
        v_shape = tuple(input_shape[0])
        two = (*v_shape[:-1], 2 * self.filters)
        self.vertical.build(v_shape)
        self.link.build(two)
        self.horizontal.build(v_shape)
        self.residual.build(v_shape)
        if self.num_classes:
            self.v_class_bias.build((None,))
            self.h_class_bias.build((None,))
        self.built = True

    def _class_bias(self, embedding, labels, dtype):
        if not self.num_classes:
            return 0.0
        bias = embedding(ops.reshape(ops.cast(labels, "int32"), (-1,)))
        return ops.cast(bias[:, None, None, :], dtype)

    def vertical_step(self, v, labels=None):
        """``(v', link)``: the next vertical stack and its (down-shifted) link to ``h``."""
        pre = self.vertical(v)
        # The class bias also reaches h through the link (and so trains in the last block).
        pre = pre + self._class_bias(self.v_class_bias if self.num_classes else None,
                                     labels, pre.dtype)
        return _gate(pre), self.shift(self.link(pre))

    def horizontal_step(self, h, link, labels=None):
        pre = self.horizontal(h) + link
        pre = pre + self._class_bias(self.h_class_bias if self.num_classes else None,
                                     labels, pre.dtype)
        return h + self.residual(_gate(pre))

    def call(self, inputs):
        v, h = inputs[0], inputs[1]
        labels = inputs[2] if self.num_classes else None
        v_next, link = self.vertical_step(v, labels)
        return [v_next, self.horizontal_step(h, link, labels)]

    def compute_output_shape(self, input_shape):
        return [tuple(input_shape[0]), tuple(input_shape[1])]

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size,
                      color_channels=self.color_channels, num_classes=self.num_classes,
                      seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="keras_segen")
class PixelCNNHead(layers.Layer):
    """``h [N, H, W, F]`` -> distribution parameters ``[N, H, W, C, P]`` (float32):
    ReLU, masked 1x1 (B), ReLU, masked 1x1 (B) to ``C * P`` channels; channel
    ``p * C + c`` is parameter ``p`` of colour ``c`` (its colour group)."""

    def __init__(self, filters, params_per_channel, color_channels=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.params_per_channel = int(filters), int(params_per_channel)
        self.color_channels, self.seed = int(color_channels), seed
        self.hidden = MaskedConv2D(self.filters, 1, "B", self.color_channels,
                                   kernel_initializer=_initializer(seed, 0), name="hidden")
        # float32 parameters whatever the policy: the likelihood reads them directly.
        self.out = MaskedConv2D(self.params_per_channel * self.color_channels, 1, "B",
                                self.color_channels, kernel_initializer=_initializer(seed, 1),
                                dtype="float32", name="parameters")

    def build(self, input_shape):
        self.hidden.build(tuple(input_shape))
        self.out.build((*tuple(input_shape)[:-1], self.filters))
        self.built = True

    def call(self, h):
        x = self.out(ops.relu(self.hidden(ops.relu(h))))
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], shape[1], shape[2], self.params_per_channel,
                            self.color_channels))
        return ops.cast(ops.transpose(x, (0, 1, 2, 4, 3)), "float32")

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.color_channels, self.params_per_channel)

    def compute_output_spec(self, h):
        return keras.KerasTensor(self.compute_output_shape(h.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, params_per_channel=self.params_per_channel,
                      color_channels=self.color_channels, seed=self.seed)
        return config

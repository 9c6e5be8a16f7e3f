"""A ResNet encoder (He et al. 2016) with atrous stages, for DeepLabV3+.

Written from the paper: a 7x7/2 stem and a 3x3/2 max-pool (stride 4), then four stages of
residual blocks with widths ``width * (1, 2, 4, 8)``. For output stride 16 the last stage,
for 8 the last two, keep their resolution and dilate their 3x3 convolutions instead of
striding (DeepLab's atrous trick), so the receptive field grows without losing detail.
"""
import keras

from keras_segen.layers.conv_blocks import conv_norm_act

# variant -> (block type, blocks per stage)
RESNET_VARIANTS = {
    "resnet18": ("basic", (2, 2, 2, 2)),
    "resnet34": ("basic", (3, 4, 6, 3)),
    "resnet50": ("bottleneck", (3, 4, 6, 3)),
    "resnet101": ("bottleneck", (3, 4, 23, 3)),
}
# output stride -> (stride, dilation) of stages 1..4
_STAGE_PLAN = {
    32: ((1, 1), (2, 1), (2, 1), (2, 1)),
    16: ((1, 1), (2, 1), (2, 1), (1, 2)),
    8: ((1, 1), (2, 1), (1, 2), (1, 4)),
}
OUTPUT_STRIDES = tuple(sorted(_STAGE_PLAN))
BOTTLENECK_EXPANSION = 4


def check_resnet_arguments(variant, width, output_stride):
    """ValueError for an unknown variant, a non-positive width or an unsupported stride."""
    if variant not in RESNET_VARIANTS:
        raise ValueError(
            f"encoder must be one of {tuple(RESNET_VARIANTS)}, got {variant!r}"
        )
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"encoder width must be a positive int, got {width!r}")
    if output_stride not in _STAGE_PLAN:
        raise ValueError(f"output_stride must be one of {OUTPUT_STRIDES}, got {output_stride!r}")


def _shortcut(x, channels, strides, name):
    if x.shape[-1] == channels and strides == 1:
        return x
    return conv_norm_act(x, channels, 1, strides=strides, activation=None, name=name)


def _basic_block(x, width, strides, dilation, name):
    shortcut = _shortcut(x, width, strides, f"{name}_shortcut")
    y = conv_norm_act(x, width, 3, strides=strides, dilation_rate=dilation, name=f"{name}_1")
    # Zero-gamma last norm: each block starts as identity, which eases training from scratch.
    y = conv_norm_act(
        y, width, 3, dilation_rate=dilation, activation=None,
        gamma_initializer="zeros", name=f"{name}_2",
    )
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def _bottleneck_block(x, width, strides, dilation, name):
    channels = width * BOTTLENECK_EXPANSION
    shortcut = _shortcut(x, channels, strides, f"{name}_shortcut")
    y = conv_norm_act(x, width, 1, name=f"{name}_1")
    # Stride on the 3x3 rather than the first 1x1 ("ResNet v1.5").
    y = conv_norm_act(y, width, 3, strides=strides, dilation_rate=dilation, name=f"{name}_2")
    y = conv_norm_act(
        y, channels, 1, activation=None, gamma_initializer="zeros", name=f"{name}_3"
    )
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def resnet_encoder(x, *, variant="resnet50", width=64, output_stride=16, name="encoder"):
    """Apply a ResNet encoder to ``x``.

    Returns a dict with ``"low_level"`` (the stage-1 output, stride 4) and ``"high_level"``
    (the stage-4 output, stride ``output_stride``), plus ``"stage1"`` ... ``"stage4"``.
    ``width`` is the stem / first-stage width (64 in the paper; 16 or 32 make small models).
    """
    check_resnet_arguments(variant, width, output_stride)
    block_type, blocks_per_stage = RESNET_VARIANTS[variant]
    block = _basic_block if block_type == "basic" else _bottleneck_block

    x = conv_norm_act(x, width, 7, strides=2, name=f"{name}_stem")
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_stem_pool")(x)
    features = {}
    for stage, (blocks, (stride, dilation)) in enumerate(
        zip(blocks_per_stage, _STAGE_PLAN[output_stride]), start=1
    ):
        stage_width = width * 2 ** (stage - 1)
        for index in range(1, blocks + 1):
            x = block(
                x,
                stage_width,
                stride if index == 1 else 1,
                dilation,
                name=f"{name}_stage{stage}_block{index}",
            )
        features[f"stage{stage}"] = x
    features["low_level"] = features["stage1"]
    features["high_level"] = features["stage4"]
    return features


def resnet_backbone(
    input_shape=(None, None, 3), *, variant="resnet50", width=64, output_stride=16,
    name="resnet_backbone",
):
    """A ``keras.Model`` mapping images to ``[low_level, high_level]`` ResNet features."""
    inputs = keras.Input(shape=input_shape, name="images")
    features = resnet_encoder(inputs, variant=variant, width=width, output_stride=output_stride)
    return keras.Model(inputs, [features["low_level"], features["high_level"]], name=name)

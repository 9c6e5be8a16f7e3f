"""U-Net (Ronneberger et al. 2015) with "same" convolutions and optional normalization."""
import keras

from keras_segen.layers import (
    NORMALIZATIONS,
    atrous_spatial_pyramid_pooling,
    CropToReference,
    double_conv,
    float32_logits,
)
from keras_segen.registry import register_architecture
from keras_segen.segmentation._arguments import (
    check_choice,
    check_input_shape,
    check_num_classes,
    check_positive_int,
    check_rate,
)

UPSAMPLINGS = ("transpose", "bilinear")
BOTTLENECKS = ("double_conv", "aspp")


@register_architecture("unet", task="segmentation")
def unet(
    *,
    input_shape=(None, None, 3),
    num_classes,
    depth=4,
    base_filters=32,
    normalization="batch",
    dropout=0.0,
    upsampling="transpose",
    bottleneck="double_conv",
    aspp_rates=(2, 4, 8),
    aspp_filters=None,
    name="unet",
):
    """U-Net: logits ``[N, H, W, num_classes]`` at the input size, for any input size.

    Args:
        depth: number of 2x down-samplings; level ``i`` has ``base_filters * 2**i`` filters.
        normalization: "batch", "group" (groups = gcd(filters, 8)) or "none".
        dropout: rate of the dropout at the bottom of the U (end of the contracting path,
            where the original paper puts it); 0 disables it.
        upsampling: "transpose" (learned 2x2/2 transposed conv halving the filters, as in
            the paper) or "bilinear" (fixed bilinear 2x, fewer parameters).
        bottleneck: "double_conv" (the paper) or "aspp": atrous spatial pyramid pooling
            with ``aspp_rates`` and an image-pooling branch at the bottom of the U, so
            every pixel sees the whole input (an enclosed sea vs the ocean).
        aspp_filters: channels of each ASPP branch and of its output (default: the
            bottom level's ``base_filters * 2**depth``; fewer keep the model small).
    """
    where = "unet"
    input_shape = check_input_shape(input_shape, where)
    num_classes = check_num_classes(num_classes, where)
    depth = check_positive_int(depth, "depth", where)
    base_filters = check_positive_int(base_filters, "base_filters", where)
    check_choice(normalization, NORMALIZATIONS, "normalization", where)
    dropout = check_rate(dropout, "dropout", where)
    check_choice(upsampling, UPSAMPLINGS, "upsampling", where)
    check_choice(bottleneck, BOTTLENECKS, "bottleneck", where)

    # Any input size: pools use "same" padding, so a level of odd size s gives ceil(s/2);
    # upsampling doubles that to s or s + 1 and CropToReference trims the extra bottom
    # row / right column to the skip's size. All scales stay aligned at the top-left
    # corner, no padding pixels enter the statistics, and no compute is spent on them.
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    skips = []
    for level in range(depth):
        x = double_conv(
            x, base_filters * 2**level, name=f"encoder{level + 1}", normalization=normalization
        )
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"encoder{level + 1}_pool")(x)

    if bottleneck == "aspp":
        filters = base_filters * 2**depth if aspp_filters is None else check_positive_int(
            aspp_filters, "aspp_filters", where)
        x = atrous_spatial_pyramid_pooling(
            x, filters=filters, rates=tuple(aspp_rates), dropout=0.0,
            normalization=normalization, name="bottleneck_aspp")
    else:
        x = double_conv(x, base_filters * 2**depth, name="bottleneck",
                        normalization=normalization)
    if dropout:
        x = keras.layers.Dropout(dropout, name="bottleneck_dropout")(x)

    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        prefix = f"decoder{level + 1}"
        if upsampling == "transpose":
            x = keras.layers.Conv2DTranspose(
                filters, 2, strides=2, padding="same", kernel_initializer="he_normal",
                name=f"{prefix}_upconv",
            )(x)
        else:
            x = keras.layers.UpSampling2D(
                2, interpolation="bilinear", name=f"{prefix}_upsample"
            )(x)
        x = CropToReference(name=f"{prefix}_crop")([x, skips[level]])
        x = keras.layers.Concatenate(name=f"{prefix}_concat")([x, skips[level]])
        x = double_conv(x, filters, name=prefix, normalization=normalization)

    x = keras.layers.Conv2D(num_classes, 1, name="classifier")(x)
    return keras.Model(inputs, float32_logits(x), name=name)

"""DeepLabV3+ (Chen et al., ECCV 2018): atrous ResNet encoder, ASPP, and a light decoder
that refines the ASPP output with stride-4 low-level features."""
import keras

from keras_segen.backbones.resnet import RESNET_VARIANTS, resnet_encoder
from keras_segen.layers import (
    ResizeToReference,
    atrous_spatial_pyramid_pooling,
    conv_norm_act,
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

DEEPLAB_OUTPUT_STRIDES = (8, 16)
_DEFAULT_RATES = (6, 12, 18)  # at output stride 16


@register_architecture("deeplabv3plus", task="segmentation")
def deeplabv3plus(
    *,
    input_shape=(None, None, 3),
    num_classes,
    encoder="resnet50",
    encoder_width=64,
    output_stride=16,
    atrous_rates=None,
    aspp_filters=256,
    aspp_dropout=0.1,
    low_level_filters=48,
    decoder_filters=256,
    name="deeplabv3plus",
):
    """DeepLabV3+: logits ``[N, H, W, num_classes]`` at the input size, for any input size.

    Args:
        encoder: "resnet18", "resnet34", "resnet50" or "resnet101" (written here, trained
            from scratch); encoder_width is its first-stage width (64 as in the paper; 16
            gives a model that trains on a CPU in minutes).
        output_stride: 16 or 8, the encoder's total downsampling (atrous convolutions
            replace the strides beyond it).
        atrous_rates: ASPP rates; default (6, 12, 18) at stride 16 and (12, 24, 36) at 8.
        aspp_filters, aspp_dropout: ASPP width and the dropout after its projection.
        low_level_filters: 1x1 reduction of the stride-4 features (48 in the paper).
        decoder_filters: width of the decoder's two 3x3 convolutions.
    """
    where = "deeplabv3plus"
    input_shape = check_input_shape(input_shape, where)
    num_classes = check_num_classes(num_classes, where)
    check_choice(encoder, RESNET_VARIANTS, "encoder", where)
    encoder_width = check_positive_int(encoder_width, "encoder_width", where)
    check_choice(output_stride, DEEPLAB_OUTPUT_STRIDES, "output_stride", where)
    if atrous_rates is None:
        atrous_rates = tuple(r * 16 // output_stride for r in _DEFAULT_RATES)
    try:
        atrous_rates = tuple(atrous_rates)
    except TypeError:
        raise ValueError(
            f"{where}: atrous_rates must be a sequence of ints, got {atrous_rates!r}"
        ) from None
    if not atrous_rates:
        raise ValueError(f"{where}: atrous_rates must not be empty")
    for rate in atrous_rates:
        check_positive_int(rate, "every atrous rate", where)
    aspp_filters = check_positive_int(aspp_filters, "aspp_filters", where)
    aspp_dropout = check_rate(aspp_dropout, "aspp_dropout", where)
    low_level_filters = check_positive_int(low_level_filters, "low_level_filters", where)
    decoder_filters = check_positive_int(decoder_filters, "decoder_filters", where)

    inputs = keras.Input(shape=input_shape, name="images")
    features = resnet_encoder(
        inputs, variant=encoder, width=encoder_width, output_stride=output_stride
    )
    low_level = features["low_level"]

    x = atrous_spatial_pyramid_pooling(
        features["high_level"], filters=aspp_filters, rates=atrous_rates, dropout=aspp_dropout
    )
    # Resize (not crop): stride 16/8 -> 4 is a 4x/2x step, and "same"-padded sizes round
    # up, so the two maps need not differ by an exact factor.
    x = ResizeToReference(name="decoder_upsample")([x, low_level])
    low_level = conv_norm_act(low_level, low_level_filters, 1, name="decoder_low_level")
    x = keras.layers.Concatenate(name="decoder_concat")([x, low_level])
    x = conv_norm_act(x, decoder_filters, 3, name="decoder_conv1")
    x = conv_norm_act(x, decoder_filters, 3, name="decoder_conv2")
    x = keras.layers.Conv2D(num_classes, 1, name="classifier")(x)
    x = ResizeToReference(name="upsample_to_input")([x, inputs])
    return keras.Model(inputs, float32_logits(x), name=name)

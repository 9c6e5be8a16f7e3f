"""Tiny settings of every segmentation builder (helper module for this folder's tests)."""
import keras_segen

# case -> (architecture, kwargs): same graph structure as the defaults, tiny widths.
TINY_CASES = {
    "unet": ("unet", dict(depth=3, base_filters=4)),
    "unet_bilinear_group": ("unet", dict(
        depth=2, base_filters=4, normalization="group", upsampling="bilinear", dropout=0.2)),
    "fcn32s": ("fcn32s", dict(fc_units=8, fc_kernel=3)),
    "fcn16s": ("fcn16s", dict(fc_units=8, fc_kernel=3)),
    "fcn8s": ("fcn8s", dict(fc_units=8, fc_kernel=3)),
    "deeplabv3plus": ("deeplabv3plus", dict(
        encoder="resnet18", encoder_width=4, aspp_filters=8, low_level_filters=4, decoder_filters=8)),
    "deeplabv3plus_os8_r50": ("deeplabv3plus", dict(
        encoder="resnet50", encoder_width=2, output_stride=8, aspp_filters=4,
        low_level_filters=2, decoder_filters=4)),
    "pixel_baseline": ("pixel_baseline", dict(hidden_units=4)),
}


def build_tiny(case, **overrides):
    """A fresh 3-class model of ``case``'s tiny settings (``overrides`` win)."""
    arch, kwargs = TINY_CASES[case]
    return keras_segen.build(arch, num_classes=3, **{**kwargs, **overrides})

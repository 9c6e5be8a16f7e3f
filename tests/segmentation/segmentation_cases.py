"""Tiny segmentation models for this folder's tests: every architecture at the settings
of the shared case table (tests/architecture_harness.py), plus two option variants."""
from architecture_harness import CASES_BY_ARCH, SEGMENTATION

import keras_segen

ARCHS = sorted(case.arch for case in CASES_BY_ARCH.values() if case.family is SEGMENTATION)
# case -> (architecture, kwargs): options that change the graph, at tiny widths.
VARIANTS = {
    "unet_bilinear_group": ("unet", dict(
        depth=2, base_filters=4, normalization="group", upsampling="bilinear", dropout=0.2)),
    "unet_aspp_bottleneck": ("unet", dict(
        depth=2, base_filters=4, bottleneck="aspp", aspp_rates=[1, 2], aspp_filters=6)),
    "deeplabv3plus_os8_r50": ("deeplabv3plus", dict(
        encoder="resnet50", encoder_width=2, output_stride=8, aspp_filters=4,
        low_level_filters=2, decoder_filters=4)),
}
TINY_CASES = {
    **{arch: (arch, {k: v for k, v in CASES_BY_ARCH[arch].kwargs.items() if k != "num_classes"})
       for arch in ARCHS},
    **VARIANTS,
}


def build_tiny(case, **overrides):
    """A fresh 3-class model of ``case``'s tiny settings (``overrides`` win)."""
    arch, kwargs = TINY_CASES[case]
    return keras_segen.build(arch, **{"num_classes": 3, **kwargs, **overrides})

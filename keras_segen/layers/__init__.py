"""Small serializable building blocks shared by the architectures."""
from keras_segen.layers.aspp import atrous_spatial_pyramid_pooling
from keras_segen.layers.atrous import AtrousConv2D
from keras_segen.layers.conv_blocks import (
    NORMALIZATIONS,
    check_normalization,
    conv_norm_act,
    double_conv,
    normalization_layer,
)
from keras_segen.layers.mix_transformer import (
    DropPath,
    EfficientSelfAttention,
    MixFFN,
    MixTransformerBlock,
    OverlapPatchEmbedding,
)
from keras_segen.layers.output import float32_logits
from keras_segen.layers.preprocessing import (
    HED_MEAN_BGR,
    IMAGENET_CAFFE_MEAN_BGR,
    CaffePreprocessing,
)
from keras_segen.layers.resize import CropToReference, ResizeToReference
from keras_segen.layers.upsampling import BilinearUpsamplingInitializer, bilinear_upsampling

__all__ = [
    "NORMALIZATIONS",
    "AtrousConv2D",
    "BilinearUpsamplingInitializer",
    "CaffePreprocessing",
    "CropToReference",
    "DropPath",
    "EfficientSelfAttention",
    "HED_MEAN_BGR",
    "IMAGENET_CAFFE_MEAN_BGR",
    "MixFFN",
    "MixTransformerBlock",
    "OverlapPatchEmbedding",
    "ResizeToReference",
    "atrous_spatial_pyramid_pooling",
    "bilinear_upsampling",
    "check_normalization",
    "conv_norm_act",
    "double_conv",
    "float32_logits",
    "normalization_layer",
]

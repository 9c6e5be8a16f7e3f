"""Encoders shared by the segmentation models: VGG16 (FCN) and ResNet (DeepLabV3+)."""
from keras_segen.backbones.resnet import (
    OUTPUT_STRIDES,
    RESNET_VARIANTS,
    resnet_backbone,
    resnet_encoder,
)
from keras_segen.backbones.vgg16 import (
    VGG16_CONV_LAYERS,
    load_vgg16_conv_weights,
    vgg16_backbone,
    vgg16_conv_weights,
    vgg16_encoder,
)

__all__ = [
    "OUTPUT_STRIDES",
    "RESNET_VARIANTS",
    "VGG16_CONV_LAYERS",
    "load_vgg16_conv_weights",
    "resnet_backbone",
    "resnet_encoder",
    "vgg16_backbone",
    "vgg16_conv_weights",
    "vgg16_encoder",
]

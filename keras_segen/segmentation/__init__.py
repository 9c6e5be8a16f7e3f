"""Segmentation architectures; importing this module registers their builders."""
from keras_segen.segmentation import deeplab, fcn, pixel_baseline, unet  # noqa: F401

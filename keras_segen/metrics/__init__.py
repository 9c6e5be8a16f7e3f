"""Keras metric objects: segmentation, image quality and distribution metrics."""
from keras_segen.metrics.segmentation import *  # noqa: F401,F403
from keras_segen.metrics.image_quality import *  # noqa: F401,F403
from keras_segen.metrics.feature_distances import *  # noqa: F401,F403

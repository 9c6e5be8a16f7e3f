"""Keras loss objects: segmentation losses and GAN losses."""
from keras_segen.losses.segmentation import *  # noqa: F401,F403
from keras_segen.losses.lovasz import *  # noqa: F401,F403
from keras_segen.losses.adversarial import *  # noqa: F401,F403

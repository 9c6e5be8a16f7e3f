"""Gated PixelCNN (van den Oord et al. 2016): one folder, one file per role --
``masked_conv`` (the masked convolutions and the gated block), ``distributions`` (the
256-way softmax and the discretized logistic mixture), ``model`` (``PixelCNN``, its
sampler and the ``pixelcnn`` builder). Importing the package registers the builder."""
from keras_segen.generation.pixelcnn.model import PixelCNN, pixelcnn

__all__ = ["PixelCNN", "pixelcnn"]

"""Conditional variational autoencoder: a ``VAE`` whose encoder and decoder see labels.

The label enters the encoder as one-hot constant channels next to the image and the
decoder as a one-hot vector next to ``z``; training data are ``(images, labels)``
batches with integer labels in ``[0, num_classes)``, checked by the base's
``prepare_labels``; ``generate``'s labels come from its ``labels_to_generate``.
"""
import numbers

import keras
from keras import ops

from keras_segen.generation.vae import VAE, build_vae
from keras_segen.registry import register_architecture


@keras.saving.register_keras_serializable(package="keras_segen")
class CVAE(VAE):
    """Class-conditional VAE. Same losses, trackers and methods as ``VAE``; every
    method that takes ``labels`` requires them (int, shape ``(N,)`` or ``(N, 1)``)."""

    def __init__(self, encoder, decoder, *, num_classes, **kwargs):
        if not isinstance(num_classes, numbers.Integral) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.num_classes = int(num_classes)
        super().__init__(encoder, decoder, **kwargs)

    # The base's prepare_labels gives int32 [N]; the label inputs here are (N, 1).
    def encoder_inputs(self, images, labels):
        return [images, ops.reshape(labels, (-1, 1))]

    def decoder_inputs(self, z, labels):
        return [z, ops.reshape(labels, (-1, 1))]

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


@register_architecture("cvae", task="generation", kind="variational")
def cvae(
    *,
    image_shape=(28, 28, 1),
    latent_dim=16,
    num_classes=10,
    base_filters=32,
    depth=2,
    hidden_units=256,
    beta=1.0,
    reconstruction="bce",
    seed=None,
    name="cvae",
):
    """Class-conditional convolutional VAE for images in [0, 1]."""
    return build_vae(CVAE, image_shape, latent_dim, base_filters, depth, hidden_units,
                     num_classes=num_classes, beta=beta, reconstruction=reconstruction,
                     seed=seed, name=name)

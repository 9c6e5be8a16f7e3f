"""Conditional variational autoencoder: a ``VAE`` whose encoder and decoder see labels.

The label enters the encoder as one-hot constant channels next to the image and the
decoder as a one-hot vector next to ``z``; training data are ``(images, labels)``
batches with integer labels in ``[0, num_classes)``.
"""
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_segen.generation.vae import VAE, build_decoder, build_encoder, check_image_shape
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

    def _prepare_labels(self, labels, batch_size, where):
        if labels is None:
            raise ValueError(
                f"{where}: {type(self).__name__} is conditional; pass labels "
                f"(train on (images, labels) batches)"
            )
        labels = ops.convert_to_tensor(labels)
        if labels.dtype.is_floating:
            raise TypeError(f"{where}: labels must be integers, got {labels.dtype}")
        if len(labels.shape) == 2 and labels.shape[-1] == 1:
            labels = labels[:, 0]
        if len(labels.shape) != 1:
            raise ValueError(
                f"{where}: expected integer labels of shape (N,) or (N, 1), "
                f"got {tuple(labels.shape)}"
            )
        if batch_size is not None and labels.shape[0] not in (None, batch_size):
            raise ValueError(
                f"{where}: got {labels.shape[0]} labels for a batch of {batch_size}"
            )
        labels = ops.cast(labels, "int32")
        checks = [
            tf.debugging.assert_non_negative(
                labels, message=f"{where}: labels must be >= 0"
            ),
            tf.debugging.assert_less(
                labels,
                self.num_classes,
                message=f"{where}: labels must be < num_classes={self.num_classes}",
            ),
        ]
        with tf.control_dependencies(checks):
            return ops.reshape(labels, (-1, 1))

    def _encoder_inputs(self, images, labels):
        return [images, labels]

    def _decoder_inputs(self, z, labels):
        return [z, labels]

    def _generation_labels(self, num_images, labels):
        """None -> classes in turn (0, 1, ..., 0, 1, ...); an int -> that class."""
        if labels is None:
            return np.arange(num_images, dtype=np.int32) % self.num_classes
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full((num_images,), int(labels), dtype=np.int32)
        if labels.shape != (num_images,):
            raise ValueError(
                f"generate: expected an int or {num_images} labels, got shape {labels.shape}"
            )
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(
                f"generate: labels must be in [0, {self.num_classes}), "
                f"got range [{labels.min()}, {labels.max()}]"
            )
        return labels.astype(np.int32)

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
    image_shape = tuple(image_shape)
    check_image_shape(image_shape, depth)
    args = (image_shape, latent_dim, base_filters, depth, hidden_units)
    return CVAE(
        build_encoder(*args, num_classes=num_classes),
        build_decoder(*args, num_classes=num_classes),
        num_classes=num_classes,
        beta=beta,
        reconstruction=reconstruction,
        seed=seed,
        name=name,
    )

"""Class-conditional GAN (Mirza & Osindero 2014) on DCGAN networks.

Generator: ``[z, label] -> image``; the label's learned embedding is concatenated to
``z`` before the DCGAN generator trunk.

Discriminator, two choices:

* ``"projection"`` (Miyato & Koyama 2018): ``logit = w . h + embed(label) . h`` on the
  DCGAN discriminator's features ``h``; the label enters as an inner product, which
  conditions strongly without making the discriminator a classifier.
* ``"concat"``: the label's embedding, reshaped to an ``H x W`` map, is concatenated to
  the image as an extra channel before the first convolution.

Trains on ``(images, labels)`` batches (labels: ints in ``[0, num_classes)``, shape
``[N]`` or ``[N, 1]``); generated images in a step use the batch's labels. Labels out
of range fail with ``InvalidArgumentError`` naming the valid range.
"""

import keras
from keras import layers

from keras_segen.generation.adversarial import LatentGAN
from keras_segen.generation.dcgan import discriminator_trunk, generator_trunk, logits_head
from keras_segen.registry import register_architecture

DISCRIMINATORS = ("projection", "concat")


def _labels_input():
    return keras.Input((), dtype="int32", name="labels")


def conditional_generator(
    image_shape, latent_dim, num_classes, base_filters=64, embedding_dim=50, name="generator"
):
    """``[z [N, latent_dim], labels [N]] -> images [N, H, W, C]`` in [-1, 1]."""
    z = keras.Input((latent_dim,), name="z")
    labels = _labels_input()
    embedded = layers.Embedding(num_classes, embedding_dim, name="g_label_embedding")(labels)
    x = layers.Concatenate(name="g_z_and_label")([z, embedded])
    return keras.Model([z, labels], generator_trunk(x, image_shape, base_filters), name=name)


def conditional_discriminator(
    image_shape, num_classes, base_filters=64, kind="projection", name="discriminator"
):
    """``[images [N, H, W, C], labels [N]] -> logits [N, 1]`` (see the module docstring)."""
    if kind not in DISCRIMINATORS:
        raise ValueError(f"discriminator must be one of {DISCRIMINATORS}, got {kind!r}")
    images = keras.Input(tuple(image_shape), name="images")
    labels = _labels_input()
    if kind == "concat":
        height, width = image_shape[0], image_shape[1]
        label_map = layers.Embedding(num_classes, height * width, name="d_label_embedding")(labels)
        label_map = layers.Reshape((height, width, 1), name="d_label_map")(label_map)
        x = layers.Concatenate(name="d_image_and_label")([images, label_map])
        features = discriminator_trunk(x, image_shape, base_filters, "batch")
        logits = logits_head(features)
    else:
        features = discriminator_trunk(images, image_shape, base_filters, "batch")
        class_vectors = layers.Embedding(
            num_classes,
            features.shape[-1],
            embeddings_initializer=keras.initializers.RandomNormal(stddev=0.02),
            name="d_label_projection",
        )(labels)
        projection = layers.Dot(axes=1, dtype="float32", name="d_projection")(
            [class_vectors, features]
        )
        logits = layers.Add(dtype="float32", name="d_logits_plus_projection")(
            [logits_head(features), projection]
        )
    return keras.Model([images, labels], logits, name=name)


@keras.saving.register_keras_serializable(package="keras_segen")
class ConditionalGAN(LatentGAN):
    """A ``LatentGAN`` with ``num_classes`` >= 2; ``call([z, labels])``,
    ``train_step((images, labels))``, ``generate(n, seed=s, labels=...)``."""

    def __init__(self, generator, discriminator, *, num_classes, **kwargs):
        if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        super().__init__(generator, discriminator, num_classes=num_classes, **kwargs)


@register_architecture("cgan", task="generation", kind="adversarial")
def cgan(
    *,
    image_shape=(28, 28, 1),
    latent_dim=128,
    num_classes=10,
    discriminator="projection",
    base_filters=64,
    embedding_dim=50,
    label_smoothing=0.0,
    loss="non_saturating",
    ema_decay=0.0,
    seed=None,
    name="cgan",
):
    """Class-conditional GAN: label-embedding generator, projection or concat discriminator.
    ``ema_decay`` > 0: sample from an EMA of the generator's weights (``LatentGAN``)."""
    image_shape = tuple(int(d) for d in image_shape)
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    return ConditionalGAN(
        conditional_generator(
            image_shape,
            latent_dim,
            num_classes,
            base_filters,
            embedding_dim,
            name=f"{name}_generator",
        ),
        conditional_discriminator(
            image_shape, num_classes, base_filters, discriminator, name=f"{name}_discriminator"
        ),
        latent_dim=latent_dim,
        image_shape=image_shape,
        num_classes=num_classes,
        adversarial_loss=loss,
        label_smoothing=label_smoothing,
        ema_decay=ema_decay,
        seed=seed,
        name=name,
    )

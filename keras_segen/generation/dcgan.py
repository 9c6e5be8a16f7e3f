"""DCGAN (Radford et al. 2016): transposed-conv generator, strided-conv discriminator.

Networks are sized from the image shape: the generator starts from a small map
``(H/2^n, W/2^n)`` and doubles it ``n`` times, where ``n`` is how often both sides can
be halved while staying >= 4 (28x28 -> 7x7 start, n=2; 32x32 -> 4x4, n=3; 64x64 -> 4x4,
n=4). Filters halve with every doubling, from ``base_filters * 2^(n-1)`` (capped at
``8 * base_filters``) down to ``base_filters``; the discriminator mirrors this. Batch
norm (synchronized across replicas, so a ``MirroredStrategy`` step computes what a
one-device step computes) and ReLU in the generator, LeakyReLU(0.2) in the
discriminator, tanh output, N(0, 0.02) weights.

The block functions here (``generator_trunk``, ``discriminator_trunk``) are shared with
``wgan_gp`` (same generator, layer-normalized critic) and ``cgan``.
"""

import keras
from keras import layers

from keras_segen.generation.adversarial import LatentGAN
from keras_segen.registry import register_architecture

_MIN_START_SIZE = 4
_MAX_FILTER_MULTIPLIER = 8
_NORMALIZATIONS = ("batch", "layer", None)


def _init():
    return keras.initializers.RandomNormal(stddev=0.02)


def upsampling_plan(image_shape):
    """``(n, (h0, w0))``: how many 2x upsamplings build ``image_shape`` from ``(h0, w0)``."""
    if len(image_shape) != 3 or any(int(d) < 1 for d in image_shape):
        raise ValueError(f"image_shape must be (H, W, C) with positive sizes, got {image_shape}")
    height, width = int(image_shape[0]), int(image_shape[1])
    n = 0
    while all(
        s % 2 ** (n + 1) == 0 and s // 2 ** (n + 1) >= _MIN_START_SIZE for s in (height, width)
    ):
        n += 1
    if n == 0:
        raise ValueError(
            f"image height and width must be even and at least {2 * _MIN_START_SIZE} "
            f"(e.g. 28x28, 32x32, 64x64); got {height}x{width}"
        )
    return n, (height // 2**n, width // 2**n)


def _filters(base_filters, level):
    return base_filters * min(2**level, _MAX_FILTER_MULTIPLIER)


def _batch_norm(name):
    return layers.BatchNormalization(momentum=0.9, synchronized=True, name=name)


def generator_trunk(x, image_shape, base_filters, prefix="g"):
    """Vector ``x`` -> image tensor in [-1, 1] (float32) of ``image_shape``."""
    n, (h0, w0) = upsampling_plan(image_shape)
    filters = _filters(base_filters, n - 1)
    x = layers.Dense(
        h0 * w0 * filters, use_bias=False, kernel_initializer=_init(), name=f"{prefix}_project"
    )(x)
    x = _batch_norm(f"{prefix}_project_bn")(x)
    x = layers.ReLU(name=f"{prefix}_project_relu")(x)
    x = layers.Reshape((h0, w0, filters), name=f"{prefix}_reshape")(x)
    for i in range(n - 1):
        filters = _filters(base_filters, n - 2 - i)
        x = layers.Conv2DTranspose(
            filters,
            4,
            strides=2,
            padding="same",
            use_bias=False,
            kernel_initializer=_init(),
            name=f"{prefix}_up{i + 1}",
        )(x)
        x = _batch_norm(f"{prefix}_up{i + 1}_bn")(x)
        x = layers.ReLU(name=f"{prefix}_up{i + 1}_relu")(x)
    x = layers.Conv2DTranspose(
        int(image_shape[-1]),
        4,
        strides=2,
        padding="same",
        kernel_initializer=_init(),
        name=f"{prefix}_to_image",
    )(x)
    # float32 output whatever the dtype policy (mixed_bfloat16 computes the rest).
    return layers.Activation("tanh", dtype="float32", name=f"{prefix}_tanh")(x)


def discriminator_trunk(x, image_shape, base_filters, normalization="batch", prefix="d"):
    """Image tensor -> flat features. No normalization on the first layer (DCGAN)."""
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {_NORMALIZATIONS}, got {normalization!r}")
    n, _ = upsampling_plan(image_shape)
    for i in range(n):
        x = layers.Conv2D(
            _filters(base_filters, i),
            4,
            strides=2,
            padding="same",
            # Batch norm subtracts the batch mean: a bias before it would be dead weight.
            use_bias=not (i > 0 and normalization == "batch"),
            kernel_initializer=_init(),
            name=f"{prefix}_down{i + 1}",
        )(x)
        if i > 0 and normalization == "batch":
            x = _batch_norm(f"{prefix}_down{i + 1}_bn")(x)
        elif i > 0 and normalization == "layer":
            # Per-sample normalization keeps the gradient penalty per-sample (WGAN-GP).
            x = layers.LayerNormalization(axis=[1, 2, 3], name=f"{prefix}_down{i + 1}_ln")(x)
        x = layers.LeakyReLU(0.2, name=f"{prefix}_down{i + 1}_lrelu")(x)
    return layers.Flatten(name=f"{prefix}_flatten")(x)


def logits_head(features, prefix="d"):
    """One float32 logit per image."""
    return layers.Dense(1, kernel_initializer=_init(), dtype="float32", name=f"{prefix}_logits")(
        features
    )


def dcgan_generator(image_shape, latent_dim, base_filters=64, name="generator"):
    """``z [N, latent_dim] -> images [N, H, W, C]`` in [-1, 1]."""
    z = keras.Input((latent_dim,), name="z")
    return keras.Model(z, generator_trunk(z, image_shape, base_filters), name=name)


def dcgan_discriminator(image_shape, base_filters=64, normalization="batch", name="discriminator"):
    """``images [N, H, W, C] -> logits [N, 1]``."""
    images = keras.Input(tuple(image_shape), name="images")
    features = discriminator_trunk(images, image_shape, base_filters, normalization)
    return keras.Model(images, logits_head(features), name=name)


def build_latent_gan(model_class, image_shape, latent_dim, base_filters, normalization, *,
                     name, discriminator_role="discriminator", **model_kwargs):
    """``model_class`` (a ``LatentGAN``) around the DCGAN generator and discriminator for
    ``image_shape``, named ``NAME_generator`` and ``NAME_<discriminator_role>``;
    ``model_kwargs`` go to the model."""
    image_shape = tuple(int(d) for d in image_shape)
    return model_class(
        dcgan_generator(image_shape, latent_dim, base_filters, name=f"{name}_generator"),
        dcgan_discriminator(image_shape, base_filters, normalization,
                            name=f"{name}_{discriminator_role}"),
        latent_dim=latent_dim,
        image_shape=image_shape,
        name=name,
        **model_kwargs,
    )


@keras.saving.register_keras_serializable(package="keras_segen")
class DCGAN(LatentGAN):
    """Unconditional DCGAN; all behaviour comes from ``LatentGAN`` (see adversarial.py)."""


@register_architecture("dcgan", task="generation", kind="adversarial")
def dcgan(
    *,
    image_shape=(28, 28, 1),
    latent_dim=128,
    base_filters=64,
    label_smoothing=0.0,
    loss="non_saturating",
    ema_decay=0.0,
    seed=None,
    name="dcgan",
):
    """DCGAN: transposed-conv generator and conv discriminator with batch norm.
    ``ema_decay`` > 0: sample from an EMA of the generator's weights (``LatentGAN``)."""
    return build_latent_gan(DCGAN, image_shape, latent_dim, base_filters, "batch",
                            name=name, adversarial_loss=loss,
                            label_smoothing=label_smoothing, ema_decay=ema_decay, seed=seed)

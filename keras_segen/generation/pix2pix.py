"""pix2pix (Isola et al., 2017): conditional image-to-image translation.

A U-Net generator maps a condition (here a one-hot label map, e.g. ocean/land/lake) to
an image in [-1, 1]; a PatchGAN discriminator scores (condition, image) pairs patch by
patch. The generator minimises ``adversarial + l1_weight * L1(target, output)``.

Built on ``AdversarialModel`` (``generation/adversarial.py``): one optimizer per player,
``compile(g_optimizer, d_optimizer)`` defaulting to Adam(2e-4, beta_1=0.5), the GAN
losses of ``keras_segen.losses`` (non-saturating by default), save/load of both
optimizers' state, and distribution-aware loss scaling.

Normalization is instance normalization (``GroupNormalization(groups=-1)``), as in
pix2pix's own batch-size-1 training: every sample is normalized on its own, so a
``MirroredStrategy`` step computes exactly what a one-device step computes and
inference does not depend on the batch. Randomness comes from dropout in the first
decoder blocks (the paper's noise source), active in training only.
"""
import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_segen.generation.adversarial import AdversarialModel
from keras_segen.generation.base import positive_int
from keras_segen.losses.adversarial import discriminator_loss, generator_loss
from keras_segen.registry import register_architecture

_MAX_FILTER_MULTIPLIER = 8
_MAX_DROPOUT_BLOCKS = 3  # decoder blocks nearest the bottleneck get dropout (paper: 3)


def _init():
    return keras.initializers.RandomNormal(stddev=0.02)


def _filters(base_filters, level):
    return base_filters * min(2**level, _MAX_FILTER_MULTIPLIER)


def _instance_norm(name):
    return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


def default_depth(image_shape):
    """Down-samplings of the U-Net: halve while both sides stay even and >= 2."""
    height, width = int(image_shape[0]), int(image_shape[1])
    depth = 0
    while all(
        s % 2 ** (depth + 1) == 0 and s // 2 ** (depth + 1) >= 2 for s in (height, width)
    ):
        depth += 1
    return depth


def unet_generator(condition_shape, out_channels, base_filters, depth, dropout):
    """U-Net: condition ``(H, W, C)`` -> image ``(H, W, out_channels)`` in [-1, 1].

    Encoder: ``depth`` stride-2 4x4 convs, instance norm (not on the first or the
    bottleneck) and LeakyReLU(0.2). Decoder: stride-2 4x4 transposed convs, instance
    norm, dropout in the deeper blocks, ReLU, then concatenation with the encoder map of
    the same size; a last transposed conv and tanh (float32) give the image.
    """
    # Dropout in the deeper half of the decoder (3 of 7 blocks in the 256x256 paper
    # model): the high-resolution blocks keep their detail.
    dropout_blocks = min(_MAX_DROPOUT_BLOCKS, max(1, (depth - 1) // 2))
    conditions = keras.Input(shape=tuple(condition_shape), name="conditions")
    x, skips = conditions, []
    for level in range(depth):
        x = layers.Conv2D(
            _filters(base_filters, level), 4, strides=2, padding="same",
            kernel_initializer=_init(), name=f"down{level}_conv",
        )(x)
        if 0 < level < depth - 1:
            x = _instance_norm(f"down{level}_norm")(x)
        x = layers.LeakyReLU(0.2, name=f"down{level}_lrelu")(x)
        skips.append(x)
    for block, level in enumerate(reversed(range(depth - 1))):
        x = layers.Conv2DTranspose(
            _filters(base_filters, level), 4, strides=2, padding="same",
            kernel_initializer=_init(), name=f"up{level}_deconv",
        )(x)
        x = _instance_norm(f"up{level}_norm")(x)
        if dropout and block < dropout_blocks:
            x = layers.Dropout(dropout, name=f"up{level}_dropout")(x)
        x = layers.ReLU(name=f"up{level}_relu")(x)
        x = layers.Concatenate(name=f"up{level}_skip")([x, skips[level]])
    x = layers.Conv2DTranspose(
        out_channels, 4, strides=2, padding="same",
        kernel_initializer=_init(), name="to_image",
    )(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(conditions, images, name="generator")


def patch_discriminator(condition_shape, image_shape, base_filters, depth):
    """PatchGAN: ``[condition, image]`` -> a map of real/fake logits (float32).

    ``depth`` stride-2 4x4 convs then two stride-1 4x4 convs; with ``depth=3`` each
    logit sees a 70x70 patch (the paper's choice).
    """
    conditions = keras.Input(shape=tuple(condition_shape), name="conditions")
    images = keras.Input(shape=tuple(image_shape), name="images")
    x = layers.Concatenate(name="pair")([conditions, images])
    for level in range(depth + 1):
        x = layers.Conv2D(
            _filters(base_filters, level), 4, strides=2 if level < depth else 1,
            padding="same", kernel_initializer=_init(), name=f"conv{level}",
        )(x)
        if level > 0:
            x = _instance_norm(f"norm{level}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu{level}")(x)
    logits = layers.Conv2D(
        1, 4, padding="same", kernel_initializer=_init(), dtype="float32", name="logits"
    )(x)
    return keras.Model([conditions, images], logits, name="discriminator")


@keras.saving.register_keras_serializable(package="keras_segen")
class Pix2Pix(AdversarialModel):
    """pix2pix: trains on ``(conditions, targets)`` batches.

    ``conditions``: float one-hot maps ``(N, H, W, condition_channels)``; ``targets``:
    images in [-1, 1]. Logs ``g_loss`` (= ``g_adv + l1_weight * g_l1``), ``g_adv``,
    ``g_l1`` (mean absolute error) and ``d_loss`` (half the discriminator's real+fake
    loss, as in the paper, which slows D relative to G), all global-batch values.

    ``call(conditions)`` returns images in [-1, 1]; ``translate(conditions)`` numpy
    images in [0, 1]. There is no latent input (``latent_dim == 0``, ``num_classes
    == 0``): the output is a function of the condition.
    """

    TRACKER_NAMES = ("g_loss", "g_adv", "g_l1", "d_loss")
    KIND = "image_to_image"
    latent_dim = 0
    num_classes = 0

    def __init__(self, generator, discriminator, *, l1_weight=100.0, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        if not l1_weight >= 0:
            raise ValueError(f"l1_weight must be >= 0, got {l1_weight}")
        self.l1_weight = float(l1_weight)
        self.condition_shape = tuple(int(d) for d in generator.inputs[0].shape[1:])
        self.image_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
        self.condition_channels = self.condition_shape[-1]

    def get_config(self):
        config = super().get_config()
        config["l1_weight"] = self.l1_weight
        return config

    # --- inputs -----------------------------------------------------------------------

    def check_conditions(self, conditions):
        """Float one-hot condition maps of the model's shape, as float32."""
        conditions = ops.convert_to_tensor(conditions)
        self._check_condition_batch(tuple(conditions.shape), conditions.dtype.is_floating)
        return ops.cast(conditions, "float32")

    def _check_condition_batch(self, shape, is_float):
        name = type(self).__name__
        if len(shape) != 4 or any(
            g is not None and g != e for g, e in zip(shape[1:], self.condition_shape)
        ):
            raise ValueError(
                f"{name} expects conditions of shape (N, H, W, C) with (H, W, C) = "
                f"{self.condition_shape}; got {shape}"
            )
        if not is_float:
            raise TypeError(
                f"{name} expects float one-hot conditions (class-id masks go through "
                "translate(), which one-hot encodes them)"
            )

    def unpack_pairs(self, data):
        """Checked ``(conditions, targets)`` from a training batch."""
        conditions, targets, _ = keras.utils.unpack_x_y_sample_weight(data)
        if targets is None:
            raise ValueError(
                f"{type(self).__name__} trains on (conditions, targets) batches; "
                "got conditions only"
            )
        conditions = self.check_conditions(conditions)
        targets = self.check_images(targets, self.image_shape, what="targets")
        return conditions, targets

    def call(self, conditions, training=False):
        return self.generator(self.check_conditions(conditions), training=training)

    # --- training ---------------------------------------------------------------------

    def discriminator_step(self, conditions, targets):
        """One discriminator update; returns ``{"d_loss": global loss}``.
        Only discriminator weights change."""
        conditions, targets = _as_float32(conditions, targets)
        fakes = self.generator(conditions, training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator([conditions, targets], training=True)
            fake_logits = self.discriminator([conditions, fakes], training=True)
            loss = 0.5 * discriminator_loss(self.d_loss_fn, real_logits, fake_logits)
            scaled_loss = self.d_optimizer.scale_loss(loss)
        self.apply_update(
            self.d_optimizer, tape, scaled_loss, self.discriminator.trainable_variables
        )
        return {"d_loss": self.unscale_for_distribution(loss)}

    def generator_step(self, conditions, targets):
        """One generator update through the fixed discriminator; returns the global
        ``g_loss``, ``g_adv`` and ``g_l1``. Only generator weights change."""
        conditions, targets = _as_float32(conditions, targets)
        with tf.GradientTape() as tape:
            fakes = self.generator(conditions, training=True)
            fake_logits = self.discriminator([conditions, fakes], training=True)
            adversarial = generator_loss(self.g_loss_fn, fake_logits)  # replica-scaled
            l1 = ops.mean(ops.abs(targets - ops.cast(fakes, "float32")))
            loss = adversarial + self.l1_weight * self.scale_for_distribution(l1)
            scaled_loss = self.g_optimizer.scale_loss(loss)
        self.apply_update(
            self.g_optimizer, tape, scaled_loss, self.generator.trainable_variables
        )
        return {
            "g_loss": self.unscale_for_distribution(loss),
            "g_adv": self.unscale_for_distribution(adversarial),
            "g_l1": l1,
        }

    def train_step(self, data):
        conditions, targets = self.unpack_pairs(data)
        self.record(self.discriminator_step(conditions, targets))
        self.record(self.generator_step(conditions, targets))
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        conditions, targets = self.unpack_pairs(data)
        fakes = self.generator(conditions, training=False)
        real_logits = self.discriminator([conditions, targets], training=False)
        fake_logits = self.discriminator([conditions, fakes], training=False)
        d_loss = 0.5 * discriminator_loss(self.d_loss_fn, real_logits, fake_logits)
        adversarial = generator_loss(self.g_loss_fn, fake_logits)
        l1 = ops.mean(ops.abs(targets - ops.cast(fakes, "float32")))
        unscale = self.unscale_for_distribution
        self.record(
            {
                "d_loss": unscale(d_loss),
                "g_adv": unscale(adversarial),
                "g_l1": l1,
                "g_loss": unscale(adversarial) + self.l1_weight * l1,
            }
        )
        return {m.name: m.result() for m in self.metrics}

    # --- inference --------------------------------------------------------------------

    def translate(self, conditions, batch_size=256):
        """Condition maps -> float32 numpy images in [0, 1], ``(N, H, W, C_out)``.

        ``conditions`` are float one-hot maps ``(N, H, W, condition_channels)``, or
        integer class-id masks ``(N, H, W)`` (one-hot encoded here). Deterministic
        (dropout is off at inference).
        """
        batch_size = positive_int(batch_size, "batch_size")
        conditions = np.asarray(conditions)
        if conditions.dtype.kind in "iu":
            if conditions.ndim != 3:
                raise ValueError(
                    f"class-id masks must have shape (N, H, W); got {conditions.shape}"
                )
            if conditions.size and (
                conditions.min() < 0 or conditions.max() >= self.condition_channels
            ):
                raise ValueError(
                    f"class ids must be in [0, {self.condition_channels}); got values "
                    f"from {conditions.min()} to {conditions.max()}"
                )
            conditions = np.eye(self.condition_channels, dtype=np.float32)[conditions]
        self._check_condition_batch(conditions.shape, conditions.dtype.kind == "f")
        batches = []
        for start in range(0, len(conditions), batch_size):
            images = self.generator(
                ops.convert_to_tensor(conditions[start : start + batch_size], "float32"),
                training=False,
            )
            batches.append(ops.convert_to_numpy(ops.cast(images, "float32")))
        images = np.concatenate(batches, axis=0)
        return np.clip((images + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)

    def generate(self, num_images, *, seed, labels=None, batch_size=256):
        """Not defined for pix2pix: its images come from conditions, not a prior."""
        raise TypeError(
            "pix2pix has no prior to sample from: it translates condition maps; "
            "use translate(conditions)"
        )


def _as_float32(*arrays):
    return [ops.cast(ops.convert_to_tensor(a), "float32") for a in arrays]


@register_architecture("pix2pix", task="generation", kind="image_to_image")
def pix2pix(
    *,
    image_shape=(64, 64, 3),
    condition_channels=3,
    base_filters=64,
    depth=None,
    discriminator_depth=3,
    dropout=0.5,
    l1_weight=100.0,
    adversarial_loss="non_saturating",
    label_smoothing=0.0,
    seed=None,
    name="pix2pix",
):
    """pix2pix: U-Net generator (condition map -> image) + PatchGAN discriminator.

    ``depth`` (U-Net down-samplings) defaults to halving until the smallest map is 2
    pixels on its shorter side (64x64 -> 5); height and width must be divisible by
    ``2**depth``.
    """
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(f"image_shape must be (H, W, C) of positive ints, got {image_shape}")
    if int(condition_channels) < 1:
        raise ValueError(f"condition_channels must be >= 1, got {condition_channels}")
    depth = default_depth(image_shape) if depth is None else int(depth)
    factor = 2**depth
    if depth < 2 or image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f"pix2pix needs depth >= 2 and image height/width divisible by 2**depth; "
            f"got image_shape={image_shape}, depth={depth}"
        )
    if not 1 <= discriminator_depth <= int(math.log2(min(image_shape[:2]))):
        raise ValueError(
            f"discriminator_depth must be in [1, log2(min(H, W))]; got {discriminator_depth} "
            f"for image_shape={image_shape}"
        )
    condition_shape = image_shape[:2] + (int(condition_channels),)
    return Pix2Pix(
        unet_generator(condition_shape, image_shape[-1], base_filters, depth, dropout),
        patch_discriminator(condition_shape, image_shape, base_filters, discriminator_depth),
        l1_weight=l1_weight,
        adversarial_loss=adversarial_loss,
        label_smoothing=label_smoothing,
        seed=seed,
        name=name,
    )

"""Variational autoencoder (Kingma & Welling, 2014) trained through ``model.fit``.

``VAE`` wraps a convolutional encoder (images -> ``z_mean``, ``z_log_var``) and decoder
(``z`` -> pixel logits) and overrides ``train_step``/``test_step`` to minimise
reconstruction + beta * KL. Sampling (``generate``, ``sample_latents`` and their seed),
label checks, replica scaling and the compile config come from ``GenerativeModel``
(base.py). The conditional variant lives in ``cvae.py`` and reuses everything here
through two small hooks (``encoder_inputs``, ``decoder_inputs``) and the base's
``num_classes``/``prepare_labels``.

Data are images in [0, 1]; a batch is ``images`` or ``(images, labels)``.
"""
import numbers

import keras
import tensorflow as tf
from keras import layers, ops

from keras_segen.generation.base import SingleOptimizerModel, check_latents
from keras_segen.layers.sampling import Sampling
from keras_segen.registry import register_architecture

RECONSTRUCTION_LOSSES = ("bce", "mse")


# ----------------------------------------------------------------------------- losses
def kl_divergence(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) per sample, summed over latent dims."""
    z_mean = ops.cast(z_mean, "float32")
    z_log_var = ops.cast(z_log_var, "float32")
    return -0.5 * ops.sum(
        1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1
    )


def reconstruction_error(images, logits, kind="bce"):
    """Per-sample reconstruction error summed over pixels and channels.

    ``kind="bce"``: Bernoulli negative log-likelihood computed from logits (stable);
    ``kind="mse"``: squared error between ``images`` and ``sigmoid(logits)``.
    """
    images = ops.cast(images, "float32")
    logits = ops.cast(logits, "float32")
    if kind == "bce":
        per_pixel = ops.binary_crossentropy(images, logits, from_logits=True)
    elif kind == "mse":
        per_pixel = ops.square(images - ops.sigmoid(logits))
    else:
        raise ValueError(
            f"reconstruction must be one of {RECONSTRUCTION_LOSSES}, got {kind!r}"
        )
    return ops.sum(per_pixel, axis=tuple(range(1, len(per_pixel.shape))))


# ------------------------------------------------------------------ input checking
def check_image_batch(images, image_shape, where):
    """Raise ValueError unless ``images`` is a batch of ``image_shape`` images."""
    got = tuple(images.shape)
    expected = (None,) + tuple(image_shape)
    if len(got) != len(expected) or any(
        g is not None and e is not None and g != e
        for g, e in zip(got[1:], expected[1:])
    ):
        raise ValueError(
            f"{where}: expected images of shape {expected} "
            f"(batch, height, width, channels), got {got}"
        )


def check_image_shape(image_shape, depth):
    """Validate a builder's ``image_shape`` against ``depth`` stride-2 stages."""
    if len(image_shape) != 3 or any(
        not isinstance(d, numbers.Integral) or d < 1 for d in image_shape
    ):
        raise ValueError(
            f"image_shape must be (height, width, channels) of positive ints, "
            f"got {image_shape}"
        )
    factor = 2**depth
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f"image height and width must be divisible by 2**depth={factor}, "
            f"got image_shape={tuple(image_shape)} with depth={depth}"
        )


# ----------------------------------------------------------------------- networks
def _label_input_and_one_hot(num_classes, name):
    labels = keras.Input(shape=(1,), dtype="int32", name=name)
    one_hot = layers.CategoryEncoding(
        num_tokens=num_classes, output_mode="one_hot", name=f"{name}_one_hot"
    )(labels)
    return labels, one_hot


def build_encoder(
    image_shape, latent_dim, base_filters, depth, hidden_units, num_classes=0
):
    """Conv encoder: images (and optionally int labels) -> ``[z_mean, z_log_var]``.

    A label is given to the encoder as ``num_classes`` constant one-hot channels
    concatenated to the image.
    """
    height, width, _ = image_shape
    images = keras.Input(shape=tuple(image_shape), name="images")
    inputs, x = [images], images
    if num_classes:
        labels, one_hot = _label_input_and_one_hot(num_classes, "labels")
        label_maps = layers.RepeatVector(height * width, name="label_repeat")(one_hot)
        label_maps = layers.Reshape((height, width, num_classes), name="label_maps")(
            label_maps
        )
        x = layers.Concatenate(name="image_and_label")([x, label_maps])
        inputs.append(labels)
    for level in range(depth):
        x = layers.Conv2D(
            base_filters * 2**level,
            3,
            strides=2,
            padding="same",
            activation="relu",
            name=f"down{level}_conv",
        )(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    # float32 heads: the loss reads these directly, keep them exact under bf16.
    z_mean = layers.Dense(latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, dtype="float32", name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


def build_decoder(
    image_shape, latent_dim, base_filters, depth, hidden_units, num_classes=0
):
    """Deconv decoder: ``z`` (and optionally int labels) -> pixel logits (float32)."""
    height, width, channels = image_shape
    top_filters = base_filters * 2 ** (depth - 1)
    low_h, low_w = height // 2**depth, width // 2**depth
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs, x = [z], z
    if num_classes:
        labels, one_hot = _label_input_and_one_hot(num_classes, "labels")
        x = layers.Concatenate(name="z_and_label")([x, one_hot])
        inputs.append(labels)
    x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    x = layers.Dense(low_h * low_w * top_filters, activation="relu", name="project")(x)
    x = layers.Reshape((low_h, low_w, top_filters), name="unflatten")(x)
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(
            base_filters * 2**level,
            3,
            strides=2,
            padding="same",
            activation="relu",
            name=f"up{level}_deconv",
        )(x)
    logits = layers.Conv2D(
        channels, 3, padding="same", dtype="float32", name="logits"
    )(x)
    return keras.Model(inputs if num_classes else z, logits, name="decoder")


# -------------------------------------------------------------------------- model
@keras.saving.register_keras_serializable(package="keras_segen")
class VAE(SingleOptimizerModel):
    """Variational autoencoder with its own ``train_step``/``test_step``.

    Args:
        encoder: model mapping images to ``[z_mean, z_log_var]``.
        decoder: model mapping ``z`` to pixel logits.
        beta: weight of the KL term (beta-VAE; 1.0 is the plain ELBO).
        reconstruction: ``"bce"`` (Bernoulli likelihood) or ``"mse"``.
        seed: seed of the sampling layer's ``SeedGenerator`` (None: random).

    Loss per batch = mean over samples of (reconstruction error summed over pixels)
    + beta * mean over samples of KL. Logged as ``loss``, ``reconstruction_loss``,
    ``kl_loss``; under a ``tf.distribute`` strategy they are global-batch values.
    """

    # The model kind (keras_segen.kinds) that trains, evaluates and serves this class.
    KIND = "variational"

    def __init__(
        self, encoder, decoder, *, beta=1.0, reconstruction="bce", seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        if reconstruction not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"reconstruction must be one of {RECONSTRUCTION_LOSSES}, "
                f"got {reconstruction!r}"
            )
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.reconstruction = reconstruction
        self.seed = seed
        self.sampler = Sampling(seed=seed, name="sampling")
        self.image_shape = tuple(int(d) for d in encoder.inputs[0].shape[1:])
        self.latent_dim = int(decoder.inputs[0].shape[-1])
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        # The sub-models are functional and already hold their weights; marking the
        # wrapper built lets save/load and strategies find every variable up front.
        self.built = True

    # ------------------------------------------------------------- conditioning hooks
    def encoder_inputs(self, images, labels):
        return images

    def decoder_inputs(self, z, labels):
        return z

    # ---------------------------------------------------------------- public methods
    def _prepare_images(self, images, where):
        images = ops.convert_to_tensor(images)
        if not images.dtype.is_floating:
            raise TypeError(f"{where}: expected float images in [0, 1], got {images.dtype}")
        check_image_batch(images, self.image_shape, where)
        return ops.cast(images, "float32")

    def encode(self, images, labels=None, training=False):
        """Images in [0, 1] -> ``(z_mean, z_log_var)``, float32, shape (N, latent)."""
        images = self._prepare_images(images, "encode")
        labels = self.prepare_labels(labels, images.shape[0], "encode")
        z_mean, z_log_var = self.encoder(
            self.encoder_inputs(images, labels), training=training
        )
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    def decode_logits(self, z, labels=None, training=False):
        """Latent codes -> pixel logits (float32)."""
        z = check_latents(z, self.latent_dim, "decode")  # shape, and no NaN or inf
        labels = self.prepare_labels(labels, z.shape[0], "decode")
        logits = self.decoder(self.decoder_inputs(z, labels), training=training)
        return ops.cast(logits, "float32")

    def decode(self, z, labels=None):
        """Latent codes -> images in [0, 1] (float32)."""
        return ops.sigmoid(self.decode_logits(z, labels))

    def reconstruct(self, images, labels=None):
        """Deterministic reconstruction: decode the posterior mean."""
        z_mean, _ = self.encode(images, labels)
        return self.decode(z_mean, labels)

    def call(self, inputs, training=False):
        images, labels = self._unpack(inputs)
        return self.reconstruct(images, labels)

    def generate_batch(self, z, labels):
        return ops.convert_to_numpy(self.decode(z, labels))

    # -------------------------------------------------------------------- training
    def _unpack(self, data):
        """``(images, labels)`` from a batch; an unconditional model drops labels."""
        if isinstance(data, (tuple, list)):
            images = data[0]
            labels = data[1] if len(data) > 1 else None
        else:
            images, labels = data, None
        return images, (labels if self.num_classes else None)

    def loss_terms(self, images, labels=None, training=True):
        """Per-batch ``(total, reconstruction, kl)`` means for images in [0, 1].

        Under a distribution strategy these are means over this replica's batch.
        """
        images = self._prepare_images(images, f"{self.name}.train_step")
        labels = self.prepare_labels(labels, images.shape[0], f"{self.name}.train_step")
        z_mean, z_log_var = self.encoder(
            self.encoder_inputs(images, labels), training=training
        )
        z = self.sampler([z_mean, z_log_var])
        logits = self.decoder(self.decoder_inputs(z, labels), training=training)
        reconstruction = ops.mean(
            reconstruction_error(images, logits, self.reconstruction)
        )
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
        total = reconstruction + self.beta * kl
        if self.losses:  # e.g. kernel regularizers inside the sub-models
            total = total + ops.cast(ops.sum(self.losses), "float32")
        return total, reconstruction, kl

    def _update_trackers(self, images, total, reconstruction, kl):
        # Trackers get the replica-local mean weighted by the local batch size: their
        # on-read sum aggregation then yields the global-batch mean.
        batch = ops.cast(ops.shape(images)[0], "float32")
        self.loss_tracker.update_state(total, sample_weight=batch)
        self.reconstruction_loss_tracker.update_state(reconstruction, sample_weight=batch)
        self.kl_loss_tracker.update_state(kl, sample_weight=batch)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        images, labels = self._unpack(data)
        with tf.GradientTape() as tape:
            total, reconstruction, kl = self.loss_terms(images, labels, training=True)
            # The optimizer sums gradients over replicas: scale to get their mean.
            scaled = self.optimizer.scale_loss(self.scale_for_distribution(total))
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._update_trackers(images, total, reconstruction, kl)

    def test_step(self, data):
        images, labels = self._unpack(data)
        total, reconstruction, kl = self.loss_terms(images, labels, training=False)
        return self._update_trackers(images, total, reconstruction, kl)

    def predict_step(self, data):
        # predict(images) / predict((images, labels)) -> reconstructions in [0, 1].
        inputs, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        images, labels = self._unpack(inputs)
        return self.reconstruct(images, labels)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    # ------------------------------------------------------------ config (compile: base)
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "reconstruction": self.reconstruction,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def build_vae(model_class, image_shape, latent_dim, base_filters, depth, hidden_units,
              **model_kwargs):
    """``model_class`` (a ``VAE``) around the convolutional encoder and decoder for
    ``image_shape``; both take labels when ``model_kwargs`` has ``num_classes`` (> 0).
    ``model_kwargs`` go to the model."""
    image_shape = tuple(image_shape)
    check_image_shape(image_shape, depth)
    args = (image_shape, latent_dim, base_filters, depth, hidden_units)
    num_classes = model_kwargs.get("num_classes", 0)
    return model_class(
        build_encoder(*args, num_classes=num_classes),
        build_decoder(*args, num_classes=num_classes),
        **model_kwargs,
    )


@register_architecture("vae", task="generation", kind="variational")
def vae(
    *,
    image_shape=(28, 28, 1),
    latent_dim=16,
    base_filters=32,
    depth=2,
    hidden_units=256,
    beta=1.0,
    reconstruction="bce",
    seed=None,
    name="vae",
):
    """Convolutional variational autoencoder for images in [0, 1]."""
    return build_vae(VAE, image_shape, latent_dim, base_filters, depth, hidden_units,
                     beta=beta, reconstruction=reconstruction, seed=seed, name=name)

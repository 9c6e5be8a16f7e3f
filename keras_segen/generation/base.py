"""The shared base of the generative models: ``GenerativeModel(keras.Model)``.

``AdversarialModel`` (DCGAN, WGAN-GP, cGAN, pix2pix; adversarial.py) and ``VAE`` (and
``CVAE``; vae.py, cvae.py) derive from it. It holds what every family needs the same way:

* **Sampling.** ``generate(num_images, *, seed, labels=None, batch_size=256)`` draws
  ``z = sample_latents(num_images, seed)`` -- ``tf.random.stateless_normal((N,
  latent_dim), seed=sampling_seed(seed))`` -- picks labels with ``labels_to_generate``
  and maps each batch through the family's ``generate_batch(z, labels)`` hook (numpy
  float32 images in [0, 1]). The same seed and batch size give bit-identical images;
  another batch size gives the same images within float rounding (oneDNN kernels may
  round differently per batch size on some CPUs).
* **One seed convention.** ``sampling_seed(seed)`` turns an int, or a scalar integer
  tensor inside a ``tf.function``, into the int32 ``[2]`` seed of the draw:
  ``[seed mod (2**31 - 2), 0]``. That is exactly what ``keras.random.normal(shape,
  seed=int)`` does on the TensorFlow backend (Keras makes ``[seed, 0]`` int64, then
  folds it into int32 with ``floormod(., int32.max - 1)``), so GAN images are unchanged
  for every seed; VAEs used ``[seed, 0]`` unfolded, the same numbers for seeds in
  ``[0, 2**31 - 3]`` (TF's Philox reads int32 and int64 seeds alike). Serving's
  ``sample`` signatures use this function for every family.
* **Labels** of conditional models (``num_classes`` > 0): ``labels_to_generate`` (host
  side: None -> classes in turn 0, 1, ..., num_classes - 1, 0, ...; an int -> that class
  for every image; an array -> checked) and ``prepare_labels`` (graph side: int dtype,
  shape ``(N,)`` or ``(N, 1)``, count against the batch, and a run-time range check).
  Unconditional models refuse labels in both.
* **Replicas.** ``scale_for_distribution`` / ``unscale_for_distribution`` (and the
  module's ``num_replicas()``): a per-replica mean made summable across replicas the way
  Keras scales its losses, and back to the global value.
* **Optimizers.** ``build_optimizers({attribute: (optimizer, variables)})`` sets and
  builds them under the model's distribution strategy scope (slot variables must exist
  before a ``.keras`` reload restores them and must be mirrored under a
  ``MirroredStrategy``). ``get_compile_config``/``compile_from_config`` serialize the
  hook ``compile_arguments()`` -- the ``compile`` keyword arguments that rebuild the
  model's compile state; the names in ``COMPILE_OBJECTS`` are Keras objects
  (optimizers, losses), serialized with ``keras.saving``.
* ``positive_int(value, what)``: the check of ``num_images``/``batch_size``;
  ``check_latents(z, latent_dim, where)``: the check of a user's ``z`` (shape, finite).

``KIND`` (a ``keras_segen.kinds`` name) is set by each family.
"""
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_segen.layers.sampling import SEED_MODULUS, fold_seed
from keras_segen.progress import progress_bar



def sampling_seed(seed):
    """An int (or a scalar integer tensor) -> the int32 ``[2]`` seed of ``generate``'s draw.

    ``[seed mod (2**31 - 2), 0]``: the seed ``keras.random.normal(shape, seed=seed)``
    uses on TensorFlow (see the module docstring). Python ints are folded exactly (any
    size); tensors are folded in int64, so it works inside a ``tf.function``.
    """
    if tf.is_tensor(seed):
        if not seed.dtype.is_integer or seed.shape.rank not in (None, 0):
            raise TypeError(f"seed must be a scalar integer tensor, got {seed!r}")
        return fold_seed(tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)]))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return tf.constant([int(seed) % SEED_MODULUS, 0], tf.int32)


def num_replicas():
    """Replicas of the current ``tf.distribute`` strategy (1 without one)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def positive_int(value, what):
    """``value`` as an int; ValueError unless it is an int >= 1 (bools are not ints here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


def frozen_copy(network, suffix="_ema"):
    """``network``'s architecture as a second, non-trainable network named
    ``NAME<suffix>`` holding its current weights: the weight average (EMA) that a family
    moves itself, never an optimizer."""
    config = keras.saving.serialize_keras_object(network)
    config["config"]["name"] = f"{network.name}{suffix}"
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(network.get_weights())
    copy.trainable = False
    return copy


def check_latents(z, latent_dim, where):
    """``z`` as float32 ``[N, latent_dim]``, every value finite (a NaN or inf latent gives
    a black or garbage image, with no error, from every generator).

    Eager: ValueError naming ``where`` and the bad rows. In a graph (a ``tf.function``,
    an exported signature): a CheckNumerics op, InvalidArgumentError "``where``: z ...".
    """
    z = tf.cast(tf.convert_to_tensor(z), tf.float32)
    if z.shape.rank != 2 or z.shape[-1] not in (None, latent_dim):
        raise ValueError(
            f"{where}: expected z of shape (None, {latent_dim}), got {tuple(z.shape)}"
        )
    if not tf.executing_eagerly():
        return tf.debugging.assert_all_finite(
            z, message=f"{where}: z must be finite (no NaN or inf values)"
        )
    finite = np.isfinite(z.numpy())
    if not finite.all():
        rows = np.flatnonzero(~finite.all(axis=-1))
        raise ValueError(
            f"{where}: z must be finite, got NaN or inf values in {rows.size} of "
            f"{z.shape[0]} rows (first: row {rows[0]})"
        )
    return z


class GenerativeModel(keras.Model):
    """Base of keras_segen's generative models; see the module docstring.

    Subclasses set ``latent_dim`` and ``num_classes`` (0: unconditional) and implement
    ``generate_batch(z, labels)`` and ``compile_arguments()``.
    """

    KIND = None
    latent_dim = 0
    num_classes = 0
    # compile_arguments() keys holding Keras objects (serialized with keras.saving).
    COMPILE_OBJECTS = ()

    @property
    def conditional(self):
        return self.num_classes > 0

    # --- sampling ---------------------------------------------------------------------

    def sample_latents(self, num_images, seed):
        """``num_images`` standard-normal latents ``[N, latent_dim]``, a pure function of
        ``seed`` (``sampling_seed``)."""
        num_images = positive_int(num_images, "num_images")
        return tf.random.stateless_normal(
            (num_images, self.latent_dim), seed=sampling_seed(seed), dtype=tf.float32
        )

    def generate(self, num_images, *, seed, labels=None, batch_size=256):
        """``num_images`` samples of the prior as float32 numpy ``[N, H, W, C]`` in [0, 1].

        ``z`` comes from ``sample_latents(num_images, seed)``: the same ``seed`` and
        ``batch_size`` give identical images; another ``batch_size`` gives the same
        images within float rounding. Conditional models take ``labels``: None (classes
        in turn 0, 1, ..., num_classes - 1, 0, ...), one int for every image, or one int
        per image.
        """
        num_images = positive_int(num_images, "num_images")
        batch_size = positive_int(batch_size, "batch_size")
        z = self.sample_latents(num_images, seed)
        labels = self.labels_to_generate(labels, num_images)
        batches = []
        # 10,000 samples for FID take a while: a bar on a terminal (quiet in a log).
        bar = progress_bar(num_images, "image") if num_images > batch_size else None
        for start in range(0, num_images, batch_size):
            stop = min(start + batch_size, num_images)
            batch_labels = None if labels is None else labels[start:stop]
            batches.append(self.generate_batch(z[start:stop], batch_labels))
            if bar is not None:
                bar.add(stop - start)
        return np.concatenate(batches, axis=0).astype(np.float32)

    def generate_batch(self, z, labels):
        """Hook: latents ``[n, latent_dim]`` (+ int32 numpy labels ``[n]``) -> float32
        numpy images in [0, 1]."""
        raise NotImplementedError(f"{type(self).__name__} does not sample from a prior")

    # --- labels -----------------------------------------------------------------------

    def labels_to_generate(self, labels, num_images):
        """The int32 numpy labels ``[num_images]`` of ``generate`` (None if unconditional).

        None -> classes in turn; an int -> that class for every image; an array -> one
        integer label per image in ``[0, num_classes)``. ValueError otherwise.
        """
        name = type(self).__name__
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{name} is unconditional: generate() takes no labels")
            return None
        if labels is None:
            return np.arange(num_images, dtype=np.int32) % self.num_classes
        if np.ndim(labels) == 0:
            labels = np.full(num_images, labels)
        labels = np.asarray(labels)
        if labels.shape != (num_images,):
            raise ValueError(
                f"{name}.generate: expected one label or {num_images} labels, got an "
                f"array of shape {labels.shape}"
            )
        if labels.dtype.kind not in "iu" and not (
            labels.dtype.kind == "f" and np.all(labels == np.round(labels))
        ):
            raise ValueError(f"{name}.generate: labels must be integers, got {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"{name}.generate: labels must be in [0, {self.num_classes - 1}], got "
                f"values from {labels.min()} to {labels.max()}"
            )
        return labels.astype(np.int32)

    def prepare_labels(self, labels, batch_size=None, where=None):
        """Class ids as an int32 tensor ``[N]``, checked (graph side).

        Static checks (ValueError/TypeError): labels given exactly when the model is
        conditional, an integer dtype, shape ``(N,)`` or ``(N, 1)``, ``N == batch_size``
        where both are known. At run time: every label in ``[0, num_classes)``
        (InvalidArgumentError naming the range). Returns None for an unconditional model.
        """
        name = type(self).__name__
        where = where or name
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{where}: {name} is unconditional, got labels")
            return None
        if labels is None:
            raise ValueError(
                f"{where}: {name} is conditional; pass labels "
                f"(train on (images, labels) batches)"
            )
        labels = ops.convert_to_tensor(labels)
        if not labels.dtype.is_integer:
            raise TypeError(f"{where}: labels must be integers, got {labels.dtype.name}")
        if len(labels.shape) == 2 and labels.shape[-1] == 1:
            labels = labels[:, 0]
        if len(labels.shape) != 1:
            raise ValueError(
                f"{where}: expected integer labels of shape (N,) or (N, 1), "
                f"got {tuple(labels.shape)}"
            )
        if batch_size is not None and labels.shape[0] not in (None, batch_size):
            raise ValueError(f"{where}: got {labels.shape[0]} labels for a batch of {batch_size}")
        labels = ops.cast(labels, "int32")
        valid = f"{where}: class labels must be in [0, {self.num_classes - 1}]"
        checks = [
            tf.debugging.assert_non_negative(labels, message=f"{valid}; got a negative label"),
            tf.debugging.assert_less(
                labels,
                self.num_classes,
                message=f"{valid}; got a label >= num_classes={self.num_classes}",
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(labels)

    # --- replicas ---------------------------------------------------------------------

    @staticmethod
    def scale_for_distribution(value):
        """``value / num_replicas``: a per-replica mean made summable across replicas
        like a Keras loss (summed gradients then equal the global-batch gradient)."""
        replicas = num_replicas()
        return value if replicas == 1 else value * (1.0 / replicas)

    @staticmethod
    def unscale_for_distribution(value):
        """``value * num_replicas``: a replica-scaled loss back to its global mean."""
        replicas = num_replicas()
        return value if replicas == 1 else value * float(replicas)

    # --- optimizers and the compile config --------------------------------------------

    def build_optimizers(self, optimizers):
        """``{attribute: (optimizer, variables)}``: set each attribute and build its
        optimizer on ``variables`` under the model's distribution strategy scope."""
        with self.distribute_strategy.scope():
            for attribute, (optimizer, variables) in optimizers.items():
                if getattr(self, attribute, None) is not optimizer:
                    setattr(self, attribute, optimizer)
                optimizer.build(variables)

    def compile_arguments(self):
        """Hook: the ``compile`` keyword arguments that rebuild this model's compile
        state, or None when there is none to save."""
        return None

    def get_compile_config(self):
        arguments = self.compile_arguments() if self.compiled else None
        if arguments is None:
            return None
        return {
            key: keras.saving.serialize_keras_object(value)
            if key in self.COMPILE_OBJECTS
            else value
            for key, value in arguments.items()
        }

    def compile_from_config(self, config):
        if not config:
            return
        self.compile(
            **{
                key: keras.saving.deserialize_keras_object(value)
                if key in self.COMPILE_OBJECTS
                else value
                for key, value in config.items()
            }
        )


class SingleOptimizerModel(GenerativeModel):
    """A family trained by one optimizer on a loss it computes itself (VAE, PixelCNN)."""

    COMPILE_OBJECTS = ("optimizer",)

    def compile(self, optimizer="adam", **kwargs):
        """Compile with one optimizer (a name, config or instance; an instance must be
        made under the model's strategy scope, as in Keras). Its variables are created
        here, under the strategy the model was built in, so a ``.keras`` reload
        restores its state and a ``MirroredStrategy`` fit finds them mirrored."""
        if "loss" in kwargs:
            raise ValueError(f"{type(self).__name__} computes its own loss; do not pass loss=")
        with self.distribute_strategy.scope():
            super().compile(optimizer=optimizer, **kwargs)
        self.build_optimizers({"optimizer": (self.optimizer, self.trainable_variables)})

    def compile_arguments(self):
        return {"optimizer": self.optimizer}

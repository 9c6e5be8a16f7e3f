"""Shared base of the adversarial (two-player) models: DCGAN, WGAN-GP, cGAN, pix2pix.

Two classes live here; what they share with the VAEs (sampling and its seed, label
checks, replica scaling, optimizer building and the compile config, positive-int
checks) lives in ``GenerativeModel`` (base.py).

``AdversarialModel(GenerativeModel)`` -- the two-player machinery, with no assumption
about what the generator eats (pix2pix builds on it directly):

* holds ``generator`` and ``discriminator`` (built functional ``keras.Model``s; every
  weight lives in them, so the wrapper is built at construction), a
  ``seed_generator`` (``keras.random.SeedGenerator(seed)``) for the random numbers of
  ``train_step``, and one ``keras.metrics.Mean`` tracker per name in
  ``TRACKER_NAMES`` (``model.metrics`` lists them, so ``fit`` logs and resets them).
* ``compile(g_optimizer=None, d_optimizer=None, g_loss=None, d_loss=None, **kwargs)``:
  one optimizer and one loss per player. ``None`` means ``default_optimizers()`` and
  the model's ``adversarial_loss`` (a name from ``keras_segen.losses.ADVERSARIAL_LOSSES``,
  discriminator side with the model's one-sided ``label_smoothing``); ``kwargs`` go to
  ``keras.Model.compile`` (``run_eagerly``, ``jit_compile``, ``steps_per_execution``).
  Both optimizers are built on their player's trainable variables inside the model's
  distribution strategy scope (needed by ``MirroredStrategy``). Sets
  ``g_optimizer``, ``d_optimizer``, ``g_loss_fn``, ``d_loss_fn``.
* ``get_config``/``from_config`` serialize the two sub-models; the compile config
  (``compile_arguments``, serialized by the base) rebuilds and builds both optimizers,
  so a ``.keras`` reload keeps both optimizers' slots and iteration counts.

Helpers for subclasses' ``train_step``/``test_step``:

* ``apply_update(optimizer, tape, loss, variables)``: gradients of ``loss`` (computed
  under ``tape``, already scaled for distribution as Keras losses are) applied by
  ``optimizer``. Pass ``optimizer.scale_loss(loss)``, computed under the tape: under
  ``mixed_float16`` compile wraps both optimizers in ``LossScaleOptimizer``, which
  unscales the gradients (elsewhere ``scale_loss`` is the identity).
* ``record(logs)``: update the trackers from ``{name: value}``; values must be
  *global* (unscaled) losses -- see ``unscale_for_distribution``.
* ``scale_for_distribution(x)`` / ``unscale_for_distribution(x)`` (from the base):
  multiply by ``1/num_replicas`` / ``num_replicas``. Keras losses already come scaled
  (so summed per-replica gradients equal the global-batch gradient); hand-written loss
  terms (a gradient penalty, an L1 term) must be scaled before they are added to them,
  and everything must be unscaled before it is ``record``-ed.
* ``draw_normal(shape)`` / ``draw_uniform(shape)``: random tensors from
  ``seed_generator`` for this replica's share of the batch. Under a
  ``MirroredStrategy`` every replica draws the global batch from the same seed and
  keeps its own rows, so replicas get different numbers and a multi-replica run draws
  exactly what a one-device run with the same seed draws.
* ``check_images(images, expected_shape)``: ValueError/TypeError for a batch of the
  wrong rank, shape, channels or dtype (static shapes; sizes unknown when tracing are
  asserted at run time), and a runtime assert that values lie in [-1, 1]; returns the
  batch as float32.

Hooks a subclass overrides: ``TRACKER_NAMES``, ``default_optimizers()``, ``train_step``,
``test_step``, ``call``, and ``get_config`` (call ``super()``, add its own arguments;
``from_config`` passes every key to ``__init__``).

``LatentGAN(AdversarialModel)`` -- the latent-vector GANs (``z`` and, if ``num_classes``
> 0, a class label -> image in [-1, 1]): DCGAN, WGAN-GP and cGAN are thin subclasses.

* ``call(z)`` / ``call([z, labels])`` -> generator output (tanh, float32).
* ``train_step(data)``: ``data`` is ``images`` or ``(images, labels)``; one
  ``discriminator_step(real_images, labels)`` then one ``generator_step(batch_size,
  labels)``, each updating only its own player's weights (callable on their own, e.g.
  in tests). Generated samples for the conditional case use the batch's labels.
* ``test_step`` reports the same losses without updating anything.
* ``generate(num_images, *, seed, labels=None, batch_size=256)`` (the base's) ->
  numpy float32 images in [0, 1], a function of the seed (and batch size, to float
  rounding); ``generate_batch`` maps the tanh output to [0, 1].
* **generator EMA** (``ema_decay`` > 0; Karras et al.'s ``G_ema``, Yazici et al. 2019):
  ``generator_ema``, a frozen copy of the generator made at construction and saved with
  the ``.keras`` file. After each generator step its trainable weights follow
  ``ema <- g + ema_decay * (ema - g)`` and its other weights (batch-norm statistics)
  are copied. ``call``, ``generate`` and serving sample from ``sampling_generator``:
  the EMA copy, or the trained generator when ``ema_decay`` is 0 (the default).
* Hooks: ``generator_inputs(z, labels)``, ``discriminator_inputs(images, labels)``,
  ``draw_latents(batch_size)``, ``prepare_labels(labels)`` (the base's).
"""

import numbers

import numpy as np
import tensorflow as tf

import keras
from keras import ops

from keras_segen.generation.base import GenerativeModel, check_latents, frozen_copy
from keras_segen.layers.sampling import draw_for_this_replica
from keras_segen.losses.adversarial import (
    discriminator_loss,
    generator_loss,
    get_adversarial_loss,
)

# Tolerance of the [-1, 1] input check: resizing/augmenting can overshoot by a hair.
_RANGE_TOLERANCE = 1e-3


class AdversarialModel(GenerativeModel):
    """Generator + discriminator trained against each other; see the module docstring.

    Args:
        generator, discriminator: built ``keras.Model``s.
        adversarial_loss: name of the default GAN loss for both players.
        label_smoothing: one-sided label smoothing of the default discriminator loss.
        seed: seed of ``seed_generator`` (the random numbers of training); ``None``
            picks one at random.
        **kwargs: ``keras.Model`` arguments (``name``, ``dtype``, ...).
    """

    TRACKER_NAMES = ("d_loss", "g_loss")
    COMPILE_OBJECTS = ("g_optimizer", "d_optimizer", "g_loss", "d_loss")
    # The model kind (keras_segen.kinds) that trains, evaluates and serves this class.
    KIND = "adversarial"

    def __init__(
        self,
        generator,
        discriminator,
        *,
        adversarial_loss="non_saturating",
        label_smoothing=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for role, model in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(model, keras.Model):
                raise TypeError(
                    f"{type(self).__name__}: {role} must be a keras.Model, "
                    f"got {type(model).__name__}"
                )
        # Fail at construction, not at compile, on a bad loss name or smoothing.
        get_adversarial_loss(
            adversarial_loss, player="discriminator", label_smoothing=label_smoothing
        )
        self.generator = generator
        self.discriminator = discriminator
        self.adversarial_loss = adversarial_loss
        self.label_smoothing = float(label_smoothing)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {n: keras.metrics.Mean(name=n) for n in self.TRACKER_NAMES}
        self.g_optimizer = self.d_optimizer = None
        self.g_loss_fn = self.d_loss_fn = None
        self.build()

    def build(self, input_shape=None):
        # Every weight lives in the two (already built) sub-models.
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # --- compile and its serialization ------------------------------------------------

    def default_optimizers(self):
        """``(g_optimizer, d_optimizer)`` used when ``compile`` gets ``None``."""
        return (
            keras.optimizers.Adam(2e-4, beta_1=0.5, name="g_adam"),
            keras.optimizers.Adam(2e-4, beta_1=0.5, name="d_adam"),
        )

    def compile(self, g_optimizer=None, d_optimizer=None, g_loss=None, d_loss=None, **kwargs):
        """One optimizer and one loss per player; see the module docstring."""
        for key in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics"):
            if key in kwargs:
                raise TypeError(
                    f"{type(self).__name__}.compile takes g_optimizer/d_optimizer and "
                    f"g_loss/d_loss, not {key}="
                )
        super().compile(optimizer=None, **kwargs)
        default_g, default_d = self.default_optimizers()
        g_optimizer = default_g if g_optimizer is None else keras.optimizers.get(g_optimizer)
        d_optimizer = default_d if d_optimizer is None else keras.optimizers.get(d_optimizer)
        if g_optimizer is d_optimizer:
            raise ValueError(
                "the generator and the discriminator need two optimizer instances "
                "(one shared instance would mix their slot variables)"
            )
        if self.dtype_policy.name == "mixed_float16":
            g_optimizer = _with_loss_scaling(g_optimizer)
            d_optimizer = _with_loss_scaling(d_optimizer)
        self.g_loss_fn = get_adversarial_loss(
            self.adversarial_loss if g_loss is None else g_loss, player="generator"
        )
        self.d_loss_fn = get_adversarial_loss(
            self.adversarial_loss if d_loss is None else d_loss,
            player="discriminator",
            label_smoothing=self.label_smoothing,
        )
        self.build_optimizers(
            {
                "g_optimizer": (g_optimizer, self.generator.trainable_variables),
                "d_optimizer": (d_optimizer, self.discriminator.trainable_variables),
            }
        )

    def compile_arguments(self):
        if self.g_optimizer is None:
            return None
        return {
            "g_optimizer": self.g_optimizer,
            "d_optimizer": self.d_optimizer,
            "g_loss": self.g_loss_fn,
            "d_loss": self.d_loss_fn,
            "run_eagerly": self.run_eagerly,
            "steps_per_execution": self.steps_per_execution,
            "jit_compile": self.jit_compile,
        }

    # --- model config -----------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            adversarial_loss=self.adversarial_loss,
            label_smoothing=self.label_smoothing,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)

    # --- helpers for train_step / test_step -------------------------------------------

    def apply_update(self, optimizer, tape, loss, variables):
        """Apply ``optimizer`` to the gradients of ``loss`` (recorded on ``tape``)."""
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables))

    def record(self, logs):
        """Update the trackers named in ``logs`` with their (global, unscaled) values."""
        for name, value in logs.items():
            self.trackers[name].update_state(value)

    def draw_normal(self, shape):
        """Standard normal numbers for this replica's rows (see the module docstring)."""
        return self._draw(tf.random.stateless_normal, shape)

    def draw_uniform(self, shape):
        """Uniform [0, 1) numbers for this replica's rows (see the module docstring)."""
        return self._draw(tf.random.stateless_uniform, shape)

    def _draw(self, stateless_sampler, shape):
        return draw_for_this_replica(self.seed_generator, stateless_sampler, shape,
                                     keras.config.floatx())

    def check_images(self, images, expected_shape, what="images"):
        """Static shape/dtype checks and a runtime [-1, 1] range check of a batch."""
        name = type(self).__name__
        images = tf.convert_to_tensor(images) if not tf.is_tensor(images) else images
        expected_shape = tuple(expected_shape)
        if images.shape.rank is not None and images.shape.rank != 4:
            raise ValueError(
                f"{name} expects {what} as a batch [N, H, W, C] with (H, W, C) = "
                f"{expected_shape}; got a tensor of shape {tuple(images.shape)}"
            )
        got = tuple(images.shape)[1:]
        if any(g is not None and g != e for g, e in zip(got, expected_shape)):
            raise ValueError(
                f"{name} expects {what} of shape (H, W, C) = {expected_shape}; got "
                f"{got} (a batch of shape {tuple(images.shape)})"
            )
        if not images.dtype.is_floating:
            raise TypeError(
                f"{name} expects float {what} scaled to [-1, 1]; got dtype "
                f"{images.dtype.name} (scale uint8 data with x / 127.5 - 1)"
            )
        images = ops.cast(images, "float32")
        checks = []
        if any(g is None for g in got):  # unknown static sizes: check when running
            checks.append(
                tf.debugging.assert_equal(
                    tf.shape(images)[1:],
                    tf.constant(expected_shape, tf.int32),
                    message=f"{name} expects {what} of shape (H, W, C) = {expected_shape}",
                )
            )
        limit = 1.0 + _RANGE_TOLERANCE
        checks.append(
            tf.debugging.assert_less_equal(
                ops.max(ops.abs(images)),
                limit,
                message=f"{name}: {what} must be scaled to [-1, 1]",
            )
        )
        with tf.control_dependencies(checks):
            return tf.identity(images)


@keras.saving.register_keras_serializable(package="keras_segen")
class LatentGAN(AdversarialModel):
    """A GAN mapping latent vectors (and class labels when ``num_classes`` > 0) to images.

    Args:
        generator: ``z -> image`` or ``[z, labels] -> image`` with tanh output.
        discriminator: ``image -> logits`` or ``[image, labels] -> logits``.
        latent_dim: size of ``z``.
        image_shape: ``(H, W, C)`` of the generated and real images.
        num_classes: number of classes of a conditional model; 0 if unconditional.
        **kwargs: see ``AdversarialModel``.
    """

    def __init__(
        self, generator, discriminator, *, latent_dim, image_shape, num_classes=0,
        ema_decay=0.0, **kwargs
    ):
        if isinstance(ema_decay, bool) or not isinstance(ema_decay, numbers.Real) \
                or not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
        self.ema_decay = float(ema_decay)  # build() (called by the base's __init__) reads it
        super().__init__(generator, discriminator, **kwargs)
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.num_classes = int(num_classes)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {image_shape}")

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim,
            image_shape=list(self.image_shape),
            num_classes=self.num_classes,
            ema_decay=self.ema_decay,
        )
        return config

    def build(self, input_shape=None):
        # Called by AdversarialModel.__init__; every weight lives in the sub-models.
        if self.ema_decay and getattr(self, "generator_ema", None) is None:
            self.generator_ema = frozen_copy(self.generator)  # moved by update_ema
        self.built = True

    @property
    def sampling_generator(self):
        """The generator that samples: ``generator_ema``, or ``generator`` without one."""
        return self.generator_ema if self.ema_decay else self.generator

    def update_ema(self):
        """``ema <- g + ema_decay * (ema - g)`` for the trainable generator weights; the
        others (batch-norm moving statistics) are copied."""
        decay = self.ema_decay
        pairs = list(zip(self.generator_ema.weights, self.generator.weights))

        def update(ema, weight, trainable):
            if not trainable:
                return ema.assign(weight)
            return ema.assign(weight + decay * (ema - weight))

        if not tf.distribute.has_strategy():
            for ema, weight in pairs:
                update(ema, weight, weight.trainable)
            return

        # Mirrored weights are equal on every replica after the update: assign once per
        # device from the cross-replica context (the copies have no aggregation). A
        # generator's batch-norm statistics are per replica: copied from this device's.
        def update_everywhere(strategy):
            for ema, weight in pairs:
                strategy.extended.update(ema.value, update,
                                         args=(weight.value, weight.trainable))

        tf.distribute.get_replica_context().merge_call(update_everywhere)

    # --- inputs -----------------------------------------------------------------------

    def generator_inputs(self, z, labels):
        return [z, labels] if self.conditional else z

    def discriminator_inputs(self, images, labels):
        return [images, labels] if self.conditional else images

    def draw_latents(self, batch_size):
        """Latent vectors ``z ~ N(0, I)`` for a batch, from ``seed_generator``."""
        return self.draw_normal((batch_size, self.latent_dim))

    def draw_fakes(self, batch_size, labels, training):
        """Generated images of ``batch_size`` fresh latents (and ``labels``)."""
        return self.generator(
            self.generator_inputs(self.draw_latents(batch_size), labels), training=training
        )

    def unpack_batch(self, data):
        """``(real_images, labels)`` from ``images`` or ``(images, labels)``, checked;
        ``labels`` is None for an unconditional model (which ignores given labels)."""
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        images = self.check_images(images, self.image_shape)
        if not self.conditional:
            return images, None
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} is class-conditional: it trains on "
                "(images, labels) batches, got images only"
            )
        return images, self.prepare_labels(labels, batch_size=images.shape[0])

    def call(self, inputs, training=False):
        if self.conditional:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
                raise ValueError(
                    f"{type(self).__name__} is class-conditional: call it with " "[z, labels]"
                )
            z, labels = inputs
            z = ops.convert_to_tensor(z)  # a functional call can't mix arrays and tensors
            return self.sampling_generator([z, self.prepare_labels(labels)], training=training)
        return self.sampling_generator(inputs, training=training)

    # --- training ---------------------------------------------------------------------

    def discriminator_step(self, real_images, labels=None):
        """One discriminator update on a real batch and as many generated images.

        Returns ``{"d_loss": global loss}``. Only discriminator weights change
        (plus the generator's batch-norm statistics: it runs in training mode).
        """
        fake_images = self.draw_fakes(ops.shape(real_images)[0], labels, training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(
                self.discriminator_inputs(real_images, labels), training=True
            )
            fake_logits = self.discriminator(
                self.discriminator_inputs(fake_images, labels), training=True
            )
            loss = discriminator_loss(self.d_loss_fn, real_logits, fake_logits)
            scaled_loss = self.d_optimizer.scale_loss(loss)
        self.apply_update(
            self.d_optimizer, tape, scaled_loss, self.discriminator.trainable_variables
        )
        return {"d_loss": self.unscale_for_distribution(loss)}

    def generator_step(self, batch_size, labels=None):
        """One generator update through the (fixed) discriminator.

        Returns ``{"g_loss": global loss}``. Only generator weights change (plus the
        discriminator's batch-norm statistics, if it has any).
        """
        z = self.draw_latents(batch_size)
        with tf.GradientTape() as tape:
            fake_images = self.generator(self.generator_inputs(z, labels), training=True)
            fake_logits = self.discriminator(
                self.discriminator_inputs(fake_images, labels), training=True
            )
            loss = generator_loss(self.g_loss_fn, fake_logits)
            scaled_loss = self.g_optimizer.scale_loss(loss)
        self.apply_update(self.g_optimizer, tape, scaled_loss, self.generator.trainable_variables)
        if self.ema_decay:
            self.update_ema()
        return {"g_loss": self.unscale_for_distribution(loss)}

    def train_step(self, data):
        real_images, labels = self.unpack_batch(data)
        batch_size = ops.shape(real_images)[0]
        self.record(self.discriminator_step(real_images, labels))
        self.record(self.generator_step(batch_size, labels))
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        real_images, labels = self.unpack_batch(data)
        fake_images = self.draw_fakes(ops.shape(real_images)[0], labels, training=False)
        real_logits = self.discriminator(
            self.discriminator_inputs(real_images, labels), training=False
        )
        fake_logits = self.discriminator(
            self.discriminator_inputs(fake_images, labels), training=False
        )
        d_loss = discriminator_loss(self.d_loss_fn, real_logits, fake_logits)
        g_loss = generator_loss(self.g_loss_fn, fake_logits)
        self.record(
            {
                "d_loss": self.unscale_for_distribution(d_loss),
                "g_loss": self.unscale_for_distribution(g_loss),
            }
        )
        return {m.name: m.result() for m in self.metrics}

    # --- sampling ---------------------------------------------------------------------

    def generate_batch(self, z, labels):
        z = check_latents(z, self.latent_dim, f"{type(self).__name__}.generate_batch")
        labels = None if labels is None else ops.convert_to_tensor(labels)
        images = self.sampling_generator(self.generator_inputs(z, labels), training=False)
        images = ops.convert_to_numpy(ops.cast(images, "float32"))
        return np.clip((images + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def _with_loss_scaling(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer, name=f"{optimizer.name}_scaled")


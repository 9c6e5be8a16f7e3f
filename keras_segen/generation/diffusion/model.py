"""``DDIM(GenerativeModel)``: DDPM training (Ho et al. 2020), DDIM sampling (Song et al.
2021), classifier-free guidance (Ho & Salimans 2021), and the ``"ddim"`` builder.

* **Networks.** ``denoiser`` (the U-Net of denoiser.py, trained) and ``ema_denoiser``
  (the same architecture, non-trainable, built from the denoiser's config at
  construction and starting from its weights). The EMA weights are model variables:
  a ``.keras`` file stores them (training resumes with them, sampling reads them), and
  ``generate``, ``predict_noise(ema=True)`` and the serving signatures use them.
* **Training** (``train_step``, batches of images in [-1, 1], or ``(images, labels)``
  for a conditional model): per image ``t ~ U{0, T-1}`` and ``eps ~ N(0, I)`` from the
  model's ``SeedGenerator`` (drawn for the global batch and split per replica, as the
  GANs do, so a ``MirroredStrategy`` step equals a one-device step), ``x_t = sqrt(ab_t)
  x0 + sqrt(1 - ab_t) eps``, loss = the compiled Keras loss (default MSE) between
  ``eps`` and the prediction. Labels are replaced by the null class ``num_classes``
  with probability ``guidance_dropout``. After the optimizer step, ``ema = d * ema + (1
  - d) * w`` (``d`` = ``ema_decay``) in cross-replica context (one update per mirrored
  copy, no all-reduce). Logs ``loss`` (the global-batch mean). ``test_step`` logs the
  same loss of the EMA network.
* **Sampling.** ``generate(num_images, *, seed, labels=None, batch_size=256,
  steps=None, guidance=None, eta=0.0)``: initial noise ``[N, H, W, C]`` from
  ``sample_latents`` (``stateless_normal(seed=sampling_seed(seed))``, the base's
  convention, so ``generate`` and serving's ``sample`` agree), then DDIM over ``steps``
  strided timesteps in one ``tf.function`` per batch shape (a ``tf.while_loop``; no
  per-step Python). ``steps``/``guidance`` default to the model's ``sampling_steps`` /
  ``guidance``. Guidance follows Ho & Salimans: ``eps = (1 + w) eps(x, y) - w eps(x,
  null)``; ``w`` = 0 is plain conditional sampling (one network pass per step), ``w`` >
  0 batches the two passes together. ``eta`` > 0 adds per-step noise seeded by the seed
  and the batch's first index (so it also depends on ``batch_size``). Images come back
  as float32 numpy in [0, 1].
* ``compile(optimizer=None, loss=None, **kwargs)``: one optimizer (default AdamW 2e-4)
  built on the denoiser's variables under the model's strategy; the compile config
  restores both, so a ``.keras`` reload keeps the optimizer's slots and iterations.
"""
import functools
import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_segen.generation.base import (
    GenerativeModel,
    frozen_copy,
    positive_int,
    sampling_seed,
)
from keras_segen.generation.diffusion import schedule as schedules
from keras_segen.generation.diffusion.denoiser import build_denoiser, unet_resolutions
from keras_segen.layers.sampling import draw_for_this_replica
from keras_segen.progress import progress_bar
from keras_segen.registry import register_architecture

# Tolerance of the [-1, 1] input check: resizing/augmenting can overshoot by a hair.
_RANGE_TOLERANCE = 1e-3


def _fraction(value, what, *, closed_top=False):
    top_ok = value <= 1.0 if closed_top else value < 1.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            value >= 0.0 and top_ok):
        interval = "[0, 1]" if closed_top else "[0, 1)"
        raise ValueError(f"{what} must be a number in {interval}, got {value!r}")
    return float(value)


def _non_negative(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0.0 \
            or not np.isfinite(value):
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


def _non_negative_int(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{what} must be an int >= 0, got {value!r}")
    return int(value)


def _num_classes(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0 \
            or value == 1:
        raise ValueError(f"num_classes must be 0 (unconditional) or an int >= 2, got {value!r}")
    return int(value)


@keras.saving.register_keras_serializable(package="keras_segen")
class DDIM(GenerativeModel):
    """A denoising diffusion model; see the module docstring.

    Args:
        denoiser: a built ``keras.Model`` ``[x_t, t(, labels)] -> noise``.
        image_shape: ``(H, W, C)``.
        num_classes: classes of a conditional model (its denoiser takes labels in
            ``[0, num_classes]``, the last the null class); 0 if unconditional.
        schedule, timesteps: the noise schedule (schedule.py).
        ema_decay: ``d`` of the EMA weights.
        ema_warmup: after ``n`` optimizer steps the EMA moves with decay
            ``min(d, (1 + n) / (ema_warmup + n))`` (the num_updates form of
            ``tf.train.ExponentialMovingAverage``), so that early in training the EMA
            follows the weights instead of keeping the random init (with ``d = 0.999``
            and no warm-up, the init still weighs 62% after 470 steps); 0: always ``d``.
        guidance_dropout: probability of training a label as the null class.
        guidance: the default guidance weight ``w`` of ``generate``.
        sampling_steps: the default number of DDIM steps of ``generate``.
        seed: seed of the ``SeedGenerator`` of training; None picks one at random.
        ema_denoiser: the EMA network (None: a copy of ``denoiser``).
    """

    KIND = "diffusion"
    COMPILE_OBJECTS = ("optimizer", "loss")

    def __init__(self, denoiser, *, image_shape, num_classes=0, schedule="cosine",
                 timesteps=1000, ema_decay=0.999, ema_warmup=0, guidance_dropout=0.1,
                 guidance=1.0, sampling_steps=50, seed=None, ema_denoiser=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(denoiser, keras.Model):
            raise TypeError(f"DDIM: denoiser must be a keras.Model, got {type(denoiser).__name__}")
        self.image_shape = tuple(int(d) for d in image_shape)
        if len(self.image_shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {image_shape}")
        self.num_classes = _num_classes(num_classes)
        expected_inputs = 3 if self.num_classes else 2
        if len(denoiser.inputs) != expected_inputs:
            raise ValueError(
                f"DDIM: a denoiser with {expected_inputs} inputs ([x_t, t"
                f"{', labels' if self.num_classes else ''}]) is needed for num_classes="
                f"{self.num_classes}, got {len(denoiser.inputs)}")
        self.schedule = schedule
        self.timesteps = int(timesteps)
        alpha_bars = schedules.alpha_bar(schedule, timesteps)  # checks both
        self.ema_decay = _fraction(ema_decay, "ema_decay", closed_top=True)
        self.ema_warmup = _non_negative_int(ema_warmup, "ema_warmup")
        self.guidance_dropout = _fraction(guidance_dropout, "guidance_dropout")
        self.guidance = _non_negative(guidance, "guidance")
        self.sampling_steps = self._check_steps(sampling_steps, "sampling_steps")
        self.seed = seed
        self.denoiser = denoiser
        self.ema_denoiser = frozen_copy(denoiser) if ema_denoiser is None else ema_denoiser
        self.ema_denoiser.trainable = False
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.noise_loss = None
        # A constant of the config, not a weight: nothing to save.
        self._alpha_bars = np.asarray(alpha_bars, np.float32)
        object.__setattr__(self, "_graph_sampler", None)
        # Every weight lives in the two (already built) networks.
        self.built = True

    @property
    def alpha_bars(self):
        """float32 tensor ``[T]`` of the schedule's ``alpha_bar``."""
        return tf.constant(self._alpha_bars)

    @property
    def metrics(self):
        return [self.loss_tracker]

    # --- checks -----------------------------------------------------------------------

    def _check_steps(self, steps, what="steps"):
        steps = positive_int(steps, what)
        if steps > self.timesteps:
            raise ValueError(f"{what} must be at most timesteps={self.timesteps}, got {steps}")
        return steps

    def check_images(self, images, what="images"):
        """float32 ``[N, H, W, C]`` of ``image_shape``, with a run-time [-1, 1] check."""
        name = type(self).__name__
        images = tf.convert_to_tensor(images)
        got = tuple(images.shape)
        if len(got) != 4 or any(g is not None and g != e
                                for g, e in zip(got[1:], self.image_shape)):
            raise ValueError(f"{name} expects {what} of shape (N, *{self.image_shape}), "
                             f"got {got}")
        if not images.dtype.is_floating:
            raise TypeError(f"{name} expects float {what} scaled to [-1, 1]; got dtype "
                            f"{images.dtype.name} (scale uint8 data with x / 127.5 - 1)")
        images = tf.cast(images, tf.float32)
        check = tf.debugging.assert_less_equal(
            tf.reduce_max(tf.abs(images)), 1.0 + _RANGE_TOLERANCE,
            message=f"{name}: {what} must be scaled to [-1, 1]")
        with tf.control_dependencies([check]):
            return tf.identity(images)

    # --- the networks -----------------------------------------------------------------

    def denoiser_inputs(self, noisy_images, timesteps, labels):
        timesteps = tf.cast(timesteps, tf.int32)
        if self.conditional:
            return [noisy_images, timesteps, tf.cast(labels, tf.int32)]
        return [noisy_images, timesteps]

    def predict_noise(self, noisy_images, timesteps, labels=None, *, ema=True, training=False):
        """The (EMA or trained) network's noise prediction for ``x_t`` at ``timesteps``
        (``[N]`` ints; labels in ``[0, num_classes]``, ``num_classes`` being null)."""
        network = self.ema_denoiser if ema else self.denoiser
        if self.conditional and labels is None:
            raise ValueError(f"{self.name} is class-conditional: pass labels")
        return network(self.denoiser_inputs(tf.cast(noisy_images, tf.float32), timesteps,
                                            labels), training=training)

    def call(self, inputs, training=False):
        """``[x_t, t]`` (``[x_t, t, labels]`` if conditional) -> the trained network's
        noise prediction."""
        return self.predict_noise(*inputs, ema=False, training=training)

    def add_noise(self, images, timesteps, noise):
        """``q(x_t | x_0)``: ``sqrt(ab_t) images + sqrt(1 - ab_t) noise``."""
        images = tf.cast(images, tf.float32)
        ab = tf.gather(self.alpha_bars, tf.cast(timesteps, tf.int32))
        return schedules.noise_images(images, tf.cast(noise, tf.float32), ab)

    # --- training ---------------------------------------------------------------------

    def _draw(self, sampler, shape, dtype="float32"):
        return draw_for_this_replica(self.seed_generator, sampler, shape, dtype)

    def unpack_batch(self, data):
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        images = self.check_images(images)
        if not self.conditional:
            return images, None
        if labels is None:
            raise ValueError(f"{type(self).__name__} is class-conditional: it trains on "
                             "(images, labels) batches, got images only")
        return images, self.prepare_labels(labels, batch_size=images.shape[0])

    def diffusion_loss(self, images, labels, *, training):
        """The noise-prediction loss of one batch (fresh t, noise and label dropout)."""
        batch = tf.shape(images)[0]
        timesteps = self._draw(functools.partial(tf.random.stateless_uniform, minval=0,
                                                 maxval=self.timesteps), (batch,), "int32")
        noise = self._draw(tf.random.stateless_normal, (batch, *self.image_shape))
        if self.conditional and training:
            drop = self._draw(tf.random.stateless_uniform, (batch,)) < self.guidance_dropout
            labels = tf.where(drop, tf.fill([batch], self.num_classes), labels)
        noisy = self.add_noise(images, timesteps, noise)
        predicted = self.predict_noise(noisy, timesteps, labels, ema=not training,
                                       training=training)
        return self.noise_loss(noise, tf.cast(predicted, tf.float32))

    def train_step(self, data):
        images, labels = self.unpack_batch(data)
        with tf.GradientTape() as tape:
            loss = self.diffusion_loss(images, labels, training=True)  # replica-scaled
            scaled = self.optimizer.scale_loss(loss)
        variables = self.denoiser.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        self.update_ema()
        self.loss_tracker.update_state(self.unscale_for_distribution(loss))
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        images, labels = self.unpack_batch(data)
        loss = self.diffusion_loss(images, labels, training=False)
        self.loss_tracker.update_state(self.unscale_for_distribution(loss))
        return {"loss": self.loss_tracker.result()}

    def update_ema(self):
        """``ema = d * ema + (1 - d) * w`` for every denoiser weight. Under a strategy it
        runs once in cross-replica context and updates each mirrored copy from the
        same-device copy of the (already synchronized) weight."""
        decay = tf.constant(self.ema_decay, tf.float32)
        if self.ema_warmup:
            steps = tf.cast(self.optimizer.iterations, tf.float32)
            decay = tf.minimum(decay, (1.0 + steps) / (float(self.ema_warmup) + steps))
        pairs = [(e.value, w.value) for e, w in zip(self.ema_denoiser.weights,
                                                      self.denoiser.weights)]

        def move(average, weight):
            d = tf.cast(decay, average.dtype)
            return average.assign(d * average + (1.0 - d) * tf.cast(weight, average.dtype))

        def update(strategy, pairs):
            for average, weight in pairs:
                strategy.extended.update(average, move, args=(weight,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(
            update, tf.distribute.get_strategy(), pairs)

    # --- compile and config -----------------------------------------------------------

    def compile(self, optimizer=None, loss=None, **kwargs):
        """One optimizer (default ``AdamW(2e-4)``) and the noise loss (default MSE);
        ``kwargs`` go to ``keras.Model.compile``."""
        for key in ("loss_weights", "metrics", "weighted_metrics"):
            if key in kwargs:
                raise TypeError(f"{type(self).__name__}.compile computes its own loss and "
                                f"metrics, not {key}=")
        with self.distribute_strategy.scope():
            if optimizer is None:
                optimizer = keras.optimizers.AdamW(2e-4, name="adamw")
            super().compile(optimizer=optimizer, **kwargs)
        self.noise_loss = (keras.losses.MeanSquaredError(name="noise_mse") if loss is None
                           else keras.losses.get(loss))
        self.build_optimizers({"optimizer": (self.optimizer,
                                             self.denoiser.trainable_variables)})

    def compile_arguments(self):
        if self.noise_loss is None:
            return None
        return {"optimizer": self.optimizer, "loss": self.noise_loss}

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "denoiser": keras.saving.serialize_keras_object(self.denoiser),
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "schedule": self.schedule,
            "timesteps": self.timesteps,
            "ema_decay": self.ema_decay,
            "ema_warmup": self.ema_warmup,
            "guidance_dropout": self.guidance_dropout,
            "guidance": self.guidance,
            "sampling_steps": self.sampling_steps,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["denoiser"] = keras.saving.deserialize_keras_object(
            config["denoiser"], custom_objects=custom_objects)
        return cls(**config)

    # --- sampling ---------------------------------------------------------------------

    def sample_latents(self, num_images, seed):
        """The initial noise ``x_T`` ``[N, H, W, C]``, a pure function of ``seed``."""
        num_images = positive_int(num_images, "num_images")
        return tf.random.stateless_normal((num_images, *self.image_shape),
                                          seed=sampling_seed(seed), dtype=tf.float32)

    def sample_graph(self, noise, labels, steps, guidance, eta, seed):
        """DDIM in [-1, 1] from ``noise`` with the EMA network (graph-safe: serving's
        signatures call it). ``labels`` int32 ``[N]`` (None if unconditional),
        ``steps`` int32 scalar, ``guidance``/``eta`` float32 scalars, ``seed`` int32
        ``[2]`` (the per-step noise when ``eta`` > 0)."""
        network = self.ema_denoiser
        if not self.conditional:
            def denoise(x, t):
                return network([x, t], training=False)
        else:
            guidance = tf.cast(guidance, tf.float32)
            labels = tf.cast(labels, tf.int32)

            def denoise(x, t):
                def plain():
                    return tf.cast(network([x, t, labels], training=False), tf.float32)

                def guided():
                    null = tf.fill(tf.shape(labels), self.num_classes)
                    both = network([tf.concat([x, x], 0), tf.concat([t, t], 0),
                                    tf.concat([labels, null], 0)], training=False)
                    conditional, unconditional = tf.split(tf.cast(both, tf.float32), 2)
                    return (1.0 + guidance) * conditional - guidance * unconditional

                return tf.cond(tf.equal(guidance, 0.0), plain, guided)

        return schedules.ddim_sample(denoise, noise, self.alpha_bars, steps, eta=eta,
                                     seed=seed)

    def _sampler(self):
        if self._graph_sampler is None:
            object.__setattr__(self, "_graph_sampler",
                               tf.function(self.sample_graph, reduce_retracing=True))
        return self._graph_sampler

    def sampling_options(self, steps=None, guidance=None, eta=0.0):
        """``(steps, guidance, eta)`` checked, with the model's defaults for None."""
        steps = self.sampling_steps if steps is None else self._check_steps(steps)
        if guidance is not None and not self.conditional:
            raise ValueError(f"guidance: {self.name} is unconditional (guidance weighs the "
                             "class-conditional prediction)")
        guidance = self.guidance if guidance is None else _non_negative(guidance, "guidance")
        return steps, guidance, _fraction(eta, "eta", closed_top=True)

    def denoise_batch(self, noise, labels=None, *, steps=None, guidance=None, eta=0.0,
                      seed=None):
        """DDIM from the initial noise ``noise`` ``[n, H, W, C]`` (+ int labels ``[n]``)
        -> float32 numpy images in [0, 1]."""
        steps, guidance, eta = self.sampling_options(steps, guidance, eta)
        noise = tf.convert_to_tensor(noise, tf.float32)
        if tuple(noise.shape[1:]) != self.image_shape:
            raise ValueError(f"{self.name}: noise must be [n, *{self.image_shape}], got "
                             f"{tuple(noise.shape)}")
        if self.conditional:
            if labels is None:
                raise ValueError(f"{self.name} is class-conditional: pass labels")
            labels = tf.convert_to_tensor(self.labels_to_generate(labels, int(noise.shape[0])))
        elif labels is not None:
            raise ValueError(f"{self.name} is unconditional: it takes no labels")
        seed = tf.zeros([2], tf.int32) if seed is None else tf.cast(seed, tf.int32)
        images = self._sampler()(noise, labels, tf.constant(steps, tf.int32),
                                 tf.constant(guidance, tf.float32),
                                 tf.constant(eta, tf.float32), seed)
        return np.clip((images.numpy() + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)

    def generate(self, num_images, *, seed, labels=None, batch_size=256, steps=None,
                 guidance=None, eta=0.0):
        """``num_images`` DDIM samples as float32 numpy ``[N, H, W, C]`` in [0, 1]; see
        the module docstring (labels as ``GenerativeModel.generate`` takes them)."""
        num_images = positive_int(num_images, "num_images")
        batch_size = positive_int(batch_size, "batch_size")
        steps, guidance, eta = self.sampling_options(
            steps, guidance if self.conditional else None, eta)
        noise = self.sample_latents(num_images, seed)
        labels = self.labels_to_generate(labels, num_images)
        step_seed = sampling_seed(seed)
        batches = []
        bar = progress_bar(num_images, "image") if num_images > batch_size else None
        for start in range(0, num_images, batch_size):
            stop = min(start + batch_size, num_images)
            batches.append(self.denoise_batch(
                noise[start:stop], None if labels is None else labels[start:stop],
                steps=steps, guidance=guidance if self.conditional else None, eta=eta,
                seed=tf.random.experimental.stateless_fold_in(step_seed, start)))
            if bar is not None:
                bar.add(stop - start)
        return np.concatenate(batches, axis=0)

    def generate_batch(self, z, labels):
        """The base's hook: initial noise ``z`` -> images with the default options."""
        return self.denoise_batch(z, labels)


def _positive_ints(values, what):
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"{what} must be a sequence of positive ints, got {values!r}") from None
    if not values or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1
                         for v in values):
        raise ValueError(f"{what} must be a non-empty sequence of positive ints, got {values!r}")
    return tuple(int(v) for v in values)


@register_architecture("ddim", task="generation", kind="diffusion")
def ddim(
    *,
    image_shape=(28, 28, 1),
    num_classes=0,
    widths=(32, 64, 96, 128),
    block_depth=2,
    attention_resolutions=None,
    embedding_dim=128,
    num_heads=4,
    schedule="cosine",
    timesteps=1000,
    ema_decay=0.999,
    ema_warmup=10,
    guidance_dropout=0.1,
    guidance=1.0,
    sampling_steps=50,
    seed=0,
    name="ddim",
):
    """DDPM-trained U-Net denoiser with DDIM sampling (classifier-free guidance when
    conditional).

    ``attention_resolutions``: feature-map heights (after padding to a multiple of
    ``2 ** (len(widths) - 1)``) that get self-attention; None: the lowest one; ``()``:
    none.
    """
    image_shape = _positive_ints(image_shape, "image_shape")
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (H, W, C), got {image_shape}")
    widths = _positive_ints(widths, "widths")
    block_depth = positive_int(block_depth, "block_depth")
    num_heads = positive_int(num_heads, "num_heads")
    embedding_dim = positive_int(embedding_dim, "embedding_dim")
    if embedding_dim % 2:
        raise ValueError(f"embedding_dim must be even, got {embedding_dim}")
    resolutions = unet_resolutions(image_shape, len(widths))
    if resolutions[-1] < 1 or image_shape[0] < 2 ** (len(widths) - 1) \
            or image_shape[1] < 2 ** (len(widths) - 1):
        raise ValueError(f"image_shape {image_shape} is too small for {len(widths)} U-Net "
                         f"levels (widths={widths})")
    if attention_resolutions is None:
        attention_resolutions = (resolutions[-1],)
    attention_resolutions = tuple(attention_resolutions)
    unknown = [r for r in attention_resolutions if r not in resolutions]
    if unknown:
        raise ValueError(f"attention_resolutions must be among the U-Net's resolutions "
                         f"{resolutions}, got {list(attention_resolutions)}")
    num_classes = _num_classes(num_classes)
    denoiser = build_denoiser(image_shape, widths=widths, block_depth=block_depth,
                              attention_resolutions=attention_resolutions,
                              embedding_dim=embedding_dim, num_classes=num_classes,
                              num_heads=num_heads, name=f"{name}_denoiser")
    return DDIM(denoiser, image_shape=image_shape, num_classes=num_classes,
                schedule=schedule, timesteps=timesteps, ema_decay=ema_decay,
                ema_warmup=ema_warmup, guidance_dropout=guidance_dropout, guidance=guidance,
                sampling_steps=sampling_steps, seed=seed, name=name)

"""StyleGAN (Karras et al. 2019) with StyleGAN2's networks (Karras et al. 2020).

Networks (functional models of the layers in ``layers.py``):

* **mapping** ``z [N, latent_dim] -> w [N, w_dim]``: ``PixelNorm`` then
  ``mapping_layers`` equalized dense layers with leaky ReLU and learning-rate
  multiplier ``mapping_lr_multiplier`` (0.01, the papers').
* **synthesis** ``ws [N, num_ws, w_dim] -> images [N, H, W, C]`` (linear output in
  about [-1, 1], float32): a learned constant at ``(h0, w0) = (H, W) / 2^n`` (the
  DCGAN plan, ``dcgan.upsampling_plan``: 28x28 starts at 7x7 and runs 7 -> 14 -> 28,
  32x32 runs 4 -> 8 -> 16 -> 32), one modulated 3x3 convolution there, then per
  doubling a bilinear 2x upsampling and two modulated convolutions; every convolution is
  followed by noise injection and a scaled leaky ReLU. Each resolution has a toRGB
  (1x1 modulated convolution, no demodulation) whose output is added to the upsampled
  image of the resolution below (StyleGAN2's skip generator). Convolution ``i`` takes
  ``ws[:, i]`` and the toRGB of a resolution the ``w`` of the next convolution, so
  ``num_ws = 2 + 2 n``. Filters: ``base_filters * 2^level`` capped at
  ``8 * base_filters`` (level 0 at full resolution), as DCGAN's.
* **generator** ``z -> images``: synthesis(broadcast(mapping(z))), the functional model
  the adversarial machinery (``LatentGAN``) trains and that holds every generator
  weight; no truncation.
* **discriminator** ``images -> logits [N, 1]``: StyleGAN2's residual discriminator --
  a 1x1 fromRGB, per halving two 3x3 convolutions and 2x average pooling beside a
  pooled 1x1 skip (summed, times 1/sqrt 2), then at ``(h0, w0)`` a ``MinibatchStdDev``
  channel, a 3x3 convolution and two dense layers. Equalized learning rate throughout.

``StyleGAN(LatentGAN)`` training (``train_step``), with trackers ``d_loss``, ``g_loss``
and ``r1``:

* non-saturating logistic loss for both players;
* **R1** (Mescheder et al. 2018) on reals: ``r1 = E ||d D(x) / d x||^2`` and
  ``d_loss = logistic + r1_gamma / 2 * r1``. With ``r1_every = k > 1`` (lazy
  regularization, StyleGAN2) the penalty is computed on every k-th discriminator step
  only, weighted ``k * r1_gamma / 2``; ``r1`` logs the last computed value. Like
  WGAN-GP's penalty it is a replica-local mean, scaled for distribution before it joins
  the (already scaled) Keras loss.
* **style mixing**: with probability ``style_mixing`` per sample, a second ``z`` is
  mapped and takes over from a random layer ``c`` in ``[1, num_ws)`` on (both players'
  steps; off in evaluation).
* ``w_avg`` (a non-trainable ``[w_dim]`` variable saved with the ``.keras`` file, mean
  aggregated across replicas): after each generator step,
  ``w_avg <- mean_batch(w) + w_avg_decay * (w_avg - mean_batch(w))``.
* **generator EMA** (``ema_decay`` > 0, StyleGAN's ``G_ema``): ``generator_ema``, a
  frozen copy of the generator (made in ``build``, saved with the ``.keras`` file), whose
  weights follow ``ema <- g + ema_decay * (ema - g)`` after each generator step. Every
  sampling path (``call``, ``generate``, serving) uses it; ``ema_decay=0`` samples the
  trained generator itself.

Sampling applies the **truncation trick** ``w' = w_avg + psi (w - w_avg)``:
``generate(num_images, *, seed, truncation=None, batch_size=256)`` (None: the model's
``truncation_psi``, 1.0 by default, i.e. no truncation); ``model(z)`` uses
``truncation_psi``; ``synthesize(z, truncation)`` is the graph-side function the serving
signatures (``keras_segen.serving.stylegan``: ``serving_default(z, truncation)``,
``sample(batch_size, seed, truncation)``) call. Inference uses each noise layer's fixed
noise map, so images are a function of ``z`` and ``psi`` only (and of the seed, through
``sample_latents``).
"""
import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_segen.generation.adversarial import LatentGAN
from keras_segen.generation.base import check_latents
from keras_segen.generation.dcgan import upsampling_plan
from keras_segen.generation.stylegan.layers import (
    ConstantInput,
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStdDev,
    ModulatedConv2D,
    NoiseInjection,
    PixelNorm,
    ScaledLeakyReLU,
)
from keras_segen.losses.adversarial import discriminator_loss, generator_loss
from keras_segen.registry import register_architecture

_MAX_FILTER_MULTIPLIER = 8


def _filters(base_filters, level):
    return base_filters * min(2**level, _MAX_FILTER_MULTIPLIER)


def _layer_seed(seed, index):
    return None if seed is None else int(seed) * 1000 + index


def check_truncation(value, what="truncation"):
    """``value`` as a float; ValueError unless it is a finite real number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number (psi; 1.0: no truncation), got {value!r}")
    return float(value)


def num_ws_for(image_shape):
    """How many ``w`` rows the synthesis network of ``image_shape`` reads."""
    n, _ = upsampling_plan(image_shape)
    return 2 + 2 * n


# --- networks ---------------------------------------------------------------------------


def mapping_network(latent_dim, w_dim, mapping_layers, lr_multiplier=0.01, name="mapping"):
    """``z [N, latent_dim] -> w [N, w_dim]``."""
    z = keras.Input((latent_dim,), name="z")
    x = PixelNorm(name="m_pixel_norm")(z)
    for i in range(mapping_layers):
        x = EqualizedDense(w_dim, lr_multiplier=lr_multiplier, activation="lrelu",
                           name=f"m_dense{i + 1}")(x)
    return keras.Model(z, x, name=name)


def synthesis_network(image_shape, w_dim, base_filters, seed=None, name="synthesis"):
    """``ws [N, num_ws, w_dim] -> images [N, H, W, C]`` float32 (see the module docstring)."""
    n, (h0, w0) = upsampling_plan(image_shape)
    channels = int(image_shape[-1])
    ws = keras.Input((num_ws_for(image_shape), w_dim), name="ws")
    conv_index = 0

    def styled_conv(x, filters, label):
        nonlocal conv_index
        x = ModulatedConv2D(filters, 3, w_index=conv_index, name=f"s_{label}_conv")([x, ws])
        x = NoiseInjection(seed=_layer_seed(seed, conv_index), name=f"s_{label}_noise")(x)
        conv_index += 1
        return ScaledLeakyReLU(name=f"s_{label}_lrelu")(x)

    def to_rgb(x, label):
        # The toRGB of a resolution shares the next convolution's w (StyleGAN2).
        return ModulatedConv2D(channels, 1, w_index=conv_index, demodulate=False,
                               name=f"s_{label}_to_rgb")([x, ws])

    x = ConstantInput(h0, w0, _filters(base_filters, n), name="s_constant")(ws)
    x = styled_conv(x, _filters(base_filters, n), f"{h0}x{w0}")
    image = to_rgb(x, f"{h0}x{w0}")
    for i in range(n):
        level = n - 1 - i
        size = f"{h0 * 2 ** (i + 1)}x{w0 * 2 ** (i + 1)}"
        x = layers.UpSampling2D(interpolation="bilinear", name=f"s_{size}_up")(x)
        x = styled_conv(x, _filters(base_filters, level), f"{size}a")
        x = styled_conv(x, _filters(base_filters, level), f"{size}b")
        skip = layers.UpSampling2D(interpolation="bilinear", name=f"s_{size}_rgb_up")(image)
        image = layers.Add(name=f"s_{size}_rgb")([skip, to_rgb(x, size)])
    # float32 output whatever the dtype policy (mixed_bfloat16 computes the rest).
    image = layers.Activation("linear", dtype="float32", name="s_output")(image)
    return keras.Model(ws, image, name=name)


def stylegan_generator(mapping, synthesis, name="generator"):
    """``z -> images``: the mapping's ``w`` copied to every synthesis layer."""
    z = keras.Input(mapping.input_shape[1:], name="z")
    num_ws = synthesis.input_shape[1]
    w = mapping(z)
    ws = layers.RepeatVector(num_ws, name="g_broadcast_w")(w)
    return keras.Model(z, synthesis(ws), name=name)


def stylegan_discriminator(image_shape, base_filters, mbstd_group_size=4,
                           name="discriminator"):
    """``images [N, H, W, C] -> logits [N, 1]`` (see the module docstring)."""
    n, (h0, w0) = upsampling_plan(image_shape)
    images = keras.Input(tuple(image_shape), name="images")
    x = EqualizedConv2D(_filters(base_filters, 0), 1, activation="lrelu",
                        name="d_from_rgb")(images)
    for i in range(n):
        size = f"{image_shape[0] // 2 ** i}x{image_shape[1] // 2 ** i}"
        filters_in, filters_out = _filters(base_filters, i), _filters(base_filters, i + 1)
        skip = layers.AveragePooling2D(2, name=f"d_{size}_skip_pool")(x)
        skip = EqualizedConv2D(filters_out, 1, use_bias=False, name=f"d_{size}_skip")(skip)
        x = EqualizedConv2D(filters_in, 3, activation="lrelu", name=f"d_{size}_conv1")(x)
        x = EqualizedConv2D(filters_out, 3, activation="lrelu", name=f"d_{size}_conv2")(x)
        x = layers.AveragePooling2D(2, name=f"d_{size}_pool")(x)
        x = layers.Add(name=f"d_{size}_residual")([x, skip])
        x = layers.Rescaling(1.0 / math.sqrt(2.0), name=f"d_{size}_residual_scale")(x)
    top = _filters(base_filters, n)
    x = MinibatchStdDev(mbstd_group_size, name="d_minibatch_stddev")(x)
    x = EqualizedConv2D(top, 3, activation="lrelu", name=f"d_{h0}x{w0}_conv")(x)
    x = layers.Flatten(name="d_flatten")(x)
    x = EqualizedDense(top, activation="lrelu", name="d_dense")(x)
    logits = EqualizedDense(1, name="d_logits", dtype="float32")(x)
    return keras.Model(images, logits, name=name)


# --- the model --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_segen")
class StyleGAN(LatentGAN):
    """Style-based GAN; see the module docstring.

    Args:
        generator: ``stylegan_generator(mapping, synthesis)`` (its layers named
            ``mapping`` and ``synthesis`` are the two networks).
        discriminator: ``images -> logits``.
        latent_dim, image_shape: as ``LatentGAN``.
        style_mixing: probability that a training sample mixes two ``w``'s, in [0, 1].
        r1_gamma: weight gamma of the R1 penalty (``gamma / 2 * E||grad||^2``), >= 0.
        r1_every: compute R1 on every ``r1_every``-th discriminator step (lazy).
        truncation_psi: the default psi of ``generate`` and ``call``.
        w_avg_decay: decay of the ``w_avg`` moving average, in [0, 1).
        ema_decay: decay of the generator's weight average ``generator_ema``, in [0, 1);
            0: no average, sampling uses ``generator``.
        **kwargs: see ``LatentGAN`` (``seed``, ``name``, ...).
    """

    TRACKER_NAMES = ("d_loss", "g_loss", "r1")

    def __init__(self, generator, discriminator, *, latent_dim, image_shape,
                 style_mixing=0.9, r1_gamma=0.01, r1_every=1, truncation_psi=1.0,
                 w_avg_decay=0.995, ema_decay=0.999, adversarial_loss="non_saturating",
                 **kwargs):
        if isinstance(style_mixing, bool) or not isinstance(style_mixing, numbers.Real) \
                or not 0.0 <= style_mixing <= 1.0:
            raise ValueError(f"style_mixing must be a probability in [0, 1], got {style_mixing!r}")
        if isinstance(r1_gamma, bool) or not isinstance(r1_gamma, numbers.Real) \
                or not r1_gamma >= 0 or not math.isfinite(r1_gamma):
            raise ValueError(f"r1_gamma must be a finite number >= 0, got {r1_gamma!r}")
        if isinstance(r1_every, bool) or not isinstance(r1_every, numbers.Integral) or r1_every < 1:
            raise ValueError(f"r1_every must be a positive int, got {r1_every!r}")
        if isinstance(w_avg_decay, bool) or not isinstance(w_avg_decay, numbers.Real) \
                or not 0.0 <= w_avg_decay < 1.0:
            raise ValueError(f"w_avg_decay must be in [0, 1), got {w_avg_decay!r}")
        if adversarial_loss != "non_saturating":
            raise ValueError("StyleGAN trains with the non-saturating logistic loss and R1; "
                             f"adversarial_loss must be 'non_saturating', got {adversarial_loss!r}")
        truncation_psi = check_truncation(truncation_psi, "truncation_psi")
        names = {layer.name for layer in getattr(generator, "layers", ())}
        if not {"mapping", "synthesis"} <= names:
            raise ValueError("StyleGAN: the generator must hold layers named 'mapping' and "
                             "'synthesis' (build it with stylegan_generator)")
        super().__init__(generator, discriminator, latent_dim=latent_dim,
                         image_shape=image_shape, adversarial_loss=adversarial_loss,
                         ema_decay=ema_decay, **kwargs)
        self.num_ws = int(self.synthesis.input_shape[1])
        self.w_dim = int(self.synthesis.input_shape[2])
        self.style_mixing = float(style_mixing)
        self.r1_gamma = float(r1_gamma)
        self.r1_every = int(r1_every)
        self.truncation_psi = truncation_psi
        self.w_avg_decay = float(w_avg_decay)
        self._sampling_truncation = None

    def build(self, input_shape=None):
        # Called by AdversarialModel.__init__ (every other weight lives in the sub-models);
        # LatentGAN's makes generator_ema.
        super().build(input_shape)
        if getattr(self, "w_avg", None) is None:
            w_dim = int(self.generator.get_layer("synthesis").input_shape[2])
            # Mean aggregation: each replica assigns its own EMA, the variable keeps their
            # mean (equal shares of the batch: the global-batch EMA).
            self.w_avg = self.add_weight(shape=(w_dim,), initializer="zeros",
                                         trainable=False, dtype="float32", autocast=False,
                                         aggregation="mean", name="w_avg")
        self.built = True

    @property
    def mapping(self):
        """``z -> w`` (a layer of ``generator``)."""
        return self.generator.get_layer("mapping")

    @property
    def synthesis(self):
        """``ws -> images`` (a layer of ``generator``)."""
        return self.generator.get_layer("synthesis")

    def get_config(self):
        config = super().get_config()
        config.pop("num_classes", None)  # always unconditional
        config.pop("label_smoothing", None)
        config.update(style_mixing=self.style_mixing, r1_gamma=self.r1_gamma,
                      r1_every=self.r1_every, truncation_psi=self.truncation_psi,
                      w_avg_decay=self.w_avg_decay)
        return config

    def default_optimizers(self):
        # StyleGAN2's Adam(beta_1=0, beta_2=0.99) at a rate for small images.
        return (keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99, epsilon=1e-8, name="g_adam"),
                keras.optimizers.Adam(2e-3, beta_1=0.0, beta_2=0.99, epsilon=1e-8, name="d_adam"))

    # --- w, truncation and sampling ----------------------------------------------------

    def truncate(self, w, truncation):
        """``w_avg + psi (w - w_avg)`` for ``w [N, w_dim]`` (or ``[N, num_ws, w_dim]``)."""
        w = ops.cast(w, "float32")
        w_avg = ops.convert_to_tensor(self.w_avg)
        psi = ops.cast(truncation, "float32")
        return w_avg + psi * (w - w_avg)

    def synthesize(self, z, truncation=1.0):
        """``z`` -> images (float32, about [-1, 1]) of ``sampling_generator`` with
        truncation ``psi`` (a float or a scalar tensor), the same ``w`` in every layer."""
        generator = self.sampling_generator
        w = self.truncate(generator.get_layer("mapping")(z, training=False), truncation)
        ws = ops.repeat(w[:, None, :], self.num_ws, axis=1)
        return ops.cast(generator.get_layer("synthesis")(ws, training=False), "float32")

    def call(self, inputs, training=False):
        return self.synthesize(inputs, self.truncation_psi)

    def generate(self, num_images, *, seed, labels=None, batch_size=256, truncation=None):
        """``GenerativeModel.generate`` with truncation ``psi`` (None: ``truncation_psi``)."""
        psi = self.truncation_psi if truncation is None else check_truncation(truncation)
        previous, self._sampling_truncation = self._sampling_truncation, psi
        try:
            return super().generate(num_images, seed=seed, labels=labels, batch_size=batch_size)
        finally:
            self._sampling_truncation = previous

    def generate_batch(self, z, labels):
        if labels is not None:
            raise ValueError(f"{type(self).__name__} is unconditional: it takes no labels")
        z = check_latents(z, self.latent_dim, f"{type(self).__name__}.generate_batch")
        psi = self.truncation_psi if self._sampling_truncation is None \
            else self._sampling_truncation
        images = ops.convert_to_numpy(self.synthesize(z, psi))
        return np.clip((images + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)

    def serving_endpoints(self):
        """The serving signatures (``AdversarialKind.endpoints`` asks for them)."""
        from keras_segen.serving.stylegan import stylegan_endpoints

        return stylegan_endpoints(self)

    # --- training ----------------------------------------------------------------------

    def mixed_ws(self, batch_size, training=True):
        """``(ws [N, num_ws, w_dim], w [N, w_dim])`` for fresh latents: the first ``z``'s
        ``w`` everywhere, or, with probability ``style_mixing`` per sample, a second
        ``z``'s ``w`` from a random layer in ``[1, num_ws)`` on."""
        w = self.mapping(self.draw_latents(batch_size), training=training)
        ws = ops.repeat(w[:, None, :], self.num_ws, axis=1)
        if self.style_mixing > 0 and self.num_ws > 1:
            other = self.mapping(self.draw_latents(batch_size), training=training)
            mixes = self.draw_uniform((batch_size, 1)) < self.style_mixing
            cutoff = 1 + ops.floor(self.draw_uniform((batch_size, 1)) * (self.num_ws - 1))
            cutoff = ops.where(mixes, cutoff, float(self.num_ws))  # [N, 1]
            layer = ops.arange(self.num_ws, dtype="float32")[None, :]
            from_other = ops.cast(layer >= cutoff, ws.dtype)[:, :, None]
            ws = ws + from_other * (other[:, None, :] - ws)
        return ws, w

    def draw_fakes(self, batch_size, labels, training):
        ws, _ = self.mixed_ws(batch_size, training=training)
        return self.synthesis(ws, training=training)

    def r1_penalty(self, real_images, training=True):
        """``(logits, E ||d D(x) / d x||^2)`` on a real batch; differentiable with respect
        to the discriminator's weights under an outer tape."""
        real_images = ops.cast(real_images, "float32")
        with tf.GradientTape() as tape:
            tape.watch(real_images)
            logits = self.discriminator(real_images, training=training)
            total = ops.sum(ops.cast(logits, "float32"))
        gradients = ops.cast(tape.gradient(total, real_images), "float32")
        penalty = ops.mean(ops.sum(ops.square(gradients), axis=(1, 2, 3)))
        return logits, penalty

    def _r1_due(self):
        if self.r1_every == 1:
            return True
        return ops.equal(ops.mod(self.d_optimizer.iterations, self.r1_every), 0)

    def discriminator_step(self, real_images, labels=None):
        """One discriminator update: logistic loss plus (every ``r1_every`` steps) R1."""
        fake_images = self.draw_fakes(ops.shape(real_images)[0], None, training=True)
        weight = self.r1_every * self.r1_gamma / 2.0
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(fake_images, training=True)
            if self.r1_gamma == 0:
                real_logits = self.discriminator(real_images, training=True)
                penalty = ops.zeros((), "float32")
            elif self.r1_every == 1:
                real_logits, penalty = self.r1_penalty(real_images)
            else:
                # Lazy: a second pass over the reals on due steps only (StyleGAN2's
                # separate regularization pass); -1 marks a step without it.
                real_logits = self.discriminator(real_images, training=True)
                penalty = tf.cond(self._r1_due(), lambda: self.r1_penalty(real_images)[1],
                                  lambda: tf.constant(-1.0))
            adversarial = discriminator_loss(self.d_loss_fn, real_logits, fake_logits)
            applied = ops.maximum(penalty, 0.0)
            # A replica-local mean: scaled like the Keras loss beside it.
            loss = adversarial + self.scale_for_distribution(weight * applied)
            scaled_loss = self.d_optimizer.scale_loss(loss)
        self.apply_update(self.d_optimizer, tape, scaled_loss,
                          self.discriminator.trainable_variables)
        logs = {"d_loss": self.unscale_for_distribution(loss)}
        if self.r1_every == 1 or self.r1_gamma == 0:
            logs["r1"] = penalty
        else:  # lazy: record only the steps that computed it
            self.trackers["r1"].update_state(ops.maximum(penalty, 0.0),
                                             sample_weight=ops.cast(penalty >= 0, "float32"))
        return logs

    def generator_step(self, batch_size, labels=None):
        """One generator update (mapping and synthesis), then the ``w_avg`` update."""
        with tf.GradientTape() as tape:
            ws, w = self.mixed_ws(batch_size, training=True)
            fake_images = self.synthesis(ws, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            loss = generator_loss(self.g_loss_fn, fake_logits)
            scaled_loss = self.g_optimizer.scale_loss(loss)
        self.apply_update(self.g_optimizer, tape, scaled_loss, self.generator.trainable_variables)
        self.update_w_avg(w)
        if self.ema_decay:
            self.update_ema()
        return {"g_loss": self.unscale_for_distribution(loss)}

    def update_w_avg(self, w):
        """``w_avg <- mean(w) + w_avg_decay * (w_avg - mean(w))`` (this replica's batch)."""
        batch_mean = ops.mean(ops.cast(tf.stop_gradient(w), "float32"), axis=0)
        self.w_avg.assign(batch_mean + self.w_avg_decay * (self.w_avg - batch_mean))

    def test_step(self, data):
        real_images, _ = self.unpack_batch(data)
        batch_size = ops.shape(real_images)[0]
        w = self.mapping(self.draw_latents(batch_size), training=False)
        ws = ops.repeat(w[:, None, :], self.num_ws, axis=1)
        fake_logits = self.discriminator(self.synthesis(ws, training=False), training=False)
        real_logits, penalty = self.r1_penalty(real_images, training=False)
        adversarial = discriminator_loss(self.d_loss_fn, real_logits, fake_logits)
        loss = adversarial + self.scale_for_distribution(self.r1_gamma / 2.0 * penalty)
        self.record({"d_loss": self.unscale_for_distribution(loss),
                     "g_loss": self.unscale_for_distribution(
                         generator_loss(self.g_loss_fn, fake_logits)),
                     "r1": penalty})
        return {m.name: m.result() for m in self.metrics}


@register_architecture("stylegan", task="generation", kind="adversarial")
def stylegan(
    *,
    image_shape=(28, 28, 1),
    latent_dim=128,
    w_dim=128,
    mapping_layers=4,
    mapping_lr_multiplier=0.01,
    base_filters=32,
    mbstd_group_size=4,
    style_mixing=0.9,
    r1_gamma=0.01,
    r1_every=1,
    truncation_psi=1.0,
    w_avg_decay=0.995,
    ema_decay=0.999,
    seed=0,
    name="stylegan",
):
    """StyleGAN: mapping network, modulated-conv synthesis with noise, R1, truncation.

    ``r1_gamma`` defaults to 0.01, StyleGAN2-ADA's value at CIFAR-10's 32x32 (the
    penalty's weight grows with the resolution: 10 at 1024x1024).
    """
    if len(image_shape) != 3:
        raise ValueError(f"image_shape must be (H, W, C), got {image_shape}")
    image_shape = tuple(int(d) for d in image_shape)
    for value, what in ((latent_dim, "latent_dim"), (w_dim, "w_dim"),
                        (mapping_layers, "mapping_layers"), (base_filters, "base_filters"),
                        (mbstd_group_size, "mbstd_group_size")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{what} must be a positive int, got {value!r}")
    if isinstance(mapping_lr_multiplier, bool) \
            or not isinstance(mapping_lr_multiplier, numbers.Real) \
            or not 0 < mapping_lr_multiplier <= 1:
        raise ValueError(
            f"mapping_lr_multiplier must be in (0, 1], got {mapping_lr_multiplier!r}")
    mapping = mapping_network(latent_dim, w_dim, mapping_layers, mapping_lr_multiplier)
    synthesis = synthesis_network(image_shape, w_dim, base_filters, seed=seed)
    return StyleGAN(
        stylegan_generator(mapping, synthesis, name=f"{name}_generator"),
        stylegan_discriminator(image_shape, base_filters, mbstd_group_size,
                               name=f"{name}_discriminator"),
        latent_dim=latent_dim, image_shape=image_shape, style_mixing=style_mixing,
        r1_gamma=r1_gamma, r1_every=r1_every, truncation_psi=truncation_psi,
        w_avg_decay=w_avg_decay, ema_decay=ema_decay, seed=seed, name=name,
    )

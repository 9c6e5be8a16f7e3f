"""WGAN-GP (Gulrajani et al. 2017): Wasserstein loss, gradient penalty, n critic steps.

Each ``train_step`` runs ``critic_steps`` critic updates on the step's real batch, each
with fresh latents and fresh interpolation weights (as in the Keras WGAN-GP example;
the paper draws a new real batch per critic step), then one generator update. The
critic is the DCGAN discriminator with layer normalization instead of batch norm: the
gradient penalty is defined per sample, and batch norm would couple samples.

Trackers: ``d_loss`` (critic loss including ``gp_weight * gp``), ``g_loss``, ``gp`` (the
penalty ``E[(||grad D(x_hat)|| - 1)^2]``) and ``wasserstein`` (``E[D(x)] - E[D(G(z))]``,
the critic's estimate of the distance, which should fall as training goes).
"""

import tensorflow as tf

import keras
from keras import ops

from keras_segen.generation.adversarial import LatentGAN
from keras_segen.generation.dcgan import build_latent_gan
from keras_segen.losses.adversarial import discriminator_loss, generator_loss
from keras_segen.registry import register_architecture

# Inside the square root, so the norm's gradient stays finite where the gradient is 0.
GRADIENT_NORM_EPSILON = 1e-12


def gradient_penalty(critic, real_images, fake_images, weights, critic_inputs=None, training=True):
    """``mean((sqrt(sum(g^2) + 1e-12) - 1)^2)`` with ``g = d critic / d x_hat`` at
    ``x_hat = real + weights * (fake - real)`` (``weights``: ``[N, 1, 1, 1]`` in [0, 1]).

    ``critic_inputs(x_hat)`` builds the critic's input (e.g. adds labels); identity by
    default. Differentiable with respect to the critic's weights when called under an
    outer ``tf.GradientTape``.
    """
    real_images = ops.cast(real_images, "float32")
    fake_images = ops.cast(fake_images, "float32")
    mixed = real_images + weights * (fake_images - real_images)
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(critic_inputs(mixed) if critic_inputs else mixed, training=training)
        # Samples don't interact (no batch norm), so d sum / d x_hat is per-sample.
        total = ops.sum(ops.cast(scores, "float32"))
    gradients = ops.cast(tape.gradient(total, mixed), "float32")
    reduce_axes = tuple(range(1, len(gradients.shape)))
    norms = ops.sqrt(ops.sum(ops.square(gradients), axis=reduce_axes) + GRADIENT_NORM_EPSILON)
    return ops.mean(ops.square(norms - 1.0))


@keras.saving.register_keras_serializable(package="keras_segen")
class WGANGP(LatentGAN):
    """A latent GAN trained as WGAN-GP.

    Args:
        critic_steps: critic updates per generator update (5 in the paper).
        gp_weight: weight of the gradient penalty (lambda = 10 in the paper).
        **kwargs: see ``LatentGAN``; ``adversarial_loss`` defaults to "wasserstein".
    """

    TRACKER_NAMES = ("d_loss", "g_loss", "gp", "wasserstein")

    def __init__(
        self,
        generator,
        discriminator,
        *,
        critic_steps=5,
        gp_weight=10.0,
        adversarial_loss="wasserstein",
        **kwargs,
    ):
        if isinstance(critic_steps, bool) or int(critic_steps) != critic_steps or critic_steps < 1:
            raise ValueError(f"critic_steps must be a positive int, got {critic_steps!r}")
        if gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {gp_weight}")
        super().__init__(generator, discriminator, adversarial_loss=adversarial_loss, **kwargs)
        self.critic_steps = int(critic_steps)
        self.gp_weight = float(gp_weight)

    @property
    def critic(self):
        """The discriminator, by its WGAN name."""
        return self.discriminator

    def default_optimizers(self):
        # The paper's Adam(1e-4, beta_1=0, beta_2=0.9): momentum hurts the critic.
        return (
            keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9, name="g_adam"),
            keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9, name="d_adam"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(critic_steps=self.critic_steps, gp_weight=self.gp_weight)
        return config

    def draw_interpolation_weights(self, batch_size):
        """``[N, 1, 1, 1]`` uniform weights of the fake image in ``x_hat``."""
        return self.draw_uniform((batch_size, 1, 1, 1))

    def _critic_terms(self, real_images, fake_images, labels, training):
        batch_size = ops.shape(real_images)[0]
        real_scores = self.discriminator(
            self.discriminator_inputs(real_images, labels), training=training
        )
        fake_scores = self.discriminator(
            self.discriminator_inputs(fake_images, labels), training=training
        )
        adversarial = discriminator_loss(self.d_loss_fn, real_scores, fake_scores)
        penalty = gradient_penalty(
            self.discriminator,
            real_images,
            fake_images,
            self.draw_interpolation_weights(batch_size),
            critic_inputs=lambda mixed: self.discriminator_inputs(mixed, labels),
            training=training,
        )
        # The penalty is a plain local mean: scale it like the Keras loss beside it.
        loss = adversarial + self.scale_for_distribution(self.gp_weight * penalty)
        logs = {
            "d_loss": self.unscale_for_distribution(loss),
            "gp": penalty,
            "wasserstein": ops.mean(ops.cast(real_scores, "float32"))
            - ops.mean(ops.cast(fake_scores, "float32")),
        }
        return loss, fake_scores, logs

    def discriminator_step(self, real_images, labels=None):
        """One critic update (Wasserstein loss + gradient penalty); only critic weights change."""
        fake_images = self.draw_fakes(ops.shape(real_images)[0], labels, training=True)
        with tf.GradientTape() as tape:
            loss, _, logs = self._critic_terms(real_images, fake_images, labels, training=True)
            scaled_loss = self.d_optimizer.scale_loss(loss)
        self.apply_update(
            self.d_optimizer, tape, scaled_loss, self.discriminator.trainable_variables
        )
        return logs

    def train_step(self, data):
        real_images, labels = self.unpack_batch(data)
        for _ in range(self.critic_steps):
            self.record(self.discriminator_step(real_images, labels))
        self.record(self.generator_step(ops.shape(real_images)[0], labels))
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        real_images, labels = self.unpack_batch(data)
        fake_images = self.draw_fakes(ops.shape(real_images)[0], labels, training=False)
        _, fake_scores, logs = self._critic_terms(real_images, fake_images, labels, training=False)
        logs["g_loss"] = self.unscale_for_distribution(generator_loss(self.g_loss_fn, fake_scores))
        self.record(logs)
        return {m.name: m.result() for m in self.metrics}


@register_architecture("wgan_gp", task="generation", kind="adversarial")
def wgan_gp(
    *,
    image_shape=(28, 28, 1),
    latent_dim=128,
    base_filters=64,
    critic_steps=5,
    gp_weight=10.0,
    ema_decay=0.0,
    seed=None,
    name="wgan_gp",
):
    """WGAN-GP: DCGAN generator, layer-normalized critic, gradient penalty.
    ``ema_decay`` > 0: sample from an EMA of the generator's weights (``LatentGAN``)."""
    return build_latent_gan(WGANGP, image_shape, latent_dim, base_filters, "layer",
                            name=name, discriminator_role="critic",
                            critic_steps=critic_steps, gp_weight=gp_weight,
                            ema_decay=ema_decay, seed=seed)

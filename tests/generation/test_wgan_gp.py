"""WGAN-GP: gradient penalty against numpy, critic steps, defaults, trackers."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen
from keras import ops
from keras_segen.generation.wgan_gp import WGANGP, gradient_penalty

SHAPE = (16, 16, 1)


def tiny(**kwargs):
    return keras_segen.build(
        "wgan_gp", image_shape=SHAPE, latent_dim=8, base_filters=8, seed=0, **kwargs
    )


def images(n, seed):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *SHAPE)).astype("float32")


def test_gradient_penalty_matches_numpy_for_a_quadratic_critic():
    # critic(x) = sum(x^2) per sample: its gradient at x_hat is 2 x_hat.
    def critic(x, training=True):
        return ops.sum(ops.square(x), axis=(1, 2, 3))

    real, fake = images(3, 0), images(3, 1)
    weights = np.array([0.0, 0.3, 1.0], "float32").reshape(3, 1, 1, 1)
    mixed = real + weights * (fake - real)
    norms = np.sqrt((np.square(2 * mixed.astype("float64"))).sum(axis=(1, 2, 3)) + 1e-12)
    expected = np.mean((norms - 1) ** 2)
    np.testing.assert_allclose(
        float(gradient_penalty(critic, real, fake, weights)), expected, rtol=1e-5
    )


def test_epsilon_inside_the_root_keeps_the_penalty_gradient_finite():
    # A critic with zero weights has a zero input gradient, where d sqrt(s)/ds is
    # infinite without the epsilon.
    critic = keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Flatten(),
            keras.layers.Dense(1, kernel_initializer="zeros"),
        ]
    )
    real, fake = images(2, 0), images(2, 1)
    weights = np.full((2, 1, 1, 1), 0.5, "float32")
    with tf.GradientTape() as tape:
        penalty = gradient_penalty(critic, real, fake, weights)
    np.testing.assert_allclose(float(penalty), (np.sqrt(1e-12) - 1) ** 2, rtol=1e-6)
    kernel = critic.layers[-1].kernel
    gradient = tape.gradient(penalty, kernel)  # the bias doesn't enter the penalty
    assert gradient is not None and np.all(np.isfinite(gradient.numpy()))


def test_critic_steps_per_generator_step_and_trackers():
    model = tiny(critic_steps=3)
    model.compile()
    history = model.fit(images(8, 0), batch_size=4, epochs=1, verbose=0).history
    assert int(model.d_optimizer.iterations) == 6 and int(model.g_optimizer.iterations) == 2
    assert set(history) == {"d_loss", "g_loss", "gp", "wasserstein"}
    assert history["gp"][0] >= 0


def test_without_penalty_the_critic_loss_is_minus_the_wasserstein_estimate():
    model = tiny(gp_weight=0.0)
    model.compile()
    logs = model.discriminator_step(tf.constant(images(4, 0)))
    np.testing.assert_allclose(float(logs["d_loss"]), -float(logs["wasserstein"]), rtol=1e-5)
    model = tiny(gp_weight=10.0)
    model.compile()
    logs = model.discriminator_step(tf.constant(images(4, 0)))
    np.testing.assert_allclose(
        float(logs["d_loss"]), -float(logs["wasserstein"]) + 10.0 * float(logs["gp"]), rtol=1e-4
    )


def test_defaults_follow_the_paper():
    model = tiny()
    assert isinstance(model, WGANGP) and model.critic is model.discriminator
    assert (model.critic_steps, model.gp_weight, model.adversarial_loss) == (5, 10.0, "wasserstein")
    model.compile()
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert float(optimizer.learning_rate) == pytest.approx(1e-4)
        assert float(optimizer.beta_1) == pytest.approx(0.0)
        assert float(optimizer.beta_2) == pytest.approx(0.9)
    # Per-sample penalty: no batch norm in the critic, layer norm instead.
    critic_types = {type(layer) for layer in model.critic.layers}
    assert keras.layers.BatchNormalization not in critic_types
    assert keras.layers.LayerNormalization in critic_types
    assert "wgan_gp" in keras_segen.list_architectures(task="generation")


def test_config_keeps_critic_steps_and_gp_weight():
    model = tiny(critic_steps=2, gp_weight=5.0)
    clone = WGANGP.from_config(model.get_config())
    assert (clone.critic_steps, clone.gp_weight) == (2, 5.0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="critic_steps must be a positive int"):
        tiny(critic_steps=0)
    with pytest.raises(ValueError, match="gp_weight must be >= 0"):
        tiny(gp_weight=-1.0)

"""VAE: shapes, loss terms vs numpy, updates, the sampling layer, sampling. Save/load,
MirroredStrategy and bf16 run for every architecture in tests/test_architectures.py."""
import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen
from architecture_harness import two_cpu_strategy
from keras_segen.generation.vae import VAE, kl_divergence, reconstruction_error
from keras_segen.layers.sampling import Sampling

SHAPE = (16, 16, 1)
TINY = dict(image_shape=SHAPE, latent_dim=4, base_filters=8, hidden_units=16, seed=0)


def tiny_vae(**overrides):
    return keras_segen.build("vae", **{**TINY, **overrides})


def images(n=4, seed=0):
    return np.random.default_rng(seed).random((n,) + SHAPE).astype("float32")


def make_posterior_deterministic(model):
    """z_log_var = -40 everywhere: sampling noise becomes ~1e-9, so z == z_mean."""
    head = model.encoder.get_layer("z_log_var")
    kernel, bias = head.get_weights()
    head.set_weights([np.zeros_like(kernel), np.full_like(bias, -40.0)])


def numpy_losses(model, x):
    z_mean, z_log_var = (np.asarray(t) for t in model.encode(x))
    logits = np.asarray(model.decode_logits(z_mean)).astype("float64")
    bce = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    reconstruction = bce.sum(axis=(1, 2, 3)).mean()
    kl = (-0.5 * (1 + z_log_var - z_mean**2 - np.exp(z_log_var)).sum(-1)).mean()
    return reconstruction + model.beta * kl, reconstruction, kl


def test_registered_with_generation_task_and_attributes():
    assert "vae" in keras_segen.list_architectures(task="generation")
    model = tiny_vae()
    assert isinstance(model, VAE)
    assert model.latent_dim == 4 and model.image_shape == SHAPE
    assert model.num_classes == 0


def test_forward_shapes_dtypes_and_range():
    model, x = tiny_vae(), images()
    z_mean, z_log_var = model.encode(x)
    assert z_mean.shape == (4, 4) and z_log_var.shape == (4, 4)
    decoded = np.asarray(model.decode(np.zeros((3, 4), "float32")))
    assert decoded.shape == (3,) + SHAPE and decoded.dtype == np.float32
    assert 0.0 <= decoded.min() and decoded.max() <= 1.0
    assert model.reconstruct(x).shape == (4,) + SHAPE
    np.testing.assert_allclose(model(x), model.reconstruct(x), atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), model.reconstruct(x), atol=1e-6)


def test_loss_functions_against_numpy():
    rng = np.random.default_rng(1)
    x = rng.random((3,) + SHAPE).astype("float32")
    logits = rng.normal(size=x.shape).astype("float32") * 3
    bce = np.maximum(logits, 0) - logits * x + np.log1p(np.exp(-np.abs(logits)))
    np.testing.assert_allclose(
        reconstruction_error(x, logits, "bce"), bce.sum(axis=(1, 2, 3)), rtol=1e-5
    )
    mse = (x - 1 / (1 + np.exp(-logits))) ** 2
    np.testing.assert_allclose(
        reconstruction_error(x, logits, "mse"), mse.sum(axis=(1, 2, 3)), rtol=1e-5
    )
    mean, log_var = rng.normal(size=(2, 3, 4)).astype("float32")
    kl = -0.5 * (1 + log_var - mean**2 - np.exp(log_var)).sum(-1)
    np.testing.assert_allclose(kl_divergence(mean, log_var), kl, rtol=1e-5)


def test_logged_terms_match_numpy_for_fixed_encoder_outputs():
    model, x = tiny_vae(beta=2.5), images()
    make_posterior_deterministic(model)
    total, reconstruction, kl = numpy_losses(model, x)
    model.compile(keras.optimizers.SGD(0.0))
    logs = model.evaluate(x, batch_size=4, return_dict=True, verbose=0)
    np.testing.assert_allclose(logs["reconstruction_loss"], reconstruction, rtol=1e-4)
    np.testing.assert_allclose(logs["kl_loss"], kl, rtol=1e-4)
    np.testing.assert_allclose(logs["loss"], total, rtol=1e-4)
    # train_step logs the loss before its update: the same numbers.
    history = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    np.testing.assert_allclose(history["loss"][0], total, rtol=1e-4)


def test_one_train_step_moves_every_weight():
    model, x = tiny_vae(), images()
    model.compile(keras.optimizers.Adam(1e-2))
    before = [v.numpy().copy() for v in model.trainable_variables]
    # Labelled batches are accepted; an unconditional VAE ignores the labels.
    model.fit(x, np.arange(4), batch_size=4, epochs=1, verbose=0)
    assert int(model.optimizer.iterations) == 1
    for variable, old in zip(model.trainable_variables, before):
        assert not np.allclose(variable.numpy(), old), variable.path


def test_sampling_layer_draws_fresh_noise_with_own_seed_generator():
    layer = Sampling(seed=3)
    mean, log_var = np.zeros((2, 5), "float32"), np.zeros((2, 5), "float32")
    first, second = layer([mean, log_var]), layer([mean, log_var])
    assert not np.allclose(first, second)
    np.testing.assert_allclose(Sampling(seed=3)([mean, log_var]), first)
    assert Sampling.from_config(layer.get_config()).seed == 3


def test_sampling_layer_under_mirrored_strategy_matches_one_device():
    mean = np.arange(8, dtype="float32").reshape(4, 2)
    log_var = np.zeros((4, 2), "float32")
    expected = Sampling(seed=5)([mean, log_var])
    strategy = two_cpu_strategy()
    with strategy.scope():
        layer = Sampling(seed=5)
    dataset = tf.data.Dataset.from_tensors((mean, log_var))
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
    per_replica = strategy.run(tf.function(lambda m, v: layer([m, v])), args=batch)
    got = np.concatenate([t.numpy() for t in strategy.experimental_local_results(per_replica)])
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_generate_is_deterministic_per_seed():
    model = tiny_vae()
    a = model.generate(5, seed=7)
    assert a.shape == (5,) + SHAPE and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, model.generate(5, seed=7))
    # Another batch size: the same latents, but oneDNN may round 1 ulp differently.
    np.testing.assert_allclose(a, model.generate(5, seed=7, batch_size=2), rtol=0, atol=1e-5)
    assert not np.allclose(a, model.generate(5, seed=8))
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, seed=0, labels=[0, 1])


def test_bad_inputs_raise_clear_errors():
    model = tiny_vae()
    model.compile("adam")
    expected_vs_got = r"expected images of shape \(None, 16, 16, 1\).*got \(2, 16, 16, 3\)"
    with pytest.raises(ValueError, match=expected_vs_got):
        model.encode(np.zeros((2, 16, 16, 3), "float32"))
    with pytest.raises(ValueError, match=r"got \(4, 28, 28, 1\)"):
        model.fit(np.zeros((4, 28, 28, 1), "float32"), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"expected z of shape \(None, 4\)"):
        model.decode(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="decode: z must be finite"):  # was a black image
        model.decode(np.full((2, 4), np.nan, "float32"))
    with pytest.raises(ValueError, match="divisible"):
        tiny_vae(image_shape=(18, 18, 1))
    with pytest.raises(ValueError, match="reconstruction"):
        tiny_vae(reconstruction="l1")

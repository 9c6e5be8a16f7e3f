"""Behaviour shared by every latent GAN (dcgan, wgan_gp, cgan) via the AdversarialModel base:
player-separated updates, trackers, sampling, input checks. Save/load with both optimizers,
MirroredStrategy and bf16 run for every architecture in tests/test_architectures.py."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen

IMAGE_SHAPE = (16, 16, 1)
BATCH = 4
TINY = dict(image_shape=IMAGE_SHAPE, latent_dim=8, base_filters=8)
EXTRA = {"dcgan": {}, "wgan_gp": {"critic_steps": 2}, "cgan": {"num_classes": 3}}
ARCHS = tuple(EXTRA)


def build(arch, seed=0, **kwargs):
    return keras_segen.build(arch, seed=seed, **TINY, **EXTRA[arch], **kwargs)


def batch(model, n=BATCH, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (n, *IMAGE_SHAPE)).astype("float32")
    if model.num_classes:
        return images, (np.arange(n) % model.num_classes).astype("int32")
    return (images,)


def snapshot(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def changed(before, model):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, model.trainable_variables)]


def kernels_changed(before, model):
    """Every kernel/embedding moved (a Wasserstein critic's output bias has zero gradient:
    it cancels between the real and the generated term)."""
    flags = changed(before, model)
    return all(f for f, v in zip(flags, model.trainable_variables) if "bias" not in v.path)


@pytest.mark.parametrize("arch", ARCHS)
def test_public_attributes_and_forward(arch):
    model = build(arch)
    assert model.latent_dim == 8 and model.image_shape == IMAGE_SHAPE
    assert model.num_classes == (3 if arch == "cgan" else 0)
    z = np.random.default_rng(0).normal(size=(2, 8)).astype("float32")
    images = model([z, np.array([0, 2])]) if model.num_classes else model(z)
    assert tuple(images.shape) == (2, *IMAGE_SHAPE) and images.dtype == "float32"
    assert np.all(np.abs(images) <= 1.0)
    labels = tf.constant([0, 2])
    logits = model.discriminator([images, labels] if model.num_classes else images)
    assert tuple(logits.shape) == (2, 1)


@pytest.mark.parametrize("arch", ARCHS)
def test_each_step_updates_only_its_own_player(arch):
    model = build(arch)
    model.compile()
    data = batch(model)
    images = tf.constant(data[0])
    labels = tf.constant(data[1]) if model.num_classes else None

    g_before, d_before = snapshot(model.generator), snapshot(model.discriminator)
    logs = model.discriminator_step(images, labels)
    assert np.isfinite(float(logs["d_loss"]))
    assert kernels_changed(d_before, model.discriminator)
    assert not any(changed(g_before, model.generator))

    g_before, d_before = snapshot(model.generator), snapshot(model.discriminator)
    logs = model.generator_step(BATCH, labels)
    assert np.isfinite(float(logs["g_loss"]))
    assert kernels_changed(g_before, model.generator)
    assert not any(changed(d_before, model.discriminator))
    assert int(model.g_optimizer.iterations) == 1 and int(model.d_optimizer.iterations) == 1


@pytest.mark.parametrize("arch", ARCHS)
def test_fit_logs_trackers_and_counts_critic_steps(arch):
    model = build(arch)
    model.compile()
    history = model.fit(*batch(model, 2 * BATCH), batch_size=BATCH, epochs=1, verbose=0)
    expected = {"d_loss", "g_loss"} | ({"gp", "wasserstein"} if arch == "wgan_gp" else set())
    assert set(history.history) == expected
    assert all(np.isfinite(v[0]) for v in history.history.values())
    d_updates = 2 * (model.critic_steps if arch == "wgan_gp" else 1)
    assert int(model.d_optimizer.iterations) == d_updates
    assert int(model.g_optimizer.iterations) == 2
    results = model.evaluate(*batch(model), batch_size=BATCH, verbose=0, return_dict=True)
    assert set(results) == expected
    assert int(model.g_optimizer.iterations) == 2  # evaluate updates nothing


@pytest.mark.parametrize("arch", ARCHS)
def test_generate_is_deterministic_per_seed(arch):
    model = build(arch)
    first = model.generate(6, seed=11, batch_size=4)
    assert first.shape == (6, *IMAGE_SHAPE) and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    np.testing.assert_array_equal(model.generate(6, seed=11, batch_size=4), first)
    # Another batch size: the same latents, but oneDNN may round 1 ulp differently.
    np.testing.assert_allclose(model.generate(6, seed=11), first, rtol=0, atol=1e-5)
    assert not np.allclose(model.generate(6, seed=12), first)
    # Sampling doesn't consume the training RNG.
    state = model.seed_generator.state.numpy().copy()
    model.generate(2, seed=1)
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), state)


@pytest.mark.parametrize("arch", ARCHS)
def test_wrong_image_shape_or_channels_is_a_clear_error(arch):
    model = build(arch)
    model.compile()
    data = list(batch(model))
    data[0] = np.zeros((BATCH, 16, 16, 3), "float32")
    with pytest.raises(ValueError, match=r"\(16, 16, 1\).*got \(16, 16, 3\)"):
        model.fit(*data, batch_size=BATCH, verbose=0)
    data[0] = np.zeros((BATCH, 32, 32, 1), "float32")
    with pytest.raises(ValueError, match="expects images of shape"):
        model.fit(*data, batch_size=BATCH, verbose=0)
    data[0] = np.zeros((BATCH, 16, 16, 1), "uint8")
    with pytest.raises(TypeError, match="scaled to \\[-1, 1\\]"):
        model.fit(*data, batch_size=BATCH, verbose=0)


def test_unscaled_images_and_unknown_static_shapes_are_checked_at_run_time():
    model = build("dcgan")
    model.compile()
    images = np.full((BATCH, *IMAGE_SHAPE), 255.0, "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"scaled to \[-1, 1\]"):
        model.fit(images, batch_size=BATCH, verbose=0)
    # Sizes unknown when tracing (e.g. a decoded-image pipeline) are checked when running.
    unknown = tf.data.Dataset.from_generator(
        lambda: iter([np.zeros((BATCH, 32, 32, 1), "float32")]),
        output_signature=tf.TensorSpec((None, None, None, 1), tf.float32),
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\(16, 16, 1\)"):
        model.fit(unknown, shuffle=False, verbose=0)


def test_compile_rejects_single_optimizer_and_wrong_player_loss():
    model = build("dcgan")
    with pytest.raises(TypeError, match="g_optimizer/d_optimizer"):
        model.compile(optimizer="adam")
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer instances"):
        model.compile(g_optimizer=shared, d_optimizer=shared)
    with pytest.raises(ValueError, match="player='discriminator' loss"):
        model.compile(g_loss=keras_segen.losses.HingeLoss(player="discriminator"))
    with pytest.raises(ValueError, match="unknown adversarial loss"):
        build("dcgan", loss="softmax")


def test_compile_accepts_named_losses_and_default_optimizers():
    model = build("dcgan")
    model.compile(g_loss="hinge", d_loss="hinge")
    assert isinstance(model.d_loss_fn, keras_segen.losses.HingeLoss)
    assert model.d_loss_fn.player == "discriminator" and model.g_loss_fn.player == "generator"
    model = build("dcgan", label_smoothing=0.1)
    with pytest.raises(ValueError, match="no probability targets to smooth"):
        model.compile(d_loss="hinge")
    model.compile()
    assert model.d_loss_fn.label_smoothing == 0.1 and model.g_loss_fn.label_smoothing == 0.0
    assert float(model.g_optimizer.learning_rate) == pytest.approx(2e-4)
    assert float(model.d_optimizer.beta_1) == pytest.approx(0.5)


# --- generator EMA ----------------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHS)
def test_a_training_step_moves_the_ema_generator_by_the_decay(arch):
    model = build(arch, ema_decay=0.9)
    model.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    assert not model.generator_ema.trainable_weights  # no optimizer moves it
    before = [w.numpy() for w in model.generator_ema.weights]
    model.fit(*batch(model), batch_size=BATCH, verbose=0)
    moved = 0
    for ema, weight, old in zip(model.generator_ema.weights, model.generator.weights, before):
        now = weight.numpy()
        if weight.trainable:
            np.testing.assert_allclose(ema.numpy(), now + 0.9 * (old - now), rtol=1e-5, atol=1e-6)
            moved += not np.allclose(old, now)
        else:  # batch-norm statistics: the trained generator's, copied
            np.testing.assert_array_equal(ema.numpy(), now)
    assert moved
    # Sampling reads the average, not the trained weights.
    z = np.random.default_rng(1).normal(size=(2, 8)).astype("float32")
    inputs = [z, np.array([0, 1])] if model.num_classes else z
    labels = [0, 1] if model.num_classes else None
    expected = (np.asarray(model.generator_ema(inputs, training=False)) + 1) / 2
    np.testing.assert_allclose(model.generate_batch(z, labels), np.clip(expected, 0, 1),
                               atol=1e-6)
    raw = (np.asarray(model.generator(inputs, training=False)) + 1) / 2
    assert not np.allclose(model.generate_batch(z, labels), np.clip(raw, 0, 1), atol=1e-6)


def test_without_ema_there_is_no_copy_and_bad_decays_are_refused():
    assert getattr(build("dcgan"), "generator_ema", None) is None
    model = build("dcgan")
    assert model.sampling_generator is model.generator and model.get_config()["ema_decay"] == 0
    for bad in (1.0, -0.1, True):
        with pytest.raises(ValueError, match="ema_decay must be in"):
            build("dcgan", ema_decay=bad)

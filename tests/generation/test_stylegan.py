"""StyleGAN: modulated convolutions, noise, truncation, w_avg, style mixing, R1, sampling,
serving and argument checks (the shared aspects run in tests/test_architectures.py)."""
import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen
from keras_segen.generation.stylegan import StyleGAN
from keras_segen.generation.stylegan.layers import (
    MinibatchStdDev,
    ModulatedConv2D,
    NoiseInjection,
)

@pytest.fixture(autouse=True)
def _fixed_initial_weights():
    # Unseeded initializers draw from Keras' global generator: fix it, so that the
    # statistical checks below see the same weights in every run and order.
    keras.utils.set_random_seed(0)


TINY = dict(image_shape=(8, 8, 1), latent_dim=4, w_dim=6, mapping_layers=2, base_filters=4,
            seed=0)


def tiny(**overrides):
    return keras_segen.build("stylegan", **{**TINY, **overrides})


def reals(n=4, shape=(8, 8, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32")


def test_registered_and_sized_for_fashion_mnist():
    assert "stylegan" in keras_segen.list_architectures(task="generation")
    model = keras_segen.build("stylegan", latent_dim=8, w_dim=8, base_filters=4)
    assert isinstance(model, StyleGAN) and model.KIND == "adversarial"
    # 28x28: a 7x7 constant, then 7 -> 14 -> 28; one conv at 7x7, two per doubling.
    assert model.synthesis.get_layer("s_constant").output.shape[1:3] == (7, 7)
    assert model.num_ws == 6 and model.w_dim == 8
    assert model(np.zeros((2, 8), "float32")).shape == (2, 28, 28, 1)
    assert model.discriminator(np.zeros((2, 28, 28, 1), "float32")).shape == (2, 1)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_equals_a_per_sample_convolution(demodulate):
    rng = np.random.default_rng(0)
    layer = ModulatedConv2D(5, 3, w_index=1, demodulate=demodulate)
    x = rng.standard_normal((3, 6, 7, 4)).astype("float32")
    ws = rng.standard_normal((3, 2, 6)).astype("float32")
    got = np.asarray(layer([x, ws]))
    # Give the bias and affine non-trivial values, then compare again.
    layer.bias.assign(rng.standard_normal(5).astype("float32"))
    got = np.asarray(layer([x, ws]))
    styles = np.asarray(layer.styles(ws))
    kernel = np.asarray(layer.kernel) * layer.weight_gain
    for i in range(3):  # the paper's form: one modulated (demodulated) kernel per sample
        weight = kernel * styles[i][None, None, :, None]
        if demodulate:
            weight = weight / np.sqrt(np.sum(weight**2, axis=(0, 1, 2), keepdims=True) + 1e-8)
        want = tf.nn.conv2d(x[i:i + 1], weight, 1, "SAME")[0] + np.asarray(layer.bias)
        np.testing.assert_allclose(got[i], want, rtol=1e-4, atol=1e-5)


def test_demodulation_gives_unit_variance_outputs():
    rng = np.random.default_rng(1)
    layer = ModulatedConv2D(16, 3, use_bias=False)
    x = rng.standard_normal((4, 40, 40, 32)).astype("float32")
    w = rng.standard_normal((4, 8)).astype("float32") * 3.0  # styles far from 1
    out = np.asarray(layer([x, w]))[:, 1:-1, 1:-1]  # inside the zero padding
    variances = out.var(axis=(1, 2))  # per sample and output channel
    np.testing.assert_allclose(variances, 1.0, atol=0.15)
    plain = np.asarray(ModulatedConv2D(16, 3, demodulate=False, use_bias=False)([x, w]))
    assert abs(plain[:, 1:-1, 1:-1].var() - 1.0) > 0.5  # without it, styles scale the output


def test_noise_is_random_in_training_and_fixed_in_inference():
    layer = NoiseInjection(seed=3)
    x = np.zeros((2, 4, 4, 3), "float32")
    layer.build(x.shape)
    layer.strength.assign(np.ones(3, "float32"))
    first, second = np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True))
    assert not np.allclose(first, second) and not np.allclose(first[0], first[1])
    fixed = np.asarray(layer(x))
    np.testing.assert_array_equal(fixed, np.asarray(layer(x)))
    np.testing.assert_array_equal(fixed[0], fixed[1])
    np.testing.assert_array_equal(fixed[..., 0], fixed[..., 2])  # one map, every channel


def test_minibatch_stddev_groups_consecutive_samples():
    x = np.zeros((4, 2, 2, 1), "float32")
    x[1] = 2.0  # only the first group (samples 0, 1) varies
    out = np.asarray(MinibatchStdDev(group_size=2, epsilon=0.0)(x))
    np.testing.assert_allclose(out[:2, ..., 1], 1.0, atol=1e-6)
    np.testing.assert_allclose(out[2:, ..., 1], 0.0, atol=1e-6)
    odd = np.asarray(MinibatchStdDev(group_size=4)(np.ones((3, 2, 2, 5), "float32")))
    assert odd.shape == (3, 2, 2, 6)  # 3 rows: groups of 3, the largest divisor <= 4


def test_truncation_psi_zero_gives_w_avg_for_every_z_and_one_changes_nothing():
    model = tiny()
    model.w_avg.assign(np.random.default_rng(0).standard_normal(6).astype("float32"))
    z = np.random.default_rng(1).standard_normal((3, 4)).astype("float32")
    collapsed = np.asarray(model.synthesize(z, 0.0))
    np.testing.assert_allclose(collapsed, np.broadcast_to(collapsed[:1], collapsed.shape),
                               atol=1e-6)
    w_avg_image = model.synthesis(np.broadcast_to(model.w_avg.numpy(), (1, model.num_ws, 6)))
    np.testing.assert_allclose(collapsed[0], np.asarray(w_avg_image)[0], atol=1e-6)
    plain = np.asarray(model.generator(z))
    np.testing.assert_allclose(np.asarray(model.synthesize(z, 1.0)), plain, atol=1e-6)
    np.testing.assert_allclose(np.asarray(model(z)), plain, atol=1e-6)  # default psi = 1
    np.testing.assert_array_equal(model.generate(3, seed=2, truncation=1.0),
                                  model.generate(3, seed=2))
    half = model.generate(3, seed=2, truncation=0.5)
    assert not np.allclose(half, model.generate(3, seed=2))
    # The builder's truncation_psi is the default of generate() and call().
    psi_half = tiny(truncation_psi=0.5)
    psi_half.set_weights(model.get_weights())
    np.testing.assert_array_equal(psi_half.generate(3, seed=2), half)


def test_w_avg_is_a_moving_average_of_mapped_w():
    model = tiny(w_avg_decay=0.9)
    start = np.arange(6, dtype="float32")
    model.w_avg.assign(start)
    w = np.random.default_rng(0).standard_normal((5, 6)).astype("float32")
    model.update_w_avg(w)
    expected = w.mean(0) + 0.9 * (start - w.mean(0))
    np.testing.assert_allclose(model.w_avg.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert not model.w_avg.trainable
    assert any(v is model.w_avg for v in model.non_trainable_variables)


def test_generator_ema_follows_the_generator_and_samples():
    model = tiny(ema_decay=0.9)
    assert not model.generator_ema.trainable_weights  # no optimizer moves it
    start = [w.numpy() for w in model.generator_ema.weights]
    for weight in model.generator.trainable_weights:
        weight.assign(weight + 1.0)
    model.update_ema()
    for ema, weight, before in zip(model.generator_ema.weights, model.generator.weights, start):
        if weight.trainable:
            now = weight.numpy()
            np.testing.assert_allclose(ema.numpy(), now + 0.9 * (before - now),
                                       rtol=1e-5, atol=1e-5)
    z = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(z)), np.asarray(model.generator_ema(z)), atol=1e-6)
    assert not np.allclose(np.asarray(model(z)), np.asarray(model.generator(z)), atol=1e-4)
    plain = tiny(ema_decay=0.0)  # no copy: sampling uses the trained generator
    assert getattr(plain, "generator_ema", None) is None
    assert plain.sampling_generator is plain.generator


def test_style_mixing_changes_images_only_when_on():
    rng = np.random.default_rng(0)
    first, second = (rng.standard_normal((4, 4)).astype("float32") for _ in range(2))
    images, unmixed = {}, tiny(style_mixing=0.0)
    for mixing in (0.0, 1.0):
        model = tiny(style_mixing=mixing)
        model.set_weights(unmixed.get_weights())  # the same networks, mixing off or on
        latents = iter([first, second])
        model.draw_latents = lambda n: next(latents)
        ws, w = model.mixed_ws(4)
        ws, w = np.asarray(ws), np.asarray(w)
        w1, w2 = np.asarray(model.mapping(first)), np.asarray(model.mapping(second))
        np.testing.assert_allclose(w, w1, atol=1e-6)
        for row in range(4):
            from_second = np.all(np.isclose(ws[row], w2[row], atol=1e-6), axis=-1)
            if mixing:  # a crossover layer c in [1, num_ws): w1 before it, w2 from it on
                cut = int(np.argmax(from_second))
                assert 1 <= cut < model.num_ws and from_second[cut:].all()
                np.testing.assert_allclose(ws[row, :cut], np.broadcast_to(w1[row], (cut, 6)),
                                           atol=1e-6)
            else:
                assert not from_second.any()
                np.testing.assert_allclose(ws[row], np.broadcast_to(w1[row], ws[row].shape),
                                           atol=1e-6)
        images[mixing] = np.asarray(model.synthesis(ws))
    np.testing.assert_allclose(images[0.0], np.asarray(model.generator(first)), atol=1e-6)
    assert not np.allclose(images[1.0], images[0.0], atol=1e-4)


def test_r1_is_zero_for_a_constant_discriminator_and_positive_otherwise():
    model = tiny()
    x = reals()
    _, penalty = model.r1_penalty(x)
    assert float(penalty) > 0
    logits = model.discriminator.get_layer("d_logits")
    logits.kernel.assign(np.zeros(logits.kernel.shape, "float32"))  # D(x) = bias: constant
    _, penalty = model.r1_penalty(x)
    assert float(penalty) == 0.0


def test_r1_penalty_trains_the_discriminator():
    model = tiny()
    with tf.GradientTape() as tape:
        _, penalty = model.r1_penalty(reals())
    gradients = tape.gradient(penalty, model.discriminator.trainable_variables)
    assert any(g is not None and np.any(np.asarray(g) != 0) for g in gradients)


def test_generate_is_deterministic_per_seed():
    model = tiny()
    a = model.generate(5, seed=7)
    assert a.dtype == np.float32 and a.shape == (5, 8, 8, 1) and 0 <= a.min() <= a.max() <= 1
    np.testing.assert_array_equal(a, model.generate(5, seed=7))
    np.testing.assert_allclose(a, model.generate(5, seed=7, batch_size=2), atol=1e-5)
    assert not np.allclose(a, model.generate(5, seed=8))


@pytest.mark.parametrize("overrides, eager", [
    ({}, True), ({"r1_gamma": 0.0, "style_mixing": 0.0}, True),
    ({"r1_every": 2, "style_mixing": 0.5}, False),  # lazy R1's tf.cond, traced
])
def test_a_few_train_steps_give_finite_losses(overrides, eager):
    model = tiny(**overrides)
    model.compile(run_eagerly=eager)
    history = model.fit(reals(8), batch_size=4, epochs=2, verbose=0).history
    assert set(history) == {"d_loss", "g_loss", "r1"}
    assert all(np.isfinite(v).all() for v in history.values()), history
    assert int(model.d_optimizer.iterations) == int(model.g_optimizer.iterations) == 4
    assert np.any(model.w_avg.numpy() != 0)
    assert isinstance(model.g_optimizer, keras.optimizers.Adam)
    assert float(model.g_optimizer.beta_1) == 0.0
    if not overrides:  # test_step: the same logs, nothing updated
        logs = model.evaluate(reals(4), batch_size=4, verbose=0, return_dict=True)
        assert set(logs) == set(history) and all(np.isfinite(v) for v in logs.values())


def test_serving_signatures_answer_as_generate(tmp_path):
    model = tiny()
    model.w_avg.assign(np.full(6, 0.3, "float32"))
    path = keras_segen.export(model, tmp_path, name="stylegan", version=1)
    served = tf.saved_model.load(str(path)).signatures
    assert set(served) == {"serving_default", "sample"}
    assert sorted(served["serving_default"].structured_input_signature[1]) == ["truncation", "z"]
    out = served["sample"](batch_size=tf.constant(3), seed=tf.constant(4, tf.int64),
                           truncation=tf.constant(0.5))["images"].numpy()
    want = np.round(model.generate(3, seed=4, truncation=0.5) * 255).astype(np.uint8)
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - want).max() <= 1
    z = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")
    out = served["serving_default"](z=tf.constant(z), truncation=tf.constant(1.0))["images"]
    want = np.round(np.clip((np.asarray(model(z)) + 1) / 2, 0, 1) * 255).astype(np.uint8)
    assert np.abs(out.numpy().astype(int) - want).max() <= 1
    with pytest.raises(tf.errors.InvalidArgumentError, match="truncation must be finite"):
        served["serving_default"](z=tf.constant(z), truncation=tf.constant(np.nan))
    with pytest.raises(tf.errors.InvalidArgumentError, match="z must be finite"):
        served["serving_default"](z=tf.constant(z * np.inf), truncation=tf.constant(1.0))


@pytest.mark.parametrize("kwargs, message", [
    ({"style_mixing": 1.5}, "style_mixing"),
    ({"r1_gamma": -1.0}, "r1_gamma"),
    ({"r1_every": 0}, "r1_every"),
    ({"truncation_psi": float("nan")}, "truncation_psi"),
    ({"w_avg_decay": 1.0}, "w_avg_decay"),
    ({"ema_decay": -0.1}, "ema_decay"),
    ({"mapping_layers": 0}, "mapping_layers"),
    ({"w_dim": 0}, "w_dim"),
    ({"mbstd_group_size": 0}, "mbstd_group_size"),
    ({"mapping_lr_multiplier": 0.0}, "mapping_lr_multiplier"),
    ({"image_shape": (7, 7, 1)}, "even and at least 8"),
    ({"image_shape": (8, 8)}, r"\(H, W, C\)"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny(**kwargs)


def test_bad_sampling_arguments_are_refused():
    model = tiny()
    with pytest.raises(ValueError, match="truncation must be a finite number"):
        model.generate(2, seed=0, truncation="0.5")
    with pytest.raises(ValueError, match="truncation must be a finite number"):
        model.generate(2, seed=0, truncation=float("inf"))
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, seed=0, labels=[0, 1])
    with pytest.raises(TypeError, match="seed must be an int"):
        model.generate(2, seed=None)

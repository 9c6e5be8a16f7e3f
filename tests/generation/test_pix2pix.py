"""pix2pix: shapes, player-separated steps, trackers, bad input. Save/load,
MirroredStrategy and bf16 run for every architecture in tests/test_architectures.py."""
import numpy as np
import pytest
import tensorflow as tf

import keras_segen
from keras_segen.generation.pix2pix import Pix2Pix

SIZE = 32
TINY = dict(image_shape=(SIZE, SIZE, 3), base_filters=8, depth=3, seed=0)


def tiny_pix2pix(**overrides):
    return keras_segen.build("pix2pix", **{**TINY, **overrides})


def pairs(n=4, seed=0):
    """One-hot 3-class masks and [-1, 1] target images."""
    rng = np.random.default_rng(seed)
    conditions = np.eye(3, dtype="float32")[rng.integers(0, 3, (n, SIZE, SIZE))]
    targets = rng.uniform(-1, 1, (n, SIZE, SIZE, 3)).astype("float32")
    return conditions, targets


def snapshot(model):
    return [w.copy() for w in model.get_weights()]


def changed(before, model):
    return [not np.allclose(a, b) for a, b in zip(before, model.get_weights())]


def test_registered_and_forward_shapes():
    assert "pix2pix" in keras_segen.list_architectures(task="generation")
    model = tiny_pix2pix()
    assert isinstance(model, Pix2Pix)
    assert model.image_shape == (SIZE, SIZE, 3) and model.condition_channels == 3
    assert model.latent_dim == 0 and model.num_classes == 0
    conditions, targets = pairs()
    out = np.asarray(model(conditions))
    assert out.shape == (4, SIZE, SIZE, 3) and -1 <= out.min() and out.max() <= 1
    images = model.translate(conditions, batch_size=3)
    assert images.shape == (4, SIZE, SIZE, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    np.testing.assert_allclose(images, (out + 1) / 2, atol=1e-6)
    # Class-id masks are one-hot encoded by translate.
    ids = conditions.argmax(-1)
    np.testing.assert_allclose(model.translate(ids), images, atol=1e-6)
    logits = model.discriminator([conditions, targets])
    assert logits.shape == (4, SIZE // 8, SIZE // 8, 1) and logits.dtype == "float32"
    with pytest.raises(TypeError, match="translate"):
        model.generate(2, seed=0)


def test_each_step_moves_only_its_own_player():
    model = tiny_pix2pix()
    model.compile()
    conditions, targets = pairs()
    g_before, d_before = snapshot(model.generator), snapshot(model.discriminator)
    logs = model.discriminator_step(conditions, targets)
    assert set(logs) == {"d_loss"}
    assert not any(changed(g_before, model.generator))
    assert all(changed(d_before, model.discriminator))
    g_before, d_before = snapshot(model.generator), snapshot(model.discriminator)
    logs = model.generator_step(conditions, targets)
    assert set(logs) == {"g_loss", "g_adv", "g_l1"}
    assert all(changed(g_before, model.generator))
    assert not any(changed(d_before, model.discriminator))
    assert int(model.g_optimizer.iterations) == 1 == int(model.d_optimizer.iterations)


def test_fit_logs_all_trackers_consistently():
    model = tiny_pix2pix(l1_weight=10.0)
    model.compile()
    conditions, targets = pairs()
    history = model.fit(conditions, targets, batch_size=4, verbose=0).history
    assert set(history) == {"g_loss", "g_adv", "g_l1", "d_loss"}
    np.testing.assert_allclose(
        history["g_loss"][0], history["g_adv"][0] + 10.0 * history["g_l1"][0], rtol=1e-5
    )
    # Untrained G outputs ~0, so L1 to uniform [-1, 1] targets is ~0.5.
    assert 0.3 < history["g_l1"][0] < 0.7
    logs = model.evaluate(conditions, targets, batch_size=4, return_dict=True, verbose=0)
    np.testing.assert_allclose(logs["g_loss"], logs["g_adv"] + 10.0 * logs["g_l1"], rtol=1e-5)


def test_bad_inputs_raise_clear_errors():
    model = tiny_pix2pix()
    model.compile(run_eagerly=True)  # the same checks, without tracing three steps
    conditions, targets = pairs()
    with pytest.raises(ValueError, match=r"\(32, 32, 3\); got \(4, 32, 32, 2\)"):
        model.translate(conditions[..., :2])
    with pytest.raises(ValueError, match="targets of shape"):
        model.fit(conditions, targets[:, :16, :16], batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="conditions only"):
        model.fit(conditions, batch_size=4, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[-1, 1\]"):
        model.fit(conditions, targets * 255.0, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"class ids must be in \[0, 3\)"):
        model.translate(np.full((1, SIZE, SIZE), 3))
    with pytest.raises(ValueError, match="divisible by 2\\*\\*depth"):
        tiny_pix2pix(image_shape=(36, 36, 3))

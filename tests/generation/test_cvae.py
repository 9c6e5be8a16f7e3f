"""CVAE: label conditioning and checks, updates, sampling. Save/load, MirroredStrategy and
bf16 run for every architecture in tests/test_architectures.py."""
import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen
from keras_segen.generation.cvae import CVAE

SHAPE = (16, 16, 1)
TINY = dict(
    image_shape=SHAPE, latent_dim=4, num_classes=3, base_filters=8, hidden_units=16, seed=0
)
LABELS = np.array([0, 1, 2, 1])


def tiny_cvae(**overrides):
    return keras_segen.build("cvae", **{**TINY, **overrides})


def images(n=4, seed=0):
    return np.random.default_rng(seed).random((n,) + SHAPE).astype("float32")


def test_registered_with_attributes_and_forward_shapes():
    assert "cvae" in keras_segen.list_architectures(task="generation")
    model, x = tiny_cvae(), images()
    assert isinstance(model, CVAE) and model.num_classes == 3 and model.latent_dim == 4
    z_mean, z_log_var = model.encode(x, LABELS)
    assert z_mean.shape == (4, 4) and z_log_var.shape == (4, 4)
    assert model.decode(np.zeros((4, 4), "float32"), LABELS).shape == (4,) + SHAPE
    assert model.reconstruct(x, LABELS[:, None]).shape == (4,) + SHAPE
    assert model((x, LABELS)).shape == (4,) + SHAPE
    np.testing.assert_allclose(
        model.predict((x, LABELS), verbose=0), model.reconstruct(x, LABELS), atol=1e-6
    )


def test_label_conditions_encoder_and_decoder():
    model, x = tiny_cvae(), images()
    other = (LABELS + 1) % 3
    assert not np.allclose(model.encode(x, LABELS)[0], model.encode(x, other)[0])
    z = np.zeros((4, 4), "float32")
    assert not np.allclose(model.decode(z, LABELS), model.decode(z, other))


def test_labels_required_and_range_checked():
    model, x = tiny_cvae(), images()
    with pytest.raises(ValueError, match="conditional; pass labels"):
        model.encode(x)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"got a label >= num_classes=3"):
        model.reconstruct(x, np.array([0, 1, 2, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, 2\]; got a negative label"):
        model.decode(np.zeros((4, 4), "float32"), np.array([0, -1, 2, 1]))
    with pytest.raises(ValueError, match=r"3 labels for a batch of 4"):
        model.encode(x, LABELS[:3])
    model.compile("adam")
    # Inside the compiled train step too.
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_classes=3"):
        model.fit(x, np.array([0, 1, 5, 1]), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="pass labels"):
        model.fit(x, batch_size=4, verbose=0)


def test_one_train_step_moves_every_weight():
    model, x = tiny_cvae(), images()
    model.compile(keras.optimizers.Adam(1e-2))
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.fit(x, LABELS, batch_size=4, verbose=0)
    for variable, old in zip(model.trainable_variables, before):
        assert not np.allclose(variable.numpy(), old), variable.path


def test_generate_is_deterministic_and_label_aware():
    model = tiny_cvae()
    a = model.generate(6, seed=3)
    assert a.shape == (6,) + SHAPE and a.dtype == np.float32
    np.testing.assert_array_equal(a, model.generate(6, seed=3))
    # Another batch size: the same latents, but oneDNN may round 1 ulp differently.
    np.testing.assert_allclose(a, model.generate(6, seed=3, batch_size=4), rtol=0, atol=1e-5)
    # Default labels cycle through the classes: same as asking for them explicitly.
    np.testing.assert_array_equal(a, model.generate(6, seed=3, labels=[0, 1, 2, 0, 1, 2]))
    only_twos = model.generate(6, seed=3, labels=2)
    np.testing.assert_array_equal(only_twos[2], a[2])
    assert not np.allclose(only_twos[0], a[0])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\], got values from 0 to 3"):
        model.generate(2, seed=0, labels=[0, 3])
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        tiny_cvae(num_classes=1)

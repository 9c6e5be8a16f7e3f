"""Conditional GAN: both discriminator kinds, label handling, label errors, conditioning."""

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen
from keras_segen.generation.cgan import ConditionalGAN


def tiny(**kwargs):
    kwargs.setdefault("image_shape", (16, 16, 1))
    return keras_segen.build("cgan", latent_dim=8, base_filters=8, num_classes=3, seed=0, **kwargs)


def images(n, shape=(16, 16, 1)):
    return np.random.default_rng(0).uniform(-1, 1, (n, *shape)).astype("float32")


@pytest.mark.parametrize("kind", ["projection", "concat"])
@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3)])
def test_forward_shapes_for_both_discriminators(kind, shape):
    model = tiny(image_shape=shape, discriminator=kind)
    assert isinstance(model, ConditionalGAN) and model.num_classes == 3
    labels = tf.constant([0, 2])
    fake = model([np.zeros((2, 8), "float32"), labels])
    assert tuple(fake.shape) == (2, *shape) and fake.dtype == "float32"
    logits = model.discriminator([fake, labels])
    assert tuple(logits.shape) == (2, 1) and logits.dtype == "float32"
    layer_names = {layer.name for layer in model.discriminator.layers}
    assert ("d_projection" in layer_names) == (kind == "projection")
    assert ("d_label_map" in layer_names) == (kind == "concat")


def test_the_label_changes_both_players_outputs():
    model = tiny()
    z = np.random.default_rng(1).normal(size=(2, 8)).astype("float32")
    zero, one = model([z, tf.constant([0, 0])]), model([z, tf.constant([1, 1])])
    assert not np.allclose(zero, one)
    logits = [model.discriminator([zero, tf.constant([k, k])]) for k in (0, 1)]
    assert not np.allclose(logits[0], logits[1])


def test_trains_on_labels_of_shape_n_or_n_by_1():
    model = tiny(discriminator="concat")
    model.compile(run_eagerly=True)
    labels = np.array([[0], [1], [2], [1]], "int64")
    history = model.fit(images(4), labels, batch_size=4, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and np.isfinite(history["g_loss"][0])
    dataset = tf.data.Dataset.from_tensor_slices((images(4), labels[:, 0])).batch(2)
    model.fit(dataset, shuffle=False, verbose=0)
    assert int(model.g_optimizer.iterations) == 3


def test_labels_are_required_and_checked():
    model = tiny()
    model.compile()
    with pytest.raises(ValueError, match=r"\(images, labels\) batches"):
        model.fit(images(4), batch_size=4, verbose=0)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=r"in \[0, 2\]; got a label >= num_classes=3"
    ):
        model.fit(images(4), np.array([0, 1, 3, 0]), batch_size=4, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="got a negative label"):
        model.fit(images(4), np.array([0, -1, 2, 0]), batch_size=4, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, 2\]"):
        model([np.zeros((1, 8), "float32"), tf.constant([5])])
    with pytest.raises(ValueError, match=r"call it with \[z, labels\]"):
        model(np.zeros((1, 8), "float32"))


def test_generate_labels():
    model = tiny()
    cycled = model.generate(4, seed=2)  # labels 0, 1, 2, 0
    explicit = model.generate(4, seed=2, labels=[0, 1, 2, 0])
    np.testing.assert_array_equal(cycled, explicit)
    all_ones = model.generate(4, seed=2, labels=1)
    np.testing.assert_array_equal(all_ones[1], cycled[1])  # same z, same label
    assert not np.allclose(all_ones[0], cycled[0])  # same z, another label
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\], got values from 0 to 3"):
        model.generate(2, seed=0, labels=[0, 3])
    with pytest.raises(ValueError, match="expected one label or 3 labels"):
        model.generate(3, seed=0, labels=[0, 1])
    with pytest.raises(ValueError, match="labels must be integers"):
        model.generate(2, seed=0, labels=[0.5, 1.0])


def test_config_and_bad_arguments():
    model = tiny(discriminator="concat")
    clone = ConditionalGAN.from_config(model.get_config())
    assert clone.num_classes == 3 and clone.discriminator.get_layer("d_label_map") is not None
    with pytest.raises(ValueError, match="num_classes must be an int >= 2"):
        keras_segen.build("cgan", num_classes=1)
    with pytest.raises(ValueError, match="discriminator must be one of"):
        keras_segen.build("cgan", discriminator="auxiliary")
    assert "cgan" in keras_segen.list_architectures(task="generation")
    assert isinstance(clone.generator.get_layer("g_label_embedding"), keras.layers.Embedding)

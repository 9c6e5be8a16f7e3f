import numpy as np
import keras
import pytest

from keras_segen.layers import AtrousConv2D


def _pair(rate, input_shape, **kwargs):
    """An AtrousConv2D and a plain Conv2D with the same weights, as unknown-size models."""
    inputs = keras.Input(input_shape)
    atrous = AtrousConv2D(5, 3, dilation_rate=rate, padding="same", name="atrous", **kwargs)
    model = keras.Model(inputs, atrous(inputs))
    plain_inputs = keras.Input(input_shape)
    plain = keras.layers.Conv2D(5, 3, dilation_rate=rate, padding="same", **kwargs)
    reference = keras.Model(plain_inputs, plain(plain_inputs))
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype("float32") for w in atrous.get_weights()]
    atrous.set_weights(weights)
    plain.set_weights(weights)
    return model, reference


@pytest.mark.parametrize("size", [(3, 4), (4, 9), (9, 4), (12, 12), (1, 1)])
@pytest.mark.parametrize("rate", [(4, 4), (2, 6)])
def test_atrous_conv_equals_plain_conv_at_unknown_size(size, rate):
    model, reference = _pair(rate, (None, None, 2))
    x = np.random.default_rng(1).normal(size=(2, *size, 2)).astype("float32")
    np.testing.assert_allclose(model(x).numpy(), reference(x).numpy(), rtol=1e-5, atol=1e-5)
    # and through a traced function (tf.cond in the graph)
    np.testing.assert_allclose(model.predict(x, verbose=0), reference(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [(3, 3), (3, 20)])
def test_atrous_conv_equals_plain_conv_at_static_size(size):
    model, reference = _pair(6, (*size, 2))
    x = np.random.default_rng(2).normal(size=(1, *size, 2)).astype("float32")
    np.testing.assert_allclose(model(x).numpy(), reference(x).numpy(), rtol=1e-5, atol=1e-5)


def test_atrous_conv_gradients_match_and_it_round_trips(tmp_path):
    import tensorflow as tf

    model, reference = _pair(3, (None, None, 2))
    x = tf.constant(np.random.default_rng(3).normal(size=(2, 3, 5, 2)).astype("float32"))
    grads = []
    for m in (model, reference):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(m(x) ** 2)
        grads.append(tape.gradient(loss, m.trainable_weights))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4)
    path = str(tmp_path / "atrous.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored.get_layer("atrous"), AtrousConv2D)
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=1e-6)


def test_atrous_conv_with_stride_falls_back_to_conv2d():
    layer = AtrousConv2D(2, 3, dilation_rate=1, strides=2, padding="same")
    assert layer(np.ones((1, 5, 5, 1), "float32")).shape == (1, 3, 3, 2)

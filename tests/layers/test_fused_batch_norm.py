"""FusedBatchNormalization computes what keras.layers.BatchNormalization computes."""
import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_segen.layers import FusedBatchNormalization, conv_norm_act
from keras_segen.serving.folding import fold_batch_norms, foldable_pairs


def _pair(**kwargs):
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, (4, 6, 7, 5)), tf.float32)
    keras_bn = keras.layers.BatchNormalization(momentum=0.9, **kwargs)
    fused = FusedBatchNormalization(momentum=0.9, **kwargs)
    for layer in (keras_bn, fused):
        layer.build(x.shape)
    return x, keras_bn, fused


def _train_step(layer, x, weights):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * weights)
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return y.numpy(), [g.numpy() for g in grads]


@pytest.mark.parametrize("kwargs", [{}, {"center": False}, {"scale": False}])
def test_training_step_equals_keras(kwargs):
    x, keras_bn, fused = _pair(**kwargs)
    weights = tf.constant(np.random.default_rng(1).normal(size=x.shape), tf.float32)
    for _ in range(2):  # moving statistics after two updates
        expected, expected_grads = _train_step(keras_bn, x, weights)
        got, grads = _train_step(fused, x, weights)
        np.testing.assert_allclose(got, expected, atol=2e-6)
        for g, e in zip(grads, expected_grads):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=2e-5)
    # biased batch variance in the moving average, as Keras does
    np.testing.assert_allclose(fused.moving_mean.numpy(), keras_bn.moving_mean.numpy(),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fused.moving_variance.numpy(),
                               keras_bn.moving_variance.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(fused(x).numpy(), keras_bn(x).numpy(), atol=2e-6)


def test_the_training_step_is_one_fused_kernel():
    x, _, fused = _pair()
    graph = tf.function(lambda t: fused(t, training=True)).get_concrete_function(x).graph
    ops = {op.type for op in graph.get_operations()}
    assert "FusedBatchNormV3" in ops and "Mean" not in ops


@pytest.mark.parametrize("setting", ["mask", "synchronized", "frozen", "rank3"])
def test_other_cases_take_keras_path(setting):
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(4, 6, 5) if setting == "rank3" else (4, 6, 7, 5)),
                    tf.float32)
    keras_bn = keras.layers.BatchNormalization(synchronized=setting == "synchronized")
    fused = FusedBatchNormalization(synchronized=setting == "synchronized")
    mask = tf.constant(rng.random((4, 6, 7)) > 0.3) if setting == "mask" else None
    for layer in (keras_bn, fused):
        layer.build(x.shape)
        layer.trainable = setting != "frozen"
    np.testing.assert_allclose(fused(x, training=True, mask=mask).numpy(),
                               keras_bn(x, training=True, mask=mask).numpy(), atol=1e-6)
    graph = tf.function(lambda t: fused(t, training=True, mask=mask)).get_concrete_function(
        x).graph
    assert "FusedBatchNormV3" not in {op.type for op in graph.get_operations()}


def test_bfloat16_activations_stay_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = FusedBatchNormalization()
        x = tf.cast(tf.random.stateless_normal((2, 4, 4, 3), seed=[0, 1]), tf.bfloat16)
        y = layer(x, training=True)
        assert y.dtype == tf.bfloat16 and layer.gamma.dtype == "float32"
        assert np.isfinite(tf.cast(y, tf.float32).numpy()).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_serializes_and_folds_like_batch_norm(tmp_path):
    inputs = keras.Input((8, 8, 3))
    outputs = conv_norm_act(inputs, 4, name="block")
    model = keras.Model(inputs, outputs)
    assert isinstance(model.get_layer("block_norm"), FusedBatchNormalization)
    x = np.random.default_rng(3).random((2, 8, 8, 3)).astype("float32")
    model.compile("sgd", "mse")
    model.fit(x, np.zeros((2, 8, 8, 4), "float32"), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("block_norm")) is FusedBatchNormalization
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
    assert foldable_pairs(model) == {"block_norm": "block_conv"}
    np.testing.assert_allclose(fold_batch_norms(model)(x).numpy(), model(x).numpy(),
                               atol=1e-5)

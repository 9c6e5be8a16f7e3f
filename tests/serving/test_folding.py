"""Folding inference-mode BatchNormalization into the convolution before it."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from serving_cases import assert_masks_match

import keras_segen
from keras_segen.serving import export, fold_batch_norms
from keras_segen.serving.folding import FoldedBatchNormalization, foldable_pairs

MODELS = {
    "unet": dict(depth=2, base_filters=4),
    "deeplabv3plus": dict(encoder="resnet18", encoder_width=8, output_stride=8, aspp_filters=8,
                          low_level_filters=8, decoder_filters=8, atrous_rates=[1, 2, 3]),
}


def _with_trained_statistics(model, seed=0):
    """Give every batch norm non-trivial moving statistics, gamma and beta, as training would."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2.0, channels), rng.normal(0, 0.5, channels),
                               rng.normal(0, 0.5, channels), rng.uniform(0.2, 3.0, channels)])
    return model


def _batch_norms(model):
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_folded_model_computes_what_the_model_computes(arch):
    model = _with_trained_statistics(keras_segen.build(arch, num_classes=3, **MODELS[arch]))
    before = [w.numpy().copy() for w in model.weights]
    x = np.random.default_rng(1).uniform(size=(2, 40, 48, 3)).astype("float32")
    expected = model(x, training=False).numpy()

    folded = fold_batch_norms(model)

    assert len(foldable_pairs(model)) == len(_batch_norms(model)) > 0
    assert _batch_norms(folded) == []
    np.testing.assert_allclose(folded(x, training=False), expected, rtol=1e-4, atol=1e-4)
    assert [layer.name for layer in folded.layers] == [layer.name for layer in model.layers]
    # The original is untouched: same layers, same weights.
    assert len(_batch_norms(model)) == len(foldable_pairs(model))
    for weight, value in zip(model.weights, before):
        np.testing.assert_array_equal(weight.numpy(), value)
    # The folded model is a model like any other: it saves and loads.
    assert folded.count_params() < model.count_params()


def test_folded_model_saves_and_loads(tmp_path):
    model = _with_trained_statistics(keras_segen.build("unet", num_classes=3, **MODELS["unet"]))
    folded = fold_batch_norms(model)
    folded.save(tmp_path / "folded.keras")
    loaded = keras.saving.load_model(tmp_path / "folded.keras")
    assert any(isinstance(layer, FoldedBatchNormalization) for layer in loaded.layers)
    x = np.random.default_rng(2).uniform(size=(1, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x), folded(x), rtol=1e-6, atol=1e-6)


def _pattern_model(pattern):
    inputs = keras.Input((8, 8, 3))
    if pattern == "activation_before_norm":
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
        x = keras.layers.BatchNormalization(name="norm")(x)
    elif pattern == "conv_output_used_twice":
        conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
        x = keras.layers.Add()([keras.layers.BatchNormalization(name="norm")(conv), conv])
    elif pattern == "norm_after_add":
        a = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
        x = keras.layers.Add()([a, keras.layers.Conv2D(4, 1, name="conv_b")(inputs)])
        x = keras.layers.BatchNormalization(name="norm")(x)
    elif pattern == "channels_first_norm":
        x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
        x = keras.layers.BatchNormalization(axis=1, name="norm")(x)
    return _with_trained_statistics(keras.Model(inputs, x))


@pytest.mark.parametrize("pattern", ["activation_before_norm", "conv_output_used_twice",
                                     "norm_after_add", "channels_first_norm"])
def test_only_exact_folds_are_made(pattern):
    model = _pattern_model(pattern)
    assert foldable_pairs(model) == {}
    assert fold_batch_norms(model) is model


def test_subclassed_models_come_back_unchanged():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 1)
            self.norm = keras.layers.BatchNormalization()

        def call(self, x):
            return self.norm(self.conv(x))

    model = Tiny()
    model(np.zeros((1, 4, 4, 3), "float32"))
    assert fold_batch_norms(model) is model


def test_export_serves_the_folded_model_unless_asked_not_to(tmp_path):
    model = _with_trained_statistics(keras_segen.build("unet", num_classes=3, **MODELS["unet"]))
    images = np.random.default_rng(3).integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    want = model.predict_on_batch(images.astype("float32") / 255.0)
    stored = {}
    for fold in (True, False):
        path = export(model, tmp_path, name=f"fold_{fold}", fold_batch_norm=fold)
        served = tf.saved_model.load(str(path)).signatures["serving_default"]
        got = served(images=tf.constant(images))
        np.testing.assert_allclose(got["probabilities"], tf.nn.softmax(want), atol=1e-5)
        # Folded (or not) the served graph rounds differently from Keras: near ties may flip.
        assert_masks_match(got["masks"].numpy(), want)
        variables = tf.train.list_variables(str(path / "variables" / "variables"))
        stored[fold] = sum(int(np.prod(shape)) for _, shape in variables if shape)
    assert stored == {True: fold_batch_norms(model).count_params(),
                      False: model.count_params()}
    assert stored[True] < stored[False]

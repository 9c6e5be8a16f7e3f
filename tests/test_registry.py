import pytest

import keras_segen
from keras_segen import registry

SEGMENTATION = {"unet", "fcn8s", "fcn16s", "fcn32s", "deeplabv3plus", "pixel_baseline"}
GENERATION = {"dcgan", "wgan_gp", "cgan", "vae", "cvae", "pix2pix"}


def test_every_designed_architecture_is_registered():
    assert SEGMENTATION <= set(keras_segen.list_architectures("segmentation"))
    assert GENERATION <= set(keras_segen.list_architectures("generation"))
    assert set(keras_segen.list_architectures()) >= SEGMENTATION | GENERATION


def test_unknown_architecture_names_close_matches():
    with pytest.raises(KeyError, match="Did you mean: unet"):
        keras_segen.build("unte", num_classes=3)


def test_unknown_task_is_rejected():
    with pytest.raises(ValueError, match="task must be one of"):
        keras_segen.list_architectures("detection")
    with pytest.raises(ValueError, match="task must be one of"):
        registry.register_architecture("x", task="detection")


def test_duplicate_registration_is_rejected():
    @registry.register_architecture("_test_only_arch", task="segmentation")
    def first():
        return None

    with pytest.raises(ValueError, match="already registered"):
        @registry.register_architecture("_test_only_arch", task="segmentation")
        def second():
            return None
    registry._REGISTRY.pop("_test_only_arch")

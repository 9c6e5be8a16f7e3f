import numpy as np
import keras
import pytest

from keras_segen.backbones import RESNET_VARIANTS, resnet_backbone


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_resnet_feature_strides(output_stride):
    model = resnet_backbone(variant="resnet18", width=4, output_stride=output_stride)
    low, high = model(np.zeros((1, 64, 96, 3), "float32"))
    assert low.shape == (1, 16, 24, 4)
    assert high.shape == (1, 64 // output_stride, 96 // output_stride, 32)


def test_resnet50_bottleneck_width_and_dilation():
    model = resnet_backbone(variant="resnet50", width=4, output_stride=8)
    low, high = model(np.zeros((1, 32, 32, 3), "float32"))
    assert low.shape[-1] == 16 and high.shape[-1] == 128  # expansion 4
    assert model.get_layer("encoder_stage4_block1_2_conv").dilation_rate == (4, 4)
    assert model.get_layer("encoder_stage3_block1_2_conv").strides == (1, 1)


@pytest.mark.parametrize("variant, blocks", [("resnet18", 2), ("resnet34", 3)])
def test_resnet_block_counts(variant, blocks):
    model = resnet_backbone(variant=variant, width=2)
    names = {layer.name for layer in model.layers}
    assert f"encoder_stage1_block{blocks}_add" in names
    assert f"encoder_stage1_block{blocks + 1}_add" not in names
    assert set(RESNET_VARIANTS) >= {"resnet18", "resnet34", "resnet50"}


def test_resnet_blocks_start_as_identity_residuals():
    model = resnet_backbone(variant="resnet18", width=2)
    gamma = model.get_layer("encoder_stage2_block2_2_norm").gamma.numpy()
    assert not gamma.any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "resnet19"}, "encoder must be one of"),
        ({"width": 0}, "width must be a positive int"),
        ({"output_stride": 4}, r"output_stride must be one of \(8, 16, 32\)"),
    ],
)
def test_resnet_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnet_backbone(**kwargs)


def test_resnet_unknown_size_input():
    model = resnet_backbone(variant="resnet18", width=2, output_stride=16)
    assert isinstance(model, keras.Model)
    low, high = model(np.zeros((1, 37, 50, 3), "float32"))
    assert low.shape[1:3] == (10, 13) and high.shape[1:3] == (3, 4)

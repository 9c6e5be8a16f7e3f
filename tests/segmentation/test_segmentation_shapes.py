"""Segmentation blocks and options: FCN skip scores and upsampling, U-Net and DeepLab
choices, odd input sizes through the option variants. Every architecture's output shapes
and dtypes at two sizes and under mixed_bfloat16 are checked in tests/test_architectures.py."""
import numpy as np
import keras
import pytest

import keras_segen
from segmentation_cases import VARIANTS, build_tiny


def test_all_segmentation_architectures_registered():
    names = set(keras_segen.list_architectures(task="segmentation"))
    assert {"unet", "fcn32s", "fcn16s", "fcn8s", "deeplabv3plus", "pixel_baseline"} <= names


@pytest.mark.parametrize("case", sorted(VARIANTS))  # bilinear up-sampling, output stride 8
def test_unknown_size_input_gives_input_size_logits(case, tiny_model, images):
    model = tiny_model(case)
    for height, width in ((40, 56), (33, 19)):  # neither divisible by 32
        logits = model(images(height, width))
        assert tuple(logits.shape) == (2, height, width, 3)
        assert logits.dtype == "float32"


def test_fcn_skip_scores_start_at_zero_so_8s_equals_its_coarse_path(images):
    model = build_tiny("fcn8s")
    for name in ("score_pool4", "score_pool3"):
        assert not any(w.any() for w in model.get_layer(name).get_weights())
    # score_fr also starts at zero (the paper's choice); make it random so the check bites.
    score_fr = model.get_layer("score_fr")
    rng = np.random.default_rng(2)
    score_fr.set_weights([rng.normal(size=w.shape) for w in score_fr.get_weights()])
    x = images(40, 56)
    coarse = keras.Model(model.input, [score_fr.output, model.get_layer("block4_pool").output,
                                        model.get_layer("block3_pool").output])
    scores, pool4, pool3 = coarse(x)
    # The 8s output with the skip branches left out: only upsampling and cropping.
    scores = model.get_layer("crop_pool4")([model.get_layer("upscore_pool4_in")(scores), pool4])
    scores = model.get_layer("crop_pool3")([model.get_layer("upscore_pool3_in")(scores), pool3])
    scores = model.get_layer("crop_to_input")([model.get_layer("upscore8")(scores), x])
    assert np.abs(scores.numpy()).max() > 0.1
    np.testing.assert_allclose(model(x).numpy(), scores.numpy(), atol=1e-5)


def test_fcn_upsampling_starts_bilinear_and_trainable(tiny_model):
    layer = tiny_model("fcn32s").get_layer("upscore32")
    assert layer.kernel_size == (64, 64) and layer.strides == (32, 32) and layer.trainable
    kernel = layer.get_weights()[0]
    assert kernel[31, 31, 0, 0] > 0.9 and not kernel[:, :, 0, 1].any()


def test_unet_normalization_and_upsampling_choices(tiny_model):
    group = tiny_model("unet_bilinear_group")
    assert any(isinstance(layer, keras.layers.GroupNormalization) for layer in group.layers)
    assert any(isinstance(layer, keras.layers.UpSampling2D) for layer in group.layers)
    assert group.get_layer("bottleneck_dropout").rate == pytest.approx(0.2)
    plain = keras_segen.build("unet", num_classes=2, depth=2, base_filters=4, normalization="none")
    assert not any("norm" in layer.name for layer in plain.layers)


def test_deeplab_atrous_rates_double_at_output_stride_8(tiny_model):
    assert tiny_model("deeplabv3plus_os8_r50").get_layer("aspp_rate24_conv").dilation_rate == (24, 24)
    assert tiny_model("deeplabv3plus").get_layer("aspp_rate18_conv").dilation_rate == (18, 18)
    custom = build_tiny("deeplabv3plus", atrous_rates=(2, 3))
    assert custom.get_layer("aspp_rate3_conv").dilation_rate == (3, 3)


def test_pixel_baseline_has_only_1x1_convolutions(tiny_model):
    convs = [layer for layer in tiny_model("pixel_baseline").layers
             if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.kernel_size == (1, 1) for layer in convs)


def test_unet_aspp_bottleneck_sees_the_whole_input(tiny_model, images):
    model = tiny_model("unet_aspp_bottleneck")
    names = [layer.name for layer in model.layers]
    assert "bottleneck_aspp_image_pool" in names and "bottleneck_aspp_rate2_conv" in names
    assert "bottleneck_1_conv" not in names
    # The image-pooling branch: a change in one corner reaches the far corner.
    x = images(64, 64)
    changed = np.array(x, copy=True)
    changed[:, :4, :4] = 1.0 - changed[:, :4, :4]
    delta = np.abs(model(changed).numpy() - model(x).numpy())[:, -4:, -4:]
    assert delta.max() > 0

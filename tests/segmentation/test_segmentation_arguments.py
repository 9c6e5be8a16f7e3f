"""Bad builder arguments fail early with a ValueError that names the valid choices."""
import pytest

import keras_segen

ALL_ARCHS = ["unet", "fcn32s", "fcn16s", "fcn8s", "deeplabv3plus", "pixel_baseline", "segformer",
             "adversarial_segmenter"]


@pytest.mark.parametrize("arch", ALL_ARCHS)
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, "num_classes must be >= 2"),
        ({"num_classes": 2.5}, "num_classes must be an int"),
        ({"num_classes": True}, "num_classes must be an int"),
        ({"num_classes": 3, "input_shape": (32, 32)}, "rank 3"),
        ({"num_classes": 3, "input_shape": (32, 32, None)}, "channels"),
        ({"num_classes": 3, "input_shape": (0, 32, 3)}, "height/width"),
        ({"num_classes": 3, "input_shape": 32}, r"input_shape must be \(height, width, channels\)"),
    ],
)
def test_bad_common_arguments(arch, kwargs, message):
    with pytest.raises(ValueError, match=f"{arch}: .*{message}"):
        keras_segen.build(arch, **kwargs)


@pytest.mark.parametrize(
    "arch, kwargs, message",
    [
        ("unet", {"normalization": "layer"}, r"normalization must be one of \('batch', 'group', 'none'\)"),
        ("unet", {"upsampling": "nearest"}, r"upsampling must be one of \('transpose', 'bilinear'\)"),
        ("unet", {"depth": 0}, "depth must be an int >= 1"),
        ("unet", {"bottleneck": "transformer"}, r"bottleneck must be one of \('double_conv', 'aspp'\)"),
        ("unet", {"bottleneck": "aspp", "aspp_rates": [0]}, "ASPP rates must be"),
        ("unet", {"bottleneck": "aspp", "aspp_filters": 0}, "aspp_filters must be an int >= 1"),
        ("unet", {"dropout": 1.0}, r"dropout must be a number in \[0, 1\)"),
        ("deeplabv3plus", {"output_stride": 32}, r"output_stride must be one of \(8, 16\)"),
        ("deeplabv3plus", {"encoder": "vgg16"}, "encoder must be one of .*resnet18.*resnet34.*resnet50"),
        ("deeplabv3plus", {"encoder_width": 0}, "encoder_width must be an int >= 1"),
        ("deeplabv3plus", {"atrous_rates": ()}, "atrous_rates must not be empty"),
        ("deeplabv3plus", {"atrous_rates": (6, 0)}, "every atrous rate must be an int >= 1"),
        ("fcn8s", {"vgg_weights": 3}, "vgg_weights must be None, 'hed' or a file path"),
        ("fcn8s", {"preprocessing": "imagenet"}, r"preprocessing must be one of \('auto', 'caffe', 'none'\)"),
        ("fcn16s", {"fc_units": 0}, "fc_units must be an int >= 1"),
        ("fcn32s", {"preprocessing": "caffe", "input_shape": (None, None, 1)}, "needs RGB inputs with 3 channels"),
        ("pixel_baseline", {"hidden_units": 0}, "hidden_units must be an int >= 1"),
    ],
)
def test_bad_architecture_arguments(arch, kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_segen.build(arch, num_classes=3, **kwargs)


def test_missing_vgg_weights_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.weights.h5"):
        keras_segen.build("fcn32s", num_classes=3, fc_units=8, fc_kernel=1,
                          vgg_weights=str(tmp_path / "missing.weights.h5"))

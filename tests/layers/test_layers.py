import numpy as np
import keras
import pytest
import tensorflow as tf

from keras_segen.layers import (
    HED_MEAN_BGR,
    BilinearUpsamplingInitializer,
    CaffePreprocessing,
    CropToReference,
    ResizeToReference,
    atrous_spatial_pyramid_pooling,
    bilinear_upsampling,
    conv_norm_act,
    normalization_layer,
)


def _two_input_model(layer, channels=2):
    x = keras.Input((None, None, channels))
    reference = keras.Input((None, None, 1))
    return keras.Model([x, reference], layer([x, reference]))


def test_crop_to_reference_keeps_top_left_and_pads_when_smaller():
    model = _two_input_model(CropToReference())
    x = np.arange(2 * 5 * 6 * 2, dtype="float32").reshape(2, 5, 6, 2)
    cropped = model([x, np.zeros((2, 3, 4, 1), "float32")]).numpy()
    np.testing.assert_array_equal(cropped, x[:, :3, :4])
    padded = model([x, np.zeros((2, 7, 6, 1), "float32")]).numpy()
    assert padded.shape == (2, 7, 6, 2)
    np.testing.assert_array_equal(padded[:, :5], x)
    assert not padded[:, 5:].any()


def test_resize_to_reference_matches_tf_image_resize():
    model = _two_input_model(ResizeToReference())
    x = np.random.default_rng(0).random((1, 4, 5, 2), dtype=np.float32)
    out = model([x, np.zeros((1, 9, 7, 1), "float32")]).numpy()
    np.testing.assert_allclose(out, tf.image.resize(x, (9, 7)).numpy(), atol=1e-6)


def test_resize_rejects_unknown_interpolation_and_single_input():
    with pytest.raises(ValueError, match="interpolation must be one of"):
        ResizeToReference(interpolation="cubic-ish")
    with pytest.raises(ValueError, match="expects a list"):
        ResizeToReference()(np.zeros((1, 2, 2, 1), "float32"))


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_bilinear_transposed_conv_equals_bilinear_resize_inside(factor):
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, bilinear_upsampling(inputs, 3, factor, name="up"))
    x = np.random.default_rng(factor).random((2, 5, 6, 3), dtype=np.float32)
    out = model(x).numpy()
    assert out.shape == (2, 5 * factor, 6 * factor, 3)
    expected = tf.image.resize(x, (5 * factor, 6 * factor)).numpy()
    inner = slice(factor, -factor)  # transposed conv differs only at the borders
    np.testing.assert_allclose(out[:, inner, inner], expected[:, inner, inner], atol=1e-5)


def test_bilinear_initializer_does_not_mix_channels_and_round_trips():
    kernel = BilinearUpsamplingInitializer()((4, 4, 3, 2)).numpy()
    assert not kernel[:, :, 1, 0].any() and not kernel[:, :, 2, :].any()
    np.testing.assert_allclose(kernel[:, :, 0, 0], kernel[:, :, 1, 1])
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(BilinearUpsamplingInitializer())
    )
    assert isinstance(restored, BilinearUpsamplingInitializer)


def test_caffe_preprocessing_is_bgr_255_minus_mean():
    layer = CaffePreprocessing(mean_bgr=HED_MEAN_BGR)
    rgb = np.array([[[[0.0, 0.5, 1.0]]]], dtype="float32")
    out = layer(rgb).numpy()[0, 0, 0]
    expected = np.array([255.0, 127.5, 0.0]) - np.array(HED_MEAN_BGR)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    clone = CaffePreprocessing.from_config(layer.get_config())
    assert clone.mean_bgr == layer.mean_bgr and clone.dtype_policy.name == "float32"


def test_caffe_preprocessing_rejects_wrong_mean_length():
    with pytest.raises(ValueError, match="3 values"):
        CaffePreprocessing(mean_bgr=(1.0, 2.0))


def test_aspp_works_at_unknown_spatial_size():
    inputs = keras.Input((None, None, 6))
    model = keras.Model(
        inputs, atrous_spatial_pyramid_pooling(inputs, filters=4, rates=(1, 2), dropout=0.0)
    )
    for size in ((3, 5), (8, 8)):
        assert model(np.ones((2, *size, 6), "float32")).shape == (2, *size, 4)
    # 1x1 branch, two rate branches, image pooling branch -> 4 * 4 channels concatenated.
    assert model.get_layer("aspp_concat").output.shape[-1] == 16


def test_aspp_rejects_bad_rates():
    with pytest.raises(ValueError, match="positive ints"):
        atrous_spatial_pyramid_pooling(keras.Input((None, None, 2)), rates=(0, 2))


@pytest.mark.parametrize(
    "normalization, layer_type",
    [("batch", keras.layers.BatchNormalization), ("group", keras.layers.GroupNormalization)],
)
def test_conv_norm_act_normalizations(normalization, layer_type):
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, conv_norm_act(inputs, 12, name="b", normalization=normalization))
    assert isinstance(model.get_layer("b_norm"), layer_type)
    assert not model.get_layer("b_conv").use_bias
    if normalization == "group":
        assert 12 % model.get_layer("b_norm").groups == 0


def test_conv_without_normalization_has_bias_and_unknown_name_fails():
    model = keras.Model(
        (inputs := keras.Input((8, 8, 3))), conv_norm_act(inputs, 4, name="b", normalization="none")
    )
    assert model.get_layer("b_conv").use_bias
    with pytest.raises(ValueError, match=r"normalization must be one of \('batch', 'group', 'none'\)"):
        normalization_layer("instance", 4, name="n")

"""Gated PixelCNN: masks, causality (no future leak, no blind spot), likelihoods, the
compiled sampler (determinism, fixed point), training, the kind and bad arguments.
The shared aspects (config, saving, mixed precision, mirrored, export) are in
tests/architecture_harness.py."""
import math

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen
from keras_segen.generation.pixelcnn import PixelCNN, distributions
from keras_segen.generation.pixelcnn.masked_conv import MaskedConv2D, causal_mask
from keras_segen.kinds import get_kind, kind_of

TINY = dict(image_shape=(5, 5, 1), filters=4, num_layers=3, seed=1)


def _images(shape, n=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, *shape)) / 255.0).astype("float32")


def _raster(i, j, width):
    return i * width + j


def test_registered_with_its_kind():
    assert "pixelcnn" in keras_segen.list_architectures(task="generation")
    model = keras_segen.build("pixelcnn", **TINY)
    assert isinstance(model, PixelCNN) and kind_of(model).name == "autoregressive"
    assert kind_of(model).checkpoint_monitor == ("val_bits_per_dim", "min")
    assert "bits_per_dim" in kind_of(model).headline_metrics


def test_mask_a_excludes_and_mask_b_includes_the_centre():
    a, b = causal_mask(3, 1, 1, "A"), causal_mask(3, 1, 1, "B")
    expected = np.array([[1, 1, 1], [1, 0, 0], [0, 0, 0]], np.float32)
    np.testing.assert_array_equal(a[..., 0, 0], expected)
    expected[1, 1] = 1
    np.testing.assert_array_equal(b[..., 0, 0], expected)
    # RGB: at the centre, output colour g sees input colours < g (A) or <= g (B).
    rgb_a = causal_mask(1, 3, 3, "A", color_channels=3)[0, 0]
    rgb_b = causal_mask(1, 3, 3, "B", color_channels=3)[0, 0]
    np.testing.assert_array_equal(rgb_a, np.triu(np.ones((3, 3)), 1))
    np.testing.assert_array_equal(rgb_b, np.triu(np.ones((3, 3))))
    layer = MaskedConv2D(6, 3, "A", color_channels=3)
    layer.build((None, 5, 5, 3))
    assert layer.mask.shape == (3, 3, 3, 6)
    clone = MaskedConv2D.from_config(layer.get_config())
    assert (clone.mask_type, clone.color_channels) == ("A", 3)


def _random_biases(model, seed=0):
    # Zero biases make the first pixel's distribution uniform and leave some ReLUs off
    # for every image: random ones make each dependency show.
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if weight.path.endswith("bias"):
            weight.assign(rng.normal(0, 0.5, weight.shape).astype("float32"))


def _gradient_supports(model):
    """``[H, W, C, H, W, C]``: which input sub-pixels the parameters of each output
    sub-pixel depend on (the union over many images: a ReLU that is off for one image
    blocks its gradient there)."""
    x = tf.constant(_images(model.image_shape, n=64) * 2 - 1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        params = model.network(x)
        targets = tf.reduce_sum(params * tf.range(1.0, params.shape[-1] + 1), axis=(0, 4))
    jacobian = tape.jacobian(targets, x)  # [H, W, C, N, H, W, C]
    return np.any(np.abs(jacobian.numpy()) > 0, axis=3)


@pytest.mark.parametrize("shape", [(5, 5, 1), (4, 5, 3)])
def test_causal_and_no_blind_spot(shape):
    # A multi-layer model: each output sees exactly the sub-pixels before it in raster
    # (and colour) order -- none after it, and every one before it (the stacks' reach
    # covers these sizes).
    model = keras_segen.build("pixelcnn", **{**TINY, "image_shape": shape, "filters": 12})
    _random_biases(model)
    height, width, channels = shape
    supports = _gradient_supports(model)
    for i in range(height):
        for j in range(width):
            for c in range(channels):
                support = supports[i, j, c]
                before = np.zeros(shape, bool)
                for ii in range(height):
                    for jj in range(width):
                        if _raster(ii, jj, width) < _raster(i, j, width):
                            before[ii, jj] = True
                before[i, j, :c] = True
                np.testing.assert_array_equal(support, before, err_msg=f"output {(i, j, c)}")


def test_changing_a_pixel_changes_nothing_before_or_at_it():
    model = keras_segen.build("pixelcnn", **TINY)
    images = _images(TINY["image_shape"], n=1)
    params = np.asarray(model(images))
    width = TINY["image_shape"][1]
    for i, j in [(0, 0), (2, 3), (4, 4), (1, 0)]:
        changed = images.copy()
        changed[0, i, j, 0] = 1.0 - changed[0, i, j, 0]
        diff = np.abs(np.asarray(model(changed)) - params).max(axis=(-1, -2))[0]
        for ii in range(5):
            for jj in range(5):
                if _raster(ii, jj, width) <= _raster(i, j, width):
                    assert diff[ii, jj] == 0, (i, j, ii, jj)
        if (i, j) != (4, 4):
            assert diff.max() > 0


def _uniform_model(**kwargs):
    model = keras_segen.build("pixelcnn", **{**TINY, **kwargs})
    out = model.head.out
    out.kernel.assign(np.zeros(out.kernel.shape, np.float32))
    out.bias.assign(np.zeros(out.bias.shape, np.float32))
    return model


def test_a_uniform_model_has_8_bits_per_dim():
    model = _uniform_model()
    bits = np.asarray(model.bits_per_dim(_images(TINY["image_shape"], n=3)))
    np.testing.assert_allclose(bits, 8.0, rtol=1e-6)
    model.compile(run_eagerly=True)
    logs = model.evaluate(_images(TINY["image_shape"], n=4), verbose=0, return_dict=True)
    assert logs["bits_per_dim"] == pytest.approx(8.0, rel=1e-6)
    assert logs["loss"] == pytest.approx(math.log(256), rel=1e-6)


def test_logistic_mixture_is_a_distribution_over_256_values():
    params = tf.random.stateless_normal((7, 12), seed=[1, 2])  # K = 4
    log_probs = distributions.bin_log_probs(params, "logistic_mixture")
    np.testing.assert_allclose(np.exp(log_probs.numpy()).sum(-1), 1.0, atol=1e-4)
    values = tf.constant([0, 1, 127, 128, 200, 254, 255])
    picked = distributions.log_prob(params, values, "logistic_mixture").numpy()
    np.testing.assert_allclose(picked, np.take_along_axis(
        log_probs.numpy(), values.numpy()[:, None], -1)[:, 0], rtol=1e-5, atol=1e-6)


def test_sampling_is_deterministic_per_seed():
    model = keras_segen.build("pixelcnn", **TINY)
    first = model.generate(5, seed=3)
    assert first.dtype == np.float32 and first.shape == (5, 5, 5, 1)
    assert first.min() >= 0 and first.max() <= 1
    np.testing.assert_array_equal(np.round(first * 255) / 255, first)  # 256 levels
    np.testing.assert_array_equal(model.generate(5, seed=3), first)
    np.testing.assert_array_equal(model.generate(5, seed=3, batch_size=2), first)
    np.testing.assert_array_equal(model.generate(2, seed=3), first[:2])  # prefix
    assert not np.array_equal(model.generate(5, seed=4), first)
    # Serving's sample draws the same images.
    from keras_segen.serving.autoregressive import pixelcnn_endpoints

    sample = {e.name: e for e in pixelcnn_endpoints(model)}["sample"]
    served = sample.fn(tf.constant(5, tf.int32), tf.constant(3, tf.int64))["images"]
    np.testing.assert_array_equal(served.numpy(), np.round(first * 255).astype(np.uint8))


@pytest.mark.parametrize("kwargs", [{}, {"image_shape": (3, 4, 3), "filters": 6,
                                         "output": "logistic_mixture",
                                         "mixture_components": 2}])
def test_samples_are_a_fixed_point_of_the_network(kwargs):
    # The distributions the row-wise sampler drew from are the ones the full network
    # gives on the finished image: the sampler never used a pixel it had not drawn.
    model = keras_segen.build("pixelcnn", **{**TINY, **kwargs})
    noise = model.sampling_noise(3, seed=0)
    values, used = model.sample_from_noise(noise, return_log_probs=True)
    params = model(values.numpy().astype("float32") / 255.0)
    full = tf.nn.log_softmax(distributions.bin_log_probs(params, model.output_distribution))
    np.testing.assert_allclose(used.numpy(), full.numpy(), atol=2e-4)


def test_temperature_sharpens_samples():
    model = keras_segen.build("pixelcnn", **TINY)
    _random_biases(model)
    cold = model.generate(4, seed=0, temperature=1e-4)
    # A near-argmax sampler: the same images from any seed.
    np.testing.assert_array_equal(model.generate(4, seed=9, temperature=1e-4), cold)
    assert not np.array_equal(model.generate(4, seed=9), model.generate(4, seed=0))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(2, seed=0, temperature=0.0)


def test_a_tiny_fit_lowers_the_nll():
    model = keras_segen.build("pixelcnn", **TINY)
    model.compile(keras.optimizers.Adam(1e-2))
    images = _images(TINY["image_shape"], n=8)
    history = model.fit(images, epochs=15, batch_size=8, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] - 0.3
    np.testing.assert_allclose(history["bits_per_dim"], np.array(history["loss"]) / math.log(2),
                               rtol=1e-5)


def test_conditional_model_uses_its_labels():
    model = keras_segen.build("pixelcnn", **TINY, num_classes=3)
    model.compile(keras.optimizers.Adam(1e-2), run_eagerly=True)
    images = _images(TINY["image_shape"], n=4)
    labels = np.array([0, 1, 2, 0], np.int32)
    model.fit(images, labels, epochs=2, batch_size=4, verbose=0)
    a = np.asarray(model([images, labels]))
    b = np.asarray(model([images, (labels + 1) % 3]))
    assert np.abs(a - b).max() > 0
    generated = model.generate(3, seed=0, labels=2)
    assert generated.shape == (3, 5, 5, 1)
    with pytest.raises(ValueError, match="conditional"):
        model.bits_per_dim(images)


def test_held_out_bits_per_dim_and_the_results_table():
    from keras_segen.kinds.autoregressive import held_out_bits_per_dim

    model = _uniform_model()
    data = tf.data.Dataset.from_tensor_slices((_images(TINY["image_shape"], n=5),
                                               np.zeros(5, np.int32)))
    bits, count = held_out_bits_per_dim(model, data, batch_size=2)
    assert count == 5 and bits == pytest.approx(8.0, rel=1e-6)
    table = get_kind("autoregressive").format_results(
        {"bits_per_dim": 3.1, "fid": 10.0, "baselines": {"untrained": {"bits_per_dim": 8.0}}},
        "pixelcnn")
    assert "bits_per_dim" in table and "untrained: bits_per_dim" in table


@pytest.mark.parametrize("kwargs, message", [
    (dict(image_shape=(5, 5)), "image_shape"),
    (dict(filters=0), "filters"),
    (dict(image_shape=(5, 5, 3), filters=4), "multiple of the 3 image channels"),
    (dict(num_layers=-1), "num_layers"),
    (dict(output="gaussian"), "output must be one of"),
    (dict(output="logistic_mixture", mixture_components=0), "mixture_components"),
    (dict(kernel_size=4), "kernel_size must be odd"),
    (dict(input_kernel_size=2), "input_kernel_size must be odd"),
    (dict(num_classes=1), "num_classes"),
    (dict(seed=-1), "seed"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_segen.build("pixelcnn", **{**TINY, **kwargs})


def test_bad_calls_are_refused():
    model = keras_segen.build("pixelcnn", **TINY)
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, seed=0, labels=[0, 1])
    with pytest.raises(ValueError, match="num_images"):
        model.generate(0, seed=0)
    with pytest.raises(ValueError, match="expected images of shape"):
        model.bits_per_dim(np.zeros((1, 4, 4, 1), np.float32))
    with pytest.raises(TypeError, match="float images"):
        model.bits_per_dim(np.zeros((1, 5, 5, 1), np.uint8))
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2D(4, 3, "C")
    with pytest.raises(ValueError, match="kernel_size"):
        MaskedConv2D(4, 2)


def test_the_exported_signatures_answer_as_the_model(tmp_path):
    model = keras_segen.build("pixelcnn", **TINY, num_classes=2)
    path = keras_segen.export(model, tmp_path, name="pixelcnn", version=1)
    saved = tf.saved_model.load(str(path))
    assert {"serving_default", "log_prob", "sample"} <= set(saved.signatures)
    images = (_images(TINY["image_shape"], n=3) * 255).round().astype(np.uint8)
    labels = np.array([0, 1, 1], np.int32)
    answer = saved.signatures["serving_default"](images=tf.constant(images),
                                                 labels=tf.constant(labels))
    np.testing.assert_allclose(answer["bits_per_dim"].numpy(),
                               model.bits_per_dim(images / 255.0, labels), rtol=1e-5)
    sampled = saved.signatures["sample"](batch_size=tf.constant(3, tf.int32),
                                         seed=tf.constant(7, tf.int64))
    np.testing.assert_array_equal(sampled["labels"].numpy(), [0, 1, 0])
    np.testing.assert_array_equal(sampled["images"].numpy(),
                                  np.round(model.generate(3, seed=7) * 255).astype(np.uint8))

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_segen.metrics import PSNR, SSIM


def image_pairs(num_batches=3, batch=4, size=28, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(num_batches):
        clean = rng.uniform(0, 1, (batch, size, size, channels)).astype("float32")
        noise = rng.normal(0, rng.uniform(0.02, 0.2), clean.shape).astype("float32")
        pairs.append((clean, np.clip(clean + noise, 0, 1)))
    return pairs


def numpy_psnr(a, b, max_val):
    mse = np.mean((a.astype(np.float64) - b) ** 2, axis=(1, 2, 3))
    return 10 * np.log10(max_val**2 / mse)


@pytest.mark.parametrize("channels", [1, 3])
def test_streaming_psnr_is_the_mean_over_all_images(channels):
    pairs = image_pairs(channels=channels)
    metric = PSNR()
    for clean, noisy in pairs:
        metric.update_state(clean, noisy)
    clean = np.concatenate([p[0] for p in pairs])
    noisy = np.concatenate([p[1] for p in pairs])
    one_shot = tf.reduce_mean(tf.image.psnr(clean, noisy, max_val=1.0)).numpy()
    np.testing.assert_allclose(metric.result().numpy(), one_shot, rtol=1e-5)
    np.testing.assert_allclose(metric.result().numpy(), numpy_psnr(clean, noisy, 1.0).mean(),
                               rtol=1e-4)


def test_psnr_max_val_is_the_dynamic_range():
    clean, noisy = image_pairs(num_batches=1)[0]
    unit, tanh = PSNR(max_val=1.0), PSNR(max_val=2.0)
    unit.update_state(clean, noisy)
    tanh.update_state(clean * 2 - 1, noisy * 2 - 1)  # same images in [-1, 1]
    np.testing.assert_allclose(unit.result().numpy(), tanh.result().numpy(), rtol=1e-4)


@pytest.mark.parametrize("channels", [1, 3])
def test_streaming_ssim_is_the_mean_over_all_images(channels):
    pairs = image_pairs(channels=channels)
    metric = SSIM(filter_size=7, filter_sigma=1.0)
    for clean, noisy in pairs:
        metric.update_state(clean, noisy)
    clean = np.concatenate([p[0] for p in pairs])
    noisy = np.concatenate([p[1] for p in pairs])
    one_shot = tf.image.ssim(clean, noisy, max_val=1.0, filter_size=7, filter_sigma=1.0)
    np.testing.assert_allclose(metric.result().numpy(), tf.reduce_mean(one_shot).numpy(),
                               rtol=1e-5)
    identical = SSIM()
    identical.update_state(clean, clean)
    np.testing.assert_allclose(identical.result().numpy(), 1.0, atol=1e-5)


def test_sample_weight_weights_images_and_reset_clears():
    clean, noisy = image_pairs(num_batches=1)[0]
    weights = np.array([1.0, 0.0, 2.0, 1.0])
    metric = PSNR()
    metric.update_state(clean, noisy, sample_weight=weights)
    per_image = numpy_psnr(clean, noisy, 1.0)
    np.testing.assert_allclose(metric.result().numpy(),
                               np.sum(per_image * weights) / weights.sum(), rtol=1e-4)
    metric.reset_state()
    assert metric.result().numpy() == 0.0


def test_shape_mismatch_and_bad_rank_are_value_errors():
    clean, noisy = image_pairs(num_batches=1)[0]
    with pytest.raises(ValueError, match="shapes differ"):
        PSNR().update_state(clean, noisy[:, :27])
    with pytest.raises(ValueError, match=r"\[N, H, W, C\]"):
        SSIM().update_state(clean[..., 0], noisy[..., 0])
    with pytest.raises(ValueError, match="filter_size"):
        SSIM(filter_size=11).update_state(clean[:, :8, :8], noisy[:, :8, :8])
    with pytest.raises(ValueError, match="max_val"):
        PSNR(max_val=0)


def test_metrics_serialize_and_work_in_compile_and_saved_models(tmp_path):
    ssim = SSIM(max_val=2.0, filter_size=5, filter_sigma=0.8, k1=0.02, name="my_ssim")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ssim))
    assert isinstance(restored, SSIM) and restored.get_config() == ssim.get_config()

    inputs = keras.Input((16, 16, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs))
    model.compile(loss="mse", metrics=[PSNR(), SSIM(filter_size=5)])
    clean, noisy = image_pairs(num_batches=1, batch=4, size=16)[0]
    scores = model.evaluate(noisy, clean, batch_size=2, return_dict=True, verbose=0)
    predictions = model.predict(noisy, verbose=0)
    np.testing.assert_allclose(scores["psnr"], numpy_psnr(clean, predictions, 1.0).mean(),
                               rtol=1e-3)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    reloaded = loaded.evaluate(noisy, clean, batch_size=2, return_dict=True, verbose=0)
    np.testing.assert_allclose(reloaded["ssim"], scores["ssim"], rtol=1e-5)

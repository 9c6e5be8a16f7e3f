"""FID / KID / IS checked against independent numpy + scipy computations."""
import itertools

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

import keras_segen
from keras_segen.metrics import (
    FID,
    KID,
    FeatureExtractor,
    evaluate_generator_quality,
    fid_from_features,
    frechet_distance,
    inception_extractor,
    inception_score,
    kid_from_features,
)

# Dead ReLU units of an untrained net make feature covariances singular; sqrtm warns.
pytestmark = pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")


# ------------------------------------------------------------ independent references
def reference_fid(x, y):
    """FID the textbook way: scipy.linalg.sqrtm of the covariance product."""
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x = np.cov(x, rowvar=False)
    cov_y = np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(cov_x @ cov_y).real
    return np.sum((mu_x - mu_y) ** 2) + np.trace(cov_x + cov_y - 2 * covmean)


def reference_kid(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b/d + 1)^3 by explicit double sums."""
    d = x.shape[1]
    m, n = len(x), len(y)

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2)) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2)) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def random_features(seed=0, n=300, d=12, shift=0.0):
    """Samples (seeded) of one fixed correlated Gaussian, shifted by ``shift``."""
    mixing = np.random.default_rng(1234).normal(size=(d, d)) / np.sqrt(d)
    return np.random.default_rng(seed).normal(size=(n, d)) @ mixing + shift


@pytest.fixture(scope="module")
def tiny_extractor():
    keras.utils.set_random_seed(1)
    model = keras_segen.build("fashion_classifier", widths=(4, 8), feature_dim=16)
    return FeatureExtractor(model, input_range=(-1.0, 1.0))


def random_images(seed, n, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    # Smooth-ish blobs so the untrained net gives varied features.
    images = rng.uniform(low, high, (n, 7, 7, 1)).astype("float32")
    return tf.image.resize(images, (28, 28)).numpy().clip(low, high)


# ------------------------------------------------------------------------ FID
def test_fid_matches_scipy_sqrtm_on_random_features():
    x = random_features(0)
    y = random_features(1, shift=0.3) * np.linspace(0.5, 2.0, 12)
    np.testing.assert_allclose(fid_from_features(x, y), reference_fid(x, y), rtol=1e-8)
    np.testing.assert_allclose(fid_from_features(y, x), reference_fid(x, y), rtol=1e-8)


def test_fid_of_a_set_with_itself_is_zero():
    x = random_features(2)
    assert abs(fid_from_features(x, x)) < 1e-8
    mu, sigma = x.mean(0), np.cov(x, rowvar=False)
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8


def test_fid_of_gaussians_with_known_answer():
    # N(0, I) vs N(m, 4I) in d dims: |m|^2 + d (1 + 4 - 2*2) = |m|^2 + d.
    d = 5
    mean = np.arange(d, dtype=float)
    value = frechet_distance(np.zeros(d), np.eye(d), mean, 4 * np.eye(d))
    np.testing.assert_allclose(value, mean @ mean + d)


def test_fid_bad_shapes_are_value_errors():
    with pytest.raises(ValueError, match="dimension"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        fid_from_features(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="sigma2"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(4))


def test_streaming_fid_matches_reference_on_untrained_classifier_features(tiny_extractor):
    real = random_images(0, 96)
    generated = random_images(1, 80) * 0.7
    metric = FID(tiny_extractor)
    for start in range(0, 96, 32):
        metric.update_state(real[start:start + 32],
                            generated[start:start + 32] if start < 80 else None)
    real_features, _ = tiny_extractor.predict(real)
    generated_features, _ = tiny_extractor.predict(generated)
    expected = reference_fid(real_features, generated_features)
    assert expected > 0
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-4)
    np.testing.assert_allclose(fid_from_features(real_features, generated_features), expected,
                               rtol=1e-6)


def test_streaming_fid_in_a_tf_function_and_reset(tiny_extractor):
    real, generated = random_images(2, 16), random_images(3, 16)
    eager = FID(tiny_extractor)
    eager.update_state(real, generated)
    graph = FID(tiny_extractor)

    @tf.function
    def step(a, b):
        graph.update_state(a, b)
        return graph.result()

    np.testing.assert_allclose(float(step(real, generated)), float(eager.result()), rtol=1e-4)
    graph.reset_state()
    with pytest.raises(Exception, match="at least 2 real and 2 generated"):
        graph.result()


# ------------------------------------------------------------------------ KID
def test_kid_matches_explicit_double_sum():
    x = random_features(3, n=25, d=6)
    y = random_features(4, n=25, d=6, shift=0.5)
    # One subset of all rows: a permutation, so the estimate is the full-set MMD^2.
    mean, std = kid_from_features(x, y, num_subsets=1, subset_size=25)
    np.testing.assert_allclose(mean, reference_kid(x, y), rtol=1e-9)
    assert std == 0.0


def test_kid_subsets_average_reference_values_on_the_same_draws():
    x = random_features(5, n=40, d=4)
    y = random_features(6, n=30, d=4, shift=0.2)
    rng = np.random.default_rng(7)  # the documented sampling: x rows, then y rows
    values = []
    for _ in range(3):
        xs = x[rng.choice(40, 10, replace=False)]
        ys = y[rng.choice(30, 10, replace=False)]
        values.append(reference_kid(xs, ys))
    mean, std = kid_from_features(x, y, num_subsets=3, subset_size=10, seed=7)
    np.testing.assert_allclose([mean, std], [np.mean(values), np.std(values)], rtol=1e-9)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    x, same, other = (random_features(s, n=400) for s in (8, 9, 10))
    other = other * 1.5 + 0.5
    mean_same, std_same = kid_from_features(x, same, num_subsets=20, subset_size=200)
    mean_other, _ = kid_from_features(x, other, num_subsets=20, subset_size=200)
    assert abs(mean_same) < 3 * std_same + 1e-3
    assert mean_other > 10 * max(abs(mean_same), 1e-4)


def test_streaming_kid_matches_reference_on_untrained_classifier_features(tiny_extractor):
    real, generated = random_images(11, 20), random_images(12, 20) * 0.5
    metric = KID(tiny_extractor, num_subsets=1, subset_size=20, max_samples=64)
    metric.update_state(real[:12], generated[:8])
    metric.update_state(real[12:], generated[8:])
    real_features, _ = tiny_extractor.predict(real)
    generated_features, _ = tiny_extractor.predict(generated)
    expected = reference_kid(real_features, generated_features)
    mean, std = metric.result_with_std()
    np.testing.assert_allclose(mean, expected, rtol=1e-3, atol=1e-9)
    np.testing.assert_allclose(float(metric.result()), expected, rtol=1e-3, atol=1e-9)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_samples=64"):
        metric.update_state(random_images(13, 50), None)


# ------------------------------------------------------------------ Inception Score
def test_inception_score_bounds():
    uniform = np.full((100, 10), 0.1)
    np.testing.assert_allclose(inception_score(uniform)[0], 1.0)
    confident = np.tile(np.eye(10), (10, 1))  # every split holds each class once
    mean, std = inception_score(confident, num_splits=10)
    np.testing.assert_allclose([mean, std], [10.0, 0.0], atol=1e-9)
    one_class = np.tile(np.eye(10)[:1], (50, 1))
    np.testing.assert_allclose(inception_score(one_class, num_splits=5)[0], 1.0)


def test_inception_score_rejects_non_probabilities():
    with pytest.raises(ValueError, match="summing to 1"):
        inception_score(np.ones((20, 4)))
    with pytest.raises(ValueError, match="num_splits"):
        inception_score(np.full((5, 2), 0.5), num_splits=10)


# ------------------------------------------------------------------- extractor
def test_extractor_converts_input_ranges(tiny_extractor):
    images = random_images(14, 8)  # in [-1, 1]
    from_tanh, _ = tiny_extractor.predict(images)
    unit = FeatureExtractor(tiny_extractor.model, input_range=(0.0, 1.0))
    from_unit, _ = unit.predict((images + 1) / 2)
    from_uint8, _ = unit.predict(np.round((images + 1) * 127.5).astype(np.uint8))
    np.testing.assert_allclose(from_unit, from_tanh, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(from_uint8, from_tanh, rtol=0.05, atol=0.02)
    with pytest.raises(ValueError, match="input_range"):
        unit.predict(images)  # [-1, 1] images given to a [0, 1] extractor
    with pytest.raises(ValueError, match="resize"):
        tiny_extractor.predict(np.zeros((2, 32, 32, 1), "float32"))
    with pytest.raises(ValueError, match="no layer"):
        FeatureExtractor(tiny_extractor.model, feature_layer="pool5")


def test_extractor_accepts_datasets_and_saved_models(tiny_extractor, tmp_path):
    images = random_images(15, 10)
    expected, expected_probs = tiny_extractor.predict(images)
    labels = np.zeros(10, np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))  # unbatched pairs
    features, probs = tiny_extractor.predict(dataset)
    np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    path = str(tmp_path / "classifier.keras")
    tiny_extractor.model.save(path)
    from_file = FeatureExtractor(path)
    np.testing.assert_allclose(from_file.predict(images)[0], expected, rtol=1e-5, atol=1e-6)
    # A metric built on a saved model round-trips through its config.
    metric = FID(from_file)
    restored = FID.from_config(metric.get_config())
    restored.update_state(images, images[::-1] * 0.5)
    metric.update_state(images, images[::-1] * 0.5)
    np.testing.assert_allclose(float(restored.result()), float(metric.result()), rtol=1e-6)


def test_extractor_resizes_and_repeats_channels_for_rgb_models():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    features = keras.layers.Dense(6, name="features")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(features)
    extractor = FeatureExtractor(keras.Model(inputs, outputs), model_range=(-1, 1), resize=True)
    feats, probs = extractor.predict(random_images(16, 4))
    assert feats.shape == (4, 6) and probs.shape == (4, 3)


def test_inception_extractor_needs_a_weights_file(tmp_path):
    for missing in (None, str(tmp_path / "inception_v3.h5")):
        with pytest.raises(FileNotFoundError, match="never downloads"):
            inception_extractor(missing)


def test_evaluate_generator_quality_agrees_with_the_functions(tiny_extractor):
    real, generated = random_images(17, 40), random_images(18, 30) * 0.8
    scores = evaluate_generator_quality(generated, real, tiny_extractor,
                                        num_subsets=5, subset_size=20, num_splits=3)
    real_features, _ = tiny_extractor.predict(real)
    generated_features, probs = tiny_extractor.predict(generated)
    np.testing.assert_allclose(scores["fid"], reference_fid(real_features, generated_features),
                               rtol=1e-6)
    kid = kid_from_features(real_features, generated_features, 5, 20)
    np.testing.assert_allclose([scores["kid"], scores["kid_std"]], kid)
    np.testing.assert_allclose(scores["inception_score"], inception_score(probs, 3)[0])
    assert scores["num_real"] == 40 and scores["num_generated"] == 30

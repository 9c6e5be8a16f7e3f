"""evaluate_generator / GenerationEvaluator on tiny models and tiny untrained feature nets."""
import math

import keras
import numpy as np
import pytest

import keras_segen
from keras_segen.evaluation.generation import (
    GenerationEvaluator,
    evaluate_generator,
    format_generation_table,
    model_kind,
)

RNG = np.random.default_rng(0)
REAL = RNG.uniform(-1, 1, (40, 28, 28, 1)).astype(np.float32)  # GAN data: [-1, 1]
LABELS = np.arange(40) % 10
SMALL_KID = {"kid_subset_size": 16, "kid_subsets": 4}


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)  # a fixed untrained net: its feature scale is fixed too
    return keras_segen.build("fashion_classifier", widths=(4,), feature_dim=8)


@pytest.fixture(scope="module")
def segmenter():
    return keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)


class Replay:
    """A 'generator' that hands back given images: the perfect model for its data."""

    KIND = "adversarial"  # how a model class declares its kind (keras_segen.kinds)
    num_classes = 0

    def __init__(self, images01):
        self.images01 = images01

    def generate(self, num_images, *, seed, labels=None, batch_size=256):
        return self.images01[:num_images]


def _finite(results, keys):
    for key in keys:
        assert isinstance(results[key], float) and math.isfinite(results[key]), key


def test_model_kind():
    assert model_kind(keras_segen.build("dcgan", latent_dim=4, base_filters=4)) == "adversarial"
    vae = keras_segen.build("vae", latent_dim=2, base_filters=4, hidden_units=4)
    assert model_kind(vae) == "variational"
    assert model_kind(keras_segen.build("pix2pix", image_shape=(16, 16, 3), base_filters=4,
                                        discriminator_depth=2)) == "image_to_image"
    with pytest.raises(TypeError, match="no known model kind"):
        model_kind(keras.Sequential([keras.layers.Dense(1)]))
    segmenter = keras_segen.build("unet", num_classes=3, base_filters=4, depth=2)
    with pytest.raises(TypeError, match="not a generative one"):
        model_kind(segmenter)


def test_gan_scores_are_finite_and_seeded(classifier):
    model = keras_segen.build("dcgan", latent_dim=8, base_filters=4, seed=0)
    results = evaluate_generator(model, (REAL, LABELS), classifier=classifier, **SMALL_KID)
    _finite(results, ["fid", "kid", "kid_std", "inception_score", "inception_score_std"])
    assert results["num_generated"] == results["num_real"] == 40
    assert 1.0 <= results["inception_score"] <= 10.0
    again = evaluate_generator(model, (REAL, LABELS), classifier=classifier, **SMALL_KID)
    assert again["fid"] == results["fid"] and again["kid"] == results["kid"]
    assert "classifier_accuracy" not in results  # unconditional
    assert "fid" in format_generation_table(results, title="dcgan")


def test_conditional_gan_gets_classifier_accuracy(classifier):
    model = keras_segen.build("cgan", latent_dim=8, base_filters=4, embedding_dim=4, seed=0)
    results = evaluate_generator(model, (REAL, LABELS), classifier=classifier, num_images=30,
                                 class_names=[f"c{k}" for k in range(10)], **SMALL_KID)
    assert results["num_generated"] == 30
    assert 0.0 <= results["classifier_accuracy"] <= 1.0
    assert sorted(results["classifier_accuracy_per_class"]) == [f"c{k}" for k in range(10)]
    assert 0.0 <= results["real_classifier_accuracy"] <= 1.0


def test_a_generator_that_replays_the_real_images_scores_zero_fid(classifier):
    evaluator = GenerationEvaluator((REAL, LABELS), kind="adversarial", classifier=classifier,
                                    **SMALL_KID)
    results = evaluator.evaluate(Replay((REAL + 1.0) / 2.0))  # real data [-1,1] -> [0,1]
    assert results["fid"] == pytest.approx(0.0, abs=1e-6)
    assert abs(results["kid"]) < 1e-3
    floor = evaluator.real_floor((REAL, LABELS))
    assert floor["fid"] == pytest.approx(0.0, abs=1e-6) and floor["num_images"] == 40
    noise = evaluator.evaluate(Replay(RNG.random((40, 28, 28, 1)).astype(np.float32) ** 4))
    assert noise["fid"] > 1e-4


def test_vae_psnr_matches_numpy_and_feature_scores(classifier):
    images = RNG.random((12, 28, 28, 1)).astype(np.float32)

    class Halver:  # reconstructs every pixel at half its value; samples = the data
        KIND = "variational"
        num_classes = 0

        def encode(self, x, labels=None):
            raise AssertionError("evaluation reconstructs, it does not call encode")

        def reconstruct(self, x, labels=None):
            return np.asarray(x) * 0.5

        def generate(self, num_images, *, seed, labels=None, batch_size=256):
            return images[:num_images]

    results = evaluate_generator(Halver(), (images, None), classifier=classifier, **SMALL_KID)
    mse = np.mean((images - images * 0.5) ** 2, axis=(1, 2, 3))
    assert results["psnr"] == pytest.approx(np.mean(10 * np.log10(1.0 / mse)), rel=1e-4)
    assert 0.0 < results["ssim"] < 1.0
    assert results["sample_fid"] == pytest.approx(0.0, abs=1e-6)  # samples = the data
    _finite(results, ["fid", "kid", "sample_kid", "sample_inception_score"])


@pytest.mark.parametrize("arch", ["vae", "cvae"])
def test_real_vae_models(classifier, arch):
    model = keras_segen.build(arch, latent_dim=3, base_filters=4, hidden_units=8, seed=0)
    unit_images = (REAL + 1.0) / 2.0
    results = evaluate_generator(model, (unit_images, LABELS), classifier=classifier,
                                 num_images=20, **SMALL_KID)
    _finite(results, ["psnr", "ssim", "fid", "kid", "sample_fid", "sample_inception_score"])
    assert ("sample_classifier_accuracy" in results) == (arch == "cvae")
    if arch == "cvae":
        with pytest.raises(ValueError, match="needs \\(images, labels\\)"):
            evaluate_generator(model, unit_images, classifier=classifier)


def test_missing_shipped_classifier(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_SEGEN_ZOO", str(tmp_path))  # an empty zoo
    vae = keras_segen.build("vae", latent_dim=2, base_filters=4, hidden_units=4)
    results = evaluate_generator(vae, ((REAL + 1) / 2, None))
    assert math.isfinite(results["psnr"]) and "fid" not in results
    assert "train_feature_classifier.py" in results["notes"][0]
    gan = keras_segen.build("dcgan", latent_dim=4, base_filters=4)
    with pytest.raises(FileNotFoundError, match="train_feature_classifier.py"):
        evaluate_generator(gan, (REAL, LABELS))
    skipped = evaluate_generator(vae, ((REAL + 1) / 2, None), classifier=False)
    assert set(skipped) == {"psnr", "ssim", "num_real"}


def _pairs(count=6, size=16):
    masks = np.zeros((count, size, size), int)
    masks[:, :, size // 2:] = 1
    masks[::2, :4, :4] = 2
    conditions = np.eye(3, dtype=np.float32)[masks]
    targets = RNG.uniform(-1, 1, (count, size, size, 3)).astype(np.float32)
    return conditions, targets


def test_pix2pix_scores_with_a_segmenter(segmenter):
    model = keras_segen.build("pix2pix", image_shape=(16, 16, 3), base_filters=4,
                              discriminator_depth=2, seed=0)
    conditions, targets = _pairs()
    results = evaluate_generator(model, (conditions, targets), segmenter=segmenter, **SMALL_KID)
    _finite(results, ["psnr", "ssim", "fid", "kid", "fcn_mean_iou", "fcn_pixel_accuracy",
                      "fcn_mean_iou_real"])
    assert 0.0 <= results["fcn_pixel_accuracy"] <= 1.0

    class Perfect:  # translates the (single batch of) conditions into the real targets
        KIND = "image_to_image"

        def translate(self, batch):
            return (targets[:len(batch)] + 1.0) / 2.0

    perfect = evaluate_generator(Perfect(), (conditions, targets), segmenter=segmenter,
                                 **SMALL_KID)
    assert perfect["fid"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["fcn_mean_iou"] == perfect["fcn_mean_iou_real"]


def test_pix2pix_without_segmenter_and_bad_data(classifier):
    model = keras_segen.build("pix2pix", image_shape=(16, 16, 3), base_filters=4,
                              discriminator_depth=2)
    conditions, targets = _pairs(4)
    results = evaluate_generator(model, (conditions, targets), segmenter=False)
    assert results["fid"] is None and math.isfinite(results["psnr"])
    with pytest.raises(ValueError, match="\\(conditions, targets\\)"):
        evaluate_generator(model, conditions, segmenter=False)
    with pytest.raises(ValueError, match="4 images but 3"):
        evaluate_generator(model, (conditions, targets[:3]), segmenter=False)
    with pytest.raises(ValueError, match="adversarial model is measured on the features of its samples"):
        GenerationEvaluator((REAL, LABELS), kind="adversarial", classifier=False)
    evaluator = GenerationEvaluator((REAL, LABELS), kind="adversarial", classifier=classifier)
    with pytest.raises(ValueError,
                       match="measures adversarial models; got a model of kind 'image_to_image'"):
        evaluator.evaluate(model)


def test_a_feature_model_that_cannot_read_the_images_is_named(classifier):
    from keras_segen.evaluation.feature_models import FeatureModelUnfit

    colour = RNG.uniform(0, 1, (8, 32, 32, 3)).astype(np.float32)  # own RGB data
    vae = keras_segen.build("vae", image_shape=(32, 32, 3), latent_dim=2, base_filters=4,
                            hidden_units=4)
    results = evaluate_generator(vae, (colour, None), classifier=classifier)
    assert "fid" not in results and math.isfinite(results["psnr"])
    assert "reads 28x28x1 images, the held-out images are 32x32x3" in results["notes"][0]
    gan = keras_segen.build("dcgan", image_shape=(32, 32, 3), latent_dim=4, base_filters=4)
    with pytest.raises(FeatureModelUnfit, match="evaluation.classifier"):
        evaluate_generator(gan, (colour * 2 - 1, None), classifier=classifier)

"""DDIM (keras_segen.generation.diffusion): schedules, the forward formula, the DDIM loop,
EMA weights, classifier-free guidance, training, serving and refused arguments.

The shared harness (tests/architecture_harness.py, case "ddim") covers build, config,
saving, mixed precision, MirroredStrategy and export of the unconditional model; the
conditional model's aspects run here (``-m slow``)."""
import dataclasses
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen
from architecture_harness import CASES_BY_ARCH, run_architecture_test
from keras_segen.generation.diffusion import DDIM, schedule
from keras_segen.kinds import kind_of, kind_of_arch

TINY = dict(image_shape=(8, 8, 1), widths=(4, 8), block_depth=1, embedding_dim=8,
            timesteps=50, sampling_steps=3, attention_resolutions=(), seed=0)
RECIPES = pathlib.Path(keras_segen.__file__).resolve().parent.parent / "zoo" / "recipes"


def _randomize_output(model, scale=0.3, seed=0):
    """The output conv starts at zero (predicts no noise whatever the input): give both
    networks the same random one so that samples depend on the input and the labels."""
    for network in (model.denoiser, model.ema_denoiser):
        rng = np.random.default_rng(seed)
        layer = network.get_layer("conv_out")
        kernel, bias = layer.get_weights()
        layer.set_weights([rng.normal(0, scale, kernel.shape).astype("float32"), bias])
        if model.num_classes:  # class embeddings far apart: labels visibly matter
            layer = network.get_layer("label_embedding")
            layer.set_weights([rng.normal(0, 2.0, w.shape).astype("float32")
                               for w in layer.get_weights()])


@pytest.fixture(scope="module")
def model():
    m = keras_segen.build("ddim", **TINY)
    _randomize_output(m)
    return m


@pytest.fixture(scope="module")
def conditional():
    m = keras_segen.build("ddim", **TINY, num_classes=3)
    _randomize_output(m)
    return m


def _images(n, shape=(8, 8, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32")


# --- schedules and formulas ------------------------------------------------------------


@pytest.mark.parametrize("name", schedule.SCHEDULES)
@pytest.mark.parametrize("timesteps", [50, 1000])
def test_alpha_bar_falls_from_one_to_about_zero(name, timesteps):
    alpha_bar = schedule.alpha_bar(name, timesteps)
    assert alpha_bar.shape == (timesteps,)
    assert np.all(np.diff(alpha_bar) < 0) and 0 < alpha_bar[-1] < alpha_bar[0] < 1
    assert alpha_bar[0] > 0.98 and alpha_bar[-1] < 0.01


def test_cosine_and_linear_endpoints():
    cosine = schedule.alpha_bar("cosine", 1000)
    f = lambda t: np.cos((t / 1000 + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    np.testing.assert_allclose(cosine[[0, 499]], [f(1) / f(0), f(500) / f(0)], rtol=1e-9)
    assert cosine[-1] < 1e-6  # the clipped last beta (0.999) leaves almost nothing
    betas = schedule.betas("linear", 1000)
    np.testing.assert_allclose(betas[[0, -1]], [1e-4, 0.02])
    np.testing.assert_allclose(schedule.betas("linear", 50)[[0, -1]], [2e-3, 0.4])


def test_forward_noising_formula(model):
    x0, noise = _images(4), _images(4, seed=1)
    t = np.array([0, 10, 30, 49], np.int32)
    ab = model._alpha_bars[t].reshape(-1, 1, 1, 1)
    expected = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * noise
    np.testing.assert_allclose(np.asarray(model.add_noise(x0, t, noise)), expected,
                               rtol=1e-5, atol=1e-6)


def test_strided_timesteps():
    assert schedule.strided_timesteps(50, 5).numpy().tolist() == [49, 37, 24, 12, 0]
    assert schedule.strided_timesteps(50, 1).numpy().tolist() == [49]
    assert schedule.strided_timesteps(50, 50).numpy().tolist() == list(range(49, -1, -1))


def test_ddim_with_a_perfect_denoiser_lands_on_the_data():
    """A denoiser that knows x0 predicts the exact noise: DDIM (eta 0) returns x0."""
    alpha_bars = tf.constant(schedule.alpha_bar("cosine", 50), tf.float32)
    x0 = tf.constant(_images(3) * 0.9)

    def oracle(x, t):
        ab = tf.reshape(tf.gather(alpha_bars, t), [-1, 1, 1, 1])
        return (x - tf.sqrt(ab) * x0) / tf.sqrt(1.0 - ab)

    for steps in (1, 4):
        out = schedule.ddim_sample(oracle, tf.constant(_images(3, seed=2)), alpha_bars, steps)
        np.testing.assert_allclose(out.numpy(), x0.numpy(), atol=1e-4)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_steps_set_the_number_of_denoiser_calls(eta):
    alpha_bars = tf.constant(schedule.alpha_bar("linear", 50), tf.float32)
    calls = tf.Variable(0)

    def counting(x, t):
        calls.assign_add(1)
        return tf.zeros_like(x)

    sample = tf.function(lambda noise, steps: schedule.ddim_sample(
        counting, noise, alpha_bars, steps, eta=eta, seed=tf.constant([1, 2])))
    for steps in (1, 3, 7):
        calls.assign(0)
        out = sample(tf.constant(_images(2)), tf.constant(steps))
        assert int(calls.numpy()) == steps and np.all(np.isfinite(out.numpy()))


# --- sampling --------------------------------------------------------------------------


def test_generate_is_a_function_of_the_seed(model):
    a = model.generate(4, seed=7, steps=3)
    assert a.shape == (4, 8, 8, 1) and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(model.generate(4, seed=7, steps=3), a)
    assert not np.allclose(model.generate(4, seed=8, steps=3), a)
    np.testing.assert_allclose(model.generate(4, seed=7, steps=3, batch_size=3), a, atol=1e-3)
    # eta > 0: still a function of the seed, not the same images
    noisy = model.generate(4, seed=7, steps=3, eta=1.0)
    np.testing.assert_array_equal(model.generate(4, seed=7, steps=3, eta=1.0), noisy)
    assert not np.allclose(noisy, a)
    assert not np.allclose(model.generate(4, seed=7, steps=1), a)


def test_sampling_reads_the_ema_weights_not_the_trained_ones():
    m = keras_segen.build("ddim", **TINY)
    _randomize_output(m)
    before = m.generate(2, seed=0, steps=2)
    kernel = m.denoiser.get_layer("conv_out").kernel
    kernel.assign(kernel * 5.0)
    np.testing.assert_array_equal(m.generate(2, seed=0, steps=2), before)
    ema_kernel = m.ema_denoiser.get_layer("conv_out").kernel
    ema_kernel.assign(ema_kernel * 5.0)
    assert not np.allclose(m.generate(2, seed=0, steps=2), before)


def test_classifier_free_guidance_and_labels(conditional):
    plain = conditional.generate(3, seed=1, labels=[0, 1, 2], steps=2, guidance=0.0)
    guided = conditional.generate(3, seed=1, labels=[0, 1, 2], steps=2, guidance=2.0)
    assert not np.allclose(plain, guided)
    np.testing.assert_array_equal(
        conditional.generate(3, seed=1, labels=[0, 1, 2], steps=2, guidance=2.0), guided)
    assert not np.allclose(conditional.generate(3, seed=1, labels=2, steps=2, guidance=2.0),
                           guided)
    noisy, t = _images(2), np.array([10, 10], np.int32)
    by_label = [np.asarray(conditional.predict_noise(noisy, t, np.array([k, k])))
                for k in (0, 2, 3)]  # 3: the null class
    assert np.abs(by_label[0] - by_label[1]).max() > 1e-3
    assert np.abs(by_label[0] - by_label[2]).max() > 1e-3
    # None: classes in turn, as the other conditional families do
    np.testing.assert_array_equal(
        conditional.generate(3, seed=1, steps=2, guidance=2.0), guided)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\]"):
        conditional.generate(2, seed=0, labels=[0, 3], steps=2)
    with pytest.raises(ValueError, match="expected one label or 2 labels"):
        conditional.generate(2, seed=0, labels=[0, 1, 2], steps=2)
    with pytest.raises(ValueError, match="guidance must be a finite number >= 0"):
        conditional.generate(2, seed=0, steps=2, guidance=-1.0)


def test_sampling_arguments_are_checked(model):
    with pytest.raises(ValueError, match="steps must be a positive int"):
        model.generate(2, seed=0, steps=0)
    with pytest.raises(ValueError, match="steps must be at most timesteps=50"):
        model.generate(2, seed=0, steps=51)
    with pytest.raises(ValueError, match=r"eta must be a number in \[0, 1\]"):
        model.generate(2, seed=0, eta=2.0)
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, seed=0, labels=[0, 1])
    with pytest.raises(ValueError, match="guidance: .* is unconditional"):
        model.denoise_batch(np.zeros((1, 8, 8, 1), "float32"), guidance=1.0)
    with pytest.raises(TypeError, match="seed must be an int"):
        model.generate(2, seed=None)


# --- training and EMA ------------------------------------------------------------------


def test_one_step_moves_the_ema_by_the_decay():
    m = keras_segen.build("ddim", **{**TINY, "ema_decay": 0.9, "ema_warmup": 0})
    _randomize_output(m)
    m.compile(keras.optimizers.SGD(0.1), run_eagerly=True)
    before = [w.numpy() for w in m.ema_denoiser.weights]
    history = m.fit(_images(4), batch_size=4, verbose=0).history
    assert list(history) == ["loss"] and np.isfinite(history["loss"][0])
    after_weights = [w.numpy() for w in m.denoiser.weights]
    moved = 0
    for ema, old, new in zip(m.ema_denoiser.weights, before, after_weights):
        np.testing.assert_allclose(ema.numpy(), 0.9 * old + 0.1 * new, rtol=1e-5, atol=1e-7)
        moved += not np.allclose(old, new)
    assert moved > 0 and not m.ema_denoiser.trainable_weights
    assert len(m.trainable_weights) == len(m.denoiser.weights)


@pytest.mark.parametrize("steps", [1, 3])
def test_the_ema_warm_up_follows_the_weights_early(steps):
    # After n steps the decay is min(d, (1 + n) / (warmup + n)): 2/11 after the first.
    m = keras_segen.build("ddim", **{**TINY, "ema_decay": 0.99, "ema_warmup": 10})
    _randomize_output(m)
    m.compile(keras.optimizers.SGD(0.1), run_eagerly=True)
    m.fit(_images(4 * steps), batch_size=4, epochs=1, verbose=0)
    # Replay the recursion on the recorded weights of the last step.
    before = [w.numpy() for w in m.ema_denoiser.weights]
    m.fit(_images(4), batch_size=4, verbose=0)
    n = steps + 1
    decay = min(0.99, (1 + n) / (10 + n))
    for ema, old, new in zip(m.ema_denoiser.weights, before, m.denoiser.weights):
        np.testing.assert_allclose(ema.numpy(), decay * old + (1 - decay) * new.numpy(),
                                   rtol=1e-5, atol=1e-7)
    assert m.get_config()["ema_warmup"] == 10


def test_ema_weights_survive_a_keras_round_trip(tmp_path):
    m = keras_segen.build("ddim", **{**TINY, "ema_decay": 0.5})
    _randomize_output(m)
    m.compile(keras.optimizers.Adam(1e-2), run_eagerly=True)
    m.fit(_images(4), batch_size=4, verbose=0)
    assert not all(np.array_equal(e.numpy(), w.numpy()) for e, w in
                   zip(m.ema_denoiser.weights, m.denoiser.weights))
    m.save(tmp_path / "ddim.keras")
    loaded = keras.saving.load_model(tmp_path / "ddim.keras")
    assert isinstance(loaded, DDIM) and loaded.ema_decay == 0.5
    for a, b in zip(m.ema_denoiser.weights, loaded.ema_denoiser.weights):
        np.testing.assert_array_equal(b.numpy(), a.numpy())
    np.testing.assert_array_equal(loaded.generate(2, seed=3, steps=2),
                                  m.generate(2, seed=3, steps=2))
    assert int(loaded.optimizer.iterations) == 1


def test_a_few_steps_lower_the_loss_on_a_fixed_batch():
    m = keras_segen.build("ddim", **TINY)
    m.compile(keras.optimizers.Adam(1e-2), run_eagerly=True)
    images = _images(8)
    t = tf.constant(np.arange(8) * 6 + 1, tf.int32)
    noise = tf.constant(np.random.default_rng(5).standard_normal((8, 8, 8, 1)), tf.float32)

    def fixed_loss():
        predicted = m.predict_noise(m.add_noise(images, t, noise), t, ema=False)
        return float(tf.reduce_mean(tf.square(predicted - noise)))

    start = fixed_loss()
    m.fit(images, batch_size=8, epochs=12, verbose=0)
    assert fixed_loss() < 0.85 * start  # about 0.92 -> 0.70


def test_conditional_training_needs_labels(conditional):
    fresh = keras_segen.build("ddim", **TINY, num_classes=3)
    fresh.compile(run_eagerly=True)
    with pytest.raises(ValueError, match="class-conditional: it trains on"):
        fresh.fit(_images(4), batch_size=4, verbose=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be in \[0, 2\]"):
        fresh.fit(_images(4), np.array([0, 1, 2, 3]), batch_size=4, verbose=0)
    history = fresh.fit(_images(4), np.array([0, 1, 2, 1]), batch_size=4, verbose=0).history
    assert np.isfinite(history["loss"][0])


# --- registration, kind, builder arguments ----------------------------------------------


def test_registered_with_the_diffusion_kind(model):
    assert "ddim" in keras_segen.list_architectures(task="generation")
    assert kind_of_arch("ddim").name == "diffusion" and kind_of(model).name == "diffusion"
    kind = kind_of(model)
    fresh = kind.compile(keras_segen.build("ddim", **TINY),
                         {"optimizer": {"name": "adamw", "learning_rate": 1e-3}})
    assert isinstance(fresh.optimizer, keras.optimizers.AdamW)
    assert float(fresh.optimizer.learning_rate) == pytest.approx(1e-3)
    assert kind.nan_monitors(fresh) == ["loss"] and kind.samples_from_prior


def test_default_architecture_has_attention_at_the_lowest_resolution():
    m = keras_segen.build("ddim", image_shape=(28, 28, 1), widths=(8, 16, 16, 16),
                          block_depth=1, embedding_dim=8, timesteps=10, sampling_steps=2)
    names = [layer.name for layer in m.denoiser.layers]
    assert "pad" in names and "crop" in names  # 28 -> 32 inside the U-Net
    assert [n for n in names if n.endswith("_mha")] == [
        "down3_0_attention_mha", "middle_attention_mha", "up3_0_attention_mha"]
    assert m.generate(1, seed=0).shape == (1, 28, 28, 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"schedule": "quadratic"}, "schedule must be one of"),
    ({"timesteps": 1}, "timesteps must be an int >= 2"),
    ({"ema_decay": 1.5}, r"ema_decay must be a number in \[0, 1\]"),
    ({"ema_warmup": -1}, r"ema_warmup must be an int >= 0"),
    ({"guidance_dropout": 1.0}, r"guidance_dropout must be a number in \[0, 1\)"),
    ({"guidance": -0.5}, "guidance must be a finite number >= 0"),
    ({"widths": ()}, "widths must be a non-empty sequence"),
    ({"block_depth": 0}, "block_depth must be a positive int"),
    ({"embedding_dim": 7}, "embedding_dim must be even"),
    ({"attention_resolutions": (3,)}, r"attention_resolutions must be among .*\[8, 4\]"),
    ({"num_classes": 1}, "num_classes must be 0"),
    ({"sampling_steps": 51}, "sampling_steps must be at most timesteps=50"),
    ({"image_shape": (8, 8)}, r"image_shape must be \(H, W, C\)"),
    ({"image_shape": (1, 8, 1)}, "too small"),
])
def test_bad_builder_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_segen.build("ddim", **{**TINY, **kwargs})


# --- serving ------------------------------------------------------------------------------


def test_conditional_export_samples_what_generate_samples(conditional, tmp_path):
    path = keras_segen.export(conditional, tmp_path, name="ddim_c", version=1)
    served = tf.saved_model.load(str(path))
    assert sorted(served.signatures) == ["sample", "serving_default"]
    labels = np.array([2, 0, 1], np.int32)
    out = served.signatures["sample"](
        batch_size=tf.constant(3), seed=tf.constant(4, tf.int64), steps=tf.constant(2),
        labels=tf.constant(labels), guidance=tf.constant(1.5))["images"].numpy()
    expected = conditional.generate(3, seed=4, labels=labels, steps=2, guidance=1.5)
    assert out.dtype == np.uint8 and out.shape == (3, 8, 8, 1)
    assert np.abs(out.astype(int) - np.round(expected * 255)).max() <= 1
    z = conditional.sample_latents(3, 4)
    default = served.signatures["serving_default"](
        z=z, steps=tf.constant(2), labels=tf.constant(labels),
        guidance=tf.constant(1.5))["images"].numpy()
    np.testing.assert_array_equal(default, out)
    with pytest.raises(tf.errors.InvalidArgumentError, match="steps must be <= 50"):
        served.signatures["sample"](batch_size=tf.constant(1), seed=tf.constant(0, tf.int64),
                                    steps=tf.constant(51), labels=tf.constant([0]),
                                    guidance=tf.constant(0.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one label per image"):
        served.signatures["sample"](batch_size=tf.constant(2), seed=tf.constant(0, tf.int64),
                                    steps=tf.constant(1), labels=tf.constant([0]),
                                    guidance=tf.constant(0.0))


# --- the conditional model through the shared harness (slow) ---------------------------------


CONDITIONAL_CASE = dataclasses.replace(
    CASES_BY_ARCH["ddim"], kwargs={**CASES_BY_ARCH["ddim"].kwargs, "num_classes": 3})


@pytest.mark.slow
@pytest.mark.parametrize("aspect", CONDITIONAL_CASE.aspects)
def test_conditional_model_through_the_harness(aspect, tmp_path):
    run_architecture_test(CONDITIONAL_CASE, aspects=(aspect,), tmp_path=tmp_path)


# --- recipes ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ddim_fashion_mnist", "ddim_bluemarble"])
def test_recipes_read_and_build_small_models(name):
    from keras_segen import training

    recipe = training.load_recipe(RECIPES / f"{name}.json")
    assert recipe["arch"] == "ddim" and kind_of_arch(recipe["arch"]).name == "diffusion"
    m = keras_segen.build("ddim", **recipe["kwargs"])
    assert 1e6 <= m.denoiser.count_params() <= 3e6


# --- evaluation and the kind's data ---------------------------------------------------------


class _ReplayDiffusion:
    """A 'diffusion model' that hands back given images (the perfect sampler)."""

    KIND = "diffusion"
    num_classes = 0

    def __init__(self, images01):
        self.images01 = images01

    def generate(self, num_images, *, seed, labels=None, batch_size=256):
        return self.images01[:num_images]


def test_fid_and_kid_of_samples_with_a_classifier_or_a_segmenter():
    from keras_segen.evaluation.generation import evaluate_generator

    small_kid = {"kid_subset_size": 8, "kid_subsets": 2}
    keras.utils.set_random_seed(0)
    classifier = keras_segen.build("fashion_classifier", widths=(4,), feature_dim=8)
    real = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    m = keras_segen.build("ddim", **{**TINY, "image_shape": (28, 28, 1)})
    results = evaluate_generator(m, (real, None), classifier=classifier, **small_kid)
    assert np.isfinite(results["fid"]) and "inception_score" in results
    perfect = evaluate_generator(_ReplayDiffusion((real + 1) / 2), (real, None),
                                 classifier=classifier, **small_kid)
    assert perfect["fid"] == pytest.approx(0.0, abs=1e-6)
    # Satellite tiles: on a segmenter's pooled features, no inception score of its maps.
    tiles = np.random.default_rng(1).uniform(0, 1, (12, 16, 16, 3)).astype("float32")
    segmenter = keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)
    scores = evaluate_generator(_ReplayDiffusion(tiles[::-1].copy()), (tiles, None),
                                segmenter=segmenter, data_range=(0.0, 1.0), **small_kid)
    assert np.isfinite(scores["fid"]) and "inception_score" not in scores
    assert "pooled" in scores["feature_model"]


def test_the_kind_moves_unit_range_tiles_to_minus_one_one():
    from keras_segen.datasets.info import DatasetInfo
    from keras_segen.kinds.base import TrainingData

    tiles = np.linspace(0, 1, 4 * 8 * 8).reshape(4, 8, 8, 1).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((tiles, np.zeros((4, 8, 8), "int32")))
    info = DatasetInfo(name="tiles", split="train", num_examples=4, image_shape=(8, 8, 1),
                       class_names=[], extra={"value_range": [0.0, 1.0]})
    m = keras_segen.build("ddim", **TINY)
    train, _ = kind_of(m).pipelines(m, TrainingData(train=data, val=None, info=info,
                                                    class_names=[]), 4, 0, False)
    batch = next(iter(train)).numpy()
    assert batch.shape == (4, 8, 8, 1)
    assert batch.min() == pytest.approx(-1.0) and batch.max() == pytest.approx(1.0)

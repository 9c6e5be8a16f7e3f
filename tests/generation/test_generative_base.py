"""GenerativeModel (generation/base.py): one seed convention, one label check, one set of
replica/optimizer/int helpers, shared by the GANs and the VAEs."""
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen
from keras import ops
from keras_segen.generation import base
from keras_segen.generation.adversarial import AdversarialModel
from keras_segen.generation.base import GenerativeModel, positive_int, sampling_seed
from keras_segen.generation.vae import VAE

# The seeds the zoo uses are small; the old GAN and VAE conventions agree on [0, 2**31-3].
SEEDS = (0, 7, 12345, 2**31 - 3)
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / "zoo" / "artifacts"

TINY = {
    "dcgan": dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8),
    "wgan_gp": dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8),
    "cgan": dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8, num_classes=3),
    "vae": dict(image_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=16),
    "cvae": dict(
        image_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=16, num_classes=3
    ),
}


def build(arch):
    return keras_segen.build(arch, seed=0, **TINY[arch])


# --- what generate() drew before the shared base, written out inline ------------------


def old_gan_generate(model, num_images, seed):
    """LatentGAN.generate before: keras.random.normal(seed=int), one batch."""
    z = keras.random.normal((num_images, model.latent_dim), seed=int(seed))
    if model.num_classes:
        labels = ops.convert_to_tensor((np.arange(num_images) % model.num_classes).astype(np.int32))
        inputs = [z, labels]
    else:
        inputs = z
    images = ops.convert_to_numpy(ops.cast(model.generator(inputs, training=False), "float32"))
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0).astype(np.float32)


def old_vae_generate(model, num_images, seed):
    """VAE.generate before: tf.random.stateless_normal(seed=[seed, 0]), one batch."""
    z = tf.random.stateless_normal((num_images, model.latent_dim), seed=[int(seed), 0])
    if model.num_classes:
        labels = (np.arange(num_images) % model.num_classes).astype(np.int32)
        inputs = [z, ops.reshape(ops.convert_to_tensor(labels), (-1, 1))]
    else:
        inputs = z
    logits = ops.cast(model.decoder(inputs, training=False), "float32")
    return ops.convert_to_numpy(ops.sigmoid(logits)).astype(np.float32)


def old_generate(model, num_images, seed):
    if isinstance(model, VAE):
        return old_vae_generate(model, num_images, seed)
    return old_gan_generate(model, num_images, seed)


# --- the seed ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS + (2**31 - 2, 2**31, 2**40, -1, -(2**31)))
def test_sampling_seed_is_keras_seed_for_an_int(seed):
    shape = (3, 5)
    expected = keras.random.normal(shape, seed=seed).numpy()
    got = tf.random.stateless_normal(shape, seed=sampling_seed(seed)).numpy()
    assert sampling_seed(seed).dtype == tf.int32
    assert got.tobytes() == expected.tobytes()


@pytest.mark.parametrize("seed", SEEDS)
def test_sampling_seed_is_the_old_vae_seed_on_the_zoo_range(seed):
    shape = (3, 5)
    expected = tf.random.stateless_normal(shape, seed=[seed, 0]).numpy()
    assert tf.random.stateless_normal(shape, seed=sampling_seed(seed)).numpy().tobytes() == (
        expected.tobytes()
    )


def test_sampling_seed_in_a_tf_function_matches_the_python_path():
    @tf.function(input_signature=[tf.TensorSpec([], tf.int64)])
    def traced(seed):
        return sampling_seed(seed)

    for seed in SEEDS + (2**31 - 2, 2**40, -5):
        np.testing.assert_array_equal(traced(tf.constant(seed, tf.int64)), sampling_seed(seed))
    np.testing.assert_array_equal(sampling_seed(tf.constant(7, tf.int32)), sampling_seed(7))
    np.testing.assert_array_equal(sampling_seed(np.int64(7)), [7, 0])
    for bad in (None, 1.5, True, "3"):
        with pytest.raises(TypeError, match="seed must be an int"):
            sampling_seed(bad)
    with pytest.raises(TypeError, match="scalar integer tensor"):
        sampling_seed(tf.constant([1, 2]))


@pytest.mark.parametrize("arch", sorted(TINY))
def test_generate_draws_what_it_drew_before(arch):
    model = build(arch)
    for seed in SEEDS:
        new = model.generate(5, seed=seed)
        assert new.tobytes() == old_generate(model, 5, seed).tobytes(), (arch, seed)
    # The latents are the base's, for every family.
    z = model.sample_latents(5, 7)
    assert z.dtype == tf.float32 and tuple(z.shape) == (5, model.latent_dim)
    np.testing.assert_array_equal(
        z, tf.random.stateless_normal((5, model.latent_dim), seed=sampling_seed(7))
    )


@pytest.mark.parametrize(
    "name",
    ["dcgan_fashion_mnist", "wgangp_fashion_mnist", "cgan_fashion_mnist",
     "vae_fashion_mnist", "cvae_fashion_mnist"],
)
def test_committed_zoo_artifacts_load_and_draw_their_recorded_images(name):
    path = ARTIFACTS / name / "model.keras"
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout")
    model = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(model, GenerativeModel)
    for seed in (0, 2**31 - 3):  # the zoo's FID/KID seed, and the top of the common range
        assert model.generate(6, seed=seed).tobytes() == old_generate(model, 6, seed).tobytes()


def test_serving_sample_latents_are_generate_latents():
    from keras_segen.serving.generation import prior_latents

    traced = tf.function(lambda n, seed: prior_latents(n, seed, 4, 3))
    for seed in SEEDS:
        z, labels = traced(tf.constant(5, tf.int32), tf.constant(seed, tf.int64))
        model = build("cvae")
        np.testing.assert_array_equal(z, model.sample_latents(5, seed))
        np.testing.assert_array_equal(labels, model.labels_to_generate(None, 5))


# --- labels -----------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["cgan", "cvae"])
def test_one_label_choice_and_check_for_both_families(arch):
    model = build(arch)
    np.testing.assert_array_equal(model.labels_to_generate(None, 5), [0, 1, 2, 0, 1])
    np.testing.assert_array_equal(model.labels_to_generate(2, 3), [2, 2, 2])
    np.testing.assert_array_equal(model.labels_to_generate([0.0, 2.0], 2), [0, 2])
    assert model.labels_to_generate(None, 2).dtype == np.int32
    name = type(model).__name__
    with pytest.raises(ValueError, match=rf"{name}.generate: labels must be in \[0, 2\]"):
        model.labels_to_generate([0, 3], 2)
    with pytest.raises(ValueError, match="expected one label or 3 labels"):
        model.labels_to_generate([0, 1], 3)
    with pytest.raises(ValueError, match="labels must be integers"):
        model.labels_to_generate([0.5, 1.0], 2)
    # Graph side: one range check, one set of messages.
    np.testing.assert_array_equal(model.prepare_labels(np.array([[1], [2]])), [1, 2])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[0, 2\]; got a label >= "):
        model.prepare_labels(np.array([0, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="got a negative label"):
        model.prepare_labels(np.array([-1, 0]))
    with pytest.raises(TypeError, match="labels must be integers"):
        model.prepare_labels(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"shape \(N,\) or \(N, 1\)"):
        model.prepare_labels(np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match="2 labels for a batch of 3"):
        model.prepare_labels(np.array([0, 1]), batch_size=3)
    with pytest.raises(ValueError, match="conditional; pass labels"):
        model.prepare_labels(None)


@pytest.mark.parametrize("arch", ["dcgan", "vae"])
def test_unconditional_models_refuse_labels(arch):
    model = build(arch)
    assert model.labels_to_generate(None, 3) is None and model.prepare_labels(None) is None
    with pytest.raises(ValueError, match="unconditional"):
        model.labels_to_generate([0, 1], 2)
    with pytest.raises(ValueError, match="unconditional"):
        model.prepare_labels(np.array([0, 1]))


# --- replicas, optimizers, ints --------------------------------------------------------


def test_both_families_scale_losses_through_the_base(monkeypatch):
    for cls in (AdversarialModel, VAE):
        assert cls.scale_for_distribution is GenerativeModel.scale_for_distribution
        assert cls.unscale_for_distribution is GenerativeModel.unscale_for_distribution
    monkeypatch.setattr(base, "num_replicas", lambda: 4)
    assert float(GenerativeModel.scale_for_distribution(tf.constant(2.0))) == 0.5
    assert float(GenerativeModel.unscale_for_distribution(tf.constant(0.5))) == 2.0


def test_vae_train_step_scales_its_loss_with_the_shared_helper(monkeypatch):
    data = np.random.default_rng(0).random((4, 16, 16, 1)).astype("float32")

    def one_step_update():
        keras.utils.set_random_seed(1)  # the same initial weights both times
        model = build("vae")
        model.compile(keras.optimizers.SGD(0.1), run_eagerly=True)
        before = [v.numpy() for v in model.trainable_variables]
        model.train_on_batch(data)
        return [b - v.numpy() for b, v in zip(before, model.trainable_variables)]

    plain = one_step_update()
    monkeypatch.setattr(base, "num_replicas", lambda: 2)  # as if each replica held half
    halved = one_step_update()
    for p, h in zip(plain, halved):
        np.testing.assert_allclose(h, 0.5 * p, rtol=1e-3, atol=1e-7)


@pytest.mark.parametrize("arch", sorted(TINY))
def test_optimizers_are_built_and_their_config_round_trips(arch):
    model = build(arch)
    assert model.get_compile_config() is None
    model.compile()
    names = ["optimizer"] if isinstance(model, VAE) else ["g_optimizer", "d_optimizer"]
    for name in names:
        assert getattr(model, name).built
    config = model.get_compile_config()
    assert set(names) <= set(config)
    clone = build(arch)
    clone.compile_from_config(config)
    for name in names:
        assert type(getattr(clone, name)) is type(getattr(model, name))
        assert getattr(clone, name).built


def test_positive_int_is_the_check_of_every_family():
    assert positive_int(3, "n") == 3 and positive_int(np.int64(2), "n") == 2
    for bad in (0, -1, True, 2.0, "2", None):
        with pytest.raises(ValueError, match="n must be a positive int"):
            positive_int(bad, "n")
    for arch in ("dcgan", "vae"):
        model = build(arch)
        with pytest.raises(ValueError, match="num_images must be a positive int"):
            model.generate(0, seed=0)
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            model.generate(2, seed=0, batch_size=True)
        with pytest.raises(TypeError, match="seed must be an int"):
            model.generate(2, seed=None)


def test_every_generative_architecture_derives_from_the_base():
    kinds = {}
    for arch in ("dcgan", "wgan_gp", "cgan", "vae", "cvae"):
        model = build(arch)
        assert isinstance(model, GenerativeModel)
        kinds[arch] = model.KIND
    pix2pix = keras_segen.build("pix2pix", image_shape=(16, 16, 3), base_filters=4, depth=2)
    assert isinstance(pix2pix, GenerativeModel) and pix2pix.KIND == "image_to_image"
    assert kinds == {"dcgan": "adversarial", "wgan_gp": "adversarial", "cgan": "adversarial",
                     "vae": "variational", "cvae": "variational"}

"""DCGAN architecture: registration, sizing from the image shape, defaults, config."""

import numpy as np
import pytest

import keras
import keras_segen
from keras_segen.generation.dcgan import DCGAN, upsampling_plan
from keras_segen.losses import NonSaturatingLoss


def test_registered_as_a_generation_architecture():
    assert "dcgan" in keras_segen.list_architectures(task="generation")
    model = keras_segen.build("dcgan", base_filters=8, latent_dim=8)
    assert isinstance(model, DCGAN)
    assert model.image_shape == (28, 28, 1) and model.num_classes == 0


@pytest.mark.parametrize(
    "shape, plan",
    [
        ((28, 28, 1), (2, (7, 7))),
        ((32, 32, 3), (3, (4, 4))),
        ((64, 64, 3), (4, (4, 4))),
        ((16, 16, 1), (2, (4, 4))),
        ((32, 64, 3), (3, (4, 8))),
    ],
)
def test_networks_are_sized_from_the_image_shape(shape, plan):
    assert upsampling_plan(shape) == plan
    model = keras_segen.build("dcgan", image_shape=shape, latent_dim=8, base_filters=8)
    z = np.zeros((2, 8), "float32")
    images = model(z)
    assert tuple(images.shape) == (2, *shape)
    assert tuple(model.discriminator(images).shape) == (2, 1)
    transposed = [l for l in model.generator.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    strided = [l for l in model.discriminator.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(transposed) == len(strided) == plan[0]


def test_dcgan_layers_and_widths():
    model = keras_segen.build("dcgan", base_filters=8, latent_dim=8)
    g_types = {type(l) for l in model.generator.layers}
    d_types = {type(l) for l in model.discriminator.layers}
    assert keras.layers.BatchNormalization in g_types and keras.layers.ReLU in g_types
    assert keras.layers.BatchNormalization in d_types and keras.layers.LeakyReLU in d_types
    assert model.generator.get_layer("g_reshape").output.shape[1:] == (7, 7, 16)
    assert model.generator.layers[-1].get_config()["activation"] == "tanh"
    # No batch norm on the discriminator's first layer (DCGAN paper).
    assert model.discriminator.layers[2].__class__ is keras.layers.LeakyReLU


def test_default_losses_optimizers_and_label_smoothing():
    model = keras_segen.build("dcgan", base_filters=8, latent_dim=8, label_smoothing=0.1)
    model.compile()
    assert isinstance(model.g_loss_fn, NonSaturatingLoss) and model.g_loss_fn.player == "generator"
    assert model.d_loss_fn.label_smoothing == pytest.approx(0.1)
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(2e-4)
        assert float(optimizer.beta_1) == pytest.approx(0.5)
    least_squares = keras_segen.build("dcgan", base_filters=8, latent_dim=8, loss="least_squares")
    least_squares.compile()
    assert type(least_squares.d_loss_fn).__name__ == "LeastSquaresLoss"


def test_config_round_trip_rebuilds_the_same_model():
    model = keras_segen.build(
        "dcgan",
        image_shape=(16, 16, 1),
        latent_dim=8,
        base_filters=8,
        seed=3,
        label_smoothing=0.2,
        loss="minimax",
    )
    config = model.get_config()
    clone = DCGAN.from_config(config)
    assert (clone.latent_dim, clone.image_shape, clone.label_smoothing, clone.seed) == (
        8,
        (16, 16, 1),
        0.2,
        3,
    )
    assert clone.adversarial_loss == "minimax"
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_bad_arguments():
    with pytest.raises(ValueError, match="even and at least 8"):
        keras_segen.build("dcgan", image_shape=(7, 7, 1))
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        keras_segen.build("dcgan", image_shape=(28, 28))
    model = keras_segen.build("dcgan", image_shape=(16, 16, 1), latent_dim=8, base_filters=8)
    with pytest.raises(ValueError, match="unconditional"):
        model.generate(2, seed=0, labels=[0, 1])
    with pytest.raises(ValueError, match="num_images must be a positive int"):
        model.generate(0, seed=0)
    with pytest.raises(TypeError, match="seed must be an int"):
        model.generate(2, seed=None)


def test_labelled_batches_train_an_unconditional_model():
    model = keras_segen.build("dcgan", image_shape=(16, 16, 1), latent_dim=8, base_filters=8)
    model.compile(run_eagerly=True)
    images = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    history = model.fit(images, np.arange(4), batch_size=4, verbose=0).history
    assert np.isfinite(history["d_loss"][0]) and int(model.g_optimizer.iterations) == 1


def test_non_finite_latents_are_refused_not_drawn_black():
    model = keras_segen.build("dcgan", image_shape=(16, 16, 1), latent_dim=8, base_filters=8)
    with pytest.raises(ValueError, match="generate_batch: z must be finite"):
        model.generate_batch(np.full((1, 8), np.inf, "float32"), None)

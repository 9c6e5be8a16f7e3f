"""Model kinds: every architecture has one, a model object finds its own, and the places
that used to guess ask the kind."""
import keras
import pytest

import keras_segen
from keras_segen import kinds, registry

EXPECTED = {
    "unet": "segmentation", "fcn8s": "segmentation", "fcn16s": "segmentation",
    "fcn32s": "segmentation", "deeplabv3plus": "segmentation",
    "pixel_baseline": "segmentation", "fashion_classifier": "classification",
    "dcgan": "adversarial", "wgan_gp": "adversarial", "cgan": "adversarial",
    "vae": "variational", "cvae": "variational", "pix2pix": "image_to_image",
    "segformer": "segmentation", "adversarial_segmenter": "adversarial_segmentation",
}

TINY = {
    "unet": dict(num_classes=3, base_filters=4, depth=2),
    "fashion_classifier": dict(widths=(4,), feature_dim=8),
    "dcgan": dict(image_shape=(8, 8, 1), latent_dim=4, base_filters=4),
    "vae": dict(latent_dim=2, base_filters=4, hidden_units=4),
    "pix2pix": dict(image_shape=(16, 16, 3), base_filters=4, discriminator_depth=2),
}


def test_every_architecture_has_its_kind():
    found = {name: registry.get_architecture(name).kind
             for name in keras_segen.list_architectures()}
    assert {n: k for n, k in found.items() if n in EXPECTED} == EXPECTED
    for name, kind in found.items():
        assert kinds.get_kind(kind).task == registry.get_architecture(name).task


@pytest.mark.parametrize("arch", sorted(TINY))
def test_a_built_model_finds_the_kind_of_its_architecture(arch):
    model = keras_segen.build(arch, **TINY[arch])
    assert kinds.kind_of(model) is kinds.kind_of_arch(arch)


def test_models_of_no_kind_are_refused_by_name():
    with pytest.raises(TypeError, match="'lonely' is of no known model kind"):
        kinds.kind_of(keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)],
                                       name="lonely"))
    with pytest.raises(KeyError, match="Did you mean: adversarial"):
        kinds.get_kind("adversarail")


def test_generative_registrations_must_name_their_kind():
    with pytest.raises(ValueError, match="must name its kind"):
        keras_segen.register_architecture("kindless", task="generation")


def test_verbs_say_which_commands_apply():
    assert "predict" in kinds.get_kind("segmentation").verbs
    for name in ("adversarial", "variational", "image_to_image"):
        assert kinds.get_kind(name).verbs == {"generate"}
    assert not kinds.get_kind("classification").verbs


def test_a_new_kind_is_one_registration():
    class Echo(kinds.ModelKind):
        name = "echo_test_kind"
        task = "generation"

    echo = kinds.register_kind(Echo())
    assert kinds.get_kind("echo_test_kind") is echo
    with pytest.raises(ValueError, match="already registered"):
        kinds.register_kind(type("Other", (kinds.ModelKind,), {"name": "echo_test_kind"})())

"""GAN losses against numpy references, label smoothing, lookup by name, serialization."""

import numpy as np
import pytest
import tensorflow as tf

import keras
from keras_segen import losses
from keras_segen.losses import (
    ADVERSARIAL_LOSSES,
    HingeLoss,
    LeastSquaresLoss,
    MinimaxLoss,
    NonSaturatingLoss,
    WassersteinLoss,
    discriminator_loss,
    generator_loss,
    get_adversarial_loss,
)

REAL = np.array([[2.0], [-0.5], [0.3], [15.0]], "float32")
FAKE = np.array([[-1.0], [0.7], [-30.0], [0.0]], "float32")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype("float64")))


def bce(target, logits):
    p = sigmoid(logits)
    return -(target * np.log(p) + (1 - target) * np.log1p(-p))


# name -> (discriminator loss(real, fake, smoothing), generator loss(fake)) in numpy
REFERENCES = {
    "minimax": (
        lambda r, f, s: bce(1 - s, r).mean() + bce(0.0, f).mean(),
        lambda f: np.log1p(-sigmoid(f)).mean(),
    ),
    "non_saturating": (
        lambda r, f, s: bce(1 - s, r).mean() + bce(0.0, f).mean(),
        lambda f: -np.log(sigmoid(f)).mean(),
    ),
    "wasserstein": (lambda r, f, s: f.mean() - r.mean(), lambda f: -f.mean()),
    "hinge": (
        lambda r, f, s: np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(),
        lambda f: -f.mean(),
    ),
    "least_squares": (
        lambda r, f, s: 0.5 * ((r - (1 - s)) ** 2).mean() + 0.5 * (f**2).mean(),
        lambda f: 0.5 * ((f - 1) ** 2).mean(),
    ),
}


def test_registry_has_the_five_formulations():
    assert set(ADVERSARIAL_LOSSES) == set(REFERENCES)
    assert ADVERSARIAL_LOSSES["non_saturating"] is NonSaturatingLoss
    assert losses.HingeLoss is HingeLoss  # exported from keras_segen.losses


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_losses_match_numpy(name):
    d_ref, g_ref = REFERENCES[name]
    d_loss = get_adversarial_loss(name, player="discriminator")
    g_loss = get_adversarial_loss(name, player="generator")
    np.testing.assert_allclose(
        float(discriminator_loss(d_loss, REAL, FAKE)), d_ref(REAL, FAKE, 0.0), rtol=1e-5
    )
    np.testing.assert_allclose(float(generator_loss(g_loss, FAKE)), g_ref(FAKE), rtol=1e-5)
    # The generator side ignores y_true.
    np.testing.assert_allclose(float(g_loss(np.zeros_like(FAKE), FAKE)), g_ref(FAKE), rtol=1e-5)


@pytest.mark.parametrize("name", ["minimax", "non_saturating", "least_squares"])
def test_one_sided_label_smoothing(name):
    d_ref, _ = REFERENCES[name]
    d_loss = get_adversarial_loss(name, player="discriminator", label_smoothing=0.1)
    assert d_loss.label_smoothing == pytest.approx(0.1)
    np.testing.assert_allclose(
        float(discriminator_loss(d_loss, REAL, FAKE)), d_ref(REAL, FAKE, 0.1), rtol=1e-5
    )
    # Generated targets stay 0: the fake term is unchanged by smoothing.
    plain = get_adversarial_loss(name, player="discriminator")
    np.testing.assert_allclose(
        float(d_loss(np.zeros_like(FAKE), FAKE)), float(plain(np.zeros_like(FAKE), FAKE)), rtol=1e-6
    )
    # Names get no smoothing on the generator side.
    assert get_adversarial_loss(name, player="generator", label_smoothing=0.1).label_smoothing == 0


def test_stable_for_extreme_logits():
    logits = np.array([[-200.0], [200.0]], "float32")
    for name in REFERENCES:
        for player in ("discriminator", "generator"):
            value = get_adversarial_loss(name, player=player)(np.ones_like(logits), logits)
            assert np.isfinite(float(value)), (name, player)


def test_bfloat16_logits_give_float32_loss():
    logits = tf.constant(REAL, tf.bfloat16)
    value = NonSaturatingLoss(player="generator")(tf.ones_like(logits), logits)
    assert value.dtype == tf.float32
    np.testing.assert_allclose(float(value), -np.log(sigmoid(REAL)).mean(), rtol=2e-2)


def test_patch_logit_maps_average_over_every_element():
    patches = np.random.default_rng(0).normal(size=(2, 3, 3, 1)).astype("float32")
    value = HingeLoss(player="discriminator")(np.ones_like(patches), patches)
    np.testing.assert_allclose(float(value), np.maximum(0, 1 - patches).mean(), rtol=1e-5)


def test_y_true_marks_real_and_generated_samples_in_one_batch():
    logits = np.concatenate([REAL, FAKE])
    is_real = np.concatenate([np.ones_like(REAL), np.zeros_like(FAKE)])
    value = WassersteinLoss()(is_real, logits)  # mean over the mixed batch
    np.testing.assert_allclose(float(value), (FAKE.sum() - REAL.sum()) / 8, rtol=1e-5)


@pytest.mark.parametrize(
    "cls", [MinimaxLoss, NonSaturatingLoss, WassersteinLoss, HingeLoss, LeastSquaresLoss]
)
def test_serialization_round_trip(cls):
    smoothing = 0.2 if cls.supports_label_smoothing else 0.0
    loss = cls(player="discriminator", label_smoothing=smoothing, reduction="sum")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert type(restored) is cls
    assert (restored.player, restored.label_smoothing, restored.reduction, restored.name) == (
        "discriminator",
        smoothing,
        "sum",
        loss.name,
    )
    np.testing.assert_allclose(
        float(restored(np.ones_like(REAL), REAL)), float(loss(np.ones_like(REAL), REAL))
    )
    # A config dict resolves through the lookup too.
    assert (
        type(
            get_adversarial_loss(keras.saving.serialize_keras_object(loss), player="discriminator")
        )
        is cls
    )


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="player must be one of"):
        NonSaturatingLoss(player="critic")
    with pytest.raises(ValueError, match="no probability targets to smooth"):
        WassersteinLoss(label_smoothing=0.1)
    with pytest.raises(ValueError, match="one-sided"):
        NonSaturatingLoss(player="generator", label_smoothing=0.1)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        NonSaturatingLoss(label_smoothing=1.0)
    with pytest.raises(ValueError, match="unknown adversarial loss 'nonsat'.*non_saturating"):
        get_adversarial_loss("nonsat", player="generator")
    with pytest.raises(ValueError, match="used as the generator loss"):
        get_adversarial_loss(HingeLoss(player="discriminator"), player="generator")
    with pytest.raises(TypeError, match="keras.losses.Loss"):
        get_adversarial_loss(3, player="generator")

"""The training profile reads op times from the profiler's trace of ``fit``."""
import numpy as np
import tensorflow as tf

import keras
from keras_segen.layers import conv_norm_act

import training_profile


def test_phases_from_name_scopes():
    assert training_profile.phase_of("gradient_tape/unet_1/enc_norm/Mul") == "backward"
    assert training_profile.phase_of("compile_loss/combined_loss/dice_loss/Sum") == "loss"
    assert training_profile.phase_of("adam_w/Mul_257") == "optimizer"
    assert training_profile.phase_of("unet_1/encoder1_1_conv/convolution") == \
        "forward and other"


def _tiny_model():
    inputs = keras.Input((16, 16, 3))
    x = conv_norm_act(inputs, 4, name="block")
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="head")(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_profile_of_a_fit_has_the_convolutions_and_every_phase(tmp_path):
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensors((rng.random((4, 16, 16, 3), np.float32),
                                         rng.integers(0, 2, (4, 16, 16)))).repeat()
    totals, wall = training_profile.profile_fit(_tiny_model(), data, 2, str(tmp_path))
    assert wall > 0
    op_types = {op for op, _ in totals}
    phases = {phase for _, phase in totals}
    assert any("Conv2D" in op for op in op_types)
    assert {"backward", "optimizer", "loss", "forward and other"} <= phases
    assert all(ps > 0 for ps in totals.values())

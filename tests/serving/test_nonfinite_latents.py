"""A NaN or infinite ``z`` is an error naming ``z``, in Python and in the exported
signatures (it used to give a black image and no error)."""
import numpy as np
import pytest
import tensorflow as tf

from v1_session import ServedModel

from keras_segen.generation.base import check_latents


def _latents(bad):
    z = np.zeros((3, 4), np.float32)
    z[1, 2] = bad
    return z


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_python_refuses_non_finite_latents(bad):
    rows = r"decode: z must be finite.* 1 of 3 rows \(first: row 1\)"
    with pytest.raises(ValueError, match=rows):
        check_latents(_latents(bad), 4, "decode")


def test_inside_a_graph_the_check_is_an_op_naming_z():
    checked = tf.function(lambda z: check_latents(z, 4, "decode") * 2.0)
    np.testing.assert_array_equal(checked(tf.ones((2, 4))), np.full((2, 4), 2.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="decode: z must be finite"):
        checked(tf.constant(_latents(np.nan)))


def test_finite_latents_pass_and_the_shape_is_checked():
    z = check_latents(np.ones((2, 4), np.float64), 4, "decode")
    assert z.dtype == tf.float32 and tuple(z.shape) == (2, 4)
    with pytest.raises(ValueError, match=r"decode: expected z of shape \(None, 4\)"):
        check_latents(np.ones((2, 5)), 4, "decode")


@pytest.mark.parametrize("case, signature", [("dcgan", "serving_default"), ("vae", "decode")])
def test_the_signatures_refuse_non_finite_latents(architecture_exports, case, signature):
    model, path = architecture_exports.get(case)
    z = np.zeros((2, model.latent_dim), np.float32)
    served = ServedModel(path)  # as TF Serving runs it
    try:
        assert served.run(signature, {"z": z})["images"].shape[0] == 2
        z[1, 0] = np.nan
        with pytest.raises(tf.errors.InvalidArgumentError, match="z must be finite"):
            served.run(signature, {"z": z})
    finally:
        served.close()
    loaded = tf.saved_model.load(str(path)).signatures[signature]
    with pytest.raises(tf.errors.InvalidArgumentError, match="z must be finite"):
        loaded(z=tf.constant(np.where(np.isnan(z), np.inf, z)))

"""Every signature, loaded by TensorFlow alone in another process, answers as Keras does."""
import numpy as np
import pytest

from serving_cases import CASES, assert_masks_match

from keras_segen.serving import fold_batch_norms


def test_the_serving_process_never_imported_keras(served):
    assert served["report"]["modules"] == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_signatures_answer_like_the_keras_model(case, exported, served):
    got = served["outputs"][case]
    assert set(got) == set(exported[case].cases)
    for signature, (_, expected) in exported[case].cases.items():
        outputs = got[signature]
        assert set(outputs) == set(expected) - {"logits"}, signature
        for name, want in expected.items():
            if name == "logits":
                continue
            have = outputs[name]
            assert have.shape == want.shape, (signature, name)
            assert have.dtype == want.dtype, (signature, name, have.dtype, want.dtype)
            if name == "masks":
                assert_masks_match(have, expected["logits"])
            elif have.dtype == np.uint8:  # images: within one uint8 step
                assert np.abs(have.astype(int) - want.astype(int)).max() <= 1, (signature, name)
            elif have.dtype.kind == "f":
                np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-5, err_msg=signature)
            else:
                np.testing.assert_array_equal(have, want, err_msg=f"{signature}/{name}")


def test_segmentation_masks_come_at_the_input_size(exported, served):
    images = exported["unet"].cases["serving_default"][0]["images"]
    for signature in ("serving_default", "predict_bytes"):
        outputs = served["outputs"]["unet"][signature]
        assert outputs["masks"].shape == images.shape[:3]
        assert outputs["probabilities"].shape == (*images.shape[:3], 3)
        np.testing.assert_allclose(outputs["probabilities"].sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_served_weight_is_stored_once(case, exported):
    """keras-team/keras#23553: a tracked model's weights were saved twice."""
    import tensorflow as tf

    model = exported[case].model
    stored = tf.train.list_variables(str(exported[case].path / "variables" / "variables"))
    stored_values = sum(int(np.prod(shape)) for _, shape in stored if shape)
    assert stored_values == _served_values(model)


def _served_values(model):
    """How many values the signatures read: the networks each family serves from."""
    if getattr(model, "ema_denoiser", None) is not None:  # diffusion samples with the EMA
        return model.ema_denoiser.count_params()
    if getattr(model, "sampling_generator", None) is not None:  # GANs: EMA G or G
        w_avg = getattr(model, "w_avg", None)  # StyleGAN's truncation centre
        return model.sampling_generator.count_params() + (
            0 if w_avg is None else int(np.prod(w_avg.shape)))
    served = [getattr(model, name) for name in ("generator", "encoder", "decoder")
              if getattr(model, name, None) is not None] or [fold_batch_norms(model)]
    return sum(network.count_params() for network in served)

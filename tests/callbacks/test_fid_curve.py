"""FidCurve: FID measured every few epochs of a real fit, into the logs and history.csv."""
import keras
import numpy as np
import pytest

import keras_segen
from keras_segen.callbacks import ResumableCSVLogger
from keras_segen.callbacks.fid_curve import FidCurve
from keras_segen.callbacks.history import read_history
from keras_segen.evaluation.generation import GenerationEvaluator
from keras_segen.training.recipe_checks import RecipeError, TRAIN_FIELDS, check_field

RNG = np.random.default_rng(0)
REAL = RNG.uniform(-1, 1, (32, 28, 28, 1)).astype(np.float32)


def _evaluator(calls):
    keras.utils.set_random_seed(0)
    classifier = keras_segen.build("fashion_classifier", widths=(4,), feature_dim=8)
    calls.append("built")
    return GenerationEvaluator((REAL, None), kind="adversarial", classifier=classifier,
                               cache=False, kid_subset_size=8, kid_subsets=2)


def test_fid_is_logged_at_the_first_and_every_nth_epoch(tmp_path):
    model = keras_segen.build("dcgan", latent_dim=8, base_filters=4, seed=0)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3),
                  d_optimizer=keras.optimizers.Adam(1e-3))
    calls = []
    curve = FidCurve(lambda: _evaluator(calls), every=2, num_images=16)
    history = tmp_path / "history.csv"
    model.fit(REAL, batch_size=16, epochs=4, verbose=0,
              callbacks=[curve, ResumableCSVLogger(history)])
    assert calls == ["built"]  # one evaluator (one embedding of the real images)
    assert sorted(curve.measured) == [1, 2, 4]
    for values in curve.measured.values():
        assert values["fid"] > 0 and np.isfinite(values["kid"])
    rows, fields = read_history(history)
    assert "fid" in fields and "kid" in fields
    assert [row["fid"] != "" for row in rows] == [True, True, False, True]
    assert float(rows[3]["fid"]) == pytest.approx(curve.measured[4]["fid"])
    # The last point is the evaluator's own number for the trained model.
    again = curve.evaluator.evaluate(model, num_images=16)["fid"]
    assert again == pytest.approx(curve.measured[4]["fid"], rel=1e-6)


def test_a_diverged_epoch_is_not_measured():
    curve = FidCurve(lambda: pytest.fail("no evaluator for a NaN epoch"), every=1)
    logs = {"g_loss": float("nan")}
    curve.on_epoch_end(0, logs)
    assert "fid" not in logs
    assert curve.measured == {}


@pytest.mark.parametrize("bad", [{"every": 0}, {"num_images": -5}, {"steps": 3}, 5])
def test_the_recipe_field_refuses_bad_values(bad):
    with pytest.raises(RecipeError, match="train.fid_curve must be an object of every"):
        check_field(TRAIN_FIELDS, "fid_curve", bad, "train.fid_curve", "r.json")
    assert check_field(TRAIN_FIELDS, "fid_curve", {"every": 3}, "train.fid_curve", "r.json")

"""A tiny end-to-end run of the segmentation trainer on real Blue Marble tiles."""
import csv
import json

import keras
import numpy as np
import pytest

from keras_segen import training
from keras_segen.training.trainer import TrainingFailed


def _tiny_recipe(**train):
    recipe = training.load_recipe("unet_bluemarble")
    recipe["kwargs"].update(depth=2, base_filters=4)
    recipe["dataset"]["options"]["tile_size"] = 32
    recipe["train"].update({"epochs": 2, "steps_per_epoch": 3, "batch_size": 4,
                            "overlay_tiles": 2, "time_budget_s": None, **train})
    return recipe


# ~27 s; fast: keras-segen train writes the run folder (tests/test_cli.py)
@pytest.mark.slow
def test_tiny_fit_writes_a_complete_run_folder(tmp_path):
    results = training.train(_tiny_recipe(
        reduce_lr_on_plateau={"factor": 0.5, "patience": 1, "min_lr": 1e-4}), tmp_path)
    for name in ("model.keras", "history.csv", "metrics.json"):
        assert (tmp_path / name).is_file(), name
    assert sorted(p.name for p in (tmp_path / "overlays").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert (tmp_path / "backup").is_dir()  # kept: a re-run with more epochs continues
    written = json.loads((tmp_path / "metrics.json").read_text())
    test = written["bluemarble/test"]
    assert 0.0 <= test["pixel_accuracy"] <= 1.0
    assert set(test["per_class_iou"]) == {"ocean", "land", "lake"}
    assert results["bluemarble/test"]["mean_iou"] == test["mean_iou"]
    # Whole regions with and without the Caspian, on the card beside the tiles.
    assert written["bluemarble/test/regions"]["num_pixels"] == test["num_pixels"]
    assert written["bluemarble/test/regions_no_caspian"]["num_pixels"] < test["num_pixels"]
    with (tmp_path / "history.csv").open() as handle:  # the plateau callback logs its rate
        rates = [float(row["learning_rate"]) for row in csv.DictReader(handle)]
    assert len(rates) == 2 and all(1e-4 <= r <= 0.002 * (1 + 1e-6) for r in rates)
    model = keras.saving.load_model(tmp_path / "model.keras")
    assert model.predict(np.zeros((1, 40, 56, 3), "float32"), verbose=0).shape == (1, 40, 56, 3)


@pytest.mark.slow  # ~40 s; fast: the SIGKILL fault-injection test resumes runs too
def test_interrupted_run_resumes_from_its_last_epoch(tmp_path):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    import keras_segen.training.trainer as trainer

    original = trainer.segen_callbacks.StopOnNaN
    trainer.segen_callbacks.StopOnNaN = lambda monitor: Interrupt()  # inject the interruption
    try:
        with pytest.raises(KeyboardInterrupt):
            training.train(_tiny_recipe(epochs=3), tmp_path)
    finally:
        trainer.segen_callbacks.StopOnNaN = original
    assert (tmp_path / "backup").exists()
    assert not (tmp_path / "metrics.json").exists()
    training.train(_tiny_recipe(epochs=3), tmp_path)
    with (tmp_path / "history.csv").open() as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == [0, 1, 2]  # epoch 0 was not repeated after the resume
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["trained_with"]["epochs_run_this_session"] == 2


def test_nan_loss_stops_with_a_clear_error(tmp_path):
    with pytest.raises(TrainingFailed, match="became nan"):
        training.train(_tiny_recipe(learning_rate=1e30), tmp_path)


def test_unknown_recipe_and_bad_loss(tmp_path):
    with pytest.raises(KeyError, match="Did you mean: unet_bluemarble"):
        training.train("unet_bluemarbel", tmp_path)
    with pytest.raises(ValueError, match="train.loss must be made of the losses"):
        training.train(_tiny_recipe(loss=[["hinge", 1.0]]), tmp_path)

"""SIGKILL the real ``keras-segen train`` (the one trainer, on real Blue Marble tiles) at
random moments, then re-run it to the end: the folder never holds half a checkpoint,
the finished history has every epoch once, and nothing a killed run left stays behind.
(``test_fault_injection.py`` kills the trainer's state callbacks many more times on a
small model; this is the end-to-end proof on the command users run.)"""
import csv
import json
import random
import subprocess
import sys

import keras
import pytest

from keras_segen import training
from keras_segen.callbacks.checkpoint import is_readable_model
from sigkill import kill_after, timed_run

EPOCHS = 6


def _recipe_file(tmp_path):
    recipe = training.load_recipe("unet_bluemarble")
    recipe["name"] = "unet_sigkill"
    recipe["kwargs"].update(depth=2, base_filters=4)
    recipe["dataset"]["options"]["tile_size"] = 32
    recipe["train"].update(epochs=EPOCHS, steps_per_epoch=4, batch_size=8, overlay_tiles=2,
                           time_budget_s=None)
    path = tmp_path / "unet_sigkill.json"
    path.write_text(json.dumps(recipe))
    return path


def _train(recipe_path, out):
    return [sys.executable, "-m", "keras_segen", "train", str(recipe_path), "--out", str(out)]


def _epochs(out):
    if not (out / "history.csv").is_file():
        return []
    with (out / "history.csv").open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_killed_training_resumes_without_losing_or_repeating_an_epoch(tmp_path, seed):
    rng = random.Random(seed)
    recipe_path, out = _recipe_file(tmp_path), tmp_path / "run"
    duration = timed_run(_train(recipe_path, tmp_path / "timing"))
    for _ in range(3):
        kill_after(_train(recipe_path, out), rng.uniform(0.4 * duration, 0.95 * duration))
        model = out / "model.keras"
        assert not model.exists() or is_readable_model(model), "half a checkpoint"
        epochs = _epochs(out)
        assert epochs == list(range(len(epochs))), f"history gap or repeat: {epochs}"
    finished = subprocess.run(_train(recipe_path, out), capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert _epochs(out) == list(range(EPOCHS))
    keras.saving.load_model(out / "model.keras")
    assert json.loads((out / "metrics.json").read_text())["bluemarble/test"]["mean_iou"] >= 0
    left = [p.name for p in out.rglob("*") if ".tmp" in p.name or p.name.endswith(".damaged")]
    assert left == []

"""The console script, run as users run it: in a subprocess."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from keras_segen import training


def run_cli(*args, check=True):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "keras_segen", *map(str, args)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny CLI training run shared by the evaluate/predict tests."""
    folder = tmp_path_factory.mktemp("cli")
    recipe = training.load_recipe("unet_bluemarble")
    recipe["kwargs"].update(depth=2, base_filters=4)
    recipe["dataset"]["options"]["tile_size"] = 32
    recipe["train"].update(batch_size=4, overlay_tiles=2, time_budget_s=None)
    recipe_path = folder / "tiny_unet.json"
    recipe_path.write_text(json.dumps(recipe))
    run_cli("train", recipe_path, "--out", folder / "run", "--epochs", 1,
            "--steps-per-epoch", 2, "--seed", 1)
    return folder / "run"


def test_list_shows_recipes_and_architectures():
    out = run_cli("list").stdout
    assert "unet_bluemarble" in out and "deeplabv3plus" in out


def test_train_writes_the_run_folder(trained_run):
    assert {"model.keras", "history.csv", "metrics.json"} <= {p.name for p in trained_run.iterdir()}
    assert json.loads((trained_run / "metrics.json").read_text())["trained_with"]["seed"] == 1


def test_evaluate_prints_a_table_and_writes_json(trained_run, tmp_path):
    result = run_cli("evaluate", trained_run / "model.keras", "--split", "val",
                     "--json", tmp_path / "m.json")
    assert "mean_iou" in result.stdout and "iou_lake" in result.stdout
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert {"pixel_accuracy", "mean_iou", "per_class_iou"} <= set(metrics)
    assert set(metrics["per_class_iou"]) == {"ocean", "land", "lake"}


def test_predict_any_size_writes_mask_and_overlay(trained_run, tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name, shape in [("small", (37, 53, 3)), ("large", (530, 600, 3))]:
        path = tmp_path / f"{name}.png"
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(path)
        paths.append(path)
    run_cli("predict", trained_run, *paths, "--out", tmp_path / "pred")
    for name, shape in [("small", (37, 53)), ("large", (530, 600))]:
        mask = Image.open(tmp_path / "pred" / f"{name}_mask.png")
        assert mask.mode == "P" and mask.size == shape[::-1]
        assert set(np.unique(np.asarray(mask))) <= {0, 1, 2}
        assert Image.open(tmp_path / "pred" / f"{name}_overlay.png").size == shape[::-1]


def test_predict_refuses_a_corrupt_image_before_writing(trained_run, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(good)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated jpeg")
    result = run_cli("predict", trained_run, good, bad, "--out", tmp_path / "pred", check=False)
    assert result.returncode == 2
    assert "bad.jpg" in result.stderr and "not a readable image" in result.stderr
    assert not (tmp_path / "pred").exists()


def test_unknown_and_untrained_names_fail_clearly(tmp_path):
    result = run_cli("evaluate", "unet_bluemarbel", check=False)
    assert result.returncode == 2 and "Did you mean: unet_bluemarble" in result.stderr
    result = run_cli("evaluate", tmp_path / "missing.keras", check=False)
    assert result.returncode == 2 and "does not exist" in result.stderr

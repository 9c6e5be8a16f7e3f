"""Training-to-quality regression checks (``pytest -m slow``; about 12 minutes each on
2 CPU cores). Thresholds sit just under what the recipes measured on the held-out test
regions (README, "Quality"): a drop below them means a regression, not noise."""
import pytest

from keras_segen import training


@pytest.mark.slow
def test_unet_bluemarble_reaches_its_measured_quality(tmp_path):
    results = training.train("unet_bluemarble", tmp_path, time_budget_s=600)
    test = results["bluemarble/test"]
    assert test["pixel_accuracy"] >= 0.985
    assert test["mean_iou"] >= 0.68
    assert test["per_class_iou"]["ocean"] >= 0.98 and test["per_class_iou"]["land"] >= 0.96


@pytest.mark.slow
def test_unet_beats_the_per_pixel_baseline(tmp_path):
    unet = training.train("unet_bluemarble", tmp_path / "unet", time_budget_s=300)
    pixel = training.train("pixel_baseline_bluemarble", tmp_path / "pixel", time_budget_s=300)
    assert unet["bluemarble/test"]["mean_iou"] > pixel["bluemarble/test"]["mean_iou"]

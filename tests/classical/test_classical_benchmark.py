"""benchmarks/classical_baselines.py: what its rows hold, on tiny synthetic data."""
import pathlib
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import classical_baselines  # noqa: E402
from test_classical import NAMES, SMALL, _images  # noqa: E402


def test_rows_hold_both_protocols_with_the_evaluation_metrics():
    images, masks = _images(0, n=4, size=32, classes=3)
    test_images, test_masks = _images(1, n=4, size=32, classes=3)
    quarter = lambda x: np.concatenate([x[:, i:i + 16, j:j + 16] for i in (0, 16)
                                        for j in (0, 16)])  # 16-px tiles of the regions
    tiles = tf.data.Dataset.from_tensor_slices((quarter(test_images) / 255.0,
                                                quarter(test_masks)))
    regions = tf.data.Dataset.from_tensor_slices((test_images / 255.0, test_masks))
    rows = classical_baselines.rows_for(
        "kmeans", SMALL["kmeans"], {"image": images, "mask": masks},
        {"tiles": (tiles, None), "regions": (regions, test_images)}, NAMES, rounds=1)
    assert [row["protocol"] for row in rows] == ["tiles", "regions"]
    for row in rows:
        assert 0.9 < row["pixel_accuracy"] <= 1 and 0 < row["mean_iou"] <= 1
        assert set(NAMES) <= {key[4:] for key in row if key.startswith("iou_")}
        assert row["fit_s"] > 0 and row["predict_ms_per_region"] > 0
        assert np.sum(row["confusion_matrix"]) == 4 * 32 * 32

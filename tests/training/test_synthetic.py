"""Scarce labels + pix2pix-synthesized pairs: the split, the synthesis, the mixing, the
step-exact fit, and the experiment script end to end (tiny models, real tiles)."""
import csv
import importlib.util
import json
import pathlib
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_segen
from keras_segen.datasets import bluemarble
from keras_segen.training import load_recipe
from keras_segen.training.compiling import compile_for_recipe
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))
from synthetic_pairs import (  # noqa: E402
    KeepBest,
    bluemarble_scarce_tiles,
    class_signature,
    fit_steps,
    mixed_pipeline,
    scarce_split,
    synthesize_pairs,
)

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "scarce_labels.py"


def _masks(count=200, size=4, seed=0):
    """Masks in three strata: ocean+land (odd rows), ocean+land+lake (every 10th),
    ocean only (the other even rows)."""
    masks = np.zeros((count, size, size), np.uint8)
    masks[1::2, 0] = 1
    masks[::10, 1, 1] = 2
    masks[::10, 0] = 1
    return masks


def test_scarce_split_is_deterministic_disjoint_and_sized():
    masks = _masks()
    labelled, mask_only = scarce_split(masks, 0.05, seed=3)
    again, _ = scarce_split(masks, 0.05, seed=3)
    other, _ = scarce_split(masks, 0.05, seed=4)
    np.testing.assert_array_equal(labelled, again)
    assert not np.array_equal(labelled, other)
    assert len(labelled) == 10  # round(0.05 * 200)
    assert not set(labelled) & set(mask_only)
    assert sorted([*labelled, *mask_only]) == list(range(200))


def test_scarce_split_stratifies_and_keeps_repeated_rows_together():
    masks = _masks()
    strata = class_signature(masks, 3)
    labelled, _ = scarce_split(masks, 0.1, seed=0)
    # 20 tiles: 10% of each stratum (100 ocean+land, 80 ocean only, 20 with lakes).
    assert sorted(np.unique(strata[labelled], return_counts=True)[1]) == [2, 8, 10]
    # Each tile repeated (lake tiles 4x): copies go to the same side.
    repeats = np.where(class_signature(masks, 3) & 0b100, 4, 1)
    groups = np.repeat(np.arange(len(masks)), repeats)
    labelled, mask_only = scarce_split(np.repeat(masks, repeats, axis=0), 0.1, seed=0,
                                       groups=groups)
    assert not set(groups[labelled]) & set(groups[mask_only])
    assert len(np.unique(groups[labelled])) == 20


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.999])
def test_scarce_split_rejects_fractions_leaving_a_side_empty(fraction):
    with pytest.raises(ValueError, match="fraction"):
        scarce_split(_masks(), fraction)


def test_bluemarble_scarce_tiles_split_the_recipe_tiles():
    options = dict(tile_size=64, min_classes=2, other_tiles_fraction=0.1,
                   class_repeats=[[2, 4]])
    tiles = bluemarble_scarce_tiles(0.05, **options, seed=0, split_seed=0)
    full = bluemarble.tile_arrays("train", seed=0, **options)
    distinct = len(np.unique(full["bounds"], axis=0))
    assert tiles.num_labelled_tiles == round(0.05 * distinct)
    assert tiles.num_labelled_tiles + tiles.num_mask_only_tiles == distinct
    assert len(tiles.masks) + len(tiles.mask_only) == len(full["mask"])
    assert tiles.images.shape == tiles.masks.shape + (3,) and tiles.images.dtype == np.uint8
    assert not hasattr(tiles, "mask_only_images")  # the rest gives masks only
    assert (tiles.masks == 2).any()  # stratified: lakes are in the labelled share
    again = bluemarble_scarce_tiles(0.05, **options, seed=0, split_seed=0)
    np.testing.assert_array_equal(tiles.images, again.images)
    image, mask = next(iter(tiles.labelled_dataset()))
    assert image.dtype == tf.float32 and mask.dtype == tf.int32
    assert 0.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 1.0
    condition, target = next(iter(tiles.pix2pix_pairs()))
    assert condition.shape == (64, 64, 3) and float(tf.reduce_min(target)) >= -1.0


@pytest.fixture(scope="module")
def tiny_pix2pix():
    return keras_segen.build("pix2pix", image_shape=(16, 16, 3), condition_channels=3,
                             base_filters=4, seed=0)


def test_synthesize_pairs_paints_an_image_per_mask(tiny_pix2pix):
    masks = np.random.default_rng(0).integers(0, 3, (5, 16, 16)).astype(np.uint8)
    pairs = list(synthesize_pairs(tiny_pix2pix, masks, batch_size=2).as_numpy_iterator())
    assert len(pairs) == 5
    images, out_masks = (np.stack(a) for a in zip(*pairs))
    assert images.shape == (5, 16, 16, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.std() > 0
    np.testing.assert_array_equal(out_masks, masks)
    assert out_masks.dtype == np.int32
    from_dataset = synthesize_pairs(tiny_pix2pix, tf.data.Dataset.from_tensor_slices(masks))
    np.testing.assert_allclose(np.stack([i for i, _ in from_dataset.as_numpy_iterator()]),
                               images, atol=1e-6)  # deterministic: dropout is off


def test_synthesize_pairs_rejects_bad_input(tiny_pix2pix):
    with pytest.raises(ValueError, match="class ids"):
        synthesize_pairs(tiny_pix2pix, np.full((1, 16, 16), 3, np.int32))
    with pytest.raises(ValueError, match="integer masks"):
        synthesize_pairs(tiny_pix2pix, np.zeros((1, 16, 16), np.float32))
    with pytest.raises(TypeError, match="pix2pix"):
        synthesize_pairs(keras.Sequential([keras.layers.Dense(1)]), np.zeros((1, 16, 16), int))


def _constant_pairs(value, count):
    return tf.data.Dataset.from_tensor_slices(
        (np.full((count, 4, 4, 3), value, np.float32), np.zeros((count, 4, 4), np.int32)))


def _synthetic_share(batches, num_batches):
    images = np.concatenate([x for x, _ in batches.take(num_batches).as_numpy_iterator()])
    return images.mean(axis=(1, 2, 3))  # 1 for a synthetic example, 0 for a real one


def test_mixed_pipeline_draws_at_the_stated_ratio_deterministically():
    real, synthetic = _constant_pairs(0.0, 5), _constant_pairs(1.0, 50)
    mixed = mixed_pipeline(real, synthetic, synthetic_weight=0.25, batch_size=8, seed=1)
    share = _synthetic_share(mixed, 40)
    assert set(share) == {0.0, 1.0} and abs(share.mean() - 0.25) < 0.06
    again = mixed_pipeline(real, synthetic, synthetic_weight=0.25, batch_size=8, seed=1)
    np.testing.assert_array_equal(_synthetic_share(again, 40), share)
    only_real = mixed_pipeline(real, None, synthetic_weight=0.0, batch_size=8, seed=1)
    assert set(_synthetic_share(only_real, 5)) == {0.0}  # endless although real has 5
    with pytest.raises(ValueError, match="needs a synthetic"):
        mixed_pipeline(real, None, synthetic_weight=0.5, batch_size=8)


def test_fit_steps_runs_exact_steps_and_ends_on_the_best_epoch(tmp_path):
    recipe = load_recipe("unet_bluemarble")
    keras.utils.set_random_seed(0)
    model = keras_segen.build("unet", input_shape=(None, None, 3), num_classes=3, depth=2,
                              base_filters=4)
    compile_for_recipe(model, recipe, ["ocean", "land", "lake"])
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensor_slices(
        (rng.random((12, 16, 16, 3), dtype=np.float32),
         rng.integers(0, 3, (12, 16, 16)).astype(np.int32)))
    batches = mixed_pipeline(data, batch_size=4, seed=0)
    validation = data.batch(6)
    record = fit_steps(model, batches, steps_per_epoch=3, max_steps=5, validation=validation,
                       monitor="val_mean_iou", history_csv=tmp_path / "h.csv", verbose=0)
    assert record["steps_run"] == 5 and record["epochs_run"] == 2  # 3 + 2
    with (tmp_path / "h.csv").open() as handle:
        scores = [float(row["val_mean_iou"]) for row in csv.DictReader(handle)]
    assert record["best_val_mean_iou"] == pytest.approx(max(scores))
    assert record["best_epoch"] == int(np.argmax(scores))
    restored = model.evaluate(validation, return_dict=True, verbose=0)["mean_iou"]
    assert restored == pytest.approx(max(scores), abs=1e-5)


def test_keep_best_names_a_missing_monitor():
    keep = KeepBest("val_mean_iou")
    with pytest.raises(KeyError, match="val_mean_iou"):
        keep.on_epoch_end(0, {"loss": 1.0})


# The experiment script end to end (~30 s); its parts are tested above in the fast suite.
@pytest.mark.slow
def test_script_runs_both_arms_end_to_end(tmp_path):
    spec = importlib.util.spec_from_file_location("scarce_labels", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    results = script.main([
        "--fraction", "0.01", "--out", str(tmp_path), "--tile-size", "32",
        "--pix2pix-budget", "5", "--pix2pix-steps", "2", "--pix2pix-steps-per-epoch", "2",
        "--unet-budget", "60", "--unet-epochs", "1", "--unet-steps-per-epoch", "2",
        "--eval-limit", "16", "--max-synthetic", "16", "--verbose", "0",
        "--unet-kwargs", '{"depth": 2, "base_filters": 4}',
        "--pix2pix-kwargs", '{"base_filters": 4}',
    ])
    written = json.loads((tmp_path / "results.json").read_text())
    assert set(written["runs"]) == {"real_only", "real_plus_synthetic"}
    steps = [run["training"]["steps_run"] for run in written["runs"].values()]
    assert steps[0] == steps[1] >= 1
    for run in written["runs"].values():
        test = run["bluemarble/test"]
        assert 0.0 <= test["mean_iou"] <= 1.0
        assert set(test["per_class_iou"]) == {"ocean", "land", "lake"}
    assert written["data"]["synthetic_pairs"] == 16 and written["data"]["test_tiles"] == 16
    assert written["summary"]["delta_test_mean_iou"] == pytest.approx(
        results["runs"]["real_plus_synthetic"]["bluemarble/test"]["mean_iou"]
        - results["runs"]["real_only"]["bluemarble/test"]["mean_iou"])
    assert {"l1", "psnr", "class_mean_colour_l1"} <= set(written["pix2pix"]["val"])
    for name in ("pix2pix/model.keras", "pix2pix/val_samples.png",
                 "real_only/model.keras", "real_plus_synthetic/model.keras"):
        assert (tmp_path / name).is_file(), name

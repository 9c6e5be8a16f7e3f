"""Tiny end-to-end runs of the generation trainer (GANs and VAEs on a tiny synthetic
Fashion-MNIST written as idx files; pix2pix on real Blue Marble tiles, slow)."""
import csv
import json
import math

import keras
import numpy as np
import pytest

import keras_segen
from keras_segen.datasets import fashion_mnist
from keras_segen.training import trainer
from keras_segen.training.compiling import make_optimizer
from keras_segen.training.trainer import TrainingFailed
from keras_segen.training import train as train_generation


@pytest.fixture(scope="module")
def tiny_fashion(tmp_path_factory, write_idx):
    """120 training images (110 train + 10 val) and 40 test images, 10 classes."""
    folder = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for part, count in (("train", 120), ("t10k", 40)):
        labels = np.arange(count) % 10
        # class k: a bright bar at row 2k plus noise, so classes differ a little
        images = rng.integers(0, 60, (count, 28, 28))
        images[np.arange(count), 2 * labels + 4] = 250
        write_idx(folder / f"{part}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{part}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture(autouse=True)
def use_tiny_fashion(tiny_fashion, monkeypatch):
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tiny_fashion))


@pytest.fixture(scope="module")
def classifier_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("classifier") / "model.keras"
    keras_segen.build("fashion_classifier", widths=(4,), feature_dim=8).save(path)
    return str(path)


def _recipe(arch, classifier_path, **train):
    vae = arch in ("vae", "cvae")
    kwargs = {"latent_dim": 4, "base_filters": 4, "seed": 0}
    kwargs.update({"hidden_units": 8} if vae else {})
    kwargs.update({"embedding_dim": 4} if arch == "cgan" else {})
    return {
        "name": f"tiny_{arch}", "task": "generation", "arch": arch, "kwargs": kwargs,
        "dataset": {"name": "fashion_mnist", "options": {"scale": "unit" if vae else "tanh"},
                    "train_split": "train", "val_split": "val" if vae else None,
                    "test_split": "test", "limit": {"test": 24}},
        "train": {"epochs": 2, "batch_size": 8, "steps_per_epoch": 2, "seed": 0,
                  "samples": {"num_images": 10}, **train},
        "evaluation": {"kid_subset_size": 8, "kid_subsets": 3, "baselines": False,
                       "classifier": classifier_path},
    }


def _history_epochs(folder):
    with (folder / "history.csv").open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_gan_run_is_interrupted_and_resumes_with_its_optimizers(tmp_path, classifier_path,
                                                                  monkeypatch):
    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    recipe = _recipe("dcgan", classifier_path, epochs=3)
    recipe["evaluation"]["baselines"] = True
    with monkeypatch.context() as patch:  # inject the interruption in the second epoch
        patch.setattr(trainer.segen_callbacks, "StopOnNaN", lambda monitor: Interrupt())
        with pytest.raises(KeyboardInterrupt):
            train_generation(recipe, tmp_path, verbose=0)
    assert (tmp_path / "backup").exists() and (tmp_path / "model.keras").is_file()
    assert not (tmp_path / "metrics.json").exists()
    assert not list(tmp_path.glob(".*.keras"))  # no temporary checkpoint left behind

    results = train_generation(recipe, tmp_path, verbose=0)
    assert _history_epochs(tmp_path) == [0, 1, 2]  # epoch 0 was not repeated
    assert (tmp_path / "backup").is_dir()  # kept, so that more epochs continue the run
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_001.png", "epoch_002.png", "epoch_003.png"]
    model = keras.saving.load_model(tmp_path / "model.keras")
    assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 6
    np.testing.assert_array_equal(model.generate(3, seed=1), model.generate(3, seed=1))

    written = json.loads((tmp_path / "metrics.json").read_text())
    test = written["fashion_mnist/test"]
    for key in ("fid", "kid", "inception_score"):
        assert math.isfinite(test[key]) and results["fashion_mnist/test"][key] == test[key]
    assert test["num_real"] == 24 and test["num_generated"] == 24
    assert set(written["baselines"]) == {"untrained", "real_floor"}
    assert math.isfinite(written["baselines"]["untrained"]["fid"])
    assert written["trained_with"]["epochs_run_this_session"] == 2
    assert written["trained_with"]["epochs_completed"] == 3
    assert written["trained_with"]["stopped_by_time_budget"] is False
    assert written["recipe"]["arch"] == "dcgan"


def test_conditional_gan_trains_on_labels(tmp_path, classifier_path):
    recipe = _recipe("cgan", classifier_path, epochs=1,
                     g_optimizer={"name": "adam", "learning_rate": 1e-3, "beta_1": 0.5})
    results = train_generation(recipe, tmp_path, verbose=0)
    test = results["fashion_mnist/test"]
    assert 0.0 <= test["classifier_accuracy"] <= 1.0
    assert "Trouser" in test["classifier_accuracy_per_class"]
    model = keras.saving.load_model(tmp_path / "model.keras")
    assert model.g_optimizer.learning_rate.numpy() == pytest.approx(1e-3)
    assert model.g_optimizer.name == "g_adam"


def test_cvae_run_validates_and_draws_reconstructions(tmp_path, classifier_path):
    results = train_generation(_recipe("cvae", classifier_path), tmp_path, verbose=0)
    with (tmp_path / "history.csv").open() as handle:
        columns = csv.DictReader(handle).fieldnames
    assert {"loss", "kl_loss", "val_loss", "val_reconstruction_loss"} <= set(columns)
    names = sorted(p.name for p in (tmp_path / "reconstructions").iterdir())
    assert names == ["epoch_001.png", "epoch_002.png",
                     "traversal_epoch_001.png", "traversal_epoch_002.png"]
    assert (tmp_path / "samples" / "epoch_002.png").is_file()
    test = results["fashion_mnist/test"]
    for key in ("psnr", "ssim", "fid", "sample_fid", "sample_classifier_accuracy"):
        assert math.isfinite(test[key]), key


# ~15 s; fast: tests/training/test_run_folder.py and the fault-injection resume
@pytest.mark.slow
def test_a_finished_run_continues_with_more_epochs_and_refuses_another_recipe(
        tmp_path, classifier_path):
    recipe = _recipe("dcgan", classifier_path, epochs=1)
    train_generation(recipe, tmp_path, verbose=0)
    again = train_generation(recipe, tmp_path, verbose=0)  # nothing left to train
    assert again["trained_with"]["epochs_run_this_session"] == 0
    more = train_generation(recipe, tmp_path, verbose=0, epochs=2)
    assert more["trained_with"]["epochs_run_this_session"] == 1
    assert _history_epochs(tmp_path) == [0, 1]
    model = keras.saving.load_model(tmp_path / "model.keras")
    assert int(model.g_optimizer.iterations) == 4  # 2 epochs x 2 steps, none repeated
    with pytest.raises(ValueError, match="arch"):
        train_generation(_recipe("vae", classifier_path, epochs=1), tmp_path, verbose=0)
    train_generation(_recipe("vae", classifier_path, epochs=1), tmp_path, verbose=0,
                     overwrite=True)
    assert keras.saving.load_model(tmp_path / "model.keras").name == "vae"


def test_nan_loss_stops_the_run_with_a_clear_error(tmp_path, classifier_path):
    recipe = _recipe("vae", classifier_path, epochs=5, steps_per_epoch=3,
                     optimizer={"name": "sgd", "learning_rate": 1e30})
    with pytest.raises(TrainingFailed, match="became (nan|inf).*last good checkpoint"):
        train_generation(recipe, tmp_path, verbose=0)


def test_missing_classifier_is_recorded_not_raised(tmp_path, monkeypatch):
    (tmp_path / "empty_zoo").mkdir()
    monkeypatch.setenv("KERAS_SEGEN_ZOO", str(tmp_path / "empty_zoo"))
    run = tmp_path / "run"
    results = train_generation(_recipe("dcgan", None, epochs=1, steps_per_epoch=1), run,
                               verbose=0)
    assert "train_feature_classifier.py" in results["fashion_mnist/test"]["error"]
    assert (run / "model.keras").is_file() and (run / "metrics.json").is_file()
    assert results["trained_with"]["epochs_run_this_session"] == 1


def test_make_optimizer():
    assert make_optimizer(None) is None
    adam = make_optimizer({"name": "adam", "learning_rate": 0.01, "beta_1": 0.5}, "d")
    assert isinstance(adam, keras.optimizers.Adam) and adam.name == "d_adam"
    assert adam.beta_1 == 0.5
    with pytest.raises(ValueError, match="'name': 'adam'"):
        make_optimizer("adam")
    with pytest.raises(ValueError, match="bad optimizer spec"):
        make_optimizer({"name": "adam", "momentum_typo": 1})


@pytest.mark.slow
def test_pix2pix_run_on_blue_marble_tiles(tmp_path):
    segmenter = tmp_path / "segmenter.keras"
    keras_segen.build("unet", num_classes=3, depth=2, base_filters=4).save(segmenter)
    recipe = keras_segen.training.load_recipe("pix2pix_bluemarble")
    recipe["kwargs"].update(image_shape=[32, 32, 3], base_filters=4, discriminator_depth=2)
    recipe["dataset"]["options"]["tile_size"] = 32
    recipe["dataset"]["limit"] = {"train": 32, "val": 16, "test": 32}
    recipe["train"].update(epochs=2, steps_per_epoch=2, batch_size=8, time_budget_s=None,
                           samples={"num_tiles": 4})
    recipe["evaluation"].update(kid_subset_size=16, kid_subsets=3, baselines=True,
                                segmenter=str(segmenter))
    results = train_generation(recipe, tmp_path / "run", verbose=0)
    test = results["bluemarble_pairs/test"]
    for key in ("psnr", "ssim", "fid", "kid", "fcn_mean_iou", "fcn_mean_iou_real"):
        assert math.isfinite(test[key]), key
    assert math.isfinite(results["baselines"]["real_floor"]["fid"])
    assert (tmp_path / "run" / "triplets" / "epoch_002.png").is_file()

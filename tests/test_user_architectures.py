"""Users' own architectures: a module outside the package registers a builder with
``@keras_segen.register_architecture``; ``keras_segen.build``, ``keras-segen --import``
and recipes' ``"imports"`` make it usable like the zoo's own.

A user *generative* family goes the same way on the public base classes
(``keras_segen.generation.LatentGAN``): its own class and builder in a user module, then
trained by the one trainer, drawn, evaluated and exported from the command line.
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import keras_segen
from keras_segen import cli, registry, training
from keras_segen.user_modules import import_user_modules

MODULE = "my_user_arch"
USER_MODULE = '''"""A user's own segmentation architecture, registered from outside keras_segen."""
import keras

import keras_segen


@keras_segen.register_architecture("my_tiny_seg", task="segmentation")
def my_tiny_seg(num_classes=3, filters=4, input_shape=(None, None, 3)):
    """Two convolutions: images [H,W,3] -> logits [H,W,num_classes]."""
    images = keras.Input(shape=tuple(input_shape), name="images")
    x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(images)
    logits = keras.layers.Conv2D(num_classes, 1, name="logits")(x)
    return keras.Model(images, logits, name="my_tiny_seg")
'''
ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A folder holding the user's module, as the current directory; the registry,
    ``sys.path`` and ``sys.modules`` are restored afterwards."""
    (tmp_path / f"{MODULE}.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    sys.modules.pop(MODULE, None)


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def test_a_registered_user_builder_is_built_by_name(user_folder):
    assert "my_tiny_seg" not in keras_segen.list_architectures()
    import_user_modules([MODULE], "test")
    assert "my_tiny_seg" in keras_segen.list_architectures(task="segmentation")
    assert registry.get_architecture("my_tiny_seg").kind == "segmentation"
    model = keras_segen.build("my_tiny_seg", num_classes=5)
    logits = model.predict(np.zeros((1, 24, 40, 3), "float32"), verbose=0)
    assert logits.shape == (1, 24, 40, 5)


def test_register_architecture_refuses_to_replace_a_builder(user_folder):
    with pytest.raises(ValueError, match="'unet' is already registered"):
        keras_segen.register_architecture("unet", task="segmentation")(lambda: None)


def test_cli_import_puts_the_current_folder_on_the_path(user_folder, capsys):
    assert str(user_folder) not in sys.path  # found because --import searches the cwd
    assert cli.main(["--import", MODULE, "list", "--task", "segmentation"]) == 0
    assert "my_tiny_seg" in capsys.readouterr().out.split("architectures")[-1]


def test_the_console_script_lists_an_imported_architecture(user_folder):
    script = shutil.which("keras-segen") or os.path.join(os.path.dirname(sys.executable),
                                                         "keras-segen")
    if not os.path.exists(script):
        pytest.skip("the keras-segen console script is not installed")
    done = subprocess.run([script, "--import", MODULE, "list"], cwd=user_folder,
                          capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, done.stderr
    assert "my_tiny_seg" in done.stdout


@pytest.mark.parametrize("names", ["my_user_arch", ["ok", ""], [3], None])
def test_imports_must_be_a_list_of_module_names(names):
    with pytest.raises(ValueError, match="recipe r.json: imports must be a list"):
        import_user_modules(names, "recipe r.json")


def test_a_missing_module_names_it_and_who_asked(user_folder):
    with pytest.raises(ValueError, match=r"recipe r\.json: cannot import module 'nope_xyz'"):
        import_user_modules([MODULE, "nope_xyz"], "recipe r.json")


def test_keras_segen_train_is_the_trainer(monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: calls.append((args, kwargs)))
    keras_segen.train("unet_bluemarble", "runs/unet", epochs=2, strategy="mirrored")
    assert calls == [(("unet_bluemarble", "runs/unet"), {"epochs": 2, "strategy": "mirrored"})]


def _cli(cwd, *args):
    done = subprocess.run([sys.executable, "-m", "keras_segen", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow  # ~35 s; fast: the imported architecture through the CLI and the harness
def test_a_recipe_with_imports_trains_evaluates_predicts_and_exports(tmp_path):
    (tmp_path / f"{MODULE}.py").write_text(USER_MODULE)
    recipe = json.loads((ROOT / "zoo" / "recipes" / "unet_bluemarble.json").read_text())
    recipe.update(name="my_tiny_seg_bluemarble", arch="my_tiny_seg", imports=[MODULE],
                  kwargs={"input_shape": [None, None, 3], "num_classes": 3, "filters": 4})
    recipe["dataset"]["options"]["tile_size"] = 32
    recipe["train"].update(epochs=1, steps_per_epoch=2, batch_size=4, overlay_tiles=2,
                           time_budget_s=None)
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    run = tmp_path / "run"
    # No --import: the recipe (and the run's metrics.json) names the module.
    _cli(tmp_path, "train", "recipe.json", "--out", run)
    assert {"model.keras", "metrics.json"} <= {p.name for p in run.iterdir()}
    assert "mean_iou" in _cli(tmp_path, "evaluate", run, "--split", "val")
    Image.fromarray(np.zeros((20, 28, 3), np.uint8)).save(tmp_path / "tile.png")
    _cli(tmp_path, "predict", run, tmp_path / "tile.png", "--out", tmp_path / "pred")
    assert Image.open(tmp_path / "pred" / "tile_mask.png").size == (28, 20)
    _cli(tmp_path, "export", run, "--base", tmp_path / "serving", "--name", "mine")
    assert (tmp_path / "serving" / "mine" / "1" / "saved_model.pb").is_file()


GAN_MODULE = "my_user_gan"
USER_GAN = '''"""A user's own GAN family: a dense generator and critic on the public base."""
import keras

import keras_segen
from keras_segen.generation import LatentGAN


@keras.saving.register_keras_serializable(package="my_user_gan")
class DenseGAN(LatentGAN):
    """Everything (train_step, generate, seeding, serialization) comes from LatentGAN."""


@keras_segen.register_architecture("dense_gan", task="generation", kind="adversarial")
def dense_gan(*, image_shape=(28, 28, 1), latent_dim=8, units=16, seed=0):
    """Dense layers z -> image in [-1, 1] and image -> logit."""
    pixels = image_shape[0] * image_shape[1] * image_shape[2]
    z = keras.Input((latent_dim,), name="z")
    x = keras.layers.Dense(units, activation="relu")(z)
    x = keras.layers.Dense(pixels, activation="tanh", dtype="float32")(x)
    generator = keras.Model(z, keras.layers.Reshape(image_shape)(x), name="generator")
    images = keras.Input(image_shape, name="images")
    y = keras.layers.Dense(units, activation="relu")(keras.layers.Flatten()(images))
    critic = keras.Model(images, keras.layers.Dense(1, dtype="float32")(y), name="critic")
    return DenseGAN(generator, critic, latent_dim=latent_dim, image_shape=image_shape,
                    seed=seed, name="dense_gan")
'''


# Four CLI processes (~25 s); the segmentation user module above covers the same path fast.
@pytest.mark.slow
def test_a_user_generative_family_trains_generates_evaluates_and_exports(
        tmp_path, random_fashion_mnist):
    classifier = random_fashion_mnist(train=64, test=32)
    (tmp_path / f"{GAN_MODULE}.py").write_text(USER_GAN)
    recipe = {
        "name": "dense_gan_fashion", "task": "generation", "arch": "dense_gan",
        "imports": [GAN_MODULE], "kwargs": {"latent_dim": 8, "units": 16},
        "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                    "train_split": "train_full", "val_split": None, "test_split": "test"},
        "train": {"epochs": 1, "steps_per_epoch": 2, "batch_size": 8, "seed": 0,
                  "samples": {"num_images": 4}},
        "evaluation": {"num_images": 32, "kid_subset_size": 8, "kid_subsets": 2,
                       "baselines": False, "classifier": str(classifier)},
    }
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    run = tmp_path / "run"
    _cli(tmp_path, "train", "recipe.json", "--out", run)
    assert (run / "samples" / "epoch_001.png").is_file()
    _cli(tmp_path, "generate", run, "--num", "4", "--out", tmp_path / "grid.png")
    assert Image.open(tmp_path / "grid.png").size[0] > 28
    assert "fid" in _cli(tmp_path, "evaluate", run, "--num-images", "32")
    _cli(tmp_path, "export", run, "--base", tmp_path / "serving", "--name", "gan")
    assert (tmp_path / "serving" / "gan" / "1" / "saved_model.pb").is_file()

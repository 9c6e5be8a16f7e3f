"""Shared pieces of the zoo tests: the tiny recipe and a temporary user cache."""
import pathlib

import keras_segen
from keras_segen import paths, training

TINY = "tiny_unet"
REPO_RECIPES = pathlib.Path(keras_segen.__file__).resolve().parent.parent / "zoo" / "recipes"


def tiny_recipe():
    recipe = training.load_recipe(REPO_RECIPES / "unet_bluemarble.json")
    recipe["name"] = TINY
    recipe["kwargs"].update(depth=2, base_filters=4)
    recipe["dataset"]["options"]["tile_size"] = 128
    recipe["train"].update(epochs=1, steps_per_epoch=2, batch_size=32, overlay_tiles=2,
                           time_budget_s=60)
    return recipe


def temp_home(folder):
    """A ``$KERAS_SEGEN_HOME`` whose dataset cache is the real one (Blue Marble tiles take
    minutes to prepare), everything else empty."""
    folder.mkdir(parents=True, exist_ok=True)
    datasets = paths.home_dir() / "datasets"
    datasets.mkdir(parents=True, exist_ok=True)
    (folder / "datasets").symlink_to(datasets, target_is_directory=True)
    return folder

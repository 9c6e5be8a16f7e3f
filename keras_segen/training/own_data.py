"""Training on your own data in one call: ``keras-segen train ARCH_OR_ZOO --data DIR``.

:func:`own_data_recipe` turns an architecture name (``unet``, ``dcgan``) or a zoo name
(``unet_bluemarble``, ``fcn_voc``) plus a data folder into an ordinary recipe, which then
runs through the one trainer like any other:

* the base is the zoo recipe of that name, or for an architecture the first zoo recipe
  of it (its model size, loss, augmentation), or a minimal recipe when there is none;
* ``dataset`` becomes the folder: ``folders`` (segmentation: ``images/``, ``masks/``,
  ``classes.txt``, see ``datasets.own_layout``), ``image_folder`` (generation) or
  ``packed`` (``keras-segen data pack``). Without a ``val/`` folder the split is cut by
  a hash of each file name, salted with the run's seed (recorded as ``split_seed``);
* ``kwargs.num_classes`` comes from ``classes.txt`` (or the class subfolders of a
  conditional generator); ``classes`` records the names;
* from a zoo name, ``init`` records where the weights start: ``"zoo"`` (its trained
  weights, a fresh head when the class count differs) or ``"backbone"`` (a recipe-only
  entry whose kwargs load a pretrained encoder, e.g. FCN's ``vgg_weights: "hed"``).
  :func:`apply_init` applies it to the freshly built model; a resumed run then restores
  its own backup over it, so it never restarts from the zoo;
* ``dataset.source`` records the folder and the number of images per split.

Sizes (segmentation): ``image_size=(H, W)`` resizes every image (masks nearest
neighbour); ``tile_size=N`` trains on one random N x N crop per image and epoch at the
native resolution and evaluates whole images cut into N x N tiles (edges padded with the
ignore label, so every pixel counts once). With neither, all images must share one size
(the base recipe's ``image_size`` is used when it has one).

Every file is read once before anything is built (:func:`check_data`): an unreadable
file, an image and mask of different sizes, a mask value out of range or an empty split
is an error naming the file, and no output folder is touched.
"""
from __future__ import annotations

import copy
import pathlib
import re

from keras_segen import registry
from keras_segen.datasets import own_layout

VAL_FRACTION = 0.2  # segmentation: share of a flat folder held out for validation
TEST_FRACTION = 0.1  # generation: share held out for the FID/PSNR test split
_GENERATIVE_SCALES = {(-1.0, 1.0): "tanh", (0.0, 1.0): "unit"}


# ---------------------------------------------------------------------- the recipe
def own_data_recipe(arch_or_name: str, data, *, image_size=None, tile_size=None,
                    seed: int = 0) -> dict:
    """A recipe dict training ``arch_or_name`` (architecture or zoo name) on folder
    ``data``; see the module docstring. Checks the options, not the files."""
    from keras_segen.training.recipes import list_recipes, read_recipe

    root = pathlib.Path(data).expanduser().resolve()
    layout = own_layout.detect(root)
    image_size = image_size_option(image_size)
    if tile_size is not None and image_size is not None:
        raise ValueError("give --image-size or --tile-size, not both")
    if arch_or_name in list_recipes():
        base, zoo_name = read_recipe(arch_or_name).to_dict(), arch_or_name
    else:
        arch = registry.get_architecture(arch_or_name)  # KeyError lists the known ones
        base, zoo_name = _arch_recipe(arch), None
    task = registry.get_architecture(base["arch"]).task
    if task == "classification":
        raise ValueError(f"{arch_or_name} is a classifier; --data trains segmentation and "
                         "generative models")
    recipe = copy.deepcopy(base)
    for key in ("description", "trainer", "init"):
        recipe.pop(key, None)
    recipe["name"] = f"{zoo_name or base['arch']}_{_slug(root.name)}"
    recipe["license"] = {"data": "your own data (its license is yours to give)"}
    recipe["train"].update(time_budget_s=None, steps_per_epoch=None, seed=int(seed))
    if task == "segmentation":
        _segmentation(recipe, root, layout, image_size, tile_size, int(seed))
    else:
        if tile_size is not None:
            raise ValueError("--tile-size is for segmentation; give generative models "
                             "--image-size")
        _generation(recipe, base, root, layout, image_size, int(seed), bool(zoo_name))
    if zoo_name:
        init = _init_for(zoo_name, recipe)
        if init:
            recipe["init"] = init
    return recipe


def _arch_recipe(arch) -> dict:
    """The first zoo recipe of ``arch`` (its defaults), else a minimal one."""
    from keras_segen.training.recipes import list_recipes, read_recipe

    for name in list_recipes():
        recipe = read_recipe(name)
        if recipe.arch == arch.name and not recipe.trainer:
            return recipe.to_dict()
    if arch.task != "segmentation":
        raise ValueError(f"architecture {arch.name!r} has no zoo recipe to take its "
                         "training settings from; write a recipe JSON for it")
    return {"name": arch.name, "task": "segmentation", "arch": arch.name,
            "kwargs": {"input_shape": [None, None, 3]},
            "dataset": {"name": "folders"},
            "train": {"epochs": 30, "batch_size": 8, "learning_rate": 1e-3,
                      "loss": [["cross_entropy", 1.0]], "augment": {"hflip": True}}}


def _segmentation(recipe, root, layout, image_size, tile_size, seed):
    base_options = recipe["dataset"].get("options", {}) if recipe["dataset"]["name"] == \
        "folders" else {}
    if layout == "packed":
        dataset, names = _packed_dataset(root, "segmentation")
        options = dataset["options"]
    elif layout == "segmentation":
        from keras_segen.datasets.folders import read_class_names

        names = read_class_names(own_layout.classes_file(root))
        own = own_layout.has_own_splits(root)
        options = {"root": str(root), "split_seed": seed}
        if "val" not in own:
            options["val_fraction"] = VAL_FRACTION
        dataset = {"name": "folders", "options": options, "train_split": "train",
                   "val_split": "val", "test_split": "test" if "test" in own else "val",
                   "split_protocol": _split_text(own, seed, "val")}
    else:
        raise ValueError(f"{root} holds no images/ and masks/ folders (nor train/ and val/ "
                         f"folders of them): a segmentation model needs masks")
    if tile_size is not None:
        options["tile_size"] = int(tile_size)
        dataset["train_options"] = {"tile_size": None}  # random crops instead (augment)
        augment = dict(recipe["train"].get("augment") or {"hflip": True})
        recipe["train"]["augment"] = {**augment, "crop_size": [int(tile_size)] * 2}
    elif image_size is not None:
        options["image_size"] = list(image_size)
    elif base_options.get("image_size") and layout != "packed":
        options["image_size"] = list(base_options["image_size"])
    recipe["dataset"] = dataset
    recipe["kwargs"]["num_classes"] = len(names)
    recipe["classes"] = {"names": list(names)}


def _generation(recipe, base, root, layout, image_size, seed, keep_channels):
    from keras_segen.kinds import kind_of_arch

    kind = kind_of_arch(base["arch"])
    if kind.name == "image_to_image":
        raise ValueError(f"{base['arch']} translates condition maps into images; --data "
                         "with a folder of images has no conditions for it (train it with "
                         "a recipe whose dataset yields (condition, target) pairs)")
    scale = _GENERATIVE_SCALES[tuple(float(v) for v in kind.data_range)]
    shape = list(base["kwargs"].get("image_shape", [28, 28, 1]))
    if image_size is not None:
        shape[:2] = list(image_size)
    conditional = "num_classes" in base["kwargs"]
    if layout == "packed":
        from keras_segen.datasets.packed import read_manifest

        dataset, names = _packed_dataset(root, "generation")
        stored = read_manifest(root)["image_shape"]  # a pack is fitted when packed
        if image_size is None:
            shape[:2] = stored[:2]
        if not keep_channels:
            shape[2] = stored[2]
        dataset["options"].update(image_size=shape[:2], scale=scale, channels=shape[2])
    else:
        from keras_segen.datasets import image_folder

        if layout == "segmentation":
            raise ValueError(f"{root} holds images/ and masks/: that is segmentation data; "
                             f"{base['arch']} learns from a folder of images")
        files, _, names = image_folder.list_images(root)
        own = image_folder.split_folders(root)
        options = {"root": str(root), "image_size": shape[:2], "scale": scale,
                   "split_seed": seed}
        if "test" not in own:
            options["test_fraction"] = TEST_FRACTION
        if not keep_channels:  # a zoo entry's weights keep its channels; else the data's
            shape[2] = 1 if image_folder.all_grayscale(files) else 3
        options["channels"] = shape[2]
        dataset = {"name": "image_folder", "options": options, "train_split": "train",
                   "val_split": "val" if "val" in own else None, "test_split": "test",
                   "split_protocol": _split_text(own, seed, "test")}
    if conditional:
        if not names:
            raise ValueError(f"{base['arch']} is a conditional model: put the images of "
                             f"{root} in one subfolder per class")
        recipe["kwargs"]["num_classes"] = len(names)
        recipe["classes"] = {"names": list(names)}
    recipe["kwargs"]["image_shape"] = shape
    recipe["dataset"] = dataset
    if recipe.get("evaluation"):  # as many generated images as held-out ones, no baselines
        recipe["evaluation"].update(num_images=None, baselines=False)


def _packed_dataset(root, task):
    from keras_segen.datasets.packed import read_manifest

    manifest = read_manifest(root)
    if manifest.get("task") != task:
        raise ValueError(f"{root} is a pack of {manifest.get('task')} data; this model "
                         f"needs {task} data")
    splits = manifest.get("splits", {})
    dataset = {"name": "packed", "options": {"path": str(root)}, "train_split": "train",
               "val_split": "val" if "val" in splits else None,
               "test_split": "test" if "test" in splits else "val",
               "split_protocol": f"the splits of the pack {root} (pack.json: "
                                 f"{manifest.get('split')})"}
    if task == "generation":
        dataset["test_split"] = "test" if "test" in splits else "val"
    return dataset, list(manifest.get("class_names") or [])


def _split_text(own, seed, held_out):
    if own:
        return f"the data folder's own split folders ({', '.join(sorted(own))})"
    fraction = VAL_FRACTION if held_out == "val" else TEST_FRACTION
    text = (f"{held_out} = the files whose sha256('{seed}/<file stem>') falls in the first "
            f"{fraction:.0%} (seed {seed}); deterministic, and adding files never moves "
            "others")
    if held_out == "val":
        text += ". The held-out metrics are on val, which also picks the best checkpoint"
    return text


def _init_for(zoo_name, recipe):
    """``{"from", "weights"}`` for a run from zoo entry ``zoo_name``, or None."""
    from keras_segen.zoo.loading import get_card, has_pretrained_backbone, list_models

    if zoo_name not in list_models():
        return None
    card = get_card(zoo_name)
    if card["files"]:
        return {"from": zoo_name, "weights": "zoo"}
    if has_pretrained_backbone(card["arch"], recipe["kwargs"]):
        return {"from": zoo_name, "weights": "backbone"}
    return None


def apply_init(model, recipe) -> list:
    """Start ``model`` (just built from ``recipe``) from the weights ``recipe["init"]``
    names; returns the layers left freshly initialized (e.g. a new class head).

    ``"backbone"``: the builder itself loaded the pretrained encoder (its kwargs say so),
    nothing to do. ``"zoo"``: every layer whose place and shapes match the zoo model's
    gets its trained weights. Call it before the trainer restores a backup, so that a
    resumed run continues from its own weights, not the zoo's.
    """
    init = recipe.get("init")
    if not init or init["weights"] != "zoo":
        return []
    from keras_segen.zoo.loading import load, transfer_matching_weights

    # The zoo model as trained: layers whose shapes differ (a head for another class
    # count, an input of other channels) keep their fresh initialization.
    return transfer_matching_weights(load(init["from"]), model)


# ---------------------------------------------------------------------- the files
def check_data(recipe) -> dict:
    """Read every file of the recipe's dataset once (PIL), before any model or output
    folder exists; returns ``{split: number of images}``. Errors name the file."""
    from keras_segen.datasets import load
    from keras_segen.kinds import split_names

    data_cfg = recipe["dataset"]
    counts = {}
    for role, split in split_names(recipe).items():
        if split is None or split in counts:
            continue
        options = dict(data_cfg.get("options", {}))
        if role == "train":
            options.update(data_cfg.get("train_options", {}))
        _, info = load(data_cfg["name"], split, **options)
        counts[split] = int(info.num_examples)
    return counts


def finish_recipe(recipe, counts, batch_size_given: bool) -> dict:
    """Record the image counts in ``dataset.source``; fit the batch to the training set
    (the training pipeline drops an incomplete last batch)."""
    recipe = copy.deepcopy(recipe)
    data_cfg = recipe["dataset"]
    where = data_cfg["options"].get("root") or data_cfg["options"].get("path")
    shown = ", ".join(f"{split} {n}" for split, n in counts.items())
    data_cfg["source"] = f"{where} (images: {shown})"
    train = counts[data_cfg.get("train_split", "train")]
    batch = int(recipe["train"]["batch_size"])
    if batch > train:
        if batch_size_given:
            raise ValueError(f"--batch-size {batch} is larger than the {train} training "
                             f"images in {where}")
        recipe["train"]["batch_size"] = train
    return recipe


def image_size_option(image_size):
    """``--image-size``: None, one int or ``[N]`` (square), or ``[H, W]`` -> ``[H, W]``."""
    if image_size is None:
        return None
    size = [image_size] if isinstance(image_size, int) else list(image_size)
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                 for s in size):
        raise ValueError(f"--image-size must be one or two positive ints (H [W]), got "
                         f"{image_size!r}")
    return size


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "data"


__all__ = ["apply_init", "check_data", "finish_recipe", "own_data_recipe"]

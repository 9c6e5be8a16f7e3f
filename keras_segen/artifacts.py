"""Find a trained model by zoo name or ``.keras`` path, together with what it predicts.

A training run writes ``model.keras`` next to ``metrics.json`` (which holds the recipe and
class names); zoo artifacts live in ``zoo/artifacts/NAME/``. The zoo (checksums, cards,
downloads) builds on this.
"""
import json
import pathlib

import keras

from keras_segen.paths import artifacts_dir
from keras_segen.training.recipes import list_recipes, load_recipe


def resolve_model_path(name_or_path) -> pathlib.Path:
    path = pathlib.Path(name_or_path)
    if path.suffix == ".keras":
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} does not exist")
        return path
    if path.is_dir() and (path / "model.keras").is_file():
        return path / "model.keras"
    candidate = artifacts_dir() / str(name_or_path) / "model.keras"
    if candidate.is_file():
        return candidate
    if str(name_or_path) in list_recipes():
        raise FileNotFoundError(
            f"no trained weights for {name_or_path!r} here ({candidate} is missing); "
            f"train them with: keras-segen train {name_or_path} --out runs/{name_or_path}"
        )
    load_recipe(str(name_or_path))  # raises KeyError listing the close names
    raise FileNotFoundError(str(candidate))  # pragma: no cover - load_recipe raised


def model_metadata(model_path) -> dict:
    """``recipe`` and ``class_names`` (and ``palette`` when known) for a model file."""
    model_path = pathlib.Path(model_path)
    for sibling in ("card.json", "metrics.json"):
        meta_path = model_path.parent / sibling
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            recipe = meta.get("recipe", meta)
            return {"recipe": recipe, "class_names": meta.get("class_names", []),
                    "palette": meta.get("palette")}
    return {"recipe": None, "class_names": [], "palette": None}


def load_trained(name_or_path):
    """(keras.Model, metadata dict) for a zoo name, a run folder or a ``.keras`` file."""
    path = resolve_model_path(name_or_path)
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as err:  # Keras raises several types for a damaged file
        raise ValueError(f"could not load model {path}: {err}") from err
    return model, model_metadata(path)

"""Find a trained model by zoo name, run folder or ``.keras`` path, together with what it
predicts (what the ``evaluate``, ``predict``, ``generate`` and ``export`` commands take).

* a zoo name goes through the zoo (``keras_segen.zoo.load``): card, sha256 of every
  artifact file, ``safe_mode`` load; the metadata comes from the card;
* a training run folder (``model.keras`` beside ``metrics.json``) or a ``.keras`` file is
  loaded as it is; the metadata comes from a ``metrics.json`` or ``card.json`` beside it
  (a run stopped before it evaluated: its ``run.json``).
"""
import difflib
import json
import pathlib

import keras

from keras_segen.paths import artifacts_dir
from keras_segen.training.recipes import list_recipes, load_recipe


def _is_path(name_or_path) -> bool:
    path = pathlib.Path(name_or_path)
    return path.suffix == ".keras" or path.is_dir() or len(path.parts) > 1


def resolve_model_path(name_or_path) -> pathlib.Path:
    """The ``.keras`` file of a run folder or path (zoo names: see ``load_trained``)."""
    path = pathlib.Path(name_or_path)
    if path.suffix == ".keras":
        if not path.is_file():
            raise FileNotFoundError(f"model file {path} does not exist")
        return path
    if path.is_dir() and (path / "model.keras").is_file():
        return path / "model.keras"
    if path.is_dir():
        raise FileNotFoundError(f"{path} holds no model.keras (not a training run folder)")
    name = str(name_or_path)
    if name in list_recipes():
        raise FileNotFoundError(
            f"no trained weights for {name!r} here ({artifacts_dir() / name} is not a zoo "
            f"entry); train them with: keras-segen train {name} --out runs/{name}"
        )
    load_recipe(name)  # raises KeyError listing the close names
    raise FileNotFoundError(name)  # pragma: no cover - load_recipe raised


def model_metadata(model_path) -> dict:
    """``recipe`` and ``class_names`` (and ``palette`` when known) for a model file."""
    model_path = pathlib.Path(model_path)
    for sibling in ("card.json", "metrics.json"):
        meta_path = model_path.parent / sibling
        if meta_path.is_file():
            meta = _read_metadata(meta_path)
            recipe = meta.get("recipe", meta)
            if isinstance(recipe, dict) and "config" in recipe:  # a zoo card's recipe
                recipe = recipe["config"]
            if not isinstance(recipe, dict):
                raise ValueError(f"{meta_path}: recipe must be a JSON object, got a "
                                 f"{_json_type(recipe)} ({recipe!r:.60})")
            return {"recipe": recipe, "class_names": meta.get("class_names", []),
                    "palette": meta.get("palette"), "card": None}
    # A run stopped before its evaluation (killed, or still training) has only its claim
    # file; its best checkpoint is evaluated with the recipe recorded there.
    claim = model_path.parent / "run.json"
    if claim.is_file():
        recipe = _read_metadata(claim).get("recipe")
        if isinstance(recipe, dict):
            return {"recipe": recipe, "class_names": [], "palette": None, "card": None}
    return {"recipe": None, "class_names": [], "palette": None, "card": None}


def _read_metadata(path) -> dict:
    """A ``metrics.json`` / ``card.json`` as a dict; whatever is wrong names the file."""
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); it says which recipe trained "
                         "the model beside it") from err
    if not isinstance(meta, dict):
        raise ValueError(f"{path} holds a {_json_type(meta)}, not a JSON object")
    if not isinstance(meta.get("class_names", []), list):
        raise ValueError(f"{path}: class_names must be a list of names, got "
                         f"{_json_type(meta['class_names'])}")
    return meta


def _json_type(value) -> str:
    return {dict: "JSON object", list: "list", str: "string", bool: "boolean",
            type(None): "null"}.get(type(value), "number")


def check_model_file(path, recipe=None) -> None:
    """Refuse an empty or damaged ``.keras`` file before Keras calls it "not found".
    In a run folder, re-running ``train`` moves it aside and resumes from ``backup/``."""
    from keras_segen.callbacks.model_file import is_readable_model

    path = pathlib.Path(path)
    size = path.stat().st_size
    if size and is_readable_model(path):
        return
    what = "is empty (0 bytes)" if size == 0 else (
        f"is damaged ({size} bytes, not a complete .keras archive)")
    message = f"model file {path} {what}: an interrupted write, or not a model"
    folder = path.parent
    if path.name == "model.keras" and ((folder / "backup").is_dir() or
                                       (folder / "run.json").is_file()):
        name = (recipe or {}).get("name") or _run_recipe_name(folder) or "RECIPE"
        message += (f". It is a training run's checkpoint: `keras-segen train {name} --out "
                    f"{folder}` moves it aside and resumes from {folder / 'backup'}")
    raise ValueError(message)


def _run_recipe_name(folder):
    try:  # run.json records the run's recipe; only a hint here, so best effort
        return json.loads((folder / "run.json").read_text())["recipe"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def card_metadata(card) -> dict:
    return {"recipe": card["recipe"]["config"], "class_names": list(card["classes"]["names"]),
            "palette": card["classes"].get("palette"), "card": card}


def load_trained(name_or_path):
    """(keras.Model, metadata dict) for a zoo name, a run folder or a ``.keras`` file.

    The metadata holds ``recipe``, ``class_names``, ``palette``, ``card`` (the zoo
    card for zoo names, else None) and ``kind`` (``keras_segen.kinds``: the recipe's
    architecture's when a recipe is known, else the model's own).
    """
    model, meta = _load_with_metadata(name_or_path)
    meta["kind"] = _kind(model, meta["recipe"])
    return model, meta


def _kind(model, recipe):
    from keras_segen import kinds

    if recipe and recipe.get("arch"):
        try:
            return kinds.kind_of_arch(recipe["arch"])
        except KeyError:  # an architecture of a module not imported here
            pass
    return kinds.kind_of(model)


def _load_with_metadata(name_or_path):
    from keras_segen import zoo

    if not _is_path(name_or_path):
        name = str(name_or_path)
        if name in zoo.list_models():
            model = zoo.load(name)
            return model, card_metadata(zoo.get_card(name))
        if name not in list_recipes():
            known = sorted(set(zoo.list_models()) | set(list_recipes()))
            close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown model {name!r}: not a zoo name, recipe, run folder or "
                           f".keras file.{hint} Zoo names: {', '.join(zoo.list_models())}")
    path = resolve_model_path(name_or_path)
    meta = model_metadata(path)
    # A user's architecture classes must be registered before Keras can rebuild them.
    _import_recipe_modules(meta["recipe"], path)
    check_model_file(path, meta["recipe"])
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as err:  # Keras raises several types for a damaged file
        raise ValueError(f"could not load model {path}: {err}") from err
    return model, meta


def _import_recipe_modules(recipe, path):
    if isinstance(recipe, dict) and recipe.get("imports"):
        from keras_segen.user_modules import import_user_modules

        import_user_modules(recipe["imports"], f"the recipe of {path}")

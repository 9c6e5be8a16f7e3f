"""Zoo cards on disk (``zoo/cards/NAME.json``): reading, writing atomically, assembling.

``make_card`` turns a recipe plus what a build measured into a card; an entry whose data
can't be reached here gets a recipe-only card (no files, no metrics) from
``recipe_only_card`` (``keras-segen zoo card NAME``).
"""
import json
import pathlib

from keras_segen.paths import zoo_dir
from keras_segen.training.io import write_json_atomic
from keras_segen.zoo import describe
from keras_segen.zoo.schema import SCHEMA_VERSION, check_card


def cards_dir() -> pathlib.Path:
    return zoo_dir() / "cards"


def card_path(name: str) -> pathlib.Path:
    return cards_dir() / f"{name}.json"


def card_names() -> list[str]:
    return sorted(path.stem for path in cards_dir().glob("*.json"))


def read_card_bytes(path) -> bytes:
    """The bytes of the card file ``path`` (the index records their sha256)."""
    try:
        return pathlib.Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"zoo card {path} does not exist") from None


def read_card(path, data=None) -> dict:
    """The card in ``path`` (or its bytes ``data``, already read), checked against the
    schema (errors name the file)."""
    path = pathlib.Path(path)
    data = read_card_bytes(path) if data is None else data
    try:
        card = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"zoo card {path} is not valid JSON: {err}") from err
    check_card(card, where=f"zoo card {path}")
    if card["name"] != path.stem:
        raise ValueError(f"zoo card {path} is named {card['name']!r}; a card's file is "
                         "named after the entry")
    return card


def write_card(card) -> pathlib.Path:
    """Validate ``card`` and write it to ``zoo/cards/NAME.json`` (whole or not at all)."""
    check_card(card, where=f"card {card.get('name')!r}")
    path = card_path(card["name"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, card)
    return path


def make_card(recipe, *, num_params, files=(), metrics=None, trained_with=None,
              class_names=None, palette=None, overrides=None, baselines=None,
              evaluation=None, url=None, learning_curve=None) -> dict:
    """A card for ``recipe`` (see ``keras_segen.zoo.schema.CARD_SCHEMA``)."""
    dataset = describe.dataset_record(recipe)
    model_input, model_output = describe.io_records(recipe)
    files = [dict(record) for record in files]
    card = {
        "schema_version": SCHEMA_VERSION,
        "name": recipe["name"],
        "task": recipe["task"],
        "arch": recipe["arch"],
        "description": describe.description(recipe),
        "kwargs": recipe["kwargs"],
        "dataset": dataset,
        "classes": describe.classes_record(recipe, class_names, palette),
        "input": model_input,
        "output": model_output,
        "metrics": metrics or {},
    }
    if baselines:
        card["baselines"] = baselines
    if evaluation:
        card["evaluation"] = evaluation
    if learning_curve:
        card["learning_curve"] = learning_curve
    card.update({
        "num_params": int(num_params),
        "size_bytes": sum(record["bytes"] for record in files),
        "files": files,
        "recipe": describe.recipe_record(recipe, overrides),
        "trained_with": trained_with,
        "license": describe.license_record(recipe, dataset["license"]),
    })
    if url:
        card["url"] = url
    # A JSON round trip keeps exactly what the file will hold (tuples become lists).
    return check_card(json.loads(json.dumps(card)), where=f"card {recipe['name']!r}")


def recipe_only_card(recipe) -> dict:
    """The card of an entry without trained weights here: what it is and how to train it.
    Builds the architecture once to count its parameters."""
    from keras_segen import registry

    model = registry.build_without_pretrained(recipe["arch"], recipe["kwargs"])
    return make_card(recipe, num_params=model.count_params())

"""The zoo card schema: a small declarative structure and a validator that names every
problem by its path in the card (``dataset.license: missing``).

A card is the plain record of one zoo entry (torchvision's weights metadata, timm's
pretrained configs): what the model is, what data it learned from, what it scores on the
held-out splits (measured by ``keras-segen zoo build``), which files make the artifact
and their sha256, how to rebuild it and under which licenses it ships.
"""
import re

from keras_segen.registry import TASKS

SCHEMA_VERSION = 1
MODEL_FILE = "model.keras"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_]*$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
# "<dataset>/<split>", or "<dataset>/<split>/<protocol>" for another evaluation protocol
# of the split (bluemarble's whole "regions").
METRICS_KEY_PATTERN = re.compile(r"^[^/\s]+/[^/\s]+(/[^/\s]+)?$")


class Field:
    """One value in the card: its type(s), whether it must be there, what it may hold."""

    def __init__(self, types, *, required=True, nullable=False, choices=None, pattern=None,
                 fields=None, items=None, values=None):
        self.types = types if isinstance(types, tuple) else (types,)
        self.required = required
        self.nullable = nullable
        self.choices = choices
        self.pattern = pattern
        self.fields = fields  # dict: name -> Field (for dicts with known keys)
        self.items = items  # Field of every list item
        self.values = values  # Field of every dict value (for dicts with free keys)


_STR = Field(str)
_RGB = Field(list, items=Field(int))
_FILE = Field(dict, fields={
    "path": Field(str),
    "bytes": Field(int),
    "sha256": Field(str, pattern=SHA256_PATTERN),
})

CARD_SCHEMA = {
    "schema_version": Field(int, choices=(SCHEMA_VERSION,)),
    "name": Field(str, pattern=NAME_PATTERN),
    "task": Field(str, choices=TASKS),
    "arch": Field(str),
    "description": Field(str),
    "kwargs": Field(dict),
    "dataset": Field(dict, fields={
        "name": Field(str),
        "title": Field(str, required=False),
        "options": Field(dict),
        "train_options": Field(dict, required=False),
        "splits": Field(dict, values=Field(str, nullable=True)),
        "split_protocol": Field(str),
        "license": Field(str),
        "source": Field(str, required=False),
        "prepare": Field(str, required=False),
    }),
    "classes": Field(dict, fields={
        "names": Field(list, items=_STR),
        "palette": Field(list, required=False, nullable=True, items=_RGB),
        "used_as": Field(str, choices=("predicted classes", "generation labels",
                                       "condition channels", "none")),
    }),
    "input": Field(dict, fields={
        "shape": Field(list, items=Field(int, nullable=True)),
        "dtype": Field(str),
        "value_range": Field(list, nullable=True, items=Field((int, float))),
        "preprocessing": Field(str),
    }),
    "output": Field(dict, fields={
        "shape": Field(list, items=Field(int, nullable=True)),
        "description": Field(str),
    }),
    "metrics": Field(dict, values=Field(dict)),
    "baselines": Field(dict, required=False),
    "evaluation": Field(dict, required=False, fields={
        "command": Field(str),
        "seconds": Field((int, float)),
        "splits": Field(list, items=_STR),
        "feature_models": Field(dict),
    }),
    "learning_curve": Field(dict, required=False, fields={
        "source": Field(str),
        "epochs": Field(list, items=Field(int)),
        "values": Field(dict, values=Field(list, items=Field((int, float), nullable=True))),
    }),
    "num_params": Field(int),
    "size_bytes": Field(int),
    "files": Field(list, items=_FILE),
    "recipe": Field(dict, fields={
        "command": Field(str),
        "train_command": Field(str),
        "overrides": Field(dict, required=False),
        "config": Field(dict),
    }),
    "trained_with": Field(dict, nullable=True),
    "license": Field(dict, fields={"code": _STR, "weights": _STR, "data": _STR}),
    "url": Field(str, required=False, nullable=True),
}


def _check(value, field, where, errors):
    if value is None:
        if not field.nullable:
            errors.append(f"{where}: is null")
        return
    # bool is an int in Python; a card never means True by 1.
    if isinstance(value, bool) or not isinstance(value, field.types):
        names = "/".join(t.__name__ for t in field.types)
        errors.append(f"{where}: expected {names}, got {type(value).__name__} {value!r:.60}")
        return
    if field.choices is not None and value not in field.choices:
        errors.append(f"{where}: {value!r} is not one of {list(field.choices)}")
    if field.pattern is not None and not field.pattern.match(value):
        errors.append(f"{where}: {value!r} does not match {field.pattern.pattern}")
    if field.fields is not None:
        _check_fields(value, field.fields, where, errors)
    if field.values is not None:
        for key, item in value.items():
            _check(item, field.values, f"{where}.{key}", errors)
    if field.items is not None:
        for index, item in enumerate(value):
            _check(item, field.items, f"{where}[{index}]", errors)


def _check_fields(record, fields, where, errors):
    prefix = f"{where}." if where else ""
    for key, field in fields.items():
        if key not in record:
            if field.required:
                errors.append(f"{prefix}{key}: missing")
            continue
        _check(record[key], field, f"{prefix}{key}", errors)


def card_errors(card) -> list[str]:
    """Every way ``card`` breaks the schema (empty when it is valid)."""
    if not isinstance(card, dict):
        return [f"a card is a JSON object, got {type(card).__name__}"]
    errors = []
    _check_fields(card, CARD_SCHEMA, "", errors)
    unknown = sorted(set(card) - set(CARD_SCHEMA))
    if unknown:
        errors.append(f"unknown keys {unknown} (known: {sorted(CARD_SCHEMA)})")
    if errors:  # the rules below assume the shapes checked above
        return errors
    errors += _consistency_errors(card)
    return errors


def _consistency_errors(card) -> list[str]:
    errors = []
    recipe = card["recipe"]["config"]
    for key in ("name", "task", "arch", "kwargs"):
        if recipe.get(key) != card[key]:
            errors.append(f"recipe.config.{key}: {recipe.get(key)!r} differs from the "
                          f"card's {key} {card[key]!r}")
    for key in card["metrics"]:
        if not METRICS_KEY_PATTERN.match(key):
            errors.append(f"metrics.{key}: keys are '<dataset>/<split>[/<protocol>]'")
    paths = [record["path"] for record in card["files"]]
    prefix = f"artifacts/{card['name']}/"
    for path in paths:
        parts = path.split("/")
        if (not path.startswith(prefix) or ".." in parts or "" in parts or "\\" in path):
            errors.append(f"files: {path!r} must be a path in the entry's artifact folder, "
                          f"relative to the zoo folder ({prefix}..., '/'-separated, no '..')")
    if len(set(paths)) != len(paths):
        errors.append("files: a path is listed twice")
    if card["files"]:
        if prefix + MODEL_FILE not in paths:
            errors.append(f"files: a trained entry must list {prefix}{MODEL_FILE}")
        if not card["metrics"]:
            errors.append("metrics: a trained entry (with files) needs measured metrics")
        if card["trained_with"] is None:
            errors.append("trained_with: a trained entry (with files) says how it was trained")
        if card["size_bytes"] != sum(record["bytes"] for record in card["files"]):
            errors.append("size_bytes: is not the sum of the files' bytes")
    elif card["metrics"]:
        errors.append("metrics: an entry without files has no measured metrics")
    classes = card["classes"]
    palette = classes.get("palette")
    if palette is not None and len(palette) != len(classes["names"]):
        errors.append(f"classes.palette: {len(palette)} colours for "
                      f"{len(classes['names'])} class names")
    for index, colour in enumerate(palette or []):
        if len(colour) != 3 or not all(0 <= c <= 255 for c in colour):
            errors.append(f"classes.palette[{index}]: {colour} is not an RGB triple in 0..255")
    num_classes = card["kwargs"].get("num_classes")
    if card["task"] in ("segmentation", "classification") and num_classes is not None \
            and num_classes != len(classes["names"]):
        errors.append(f"classes.names: {len(classes['names'])} names but kwargs.num_classes "
                      f"is {num_classes}")
    return errors


def check_card(card, where="card") -> dict:
    """``card`` itself when valid; else ValueError listing every problem."""
    errors = card_errors(card)
    if errors:
        listed = "\n  ".join(errors)
        raise ValueError(f"{where} does not follow the zoo card schema:\n  {listed}")
    return card

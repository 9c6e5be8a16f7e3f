"""Recipes: how a zoo entry is trained (``zoo/recipes/NAME.json``), read into a typed,
checked record with one set of defaults.

A recipe holds ``name``, ``task``, ``arch``, ``kwargs`` (builder arguments), ``dataset``
(:class:`DatasetSpec`), ``train`` (:class:`TrainSpec`), optionally ``evaluation``
(:class:`EvaluationSpec`), ``imports`` (modules that register users' architectures) and
the free-form card fields ``classes``, ``license``, ``description`` and ``trainer``.

:func:`read_recipe` gives a :class:`Recipe`; every field is checked when it is read and
a bad one raises :class:`RecipeError`, one line naming the file and the field::

    recipe zoo/recipes/x.json: train.epochs must be a positive int, got 0

``Recipe.to_dict()`` is exactly the JSON it was read from (with overrides applied): the
defaults live in the dataclasses, never in the dict, so cards that embed the recipe do
not change. :func:`load_recipe` / :func:`with_overrides` keep the dict-in, dict-out API.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import pathlib

from keras_segen.paths import recipes_dir

REQUIRED = ("name", "task", "arch", "kwargs", "dataset", "train")
# Keys of ``train.samples`` (the picture callbacks of the generative kinds).
SAMPLE_KEYS = ("num_images", "seed", "every", "reconstructions", "num_tiles")


class RecipeError(ValueError):
    """A recipe field is missing, unknown or of the wrong type/value (one-line message
    naming the recipe's file and the field path)."""


# --------------------------------------------------------------------------- records
@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    options: dict = dataclasses.field(default_factory=dict)
    train_options: dict = dataclasses.field(default_factory=dict)  # train split only
    train_split: str = "train"
    # "val", not None: every committed recipe states val_split itself (the three GANs
    # say null, the rest "val"), so this default changes no committed recipe, and it is
    # what the segmentation trainer and zoo/describe.py (the cards) already assumed.
    # A recipe that wants no validation says "val_split": null.
    val_split: str | None = "val"
    test_split: str = "test"
    limit: dict = dataclasses.field(default_factory=dict)  # split -> max examples
    title: str | None = None
    split_protocol: str | None = None
    license: str | None = None
    source: str | None = None
    prepare: str | None = None


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    epochs: int
    batch_size: int  # the global batch, over all replicas
    steps_per_epoch: int | None = None
    seed: int = 0
    precision: str = "float32"
    jit_compile: bool | str = "auto"
    time_budget_s: float | None = None
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    optimizer: dict | None = None
    g_optimizer: dict | None = None
    d_optimizer: dict | None = None
    loss: list = dataclasses.field(default_factory=lambda: [["cross_entropy", 1.0]])
    augment: dict | None = None
    class_weighting: str | None = None
    overlay_tiles: int = 6
    samples: dict = dataclasses.field(default_factory=dict)
    # Free text of recipes trained by their own script (fashion_classifier).
    schedule: str | None = None
    checkpoint: str | None = None


@dataclasses.dataclass(frozen=True)
class EvaluationSpec:
    num_images: int | None = None
    seed: int = 0
    kid_subset_size: int = 1000
    kid_subsets: int = 100
    baselines: bool = False
    classifier: str | None = None
    segmenter: str | None = None


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    task: str
    arch: str
    kwargs: dict
    dataset: DatasetSpec
    train: TrainSpec
    evaluation: EvaluationSpec | None = None
    imports: list = dataclasses.field(default_factory=list)
    classes: dict | None = None
    license: str | dict | None = None
    description: str | None = None
    trainer: dict | None = None
    source: str = dataclasses.field(default="", compare=False)
    _data: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data, source: str | None = None) -> "Recipe":
        """Check ``data`` (a recipe dict) and return the record; ``source`` (a file
        path, or a description) is what error messages name."""
        if source is None:
            name = data.get("name") if isinstance(data, dict) else None
            source = str(name) if isinstance(name, str) else "<dict>"
        return _parse(data, source)

    def to_dict(self) -> dict:
        """The dict this recipe was read from (overrides applied), a deep copy."""
        return copy.deepcopy(self._data)

    def with_overrides(self, **train_overrides) -> "Recipe":
        """A copy whose ``train`` section takes the non-None overrides, checked like the
        rest of the recipe (an error names ``train.<key>``)."""
        return _parse(_override(self._data, train_overrides, self.source), self.source)

    @property
    def evaluation_or_default(self) -> EvaluationSpec:
        return self.evaluation if self.evaluation is not None else EvaluationSpec()


# --------------------------------------------------------------------------- API
def list_recipes() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.json"))


def read_recipe(name_or_path_or_dict) -> Recipe:
    """A checked :class:`Recipe` from a zoo name (``unet_bluemarble``), a path to a JSON
    file, or a recipe dict. Unknown zoo names raise KeyError listing the close ones."""
    if isinstance(name_or_path_or_dict, Recipe):
        return name_or_path_or_dict
    if isinstance(name_or_path_or_dict, dict):
        return Recipe.from_dict(name_or_path_or_dict)
    path = _find(name_or_path_or_dict)
    source = _display(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RecipeError(f"recipe {source} is not valid JSON: {err}") from err
    return Recipe.from_dict(data, source=source)


def load_recipe(name_or_path: str) -> dict:
    """A recipe dict by zoo name (``unet_bluemarble``) or by path to a JSON file, checked
    as :func:`read_recipe` checks it."""
    return read_recipe(name_or_path).to_dict()


def with_overrides(recipe: dict, **train_overrides) -> dict:
    """A copy of ``recipe`` whose ``train`` section takes the non-None overrides; each
    overridden value is checked like a recipe field (an error names ``train.<key>``)."""
    source = recipe.get("name") if isinstance(recipe.get("name"), str) else "<dict>"
    updated = _override(recipe, train_overrides, source)
    # Only the overridden fields are checked here: callers pass partial dicts too.
    given = {k: v for k, v in train_overrides.items() if v is not None}
    for key, value in given.items():
        _check_field(_TRAIN_FIELDS, key, value, f"train.{key}", source)
    return updated


def _override(data: dict, train_overrides: dict, source: str) -> dict:
    data = copy.deepcopy(data)
    train = data.get("train")
    if not isinstance(train, dict):
        raise RecipeError(f"recipe {source}: train must be an object, got {_show(train)}")
    for key, value in train_overrides.items():
        if value is not None:
            if key not in _TRAIN_FIELDS:
                raise RecipeError(f"recipe {source}: unknown override train.{key}"
                                  f"{_hint(key, _TRAIN_FIELDS, 'train.')}")
            train[key] = value
    return data


def _find(name_or_path) -> pathlib.Path:
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
    return path


def _display(path: pathlib.Path) -> str:
    """``zoo/recipes/x.json`` when under the working directory, else the path as given."""
    resolved, cwd = path.resolve(), pathlib.Path.cwd().resolve()
    return str(resolved.relative_to(cwd)) if resolved.is_relative_to(cwd) else str(path)


# --------------------------------------------------------------------------- checks
class _Bad(Exception):
    """A field check failed; ``what`` completes "<field> must be ..."."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _hint(key, known, prefix="") -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _optional(check):
    def run(v):
        return None if v is None else check(v)
    return run


def _str(v):
    if not isinstance(v, str) or not v:
        raise _Bad("a non-empty string")
    return v


def _text(v):
    if not isinstance(v, str):
        raise _Bad("a string")
    return v


def _int(v):
    if not _is_int(v):
        raise _Bad("an int")
    return v


def _pos_int(v):
    if not _is_int(v) or v <= 0:
        raise _Bad("a positive int")
    return v


def _pos_number(v):
    if not _is_number(v) or v <= 0:
        raise _Bad("a positive number")
    return v


def _nonneg_number(v):
    if not _is_number(v) or v < 0:
        raise _Bad("a non-negative number")
    return v


def _bool(v):
    if not isinstance(v, bool):
        raise _Bad("true or false")
    return v


def _object(v):
    if not isinstance(v, dict) or not all(isinstance(k, str) for k in v):
        raise _Bad("an object")
    return v


def _task(v):
    from keras_segen.registry import TASKS

    if v not in TASKS:
        raise _Bad(f"one of {', '.join(TASKS)}")
    return v


def _precision(v):
    from keras_segen.training.precision import PRECISIONS

    if v not in PRECISIONS:
        raise _Bad(f"one of {', '.join(PRECISIONS)}")
    return v


def _jit_compile(v):
    if v not in (True, False, "auto") or v in (0, 1) and not isinstance(v, bool):
        raise _Bad('true, false or "auto"')
    return v


def _optimizer(v):
    if not isinstance(v, dict) or not isinstance(v.get("name"), str):
        raise _Bad('an optimizer object {"name": "adam", "learning_rate": ...}')
    if "learning_rate" in v and not (_is_number(v["learning_rate"]) and v["learning_rate"] > 0):
        raise _Bad("an optimizer whose learning_rate is a positive number")
    return v


def _loss(v):
    shape = 'a list of [name, weight] pairs, e.g. [["cross_entropy", 1.0], ["dice", 0.5]]'
    if not isinstance(v, list) or not v:
        raise _Bad(shape)
    try:
        from keras_segen.training.compiling import _LOSSES as known
    except ImportError:  # pragma: no cover - names are checked again at compile time
        known = None
    for part in v:
        if (not isinstance(part, (list, tuple)) or len(part) != 2
                or not isinstance(part[0], str) or not _is_number(part[1])):
            raise _Bad(shape)
        if known is not None and part[0] not in known:
            raise _Bad(f"made of the losses {', '.join(sorted(known))}"
                       f"{_hint(part[0], known)}")
    return v


def _augment(v):
    _object(v)
    from keras_segen.datasets.augment import JointAugment

    known = [f.name for f in dataclasses.fields(JointAugment)]
    for key in v:
        if key not in known:
            raise _Bad(f"an object of JointAugment options ({', '.join(known)}); "
                       f"{key!r} is not one{_hint(key, known)}")
    return v


def _class_weighting(v):
    from keras_segen.losses.class_weights import METHODS

    if v not in METHODS:
        raise _Bad(f"one of {', '.join(METHODS)}")
    return v


def _samples(v):
    _object(v)
    for key, value in v.items():
        if key not in SAMPLE_KEYS:
            raise _Bad(f"an object of {', '.join(SAMPLE_KEYS)}; {key!r} is not one"
                       f"{_hint(key, SAMPLE_KEYS)}")
        if key == "seed" and not _is_int(value) or key != "seed" and not (
                _is_int(value) and value > 0):
            raise _Bad(f"an object whose {key} is {'an' if key == 'seed' else 'a positive'} int")
    return v


def _limit(v):
    _object(v)
    for split, value in v.items():
        if value is not None and not (_is_int(value) and value > 0):
            raise _Bad(f"an object of split -> positive int (or null); {split} is not")
    return v


def _imports(v):
    if not isinstance(v, list) or not all(isinstance(m, str) and m.strip() for m in v):
        raise _Bad('a list of module names, e.g. ["my_package.my_nets"]')
    return v


def _classes(v):
    _object(v)
    names = v.get("names")
    if names is not None and not (
            isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise _Bad("an object whose names is a list of strings")
    palette = v.get("palette")
    if palette is not None and not (isinstance(palette, list) and all(
            isinstance(c, list) and len(c) == 3 and all(_is_int(x) and 0 <= x <= 255 for x in c)
            for c in palette)):
        raise _Bad("an object whose palette is a list of [r, g, b] (0-255)")
    return v


def _license(v):
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and all(isinstance(x, str) for x in v.values()):
        return v
    raise _Bad('a string or an object {"code": ..., "weights": ..., "data": ...}')


# field -> (check, required). Defaults live in the dataclasses.
_TOP_FIELDS = {
    "name": (_str, True), "task": (_task, True), "arch": (_str, True),
    "kwargs": (_object, True), "dataset": (None, True), "train": (None, True),
    "evaluation": (None, False), "imports": (_imports, False),
    "classes": (_classes, False), "license": (_license, False),
    "description": (_text, False), "trainer": (_object, False),
}
_DATASET_FIELDS = {
    "name": (_str, True), "options": (_object, False), "train_options": (_object, False),
    "train_split": (_str, False), "val_split": (_optional(_str), False),
    "test_split": (_str, False), "limit": (_optional(_limit), False),
    "title": (_text, False), "split_protocol": (_text, False),
    "license": (_text, False), "source": (_text, False), "prepare": (_text, False),
}
_TRAIN_FIELDS = {
    "epochs": (_pos_int, True), "batch_size": (_pos_int, True),
    "steps_per_epoch": (_optional(_pos_int), False), "seed": (_int, False),
    "precision": (_precision, False), "jit_compile": (_jit_compile, False),
    "time_budget_s": (_optional(_pos_number), False),
    "learning_rate": (_pos_number, False), "weight_decay": (_nonneg_number, False),
    "optimizer": (_optional(_optimizer), False),
    "g_optimizer": (_optional(_optimizer), False),
    "d_optimizer": (_optional(_optimizer), False),
    "loss": (_loss, False), "augment": (_optional(_augment), False),
    "class_weighting": (_optional(_class_weighting), False),
    "overlay_tiles": (_pos_int, False), "samples": (_samples, False),
    "schedule": (_text, False), "checkpoint": (_text, False),
}
_EVALUATION_FIELDS = {
    "num_images": (_optional(_pos_int), False), "seed": (_int, False),
    "kid_subset_size": (_pos_int, False), "kid_subsets": (_pos_int, False),
    "baselines": (_bool, False), "classifier": (_optional(_str), False),
    "segmenter": (_optional(_str), False),
}


def _check_field(fields, key, value, where, source):
    check, _ = fields[key]
    try:
        return check(value)
    except _Bad as bad:
        raise RecipeError(f"recipe {source}: {where} must be {bad.what}, got {_show(value)}") \
            from None


def _section(data, fields, prefix, source) -> dict:
    """The checked values of one section (only the keys it gives)."""
    where = prefix.rstrip(".") or "the recipe"
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {source}: {where} must be an object, got {_show(data)}")
    for key in data:
        if key not in fields:
            raise RecipeError(f"recipe {source}: unknown key {prefix}{key}"
                              f"{_hint(key, fields, prefix)}")
    missing = [k for k, (_, required) in fields.items() if required and k not in data]
    if missing:
        raise RecipeError(f"recipe {source}: {prefix}{missing[0]} is missing")
    return {key: _check_field(fields, key, value, f"{prefix}{key}", source)
            for key, value in data.items() if fields[key][0] is not None}


def _dataclass_kwargs(values: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in values.items()}


def _parse(data, source: str) -> Recipe:
    top = _section(data, _TOP_FIELDS, "", source)
    dataset = _section(data["dataset"], _DATASET_FIELDS, "dataset.", source)
    train = _section(data["train"], _TRAIN_FIELDS, "train.", source)
    evaluation = None
    if data.get("evaluation") is not None:
        evaluation = EvaluationSpec(**_dataclass_kwargs(
            _section(data["evaluation"], _EVALUATION_FIELDS, "evaluation.", source)))
    if dataset.get("limit") is None:
        dataset.pop("limit", None)
    return Recipe(
        **{k: copy.deepcopy(v) for k, v in top.items() if v is not None},
        dataset=DatasetSpec(**_dataclass_kwargs(dataset)),
        train=TrainSpec(**_dataclass_kwargs(train)),
        evaluation=evaluation,
        source=source,
        _data=copy.deepcopy(data),
    )


__all__ = [
    "DatasetSpec",
    "EvaluationSpec",
    "Recipe",
    "RecipeError",
    "TrainSpec",
    "list_recipes",
    "load_recipe",
    "read_recipe",
    "with_overrides",
]

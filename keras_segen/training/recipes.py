"""Recipes: how a zoo entry is trained (``zoo/recipes/NAME.json``), read into a typed,
checked record with one set of defaults.

A recipe holds ``name``, ``task``, ``arch``, ``kwargs`` (builder arguments), ``dataset``
(:class:`DatasetSpec`), ``train`` (:class:`TrainSpec`), optionally ``evaluation``
(:class:`EvaluationSpec`), ``imports`` (modules that register users' architectures),
``init`` (start from a zoo entry's weights: ``{"from": NAME, "weights": "zoo" or
"backbone"}``, see :mod:`keras_segen.training.own_data`) and the free-form card fields ``classes``, ``license``, ``description`` and ``trainer``.

:func:`read_recipe` gives a :class:`Recipe`; every field is checked when it is read and
a bad one raises :class:`RecipeError`, one line naming the file and the field::

    recipe zoo/recipes/x.json: train.epochs must be a positive int, got 0

``Recipe.to_dict()`` is exactly the JSON it was read from (with overrides applied): the
defaults live in the dataclasses, never in the dict, so cards that embed the recipe do
not change. :func:`load_recipe` / :func:`with_overrides` keep the dict-in, dict-out API.
The checks of each field are in :mod:`keras_segen.training.recipe_checks`.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import pathlib

from keras_segen.paths import recipes_dir
from keras_segen.training.recipe_checks import (
    DATASET_FIELDS,
    EVALUATION_FIELDS,
    SAMPLE_KEYS,  # noqa: F401 - imported from here before the checks moved
    TOP_FIELDS,
    TRAIN_FIELDS,
    RecipeError,
    check_field,
    check_section,
    hint,
    show,
)

REQUIRED = ("name", "task", "arch", "kwargs", "dataset", "train")


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
    # The evaluation protocol (``datasets.protocols``) the val split is read with during
    # training, so the best epoch is picked where the model is used (whole regions).
    val_protocol: str | None = None
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
    # Generative recipes: the end-of-run evaluation uses at most this many real and
    # generated images (``--eval-samples``; a smoke run's quick look).
    eval_samples: int | None = None
    # {"factor", "patience", "min_lr"}: Keras' ReduceLROnPlateau on the kind's checkpoint
    # metric, for runs long enough to reach a plateau.
    reduce_lr_on_plateau: dict | None = None
    # Generative recipes: {"every", "num_images"}: FID every few epochs into the history
    # (keras_segen.callbacks.fid_curve), the curve that shows where FID flattens.
    fid_curve: dict | None = None


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
    # Start from a zoo entry's weights (``recipe_checks.INIT_WEIGHTS``); None: fresh.
    init: dict | None = None
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
        check_field(TRAIN_FIELDS, key, value, f"train.{key}", source)
    return updated


def _override(data: dict, train_overrides: dict, source: str) -> dict:
    data = copy.deepcopy(data)
    train = data.get("train")
    if not isinstance(train, dict):
        raise RecipeError(f"recipe {source}: train must be an object, got {show(train)}")
    for key, value in train_overrides.items():
        if value is not None:
            if key not in TRAIN_FIELDS:
                raise RecipeError(f"recipe {source}: unknown override train.{key}"
                                  f"{hint(key, TRAIN_FIELDS, 'train.')}")
            train[key] = value
    return data


def _find(name_or_path) -> pathlib.Path:
    path = pathlib.Path(name_or_path)
    if path.suffix != ".json":
        path = recipes_dir() / f"{name_or_path}.json"
        if not path.is_file():
            known = list_recipes()
            close = difflib.get_close_matches(str(name_or_path), known, n=3, cutoff=0.4)
            suggestion = f" Did you mean: {', '.join(close)}?" if close else ""
            raise KeyError(
                f"unknown recipe {name_or_path!r}.{suggestion} Known: {', '.join(known)}"
            )
    if not path.is_file():
        raise FileNotFoundError(f"recipe file {path} does not exist")
    return path


def _display(path: pathlib.Path) -> str:
    """``zoo/recipes/x.json`` when under the working directory, else the path as given."""
    resolved, cwd = path.resolve(), pathlib.Path.cwd().resolve()
    return str(resolved.relative_to(cwd)) if resolved.is_relative_to(cwd) else str(path)


def _dataclass_kwargs(values: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in values.items()}


def _parse(data, source: str) -> Recipe:
    top = check_section(data, TOP_FIELDS, "", source)
    dataset = check_section(data["dataset"], DATASET_FIELDS, "dataset.", source)
    train = check_section(data["train"], TRAIN_FIELDS, "train.", source)
    evaluation = None
    if data.get("evaluation") is not None:
        evaluation = EvaluationSpec(**_dataclass_kwargs(
            check_section(data["evaluation"], EVALUATION_FIELDS, "evaluation.", source)))
    if dataset.get("limit") is None:
        dataset.pop("limit", None)
    if train.get("eval_samples") is not None and top["task"] != "generation":
        raise RecipeError(f"recipe {source}: train.eval_samples (--eval-samples) applies "
                          f"to generation recipes, this one is {top['task']}")
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

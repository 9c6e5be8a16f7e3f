"""Typed recipes: every committed recipe parses and round-trips; each kind of bad field
gives one line naming the file and the field."""
import copy
import json

import pytest

from keras_segen.paths import recipes_dir, zoo_dir
from keras_segen.training.recipes import (
    DatasetSpec,
    EvaluationSpec,
    Recipe,
    RecipeError,
    TrainSpec,
    list_recipes,
    load_recipe,
    read_recipe,
    with_overrides,
)

COMMITTED = list_recipes()


def test_there_are_committed_recipes():
    assert len(COMMITTED) >= 14 and "unet_bluemarble" in COMMITTED


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_recipe_parses_and_round_trips(name):
    stored = json.loads((recipes_dir() / f"{name}.json").read_text())
    recipe = read_recipe(name)
    assert isinstance(recipe, Recipe)
    assert recipe.to_dict() == stored
    assert load_recipe(name) == stored
    assert recipe.name == name and recipe.kwargs == stored["kwargs"]
    assert isinstance(recipe.dataset, DatasetSpec) and isinstance(recipe.train, TrainSpec)
    # The val_split default changes no committed recipe: each one states its own.
    assert recipe.dataset.val_split == stored["dataset"]["val_split"]
    card = zoo_dir() / "cards" / f"{name}.json"
    if card.is_file():  # cards embed the recipe: reading it must not change it
        assert json.loads(card.read_text())["recipe"]["config"] == recipe.to_dict()


def test_defaults_are_one_set():
    recipe = Recipe.from_dict({
        "name": "tiny", "task": "generation", "arch": "dcgan", "kwargs": {},
        "dataset": {"name": "fashion_mnist"}, "train": {"epochs": 1, "batch_size": 8},
    })
    assert recipe.dataset.val_split == "val" and recipe.dataset.train_split == "train"
    assert recipe.dataset.test_split == "test" and recipe.dataset.options == {}
    assert recipe.train.precision == "float32" and recipe.train.jit_compile == "auto"
    assert recipe.train.seed == 0 and recipe.train.steps_per_epoch is None
    assert recipe.train.loss == [["cross_entropy", 1.0]] and recipe.train.overlay_tiles == 6
    assert recipe.evaluation is None and recipe.evaluation_or_default == EvaluationSpec()
    assert recipe.imports == [] and recipe.classes is None
    # to_dict never carries the defaults: it is what was given.
    assert recipe.to_dict()["train"] == {"epochs": 1, "batch_size": 8}


def test_imports_are_exposed(tmp_path):
    data = load_recipe("unet_bluemarble")
    data["imports"] = ["my_package.nets", "other"]
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    recipe = read_recipe(str(path))
    assert recipe.imports == ["my_package.nets", "other"]
    assert recipe.to_dict() == data


def _bad(mutate, tmp_path):
    data = load_recipe("unet_bluemarble")
    mutate(data)
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecipeError) as info:
        read_recipe(str(path))
    message = str(info.value)
    assert "\n" not in message and "x.json" in message
    return message


@pytest.mark.parametrize("mutate, expected", [
    (lambda r: r["train"].update(epochs=0), "train.epochs must be a positive int, got 0"),
    (lambda r: r["train"].update(epochs="5"), "train.epochs must be a positive int, got '5'"),
    (lambda r: r["train"].update(epochs=True), "train.epochs must be a positive int"),
    (lambda r: r["train"].update(batch_size=-2), "train.batch_size must be a positive int"),
    (lambda r: r["train"].update(steps_per_epoch=0), "train.steps_per_epoch must be a positive"),
    (lambda r: r["train"].update(time_budget_s=-1),
     "train.time_budget_s must be a positive number"),
    (lambda r: r["train"].update(precision="fp16"), "train.precision must be one of float32"),
    (lambda r: r["train"].update(jit_compile="yes"),
     'train.jit_compile must be true, false or "auto"'),
    (lambda r: r["train"].update(jit_compile=1), "train.jit_compile must be"),
    (lambda r: r["train"].update(loss=[["dicee", 1.0]]), "train.loss must be made of the losses"),
    (lambda r: r["train"].update(loss="dice"), "train.loss must be a list of [name, weight]"),
    (lambda r: r["train"].update(augment={"hflipp": True}), "(did you mean hflip?)"),
    (lambda r: r["train"].update(optimizer={"learning_rate": 1}),
     "train.optimizer must be an optimizer"),
    (lambda r: r["train"].update(class_weighting="mean"), "train.class_weighting must be one of"),
    (lambda r: r["train"].update(samples={"num_image": 4}), "train.samples must be an object of"),
    (lambda r: r["train"].pop("epochs"), "train.epochs is missing"),
    (lambda r: r["train"].update(epoch=3), "unknown key train.epoch (did you mean train.epochs?)"),
    (lambda r: r.update(task="detection"), "task must be one of segmentation"),
    (lambda r: r.update(kwargs=[1]), "kwargs must be an object"),
    (lambda r: r.update(imports="my_module"), "imports must be a list of module names"),
    (lambda r: r.update(descripton="x"), "unknown key descripton (did you mean description?)"),
    (lambda r: r.pop("arch"), "arch is missing"),
    (lambda r: r.update(train=[]), "train must be an object"),
    (lambda r: r["dataset"].update(val_spilt="val"),
     "unknown key dataset.val_spilt (did you mean dataset.val_split?)"),
    (lambda r: r["dataset"].update(val_split=3), "dataset.val_split must be a non-empty string"),
    (lambda r: r["dataset"].update(limit={"test": 0}), "dataset.limit must be an object of split"),
    (lambda r: r["dataset"].pop("name"), "dataset.name is missing"),
    (lambda r: r.update(evaluation={"kid_subset": 10}),
     "unknown key evaluation.kid_subset (did you mean evaluation.kid_subsets?)"),
    (lambda r: r.update(evaluation={"baselines": "yes"}),
     "evaluation.baselines must be true or false"),
    (lambda r: r.update(evaluation={"num_images": 0}),
     "evaluation.num_images must be a positive int"),
    (lambda r: r.update(classes={"names": "ocean"}), "classes must be an object whose names"),
    (lambda r: r.update(license=3), "license must be a string or an object"),
])
def test_bad_field_gives_one_line_naming_file_and_field(mutate, expected, tmp_path):
    message = _bad(mutate, tmp_path)
    assert message.startswith("recipe ") and "x.json: " in message
    assert expected in message, message


def test_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(RecipeError, match="broken.json is not valid JSON"):
        read_recipe(str(path))


def test_unknown_name_and_missing_file_keep_their_errors():
    with pytest.raises(KeyError, match="unet_bluemarble"):
        read_recipe("unet_bluemarbel")
    with pytest.raises(FileNotFoundError):
        read_recipe("/nonexistent/recipe.json")


def test_dict_source_is_the_recipe_name():
    data = load_recipe("unet_bluemarble")
    data["train"]["epochs"] = 0
    with pytest.raises(RecipeError, match=r"^recipe unet_bluemarble: train.epochs"):
        read_recipe(data)
    with pytest.raises(RecipeError, match=r"^recipe here.json: train.epochs"):
        Recipe.from_dict(data, source="here.json")


def test_with_overrides_checks_the_overridden_values():
    stored = load_recipe("dcgan_fashion_mnist")
    recipe = read_recipe("dcgan_fashion_mnist")
    longer = recipe.with_overrides(epochs=3, time_budget_s=None, precision="auto")
    assert longer.train.epochs == 3 and longer.train.precision == "auto"
    # None overrides nothing
    assert longer.train.time_budget_s == stored["train"]["time_budget_s"]
    assert longer.to_dict()["train"]["epochs"] == 3
    assert recipe.train.epochs == stored["train"]["epochs"] != 3
    assert longer.source == recipe.source
    with pytest.raises(RecipeError, match=r"train.epochs must be a positive int, got 0"):
        recipe.with_overrides(epochs=0)
    with pytest.raises(RecipeError, match=r"train.batch_size must be a positive int, got 2.5"):
        recipe.with_overrides(batch_size=2.5)
    with pytest.raises(RecipeError, match=r"unknown override train.epoch \(did you mean"):
        recipe.with_overrides(epoch=3)
    # dict in, dict out, same checks
    copied = copy.deepcopy(stored)
    updated = with_overrides(stored, epochs=2, jit_compile=False)
    assert stored == copied and updated["train"]["epochs"] == 2
    assert updated["train"]["jit_compile"] is False
    with pytest.raises(RecipeError, match="train.precision must be one of"):
        with_overrides(stored, precision="half")
    with pytest.raises(RecipeError, match="train.steps_per_epoch must be a positive int"):
        with_overrides(stored, steps_per_epoch=-1)


def test_recipes_the_tests_build_parse():
    """Shapes of the small recipes other tests hand to the trainers."""
    Recipe.from_dict({
        "name": "tiny_dcgan", "task": "generation", "arch": "dcgan",
        "kwargs": {"latent_dim": 4, "base_filters": 4, "seed": 0},
        "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                    "train_split": "train", "val_split": None, "test_split": "test",
                    "limit": {"test": 24}},
        "train": {"epochs": 2, "batch_size": 8, "steps_per_epoch": 2, "seed": 0,
                  "samples": {"num_images": 10}, "time_budget_s": None,
                  "g_optimizer": {"name": "sgd", "learning_rate": 0.01},
                  "augment": {"hflip": True, "vflip": True, "scale_range": None}},
        "evaluation": {"kid_subset_size": 8, "kid_subsets": 3, "baselines": False,
                       "classifier": "/tmp/c.keras"},
    })


@pytest.mark.parametrize("value", [{"factor": 1.5}, {"patience": 0}, {"min_lr": -1},
                                   {"cooldown": 2}, "yes"])
def test_reduce_lr_on_plateau_is_checked(value):
    data = load_recipe("fcn_bluemarble")
    data["train"]["reduce_lr_on_plateau"] = value
    with pytest.raises(RecipeError, match="train.reduce_lr_on_plateau must be"):
        Recipe.from_dict(data)
    data["train"]["reduce_lr_on_plateau"] = {"factor": 0.5, "patience": 3}
    assert Recipe.from_dict(data).train.reduce_lr_on_plateau["patience"] == 3

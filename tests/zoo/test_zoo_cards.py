"""The repository's zoo: every card follows the schema and its recipe, the index is
generated from the cards, and every shipped artifact is the one its card describes."""
import copy
import json

import pytest

import keras_segen
from keras_segen import training
from keras_segen.zoo import cards, index, schema
from keras_segen.zoo.artifacts import repo_dir, verify_files

CARD_NAMES = cards.card_names()
TRAINED = [name for name in CARD_NAMES if cards.read_card(cards.card_path(name))["files"]]
PROMISED = {
    "unet_bluemarble", "fcn_bluemarble", "deeplabv3plus_bluemarble", "dcgan_fashion_mnist",
    "wgangp_fashion_mnist", "cgan_fashion_mnist", "vae_fashion_mnist", "cvae_fashion_mnist",
    "pix2pix_bluemarble", "fashion_classifier", "fcn_voc", "unet_pets", "deeplabv3plus_voc",
}


@pytest.mark.parametrize("name", CARD_NAMES)
def test_every_card_follows_the_schema(name):
    card = json.loads(cards.card_path(name).read_text())
    assert schema.card_errors(card) == []
    assert card["name"] == name


@pytest.mark.parametrize("name", CARD_NAMES)
def test_every_card_carries_its_current_recipe(name):
    card = cards.read_card(cards.card_path(name))
    fix = card["recipe"]["command"] if card["files"] else f"keras-segen zoo card {name}"
    assert card["recipe"]["config"] == training.load_recipe(name), (
        f"zoo/recipes/{name}.json changed after its card was written; rewrite it with: {fix}"
    )


def test_index_is_generated_from_the_current_cards():
    assert index.stale_entries() == [], "the zoo index is stale: run keras-segen zoo index"


def test_the_zoo_holds_the_promised_entries():
    assert PROMISED <= set(keras_segen.list_models())
    assert "fcn_voc" in keras_segen.list_models(task="segmentation")
    assert "fcn_voc" not in keras_segen.list_models(task="generation")
    with pytest.raises(ValueError, match="task must be one of"):
        keras_segen.list_models(task="detection")


def test_recipe_only_entries_have_no_files_or_metrics():
    for name in ("fcn_voc", "unet_pets", "deeplabv3plus_voc"):
        card = keras_segen.get_card(name)
        assert card["files"] == [] and card["metrics"] == {} and card["trained_with"] is None
    assert len(keras_segen.get_card("fcn_voc")["classes"]["palette"]) == 21


@pytest.mark.parametrize("name", TRAINED)
def test_shipped_artifact_matches_its_card_and_loads(name):
    card = keras_segen.get_card(name)
    verify_files(repo_dir(card), card["files"], name)
    model = keras_segen.load(name)
    assert model.compiled and model.count_params() == card["num_params"]


def test_get_card_returns_a_copy():
    card = keras_segen.get_card("fashion_classifier")
    card["metrics"].clear()
    assert keras_segen.get_card("fashion_classifier")["metrics"]


def test_the_schema_names_every_problem():
    card = copy.deepcopy(keras_segen.get_card("fashion_classifier"))
    del card["dataset"]["license"]
    card["files"][0]["sha256"] = "not-a-hash"
    card["task"] = "detection"
    card["files"].append({"path": "../outside.bin", "bytes": 1, "sha256": "0" * 64})
    card["surprise"] = 1
    errors = "\n".join(schema.card_errors(card))
    assert "dataset.license: missing" in errors
    assert "files[0].sha256" in errors and "task: 'detection'" in errors
    assert "unknown keys ['surprise']" in errors
    card = copy.deepcopy(keras_segen.get_card("fashion_classifier"))
    card["files"].append({"path": "../outside.bin", "bytes": 1, "sha256": "0" * 64})
    card["classes"]["names"] = card["classes"]["names"][:3]
    errors = "\n".join(schema.card_errors(card))
    assert "'../outside.bin' must be a path in the entry's artifact folder" in errors
    assert "size_bytes: is not the sum" in errors
    assert "3 names but kwargs.num_classes is 10" in errors


def test_all_shipped_artifacts_fit_the_100_mb_budget():
    """Every committed artifact (models, serving exports, samples) together stays under the
    project's 100 MB (git keeps every rebuild, so the zoo is sized to it)."""
    total = sum(entry["bytes"] for name in TRAINED
                for entry in cards.read_card(cards.card_path(name))["files"])
    assert len(TRAINED) >= 10
    assert total < 100_000_000, f"zoo artifacts take {total / 1e6:.1f} MB"

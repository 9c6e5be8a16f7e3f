"""``zoo build`` end to end (train -> artifact -> card -> index), interrupted builds,
runs of another recipe, and ``zoo verify``."""
import json
import shutil

import pytest

import keras_segen
from keras_segen.zoo import build, cards, index, schema
from keras_segen.zoo.artifacts import file_records, sha256_file
from keras_segen.zoo.verify import verify_entry

from zoo_helpers import TINY, tiny_recipe


def test_build_registers_a_complete_entry(built_zoo):
    card = json.loads((built_zoo / "cards" / f"{TINY}.json").read_text())
    assert schema.card_errors(card) == []
    folder = built_zoo / "artifacts" / TINY
    assert file_records(folder, TINY) == card["files"]  # every file, sha256 and size
    paths = {record["path"] for record in card["files"]}
    # Paths are relative to the zoo folder, so every one names a file of the tree.
    assert all((built_zoo / path).is_file() for path in paths)
    assert {f"artifacts/{TINY}/model.keras", f"artifacts/{TINY}/samples/test_overlays.png",
            f"artifacts/{TINY}/samples/test_regions.png",
            f"artifacts/{TINY}/samples/learning_curve.png"} <= paths
    # The run's history, epoch by epoch: losses and the checkpoint metric with its twin.
    curve = card["learning_curve"]
    epochs = len(curve["epochs"])
    assert curve["epochs"] == list(range(1, epochs + 1)) and epochs >= 1
    assert {"loss", "val_loss", "mean_iou", "val_mean_iou"} <= set(curve["values"])
    assert all(len(values) == epochs for values in curve["values"].values())
    assert 0 <= curve["values"]["val_mean_iou"][-1] <= 1
    assert any(p.startswith(f"artifacts/{TINY}/serving/{TINY}/1/") and p.endswith("saved_model.pb")
               for p in paths)
    assert not build._has_optimizer_state(folder / "model.keras")
    assert set(card["metrics"]) == {f"bluemarble/{split}{protocol}" for split in ("test", "val")
                                    for protocol in ("", "/regions", "/regions_no_caspian")}
    assert 0 <= card["metrics"]["bluemarble/test"]["mean_iou"] <= 1
    assert card["trained_with"]["seed"] == 0 and card["evaluation"]["seconds"] > 0
    assert card["recipe"]["command"] == f"keras-segen zoo build {TINY}"
    entries = json.loads((built_zoo / "index.json").read_text())["entries"]
    assert entries[TINY]["has_weights"] and entries[TINY]["headline"]["bluemarble/test"]
    assert not [p.name for p in (built_zoo / "artifacts").iterdir() if p.name.startswith(".")]


def _add_recipe(zoo, name):
    recipe = json.loads((zoo / "recipes" / f"{TINY}.json").read_text())
    recipe["name"] = name
    (zoo / "recipes" / f"{name}.json").write_text(json.dumps(recipe))


@pytest.fixture
def quick_build(monkeypatch):
    """Builds that skip the (tested elsewhere) evaluation and serving export."""
    measured = keras_segen.get_card(TINY)["metrics"]
    monkeypatch.setattr(build, "evaluate_entry", lambda *args, **kwargs: measured)
    monkeypatch.setattr(build, "export_serving", lambda *args, **kwargs: None)
    return build


def _crash(*args, **kwargs):
    raise RuntimeError("interrupted")


@pytest.mark.parametrize("step", ["write_samples", "write_card"])
def test_an_interrupted_build_registers_nothing(zoo_copy, quick_build, monkeypatch, step):
    monkeypatch.setattr(build, step, _crash)
    source = zoo_copy / "artifacts" / TINY / "model.keras"
    _add_recipe(zoo_copy, "tiny_unet_b")
    with pytest.raises(RuntimeError, match="interrupted"):
        build.build_entry("tiny_unet_b", from_model=source)
    assert not cards.card_path("tiny_unet_b").exists()
    assert sorted(p.name for p in (zoo_copy / "artifacts").iterdir()) == [TINY]
    assert keras_segen.list_models() == [TINY]

    # A failed rebuild of an existing entry leaves its files and card as they were.
    before = cards.card_path(TINY).read_bytes()
    with pytest.raises(RuntimeError, match="interrupted"):
        build.build_entry(TINY, from_model=source)
    assert cards.card_path(TINY).read_bytes() == before
    assert file_records(zoo_copy / "artifacts" / TINY, TINY) == json.loads(before)["files"]
    assert sorted(p.name for p in (zoo_copy / "artifacts").iterdir()) == [TINY]
    assert index.stale_entries() == []


def test_from_model_packages_an_uncompiled_file_byte_for_byte(zoo_copy, quick_build,
                                                             tmp_path):
    source = tmp_path / "model.keras"
    shutil.copyfile(zoo_copy / "artifacts" / TINY / "model.keras", source)
    _add_recipe(zoo_copy, "tiny_unet_c")
    card = build.build_entry("tiny_unet_c", from_model=source)
    model_record = next(r for r in card["files"]
                        if r["path"] == "artifacts/tiny_unet_c/model.keras")
    assert model_record["sha256"] == sha256_file(source)
    assert "packaged from the existing model file" in card["trained_with"]["note"]
    assert keras_segen.list_models() == [TINY, "tiny_unet_c"]
    assert keras_segen.load("tiny_unet_c").count_params() == card["num_params"]


def test_from_run_refuses_a_run_of_another_recipe(zoo_copy, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copyfile(zoo_copy / "artifacts" / TINY / "model.keras", run / "model.keras")
    recipe = tiny_recipe()
    recipe["train"]["epochs"] = 5
    recipe["kwargs"]["dropout"] = 0.1
    (run / "metrics.json").write_text(json.dumps({"recipe": recipe}))
    with pytest.raises(ValueError) as raised:
        build.build_entry(TINY, from_run=run)
    message = str(raised.value)
    assert "train.epochs: run 5, recipe 1" in message
    assert "kwargs.dropout: run 0.1, recipe 0.0" in message


def test_verify_passes_then_catches_a_changed_metric(zoo_copy):
    assert verify_entry(TINY, verbose=False)["ok"]
    card = keras_segen.get_card(TINY)
    card["metrics"]["bluemarble/test"]["mean_iou"] += 0.01
    cards.write_card(card)
    index.write_index()  # the card's new hash, as `keras-segen zoo index` records it
    result = verify_entry(TINY, verbose=False)
    assert not result["ok"]
    assert [row["metric"] for row in result["rows"] if not row["ok"]] == [
        "bluemarble/test:mean_iou"]

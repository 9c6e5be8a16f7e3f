"""Inputs that used to come out silently wrong (issue 12, section 4): colliding output
names of ``predict``, a missing ``$KERAS_SEGEN_ZOO``, an empty or damaged ``model.keras``,
a broken ``metrics.json``, and 0 standing in for a default count."""
import json
import os

import numpy as np
import pytest
from PIL import Image

import keras_segen
from keras_segen import cli
from keras_segen.inference import output_stems, predict_files
from keras_segen.model_lookup import load_trained, model_metadata


def _one_error_line(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --- predict: one output per input, named by a rule a user can predict -----------------

def test_output_stems_are_the_stems_unless_they_collide(tmp_path):
    assert output_stems([tmp_path / "a" / "x.png", tmp_path / "b" / "y.jpg"]) == ["x", "y"]
    # A shared stem: the file names (with their extensions) tell them apart.
    assert output_stems([tmp_path / "a" / "x.png", tmp_path / "b" / "x.jpg",
                         tmp_path / "y.png"]) == ["x.png", "x.jpg", "y"]
    # A shared file name: as many parent folders in front as it takes.
    assert output_stems([tmp_path / "a" / "x.png", tmp_path / "b" / "x.png"]) == [
        "a_x.png", "b_x.png"]
    assert output_stems([tmp_path / "a" / "c" / "x.png", tmp_path / "b" / "c" / "x.png"]) == [
        "a_c_x.png", "b_c_x.png"]
    # The same file twice: numbered in command-line order.
    assert output_stems([tmp_path / "x.png", tmp_path / "." / "x.png"]) == ["x", "x-2"]
    assert output_stems([tmp_path / "a" / "x.png", tmp_path / "a" / "x.png",
                         tmp_path / "b" / "x.png"]) == ["a_x.png", "a_x.png-2", "b_x.png"]


@pytest.fixture(scope="module")
def tiny_segmenter():
    return keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)


def test_predict_files_keeps_both_results_of_a_shared_stem(tmp_path, tiny_segmenter):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "x.png", tmp_path / "b" / "x.jpg"
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(first)
    Image.fromarray(np.full((16, 4, 3), 255, np.uint8)).save(second)
    written = predict_files(tiny_segmenter, [first, second], tmp_path / "pred")
    assert [p.name for p in written] == ["x.png_mask.png", "x.png_overlay.png",
                                         "x.jpg_mask.png", "x.jpg_overlay.png"]
    assert sorted(os.listdir(tmp_path / "pred")) == sorted(p.name for p in written)
    assert Image.open(written[0]).size == (12, 8) and Image.open(written[2]).size == (4, 16)


def test_predict_help_states_the_naming_rule(capsys):
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "<stem>_mask.png" in help_text and "x.png_mask.png" in help_text


# --- $KERAS_SEGEN_ZOO -----------------------------------------------------------------

def test_a_missing_zoo_folder_is_an_error_naming_it(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "no_such_zoo"
    monkeypatch.setenv("KERAS_SEGEN_ZOO", str(missing))
    with pytest.raises(FileNotFoundError, match="KERAS_SEGEN_ZOO") as raised:
        keras_segen.list_models()
    assert str(missing) in str(raised.value)
    assert cli.main(["list"]) == 2
    line = _one_error_line(capsys)
    assert str(missing) in line and "KERAS_SEGEN_ZOO" in line
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("KERAS_SEGEN_ZOO", str(tmp_path / "afile"))
    with pytest.raises(NotADirectoryError, match="KERAS_SEGEN_ZOO"):
        keras_segen.list_models()


def test_an_empty_zoo_folder_is_an_empty_zoo(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SEGEN_ZOO", str(tmp_path))
    assert keras_segen.list_models() == []


# --- model.keras and the metadata beside it ---------------------------------------------

def test_an_empty_model_file_is_reported_as_empty_not_missing(tmp_path):
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "backup" / "training_metadata.json").write_text("{}")
    (run / "model.keras").write_bytes(b"")
    (run / "metrics.json").write_text(json.dumps({"recipe": {"name": "unet_bluemarble"}}))
    with pytest.raises(ValueError) as raised:
        load_trained(run)
    message = str(raised.value)
    assert str(run / "model.keras") in message and "empty (0 bytes)" in message
    assert "not found" not in message.lower()
    assert f"keras-segen train unet_bluemarble --out {run}" in message  # recovers backup/
    (run / "metrics.json").unlink()  # killed before its first epoch ended
    (run / "run.json").write_text(json.dumps({"recipe": {"name": "my_recipe"}}))
    with pytest.raises(ValueError, match=f"keras-segen train my_recipe --out {run}"):
        load_trained(run)
    alone = tmp_path / "alone.keras"
    alone.write_bytes(b"")
    with pytest.raises(ValueError, match="empty \\(0 bytes\\)") as raised:
        load_trained(alone)
    assert "keras-segen train" not in str(raised.value)  # no run folder to resume


def test_a_truncated_model_file_is_reported_as_damaged(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 not a whole zip")
    with pytest.raises(ValueError, match="damaged") as raised:
        load_trained(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("text, problem", [
    ('{"recipe": ', "is not valid JSON"),
    ("[1, 2]", "holds a list, not a JSON object"),
    ('{"recipe": "unet"}', "recipe must be a JSON object, got a string"),
    ('{"class_names": "ocean"}', "class_names must be a list"),
])
def test_a_broken_metrics_json_is_named(tmp_path, text, problem):
    (tmp_path / "metrics.json").write_text(text)
    with pytest.raises(ValueError) as raised:
        model_metadata(tmp_path / "model.keras")
    assert str(tmp_path / "metrics.json") in str(raised.value)
    assert problem in str(raised.value)


def test_a_run_stopped_before_its_evaluation_is_described_by_its_claim_file(tmp_path):
    """A killed run has only run.json: its recipe still says what the checkpoint is."""
    recipe = {"name": "r", "arch": "unet", "dataset": {"name": "bluemarble"}}
    (tmp_path / "run.json").write_text(json.dumps({"recipe": recipe, "created": 1.0}))
    assert model_metadata(tmp_path / "model.keras")["recipe"] == recipe
    (tmp_path / "metrics.json").write_text(json.dumps({"recipe": {**recipe, "name": "m"}}))
    assert model_metadata(tmp_path / "model.keras")["recipe"]["name"] == "m"  # it wins


def test_a_broken_metrics_json_is_one_line_in_the_cli(tmp_path, capsys):
    (tmp_path / "model.keras").write_bytes(b"")
    (tmp_path / "metrics.json").write_text("[]")
    assert cli.main(["evaluate", str(tmp_path)]) == 2
    assert str(tmp_path / "metrics.json") in _one_error_line(capsys)


# --- 0 is not "the default" ---------------------------------------------------------------

@pytest.mark.parametrize("num_images", [0, -5])
def test_generative_evaluate_refuses_a_non_positive_num_images(monkeypatch, num_images):
    from keras_segen import kinds
    from keras_segen.evaluation import generation
    from keras_segen.training import load_recipe

    def evaluated(*args, **kwargs):
        raise AssertionError(f"evaluated with num_images={num_images}")

    monkeypatch.setattr(generation, "load_recipe_split", evaluated)
    recipe = load_recipe("dcgan_fashion_mnist")
    with pytest.raises(ValueError, match="num_images must be a positive int"):
        kinds.kind_of_arch("dcgan").evaluate(object(), recipe, "test", num_images=num_images)

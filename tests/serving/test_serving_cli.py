"""``keras-segen export`` on a trained-model folder (run in-process: TF is already loaded)."""
import json

import keras
import keras_segen
from keras_segen import cli


def test_cli_export_writes_the_version_and_refuses_to_overwrite(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    run = tmp_path / "run"
    run.mkdir()
    model = keras_segen.build("unet", input_shape=(None, None, 3), num_classes=3, depth=2,
                              base_filters=4)
    model.save(run / "model.keras")
    recipe = {"name": "tiny_unet", "task": "segmentation",
              "dataset": {"name": "bluemarble", "options": {"tile_size": 16}}}
    (run / "metrics.json").write_text(json.dumps(
        {"recipe": recipe, "class_names": ["ocean", "land", "lake"]}))
    base = tmp_path / "serving"

    assert cli.main(["export", str(run), "--base", str(base), "--version", "2", "--tflite"]) == 0
    path = base / "tiny_unet" / "2"
    assert capsys.readouterr().out.strip() == str(path)
    assert (path / "saved_model.pb").is_file() and (path / "model.tflite").is_file()
    assert (path / "assets" / "class_names.txt").read_text() == "ocean\nland\nlake\n"
    card = json.loads((path / "assets" / "card.json").read_text())
    assert card["recipe"]["name"] == "tiny_unet"

    assert cli.main(["export", str(run / "model.keras"), "--base", str(base), "--version", "2",
                     "--name", "tiny_unet"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_export_can_keep_the_batch_norms(tmp_path):
    import tensorflow as tf

    model = keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)
    model.save(tmp_path / "model.keras")
    stored = {}
    for flags in ([], ["--no-fold-batch-norm"]):
        name = "unfolded" if flags else "folded"
        assert cli.main(["export", str(tmp_path / "model.keras"), "--base",
                         str(tmp_path / "serving"), "--name", name, *flags]) == 0
        variables = tf.train.list_variables(str(tmp_path / "serving" / name / "1" / "variables"
                                                / "variables"))
        stored[name] = sum(int(tf.reduce_prod(shape)) for _, shape in variables if shape)
    assert stored["unfolded"] == model.count_params() > stored["folded"]

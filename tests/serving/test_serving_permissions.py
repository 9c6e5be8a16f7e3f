"""Exports are world-readable (folders 0755, files 0644) whatever the umask, so a TF
Serving process running as another user can load them."""
import os
import stat

import pytest

import keras
import keras_segen
from keras_segen import serving
from keras_segen.serving import export
from keras_segen.serving.atomic import version_folder


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return keras_segen.build("unet", input_shape=(None, None, 3), num_classes=2, depth=2,
                             base_filters=4)


@pytest.fixture
def strict_umask():
    old = os.umask(0o077)  # what a hardened account uses: new files 0600, folders 0700
    yield
    os.umask(old)


def modes(folder):
    """``{relative path: permission bits}`` of ``folder`` and everything in it."""
    found = {".": stat.S_IMODE(os.stat(folder).st_mode)}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            found[os.path.relpath(path, folder)] = stat.S_IMODE(os.stat(path).st_mode)
    return found


def assert_world_readable(folder):
    for path, mode in modes(folder).items():
        expected = 0o755 if os.path.isdir(os.path.join(folder, path)) else 0o644
        assert mode == expected, f"{path}: {oct(mode)}"


def _fake_tflite(model, version_dir, size):
    """Stands in for the TFLite conversion (seconds): the file lands where the real one
    does, written under the same umask."""
    path = version_dir / serving.TFLITE_FILE
    path.write_bytes(b"TFL3")
    return path


def test_every_exported_file_and_folder_is_world_readable(
    model, tmp_path, strict_umask, monkeypatch
):
    monkeypatch.setattr(serving, "write_tflite", _fake_tflite)
    path = export(model, tmp_path / "serving", name="seg", card={"name": "seg"},
                  class_names=["a", "b"], tflite=True, tflite_size=16)
    found = modes(path)
    for child in ("saved_model.pb", "fingerprint.pb", "variables",
                  "variables/variables.index", "assets", "assets/card.json",
                  "assets/class_names.txt", "assets.extra",
                  "assets.extra/tf_serving_warmup_requests", "model.tflite"):
        assert child in found, child
    assert_world_readable(path)
    # The model and base folders the export created; TF Serving must traverse them.
    for folder in (tmp_path / "serving", tmp_path / "serving" / "seg"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755, folder


def _write_version(model_dir, version, overwrite=False):
    with version_folder(model_dir, version, overwrite=overwrite) as tmp:
        (tmp / "variables").mkdir()
        (tmp / "variables" / "variables.index").write_bytes(b"index")
        (tmp / "saved_model.pb").write_bytes(b"graph")
    return model_dir / str(version)


def test_an_overwritten_version_is_world_readable(tmp_path, strict_umask):
    _write_version(tmp_path / "seg", 1)
    path = _write_version(tmp_path / "seg", 1, overwrite=True)
    assert sorted(modes(path)) == [".", "saved_model.pb", "variables",
                                   "variables/variables.index"]
    assert_world_readable(path)


def test_folders_that_already_existed_keep_their_mode(tmp_path, strict_umask):
    base = tmp_path / "private"
    base.mkdir(mode=0o700)
    path = _write_version(base / "seg", 2)
    assert stat.S_IMODE(os.stat(base).st_mode) == 0o700  # the user's choice, left alone
    assert stat.S_IMODE(os.stat(base / "seg").st_mode) == 0o755
    assert_world_readable(path)

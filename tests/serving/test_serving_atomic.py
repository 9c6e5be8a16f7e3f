"""Versions appear whole or not at all; existing ones are never lost by accident."""
import os
import re

import pytest

import keras
import keras_segen
from keras_segen import serving
from keras_segen.serving import export


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return keras_segen.build("unet", input_shape=(None, None, 3), num_classes=2, depth=2,
                             base_filters=4)


def entries(folder):
    return sorted(os.listdir(folder))


def test_export_writes_tf_servings_layout(model, tmp_path):
    path = export(model, tmp_path, name="seg", version=3)
    assert path == tmp_path / "seg" / "3"
    assert entries(tmp_path / "seg") == ["3"]  # no temporary folder left
    for child in ("saved_model.pb", "variables", "assets.extra"):
        assert (path / child).exists(), child


def test_an_existing_version_is_refused(model, tmp_path):
    path = export(model, tmp_path, name="seg")
    before = (path / "saved_model.pb").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match=re.escape(str(path))):
        export(model, tmp_path, name="seg")
    assert (path / "saved_model.pb").stat().st_mtime_ns == before
    assert entries(tmp_path / "seg") == ["1"]


def test_overwrite_replaces_the_version(model, tmp_path):
    path = export(model, tmp_path, name="seg")
    (path / "marker").write_text("old")
    export(model, tmp_path, name="seg", overwrite=True, card={"name": "new"})
    assert not (path / "marker").exists()
    assert (path / "assets" / "card.json").exists()
    assert entries(tmp_path / "seg") == ["1"]


def _fail(*args, **kwargs):
    raise RuntimeError("disk full (simulated)")


def test_a_failure_mid_export_leaves_no_version_and_no_temporary_folder(
    model, tmp_path, monkeypatch
):
    monkeypatch.setattr(serving, "write_warmup_requests", _fail)
    with pytest.raises(RuntimeError, match="simulated"):
        export(model, tmp_path, name="seg", version=2)
    assert entries(tmp_path / "seg") == []


def test_a_failed_overwrite_keeps_the_old_version(model, tmp_path, monkeypatch):
    path = export(model, tmp_path, name="seg")
    (path / "marker").write_text("old")
    monkeypatch.setattr(serving, "write_warmup_requests", _fail)
    with pytest.raises(RuntimeError, match="simulated"):
        export(model, tmp_path, name="seg", overwrite=True)
    assert (path / "marker").read_text() == "old"
    assert entries(tmp_path / "seg") == ["1"]


def test_leftover_temporary_folders_are_not_versions(model, tmp_path):
    """TF Serving loads children whose names parse as int64 (safe_strto64); what a
    killed export leaves behind starts with a dot and never parses."""
    (tmp_path / "seg").mkdir()
    stale = tmp_path / "seg" / f".tmp-1-{os.getpid()}-x"
    stale.mkdir()
    export(model, tmp_path, name="seg")
    numeric = [name for name in entries(tmp_path / "seg") if re.fullmatch(r"\d+", name)]
    assert numeric == ["1"]
    assert stale.exists()  # another process may still be writing it: left alone


@pytest.mark.parametrize("kwargs, match", [
    ({"name": "a/b"}, "name"),
    ({"name": ""}, "name"),
    ({"name": "seg", "version": -1}, "version"),
    ({"name": "seg", "version": "1"}, "version"),
    ({"name": "seg", "class_names": ["only one"]}, "class names"),
])
def test_bad_arguments_fail_before_writing(model, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export(model, tmp_path, **kwargs)
    assert not (tmp_path / "seg").exists()


def test_a_model_that_is_not_exportable_is_named(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="tabular")
    with pytest.raises(TypeError, match="tabular"):
        export(model, tmp_path, name="t")

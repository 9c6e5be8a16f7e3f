"""The one atomic writer (training/io.py): the old file or the new one, never half, and
no temporary left behind by a failed write."""
import json
import os

import numpy as np
import pytest

from keras_segen.training import io
from keras_segen.training.run_folder import temporary_writer_pid


def test_write_text_atomic_writes_exactly_the_text(tmp_path):
    path = tmp_path / "history.csv"
    io.write_text_atomic(path, "epoch,loss\r\n0,1.5\n")
    assert path.read_bytes() == b"epoch,loss\r\n0,1.5\n"
    assert os.listdir(tmp_path) == ["history.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), io.replacing(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["run.json"]


def test_temporaries_are_named_for_the_stale_file_cleaner(tmp_path):
    with io.replacing(tmp_path / "metrics.json") as tmp:
        assert temporary_writer_pid(tmp.name) == os.getpid()
        tmp.write_text("{}")
    with io.replacing(tmp_path / "model.keras", temporary=f".model.tmp{os.getpid()}.keras") as tmp:
        assert temporary_writer_pid(tmp.name) == os.getpid()
        tmp.write_text("zip")


def test_write_json_atomic_writes_numpy_values_and_copy_atomic_copies(tmp_path):
    path = tmp_path / "metrics.json"
    io.write_json_atomic(path, {"miou": np.float32(0.5), "per_class": np.array([1, 2])})
    assert json.loads(path.read_text()) == {"miou": 0.5, "per_class": [1, 2]}
    with pytest.raises(TypeError):
        io.write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text())["miou"] == 0.5  # unchanged by the failed write
    io.copy_atomic(path, tmp_path / "copy.json")
    assert (tmp_path / "copy.json").read_bytes() == path.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["copy.json", "metrics.json"]


def test_replacing_a_folder_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "grid.png").mkdir()
    wrote = []
    with pytest.raises(IsADirectoryError) as raised, io.replacing(tmp_path / "grid.png") as tmp:
        wrote.append(tmp)
    assert raised.value.filename == str(tmp_path / "grid.png") and wrote == []
    assert os.listdir(tmp_path) == ["grid.png"]
    with pytest.raises(IsADirectoryError):
        io.write_text_atomic(tmp_path / "grid.png", "text")
    assert os.listdir(tmp_path) == ["grid.png"]


def test_a_failed_rename_leaves_no_temporary(tmp_path, monkeypatch):
    def refuse(source, target):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(io.os, "replace", refuse)
    with pytest.raises(PermissionError):
        io.write_text_atomic(tmp_path / "metrics.json", "{}")
    assert os.listdir(tmp_path) == []


def test_a_writer_that_made_a_folder_leaves_no_temporary_and_keeps_its_error(tmp_path):
    with pytest.raises(RuntimeError, match="writer failed"), \
            io.replacing(tmp_path / "model.keras") as tmp:
        (tmp / "inner").mkdir(parents=True)  # e.g. a writer that made a folder
        raise RuntimeError("writer failed")
    assert os.listdir(tmp_path) == []

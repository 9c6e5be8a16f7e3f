"""Atomic checkpoints, a backup that is kept until a readable checkpoint exists, a history
with one row per epoch, and the recovery of a folder a kill damaged."""
import csv
import json
import os

import keras
import numpy as np
import pytest

from keras_segen.callbacks.checkpoint import (
    AtomicCheckpoint,
    ResumableCSVLogger,
    SafeBackupAndRestore,
    is_readable_model,
    recover_run_folder,
    resume_threshold,
    save_model_atomic,
)

X = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
Y = np.random.default_rng(1).normal(size=(16, 3)).astype("float32")


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _fit(model, epochs, callbacks):
    return model.fit(X, Y, batch_size=8, epochs=epochs, callbacks=callbacks, verbose=0)


def _epochs(path):
    with open(path, newline="") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


class StopAt(keras.callbacks.Callback):
    """Raise at the start of ``epoch`` (a kill between epochs)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def _state(backup, checkpoint):
    return [SafeBackupAndRestore(backup, checkpoint), AtomicCheckpoint(checkpoint)]


def _metadata(backup):
    return json.loads((backup / "training_metadata.json").read_text())["epoch"]


# --------------------------------------------------------------------------- files
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "model.keras"
    _model().save(path)
    return path


def test_is_readable_model(saved, tmp_path):
    assert is_readable_model(saved)
    data = saved.read_bytes()
    cases = {"empty.keras": b"", "half.keras": data[: len(data) // 2],
             "tail.keras": data[:-30], "text.keras": b"not a zip"}
    flipped = bytearray(data)
    middle = data.index(b"HDF") + 200  # inside model.weights.h5: the CRC check fails
    flipped[middle] ^= 0xFF
    cases["flipped.keras"] = bytes(flipped)
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        assert not is_readable_model(tmp_path / name), name
    import zipfile
    with zipfile.ZipFile(tmp_path / "config_only.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    assert not is_readable_model(tmp_path / "config_only.keras")
    assert not is_readable_model(tmp_path / "absent.keras")
    assert not is_readable_model(tmp_path)


def test_save_model_atomic_leaves_the_old_file_when_a_save_fails(tmp_path, monkeypatch):
    model = _model()
    path = tmp_path / "model.keras"
    save_model_atomic(model, path)
    before = path.read_bytes()
    assert is_readable_model(path) and sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]

    def broken_save(target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"PK half")
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_model_atomic(model, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


# --------------------------------------------------------------------------- checkpoint
def _drive(callback, values, monitor="val_score"):
    callback.set_model(_model())
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {monitor: value} if value is not None else {})
    return callback.saved_epochs


def test_atomic_checkpoint_every_epoch_and_best_only(tmp_path):
    path = tmp_path / "model.keras"
    assert _drive(AtomicCheckpoint(path), [1.0, 0.5, 0.7]) == [0, 1, 2]
    assert is_readable_model(path)
    assert _drive(AtomicCheckpoint(path, "val_score"), [0.2, 0.1, float("nan"), 0.3, 0.3]) == [0, 3]
    assert _drive(AtomicCheckpoint(path, "val_score", mode="min"), [0.2, 0.1, 0.4]) == [0, 1]
    resumed = AtomicCheckpoint(path, "val_score", initial_value_threshold=0.5)
    assert _drive(resumed, [0.4, 0.6]) == [1] and resumed.best == 0.6
    assert _drive(AtomicCheckpoint(path, "val_score"), [None, None]) == []
    with pytest.raises(ValueError, match="mode"):
        AtomicCheckpoint(path, "val_score", mode="best")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_resume_threshold(tmp_path, saved):
    history = tmp_path / "history.csv"
    history.write_text("epoch,val_score\n0,0.2\n1,nan\n2,0.5\n3,\n4,0.4\n")
    assert resume_threshold(saved, history, "val_score", "max") == 0.5
    assert resume_threshold(saved, history, "val_score", "min") == 0.2
    assert resume_threshold(tmp_path / "absent.keras", history, "val_score") is None
    assert resume_threshold(saved, tmp_path / "none.csv", "val_score") is None


# --------------------------------------------------------------------------- backup
def test_backup_is_written_after_every_other_callback_of_the_epoch(tmp_path):
    backup = tmp_path / "backup"
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            path = backup / "training_metadata.json"
            seen.append(_metadata(backup) if path.exists() else None)

    # the backup callback first in the list, as a trainer may put it
    _fit(_model(), 3, [SafeBackupAndRestore(backup, tmp_path / "none.keras"), Probe()])
    assert seen == [None, 1, 2]  # at epoch e's end, the backup still says "resume at e"
    assert _metadata(backup) == 3  # kept: there is no readable checkpoint


def test_backup_is_deleted_only_when_finished_with_a_readable_checkpoint(tmp_path):
    checkpoint = tmp_path / "model.keras"
    backup = tmp_path / "backup"
    _fit(_model(), 2, [SafeBackupAndRestore(backup, checkpoint)])
    assert backup.is_dir()  # no checkpoint
    checkpoint.write_bytes(b"")
    _fit(_model(), 2, [SafeBackupAndRestore(backup, checkpoint)])
    assert backup.is_dir()  # an unreadable checkpoint
    history = _fit(_model(), 3, _state(backup, checkpoint))
    assert len(history.history["loss"]) == 1  # resumed at epoch 2 of 3
    assert not backup.exists() and is_readable_model(checkpoint)
    keep = SafeBackupAndRestore(backup, checkpoint, delete_checkpoint=False)
    _fit(_model(), 1, [keep])
    assert backup.is_dir()


def test_a_run_stopped_early_keeps_its_backup_and_resumes(tmp_path):
    checkpoint, backup = tmp_path / "model.keras", tmp_path / "backup"

    class Budget(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.model.stop_training = True

    _fit(_model(), 4, _state(backup, checkpoint) + [Budget()])
    assert _metadata(backup) == 2
    history = _fit(_model(), 4, _state(backup, checkpoint))
    assert len(history.history["loss"]) == 2 and not backup.exists()


def test_a_non_finite_epoch_is_not_backed_up(tmp_path):
    backup = tmp_path / "backup"
    safe = SafeBackupAndRestore(backup)

    class Poison(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:  # as StopOnNaN does
                logs["loss"] = float("nan")
                self.model.stop_training = True

    _fit(_model(), 3, [Poison(), safe])
    assert _metadata(backup) == 1 and "non-finite" in safe.notes[0]


def _interrupted_run(tmp_path, epochs_done=2):
    backup = tmp_path / "backup"
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        _fit(model, 5, [SafeBackupAndRestore(backup), StopAt(epochs_done)])
    assert _metadata(backup) == epochs_done
    assert (backup / "latest.weights.h5.bkp").is_file()
    return backup


def test_a_damaged_latest_backup_falls_back_to_the_previous_one(tmp_path):
    backup = _interrupted_run(tmp_path)
    weights = backup / "latest.weights.h5"
    weights.write_bytes(weights.read_bytes()[:300])  # a kill inside save_weights
    safe = SafeBackupAndRestore(backup)
    history = _fit(_model(), 5, [safe])
    assert len(history.history["loss"]) == 4  # resumed at epoch 1, from the .bkp state
    assert "resuming from the previous one (epoch 1)" in safe.notes[0]


def test_a_torn_metadata_file_falls_back_to_the_previous_one(tmp_path):
    backup = _interrupted_run(tmp_path)
    (backup / "training_metadata.json").write_text('{"epo')  # a kill inside its write
    history = _fit(_model(), 5, [SafeBackupAndRestore(backup)])
    assert len(history.history["loss"]) == 4


def test_a_damaged_first_backup_is_moved_aside_and_training_starts_over(tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n")  # killed in the first save
    safe = SafeBackupAndRestore(backup)
    history = _fit(_model(), 2, [safe])
    assert len(history.history["loss"]) == 2
    assert (tmp_path / "backup.damaged" / "latest.weights.h5").is_file()
    assert "moved aside" in safe.notes[0]
    with pytest.raises(OSError):  # what Keras' own callback does with it: fail every time
        (backup / "latest.weights.h5").parent.mkdir(exist_ok=True)
        (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n")
        _fit(_model(), 2, [keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True)])


# --------------------------------------------------------------------------- history
def test_history_drops_rows_the_backup_never_recorded(tmp_path):
    backup, history = tmp_path / "backup", tmp_path / "history.csv"
    with pytest.raises(KeyboardInterrupt):
        _fit(_model(), 5, [SafeBackupAndRestore(backup), ResumableCSVLogger(history), StopAt(3)])
    assert _epochs(history) == [0, 1, 2]
    # a kill after epoch 2's row but before its backup: the backup says "resume at 2"
    (backup / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    _fit(_model(), 5, [SafeBackupAndRestore(backup), ResumableCSVLogger(history)])
    assert _epochs(history) == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]


def test_history_of_an_older_logger_with_a_torn_line(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss,extra\n0,1.0,a\n1,0.9,b\n2,0.")
    logger = ResumableCSVLogger(history)
    logger.set_model(_model())
    logger.on_train_begin()
    logger.on_epoch_begin(2)
    logger.on_epoch_end(2, {"loss": np.float32(0.5), "val_loss": 0.25, "vec": np.arange(2)})
    with open(history, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert list(rows[0]) == ["epoch", "loss", "extra", "val_loss", "vec"]
    assert rows[2] == {"epoch": "2", "loss": "0.5", "extra": "", "val_loss": "0.25",
                       "vec": "[0, 1]"}
    assert rows[0]["val_loss"] == ""


def test_a_fresh_run_rewrites_the_history_from_epoch_0(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss\n0,1.0\n1,0.9\n2,0.8\n")
    _fit(_model(), 2, [ResumableCSVLogger(history)])
    assert _epochs(history) == [0, 1]


# --------------------------------------------------------------------------- recovery
def test_recover_moves_a_damaged_checkpoint_aside(tmp_path, saved):
    model_path = tmp_path / "model.keras"
    model_path.write_bytes(b"")
    text = recover_run_folder(tmp_path)
    assert not model_path.exists() and (tmp_path / "model.keras.damaged").read_bytes() == b""
    assert "unreadable (0 bytes" in text and "no backup" in text
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "training_metadata.json").write_text('{"epoch": 4, "batch": 0}')
    (backup / "latest.weights.h5").write_bytes(b"w")
    model_path.write_bytes(saved.read_bytes()[:100])
    text = recover_run_folder(tmp_path)
    assert (tmp_path / "model.keras.damaged.1").stat().st_size == 100  # the first one kept
    assert "training resumes from" in text and "(epoch 4)" in text
    model_path.write_bytes(saved.read_bytes())
    assert recover_run_folder(tmp_path) == "" and model_path.is_file()


def test_recover_removes_dead_writers_temporaries_and_notes_a_finished_run(tmp_path):
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    (tmp_path / f".model.tmp{process.pid}.keras").write_bytes(b"half")
    (tmp_path / "history.csv").write_text("epoch,loss\n0,1.0\n1,0.9\n")
    text = recover_run_folder(tmp_path)
    assert "Removed 1 temporary file" in text and "records 2 epoch(s)" in text
    assert sorted(os.listdir(tmp_path)) == ["history.csv"]

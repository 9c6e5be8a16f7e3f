"""Training state that survives a kill at any moment: the checkpoint, the backup, the
history. This module holds the checkpoint and the folder's recovery, and gathers the
rest (import any of them from here):

* :class:`AtomicCheckpoint` writes ``model.keras`` to a temporary file in the same
  folder, fsyncs it and renames it over the old one: a kill leaves the old file or the
  new one, never half of one (Keras' ``ModelCheckpoint`` writes in place: a kill
  mid-write leaves a 0-byte or truncated file); :func:`resume_threshold` is the best
  value it must beat when a run resumes.
* :func:`recover_run_folder` moves a damaged ``model.keras`` aside before training.
* ``callbacks/model_file.py``: :func:`save_model_atomic`, :func:`is_readable_model`.
* ``callbacks/backup.py``: :class:`SafeBackupAndRestore`, the backup a run resumes from.
* ``callbacks/history.py``: :class:`ResumableCSVLogger` keeps ``history.csv`` at exactly
  one row per finished epoch across kills and resumes.

Under a multi-worker strategy every worker runs these callbacks (they take part in the
same collectives), each into the folder ``distribution.worker_output_dir`` gives it: the
run folder on the chief, a temporary folder on the others.
"""
from __future__ import annotations

import math
import os
import pathlib

import keras

from keras_segen.callbacks.backup import SafeBackupAndRestore, h5_readable, metadata_epoch
from keras_segen.callbacks.history import ResumableCSVLogger, read_history
from keras_segen.callbacks.model_file import (
    DAMAGED_SUFFIX,
    is_readable_model,
    save_model_atomic,
)
from keras_segen.training.run_folder import clean_stale_temporaries

# The names these helpers had when they lived here (tests/training/test_fault_injection.py).
_h5_readable, _metadata_epoch, _read_history = h5_readable, metadata_epoch, read_history


# --------------------------------------------------------------------------- checkpoint
class AtomicCheckpoint(keras.callbacks.Callback):
    """Save the whole model (optimizer state included) to ``path`` atomically.

    ``monitor=None``: after every epoch. Otherwise only when ``logs[monitor]`` improves
    on the best seen (``mode`` ``"max"`` or ``"min"``); ``initial_value_threshold`` is
    the best of an earlier session of the same run (see :func:`resume_threshold`), so a
    resumed run does not overwrite a better checkpoint. Non-finite values never count
    as an improvement. ``saved_epochs`` lists the epochs saved in this session.
    """

    def __init__(self, path, monitor=None, mode="max", initial_value_threshold=None,
                 verbose=0):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.path = pathlib.Path(path)
        self.monitor = monitor
        self.mode = mode
        self.verbose = verbose
        self.best = initial_value_threshold
        self.saved_epochs = []
        self._warned = False

    def _improves(self, value) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor is not None:
            value = logs.get(self.monitor)
            if value is None:
                if not self._warned:
                    print(f"AtomicCheckpoint: {self.monitor!r} is not in the epoch logs "
                          f"({sorted(logs)}); nothing saved")
                    self._warned = True
                return
            value = float(value)
            if not math.isfinite(value) or not self._improves(value):
                return
            self.best = value
        save_model_atomic(self.model, self.path)
        self.saved_epochs.append(epoch)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: saved {self.path}")


def resume_threshold(checkpoint_path, history_path, monitor, mode="max"):
    """The best ``monitor`` value in ``history_path`` (a run's history.csv), the value
    :class:`AtomicCheckpoint` must beat when the run resumes; None when the checkpoint
    is not readable (then the first epoch of the resumed run writes one)."""
    if not is_readable_model(checkpoint_path):
        return None
    rows, _ = read_history(history_path)
    values = []
    for row in rows:
        try:
            value = float(row.get(monitor) or "nan")
        except ValueError:
            continue
        if math.isfinite(value):
            values.append(value)
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


# --------------------------------------------------------------------------- recovery
def recover_run_folder(folder, checkpoint="model.keras", backup="backup") -> str:
    """Before training into ``folder``: remove dead writers' temporary files, and move
    an unreadable ``model.keras`` (0-byte or truncated: a kill inside an in-place save)
    aside as ``model.keras.damaged`` so that the run resumes from ``backup/``. Returns
    what was done and found, one sentence each ("" when all is in order)."""
    folder = pathlib.Path(folder)
    notes = []
    removed = clean_stale_temporaries(folder)
    if removed:
        shown = ", ".join(p.name for p in removed[:3]) + (", ..." if len(removed) > 3 else "")
        notes.append(f"Removed {len(removed)} temporary file(s) of a killed run: {shown}.")
    model_path = folder / checkpoint
    backup_dir = folder / backup
    has_backup = backup_dir.is_dir() and any(backup_dir.iterdir())
    if model_path.exists() and not is_readable_model(model_path):
        aside = model_path.with_name(model_path.name + DAMAGED_SUFFIX)
        index = 1
        while aside.exists():  # never replace an earlier one: it may be someone's file
            aside = model_path.with_name(f"{model_path.name}{DAMAGED_SUFFIX}.{index}")
            index += 1
        size = model_path.stat().st_size
        os.replace(model_path, aside)
        epoch = metadata_epoch(backup_dir / "training_metadata.json")
        where = (f"training resumes from {backup_dir}"
                 + (f" (epoch {epoch})" if epoch is not None else "") if has_backup
                 else f"there is no backup in {backup_dir} either: training starts from "
                      f"epoch 0")
        notes.append(f"{model_path} was unreadable ({size} bytes, an interrupted write); "
                     f"moved aside to {aside.name}; {where}.")
    rows, _ = read_history(folder / "history.csv")
    if rows and not has_backup:
        notes.append(f"{folder / 'history.csv'} records {len(rows)} epoch(s) but there is no "
                     f"backup to resume from: this run starts at epoch 0 and its history "
                     f"replaces the old rows.")
    return " ".join(notes)


__all__ = [
    "AtomicCheckpoint",
    "ResumableCSVLogger",
    "SafeBackupAndRestore",
    "is_readable_model",
    "recover_run_folder",
    "resume_threshold",
    "save_model_atomic",
]

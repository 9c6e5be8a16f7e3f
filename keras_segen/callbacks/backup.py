"""The backup a killed run resumes from: Keras' ``BackupAndRestore`` that never loses
the run.

:class:`SafeBackupAndRestore` is Keras' ``BackupAndRestore`` with its own
``double_checkpoint`` (the previous state kept as ``*.bkp``), plus: a damaged backup
(weights that don't open, metadata that doesn't parse) falls back to the previous
state, or, when there is none, is moved aside and the run starts afresh instead of
failing on every restart; the backup of an epoch is written after every other
callback's ``on_epoch_end`` of that epoch (so the checkpoint and the history row of an
epoch always exist before the backup that skips it); a non-finite epoch is not backed
up; and the backup is deleted at the end only when the run reached its last epoch and
a readable checkpoint exists.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil

import keras
import numpy as np

from keras_segen.callbacks.model_file import DAMAGED_SUFFIX, is_readable_model
from keras_segen.training.io import copy_atomic


def h5_readable(path) -> bool:
    """Whether an ``.h5`` file opens and every dataset in it reads."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            datasets = []
            handle.visititems(lambda name, obj: datasets.append(obj)
                              if isinstance(obj, h5py.Dataset) else None)
            for dataset in datasets:
                dataset[()]
        return True
    except Exception:  # noqa: BLE001 - any failure means "can't be restored from"
        return False


def metadata_epoch(path):
    """The epoch a backup's ``training_metadata.json`` records, or None when it can't be
    read."""
    try:
        epoch = json.loads(pathlib.Path(path).read_text())["epoch"]
        return epoch if isinstance(epoch, int) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _finite_logs(logs) -> bool:
    for value in (logs or {}).values():
        try:
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
                return False
        except (TypeError, ValueError):  # strings and the like say nothing about NaN
            continue
    return True


class SafeBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' ``BackupAndRestore(backup_dir, double_checkpoint=True)`` that never loses
    the run (see the module docstring). ``checkpoint_path``: the run's ``model.keras``;
    the backup is deleted at the end of ``fit`` only when the run reached its last
    epoch and this file is readable (``delete_checkpoint=False`` keeps it always, e.g.
    so that a finished run can go on for more epochs). ``notes`` records what was
    repaired or skipped, one line each.

    Keras writes ``latest.weights.h5`` and ``training_metadata.json`` in place, after
    copying both to ``*.bkp``; a kill between the weights and the metadata leaves new
    weights with the previous epoch number: that one epoch is trained twice (no state
    is lost, and :class:`~keras_segen.callbacks.history.ResumableCSVLogger` keeps one
    row for it).
    """

    def __init__(self, backup_dir, checkpoint_path=None, *, save_freq="epoch",
                 delete_checkpoint=True):
        super().__init__(str(backup_dir), save_freq=save_freq, double_checkpoint=True,
                         delete_checkpoint=delete_checkpoint)
        self.checkpoint_path = None if checkpoint_path is None else pathlib.Path(checkpoint_path)
        self.notes = []
        self._pending = False
        self._good_epochs = 0  # epochs covered by the newest finite state

    # -- restore ------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._pending = False
        self.model._initial_epoch = None  # a model reused for another fit starts clean
        self.repair()
        super().on_train_begin(logs)
        self._current_epoch = self._good_epochs = self.model._initial_epoch or 0

    def repair(self) -> str:
        """Make the backup folder restorable: keep it if its latest state reads, else
        put the previous state (``*.bkp``) in its place, else move the folder aside
        (``backup_dir.damaged``) so that training starts from epoch 0. Returns the
        note ("" when nothing was wrong)."""
        folder = pathlib.Path(self.backup_dir)
        weights = pathlib.Path(self._weights_path)
        metadata = pathlib.Path(self._training_metadata_path)
        previous = pathlib.Path(self._prev_weights_path)
        previous_metadata = pathlib.Path(self._prev_training_metadata_path)
        if not folder.is_dir() or not any(folder.iterdir()):
            return ""
        if h5_readable(weights) and metadata_epoch(metadata) is not None:
            return ""
        if h5_readable(previous) and metadata_epoch(previous_metadata) is not None:
            copy_atomic(previous, weights)
            copy_atomic(previous_metadata, metadata)
            note = (f"{folder}: the latest backup was damaged (a kill while it was written); "
                    f"resuming from the previous one (epoch {metadata_epoch(metadata)})")
        else:
            aside = folder.with_name(folder.name + DAMAGED_SUFFIX)
            if aside.exists():
                shutil.rmtree(aside)
            os.replace(folder, aside)
            note = (f"{folder}: the backup was damaged and there is no earlier one; moved "
                    f"aside to {aside}, training starts from epoch 0")
        self.notes.append(note)
        return note

    # -- save -----------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if not _finite_logs(logs):
            self._pending = False
            self.notes.append(f"epoch {epoch}: non-finite logs, not backed up (the backup "
                              f"keeps the last finite state)")
            return
        self._good_epochs = epoch + 1
        if self.save_freq == "epoch":
            self._pending = True  # written once every callback has seen this epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._flush()

    def _flush(self):
        if self._pending:
            self._pending = False
            self._save_model()

    def on_train_end(self, logs=None):
        # Finished: the newest finite state covers every epoch (a budget or NaN stop
        # before the last epoch keeps the backup, so a re-run resumes instead of
        # starting over).
        epochs = (self.params or {}).get("epochs")
        finished = epochs is not None and self._good_epochs >= epochs
        readable = self.checkpoint_path is None or is_readable_model(self.checkpoint_path)
        if self.delete_checkpoint and finished and readable:
            self._pending = False
            if os.path.exists(self.backup_dir):
                shutil.rmtree(self.backup_dir)
            return
        self._flush()  # kept: the run is unfinished, or its checkpoint unreadable


__all__ = ["SafeBackupAndRestore", "h5_readable", "metadata_epoch"]

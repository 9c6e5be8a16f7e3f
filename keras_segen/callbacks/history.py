"""``history.csv`` at exactly one row per finished epoch, across kills and resumes."""
from __future__ import annotations

import csv
import io
import pathlib

import keras
import numpy as np

from keras_segen.training.io import write_text_atomic


def read_history(path):
    """``(rows, fieldnames)`` of a history file; a torn last line (a kill inside an
    older, in-place CSVLogger write) and rows without an int epoch are dropped."""
    path = pathlib.Path(path)
    if not path.is_file():
        return [], []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        rows = []
        for row in reader:
            if None in row or any(value is None for value in row.values()):
                continue  # too many or too few fields
            try:
                int(row.get("epoch", ""))
            except ValueError:
                continue
            rows.append(row)
    return rows, fieldnames


def _csv_value(value):
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return f"[{', '.join(map(str, value))}]"
    return value


class ResumableCSVLogger(keras.callbacks.Callback):
    """One row per epoch in ``path``, never lost nor repeated across kills and resumes.

    Invariant: whenever ``path`` exists it holds one row for each epoch
    ``0 .. k-1`` in order, where ``k`` is the number of epochs whose row has been
    written, and the rows of epochs ``< e`` are those of the training that the backup of
    epoch ``e`` continues. Each row is written by rewriting the whole (small) file to a
    temporary one and renaming it over (a kill leaves the old or the new file). When a
    session starts at epoch ``e`` (a fresh run at 0, a resumed one where its backup
    says), the rows of epochs ``>= e`` are dropped before its first row: they were
    written by a session killed before its backup recorded them, and their epochs run
    again. A row is never lost as long as the backup of epoch ``e`` is written after the
    row of epoch ``e`` (:class:`~keras_segen.callbacks.backup.SafeBackupAndRestore`
    saves after every callback's ``on_epoch_end``; with Keras' ``BackupAndRestore`` put
    this logger before it).

    Columns: the existing header, then new log keys (sorted); a missing value is "".
    """

    def __init__(self, path, separator=","):
        super().__init__()
        self.path = pathlib.Path(path)
        self.separator = separator
        self._rows, self._fields = [], []
        self._started = False

    def on_train_begin(self, logs=None):
        self._rows, self._fields = read_history(self.path)
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:  # the first epoch of this session says where it resumed
            self._rows = [row for row in self._rows if int(row["epoch"]) < epoch]
            self._started = True

    def on_epoch_end(self, epoch, logs=None):
        if not self._started:
            self.on_epoch_begin(epoch)
        logs = logs or {}
        fields = self._fields or ["epoch"]
        fields += [key for key in sorted(logs) if key not in fields]
        self._fields = fields
        row = {"epoch": epoch, **{key: _csv_value(value) for key, value in logs.items()}}
        self._rows = [r for r in self._rows if int(r["epoch"]) != epoch] + [row]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, delimiter=self.separator,
                                restval="", extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows)
        write_text_atomic(self.path, buffer.getvalue())


__all__ = ["ResumableCSVLogger", "read_history"]

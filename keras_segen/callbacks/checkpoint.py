"""Training state that survives a kill at any moment: the checkpoint, the backup, the
history.

* :class:`AtomicCheckpoint` writes ``model.keras`` to a temporary file in the same
  folder, fsyncs it and renames it over the old one: a kill leaves the old file or the
  new one, never half of one (Keras' ``ModelCheckpoint`` writes in place: a kill
  mid-write leaves a 0-byte or truncated file).
* :class:`SafeBackupAndRestore` is Keras' ``BackupAndRestore`` with its own
  ``double_checkpoint`` (the previous state kept as ``*.bkp``), plus: a damaged backup
  (weights that don't open, metadata that doesn't parse) falls back to the previous
  state, or, when there is none, is moved aside and the run starts afresh instead of
  failing on every restart; the backup of an epoch is written after every other
  callback's ``on_epoch_end`` of that epoch (so the checkpoint and the history row of an
  epoch always exist before the backup that skips it); a non-finite epoch is not backed
  up; and the backup is deleted at the end only when the run reached its last epoch and
  a readable checkpoint exists.
* :class:`ResumableCSVLogger` keeps ``history.csv`` at exactly one row per finished
  epoch across kills and resumes.
* :func:`recover_run_folder` moves a damaged ``model.keras`` aside before training.

Under a multi-worker strategy every worker runs these callbacks (they take part in the
same collectives), each into the folder ``distribution.worker_output_dir`` gives it: the
run folder on the chief, a temporary folder on the others.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import pathlib
import shutil
import zipfile

import keras
import numpy as np

DAMAGED_SUFFIX = ".damaged"


# --------------------------------------------------------------------------- files
def is_readable_model(path) -> bool:
    """Whether ``path`` is a complete ``.keras`` file: non-empty, a zip whose members
    pass their CRC check, holding ``config.json`` (valid JSON) and
    ``model.weights.h5``. Reads the file once; builds nothing."""
    path = pathlib.Path(path)
    try:
        if not path.is_file() or path.stat().st_size == 0:
            return False
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not {"config.json", "model.weights.h5"} <= names:
                return False
            if archive.testzip() is not None:
                return False
            json.loads(archive.read("config.json"))
        return True
    except Exception:  # noqa: BLE001 - any failure to read it means "not readable"
        return False


def _fsync_file(path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_model_atomic(model, path) -> None:
    """``model.save(path)`` through ``.<stem>.tmp<pid>.keras`` beside it: written,
    fsynced, renamed over ``path`` (a kill leaves the old file or the new one)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.keras")
    try:
        model.save(tmp)
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _write_text_atomic(path, text) -> None:
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy_atomic(source, target) -> None:
    target = pathlib.Path(target)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        shutil.copyfile(source, tmp)
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _finite_logs(logs) -> bool:
    for value in (logs or {}).values():
        try:
            if not np.all(np.isfinite(np.asarray(value, dtype=np.float64))):
                return False
        except (TypeError, ValueError):  # strings and the like say nothing about NaN
            continue
    return True


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
    rows, _ = _read_history(history_path)
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


# --------------------------------------------------------------------------- backup
def _h5_readable(path) -> bool:
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


def _metadata_epoch(path):
    try:
        epoch = json.loads(pathlib.Path(path).read_text())["epoch"]
        return epoch if isinstance(epoch, int) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    is lost, and :class:`ResumableCSVLogger` keeps one row for it).
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
        if _h5_readable(weights) and _metadata_epoch(metadata) is not None:
            return ""
        if _h5_readable(previous) and _metadata_epoch(previous_metadata) is not None:
            _copy_atomic(previous, weights)
            _copy_atomic(previous_metadata, metadata)
            note = (f"{folder}: the latest backup was damaged (a kill while it was written); "
                    f"resuming from the previous one (epoch {_metadata_epoch(metadata)})")
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


# --------------------------------------------------------------------------- history
def _read_history(path):
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
    row of epoch ``e`` (:class:`SafeBackupAndRestore` saves after every callback's
    ``on_epoch_end``; with Keras' ``BackupAndRestore`` put this logger before it).

    Columns: the existing header, then new log keys (sorted); a missing value is "".
    """

    def __init__(self, path, separator=","):
        super().__init__()
        self.path = pathlib.Path(path)
        self.separator = separator
        self._rows, self._fields = [], []
        self._started = False

    def on_train_begin(self, logs=None):
        self._rows, self._fields = _read_history(self.path)
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
        _write_text_atomic(self.path, buffer.getvalue())


# --------------------------------------------------------------------------- recovery
def recover_run_folder(folder, checkpoint="model.keras", backup="backup") -> str:
    """Before training into ``folder``: remove dead writers' temporary files, and move
    an unreadable ``model.keras`` (0-byte or truncated: a kill inside an in-place save)
    aside as ``model.keras.damaged`` so that the run resumes from ``backup/``. Returns
    what was done and found, one sentence each ("" when all is in order)."""
    # Imported here: keras_segen.training imports this module (no import cycle at load).
    from keras_segen.training.run_folder import clean_stale_temporaries

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
        epoch = _metadata_epoch(backup_dir / "training_metadata.json")
        where = (f"training resumes from {backup_dir}"
                 + (f" (epoch {epoch})" if epoch is not None else "") if has_backup
                 else f"there is no backup in {backup_dir} either: training starts from "
                      f"epoch 0")
        notes.append(f"{model_path} was unreadable ({size} bytes, an interrupted write); "
                     f"moved aside to {aside.name}; {where}.")
    rows, _ = _read_history(folder / "history.csv")
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

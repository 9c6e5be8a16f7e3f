"""The ``.keras`` file of a run: saved atomically, checked whole before it is trusted."""
from __future__ import annotations

import json
import os
import pathlib
import zipfile

from keras_segen.training.io import replacing

# What a damaged file or folder is renamed to (moved aside, never deleted).
DAMAGED_SUFFIX = ".damaged"


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


def save_model_atomic(model, path) -> None:
    """``model.save(path)`` through ``.<stem>.tmp<pid>.keras`` beside it: written,
    fsynced, renamed over ``path`` (a kill leaves the old file or the new one)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keras saves only to names ending in .keras.
    with replacing(path, temporary=f".{path.stem}.tmp{os.getpid()}.keras") as tmp:
        model.save(tmp)


__all__ = ["DAMAGED_SUFFIX", "is_readable_model", "save_model_atomic"]

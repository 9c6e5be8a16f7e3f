"""A disk cache for the costly parts of generative evaluation that don't depend on the
trained model: the feature-model embedding of real image sets, the untrained-model
baseline and the real-vs-real floor.

Entries live in ``$KERAS_SEGEN_HOME/eval_cache/`` (``keras_segen.paths.home_dir``), one
file per entry, named by the sha256 of everything that determines its value: the
feature model file's sha256 and settings, the sha256 of the real images themselves
(plus the dataset split's name, split, options and size, for people reading the
entry), and for the untrained baseline the architecture, its kwargs, the seeds and the
evaluation settings. Each file also carries its key and the sha256 of its content; an
entry that can't be read or doesn't match is recomputed and rewritten, never trusted.
Writes are atomic (``keras_segen.training.io``), so concurrent runs can share a cache.
``KERAS_SEGEN_EVAL_CACHE=off`` turns it off.
"""
import hashlib
import io
import json
import os
import pathlib
import warnings
import zipfile

import numpy as np

from keras_segen.paths import home_dir

ENV_VAR = "KERAS_SEGEN_EVAL_CACHE"
FORMAT = 1  # bump when what an entry holds changes meaning
_OFF = ("0", "off", "false", "no")
_file_hashes = {}  # (path, size, mtime_ns) -> sha256: a feature model is hashed once


def cache_dir() -> pathlib.Path:
    return home_dir() / "eval_cache"


def cache_enabled() -> bool:
    return os.environ.get(ENV_VAR, "on").strip().lower() not in _OFF


def file_sha256(path) -> str:
    path = pathlib.Path(path)
    stat = path.stat()
    marker = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if marker not in _file_hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _file_hashes[marker] = digest.hexdigest()
    return _file_hashes[marker]


def array_sha256(*arrays) -> str:
    """sha256 of arrays' dtypes, shapes and bytes (None counts as a value)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none;")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.data)
    return digest.hexdigest()


def entry_key(parts: dict) -> str:
    text = json.dumps({"format": FORMAT, **parts}, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


class EvaluationCache:
    """``results(what, parts, compute)`` and ``arrays(what, parts, compute)``: the
    cached value for ``parts`` (a JSON-able dict), else ``compute()``'s, stored.
    ``root=None``: ``cache_dir()``; ``enabled=False`` always computes."""

    def __init__(self, root=None, enabled=True):
        self.root = pathlib.Path(root) if root is not None else cache_dir()
        self.enabled = bool(enabled)
        self.log = []  # (what, "hit" or "miss"), in order: what a run reused

    def path(self, what, parts, suffix):
        return self.root / f"{what}-{entry_key({'what': what, **parts})}{suffix}"

    def results(self, what, parts, compute):
        """A JSON-able dict (a baseline's metrics)."""
        return self._cached(what, parts, compute, ".json", _read_json, _write_json)

    def arrays(self, what, parts, compute):
        """A tuple of numpy arrays (features, probabilities)."""
        return self._cached(what, parts, compute, ".npz", _read_npz, _write_npz)

    def _cached(self, what, parts, compute, suffix, read, write):
        if not self.enabled:
            return compute()
        path = self.path(what, parts, suffix)
        key = path.stem.split("-", 1)[1]
        try:
            value = read(path, key)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            value = None  # missing or damaged: recompute and rewrite
        self.log.append((what, "miss" if value is None else "hit"))
        if value is not None:
            return value
        value = compute()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path, key, value)
        except OSError as err:  # a read-only home must not fail an evaluation
            warnings.warn(f"evaluation cache {self.root} not written: {err}", stacklevel=3)
        return value


def _content_sha(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _write_json(path, key, value):
    from keras_segen.training.io import write_text_atomic

    value = json.loads(json.dumps(value, default=_plain))  # what a reader gets back
    write_text_atomic(path, json.dumps({"key": key, "sha256": _content_sha(value),
                                        "value": value}) + "\n")


def _read_json(path, key):
    entry = json.loads(pathlib.Path(path).read_text())
    if entry["key"] != key or entry["sha256"] != _content_sha(entry["value"]):
        return None
    return entry["value"]


def _write_npz(path, key, arrays):
    from keras_segen.training.io import replacing

    buffer = io.BytesIO()
    np.savez(buffer, key=np.array(key), **{f"a{i}": a for i, a in enumerate(arrays)})
    with replacing(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def _read_npz(path, key):
    # Zip members carry CRC32s, so a flipped byte fails the read (BadZipFile).
    with np.load(path, allow_pickle=False) as entry:
        if str(entry["key"]) != key:
            return None
        count = len([name for name in entry.files if name != "key"])
        return tuple(entry[f"a{i}"] for i in range(count))


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, pathlib.PurePath):
        return str(value)
    raise TypeError(f"cannot key the evaluation cache on {type(value).__name__}")


__all__ = ["EvaluationCache", "array_sha256", "cache_dir", "cache_enabled", "entry_key",
           "file_sha256"]

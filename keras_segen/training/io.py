"""Writing files so that an interrupted run never leaves a half-written one behind."""
import json
import os
import pathlib


def write_json_atomic(path, data) -> None:
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=_plain) + "\n")
    os.replace(tmp, path)


def _plain(value):
    # numpy scalars and arrays in metric dicts
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")

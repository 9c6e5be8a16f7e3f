"""What a report reads from a run folder: history.csv, metrics.json, run.json."""
import json
import math
import pathlib

import numpy as np

from keras_segen.callbacks.history import read_history


def history_columns(run_dir) -> dict:
    """``{column: float array}`` of ``run_dir/history.csv``, ``epoch`` counted from 1
    (as the overlay and sample files are); ``{}`` without a history. Cells that are
    not numbers become NaN."""
    if run_dir is None:
        return {}
    rows, fields = read_history(pathlib.Path(run_dir) / "history.csv")
    if not rows:
        return {}
    columns = {field: np.array([_number(row.get(field)) for row in rows]) for field in fields}
    columns["epoch"] = columns["epoch"] + 1
    return columns


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return math.nan
    return value


def read_json(path) -> dict:
    """A JSON object file, ``{}`` when it is absent; a broken one is refused naming it."""
    path = pathlib.Path(path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the report can't read it") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not an object")
    return data


def run_recipe(run_dir):
    """The recipe of a run folder: ``run.json`` (written when the run starts), else the
    one ``metrics.json`` records; None when neither says."""
    run_dir = pathlib.Path(run_dir)
    recipe = read_json(run_dir / "run.json").get("recipe")
    return recipe or read_json(run_dir / "metrics.json").get("recipe")

"""The learning curve a card carries: the training run's per-epoch losses, the metric
its checkpoint is chosen by and any FID curve, from the run's ``history.csv``, plus a
picture of the quality curve (``samples/learning_curve.png``), so a user sees whether
the entry was trained to its plateau or stopped on the way."""
import math
import pathlib

from keras_segen.kinds import kind_of_recipe
from keras_segen.reports.curves import loss_columns
from keras_segen.reports.run_files import history_columns

PICTURE = "samples/learning_curve.png"


def curve_columns(recipe, history) -> list:
    """Losses (and their ``val_`` twins), the checkpoint metric and its training twin,
    and FID-like columns, in that order, as far as ``history`` has them."""
    wanted = []
    for column in loss_columns(history):
        wanted += [column, f"val_{column}"]
    monitor = kind_of_recipe(recipe).checkpoint_monitor
    if monitor:
        wanted += [monitor[0].removeprefix("val_"), monitor[0]]
    wanted += [c for c in history if "fid" in c]
    return [c for c in dict.fromkeys(wanted) if c in history]


def quality_columns(recipe, history) -> list:
    """What the picture shows: FID when it was measured, else the checkpoint metric
    (with its training twin), else the losses."""
    fid = [c for c in history if "fid" in c]
    if fid:
        return fid
    monitor = kind_of_recipe(recipe).checkpoint_monitor
    if monitor and monitor[0] in history:
        return [c for c in (monitor[0].removeprefix("val_"), monitor[0]) if c in history]
    return loss_columns(history)


def learning_curve(run_dir, recipe, picture_folder=None):
    """``{"source", "epochs", "values": {column: [number or None per epoch]}}`` of the
    run in ``run_dir``; None without a history (an entry packaged from a model file).
    ``picture_folder``: also draw the quality curve there (``PICTURE``; the build's
    staging folder, published whole)."""
    history = history_columns(run_dir)
    if not history:
        return None
    if picture_folder is not None:
        _write_picture(history, recipe, picture_folder)
    return {
        "source": "history.csv of the training run (epochs from 1; null: not measured "
                  "that epoch)",
        "epochs": [int(e) for e in history["epoch"]],
        "values": {c: [_json_number(v) for v in history[c]]
                   for c in curve_columns(recipe, history)},
    }


def _write_picture(history, recipe, folder):
    from keras_segen.reports.curves import curve_image

    columns = [c for c in quality_columns(recipe, history) if not c.startswith("val_")
               or c.removeprefix("val_") not in history]
    image = curve_image(history, columns, title=f"{recipe['name']}: learning curve",
                        ylabel=", ".join(columns))
    if image is None:
        return None
    path = pathlib.Path(folder) / PICTURE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image.png)
    return path


def _json_number(value):
    value = float(value)
    return value if math.isfinite(value) else None

"""Training curves from history.csv: each group of columns is one figure, every column
drawn with its ``val_`` twin."""
import numpy as np

from keras_segen.reports.figures import curves_figure
from keras_segen.reports.html import Image, Section


def loss_columns(history) -> list:
    """The training columns that are losses (``loss``, ``g_loss``, ``kl_loss``...)."""
    return [c for c in history if "loss" in c and not c.startswith("val_")]


def other_columns(history, exclude=()) -> list:
    """The training columns that are not losses, the epoch or the learning rate."""
    skip = {"epoch", "learning_rate", "lr", *exclude}
    return [c for c in history
            if not c.startswith("val_") and "loss" not in c and c not in skip]


def curve_image(history, columns, *, title, ylabel, points=None, log_y=False, caption=None):
    """An ``Image`` of ``columns`` (and their ``val_`` twins) over the epochs, or None
    when none of them has a number."""
    series = {}
    for column in columns:
        for name in (column, f"val_{column}"):
            values = history.get(name)
            if values is not None and np.isfinite(values).any():
                keep = np.isfinite(values)
                series[name] = (history["epoch"][keep], values[keep])
    if not series and not points:
        return None
    return Image(curves_figure(series, title=title, ylabel=ylabel, points=points,
                               log_y=log_y),
                 caption=caption or f"{title}: solid train, dashed validation")


def curves_section(history, groups, *, note="") -> Section:
    """``groups``: ``(title, ylabel, columns)``; a section saying so when there is no
    history yet."""
    if not history:
        return Section("Training curves", note="no history.csv yet: the first epoch has "
                                                "not finished, or this is not a run folder")
    images = [curve_image(history, columns, title=title, ylabel=ylabel)
              for title, ylabel, columns in groups if columns]
    return Section("Training curves", [i for i in images if i is not None],
                   note=note or f"{len(history['epoch'])} epochs from history.csv")


def default_groups(history) -> list:
    """Losses in one figure, every other logged metric in its own."""
    return [("losses", "loss", loss_columns(history))] + [
        (column, column, [column]) for column in other_columns(history)]

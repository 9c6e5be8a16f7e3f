"""matplotlib figures of a run, each returned as PNG bytes.

Figures are ``matplotlib.figure.Figure`` objects drawn with the Agg canvas, never
through ``pyplot``: no global figure state, no display needed, safe inside a training
callback.
"""
import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from keras_segen.visualize import ERROR_COLOR, IGNORED_COLOR, overlay_panels

DPI = 100
PANEL_PX = 240  # an overlay panel is shown 240 px wide (>= 192 px readable)


def png_bytes(figure) -> bytes:
    """Render ``figure`` as PNG bytes."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # Light compression: the page is rewritten each epoch, its size matters less.
    figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 3})
    return buffer.getvalue()


def curves_figure(series, *, title, ylabel, points=None, log_y=False) -> bytes:
    """Lines over epochs: ``series`` maps a label to ``(epochs, values)``; labels starting
    with ``val_`` are dashed. ``points`` maps a label to ``(epoch, value)`` markers."""
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    axes = figure.add_subplot()
    for label, (epochs, values) in series.items():
        axes.plot(epochs, values, linestyle="--" if label.startswith("val_") else "-",
                  marker="." if len(epochs) < 30 else None, label=label)
    for label, (epoch, value) in (points or {}).items():
        axes.plot([epoch], [value], marker="*", markersize=14, linestyle="none", label=label)
        axes.annotate(f"{value:.4g}", (epoch, value), textcoords="offset points",
                      xytext=(8, 4))
    if log_y and all(np.all(np.asarray(v) > 0) for _, v in series.values()):
        axes.set_yscale("log")
    axes.set_title(title)
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.xaxis.get_major_locator().set_params(integer=True)
    if series or points:
        axes.legend(fontsize="small")
    return png_bytes(figure)


def bars_figure(labels, groups, *, title, ylabel, ylim=(0.0, 1.0)) -> bytes:
    """Grouped bars: one group per label, one bar per ``groups`` entry (name -> values;
    None values are drawn as missing and marked n/a)."""
    figure = Figure(figsize=(max(4.8, 1.1 * len(labels) * max(1, len(groups))), 3.6),
                    layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(groups))
    for index, (name, values) in enumerate(groups.items()):
        x = np.arange(len(labels)) + (index - (len(groups) - 1) / 2) * width
        shown = [np.nan if v is None else float(v) for v in values]
        bars = axes.bar(x, np.nan_to_num(shown), width, label=name)
        axes.bar_label(bars, labels=["n/a" if math.isnan(v) else f"{v:.3f}" for v in shown],
                       fontsize="small")
    axes.set_xticks(np.arange(len(labels)), labels)
    axes.set_ylim(*ylim)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    if len(groups) > 1:  # below the axes: bars reach any height
        axes.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12),
                    ncols=len(groups))
    return png_bytes(figure)


def confusion_figure(confusion, class_names, *, title) -> bytes:
    """Row-normalised confusion matrix (rows: truth, columns: prediction) as a heatmap,
    each cell annotated with its share of the row and the row's pixel count."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1, keepdims=True)
    shares = np.divide(confusion, totals, out=np.zeros_like(confusion), where=totals > 0)
    size = max(3.6, 0.9 * len(class_names) + 2.0)
    figure = Figure(figsize=(size + 1.0, size), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for row in range(len(class_names)):
        for column in range(len(class_names)):
            value = shares[row, column]
            axes.text(column, row, f"{value:.2f}", ha="center", va="center",
                      color="white" if value > 0.6 else "black", fontsize="small")
    axes.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right")
    axes.set_yticks(range(len(class_names)),
                    [f"{name} ({int(n):,} px)" for name, n in zip(class_names, totals[:, 0])])
    axes.set_xlabel("predicted")
    axes.set_ylabel("truth")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, shrink=0.8, label="share of the truth row")
    return png_bytes(figure)


def _fit_panel(panel, size):
    """``panel`` [h, w, 3] scaled to fit ``size`` x ``size`` with nearest neighbour
    (small tiles by an integer factor: every pixel stays sharp), centred on white."""
    height, width = panel.shape[:2]
    if max(height, width) <= size:
        factor = size // max(height, width)
        panel = np.repeat(np.repeat(panel, factor, axis=0), factor, axis=1)
    else:
        from PIL import Image as PILImage

        shrink = size / max(height, width)
        panel = np.asarray(PILImage.fromarray(panel).resize(
            (max(1, round(width * shrink)), max(1, round(height * shrink))),
            PILImage.NEAREST))
    out = np.full((size, size, 3), 255, np.uint8)
    top, left = (size - panel.shape[0]) // 2, (size - panel.shape[1]) // 2
    out[top:top + panel.shape[0], left:left + panel.shape[1]] = panel
    return out


def overlay_figure(tiles, palette, class_names, *, title=None, ignore_label=255) -> bytes:
    """One row per tile: image | truth | prediction | errors, with a colour legend of the
    class names. ``tiles``: ``(image, truth, predicted, caption)`` tuples. The panels
    are one composite image drawn at one screen pixel per image pixel (each
    ``PANEL_PX`` wide; small tiles enlarged with nearest neighbour): one axes instead
    of four per tile keeps an epoch's figure cheap."""
    gap, size = 8, PANEL_PX
    rows = []
    for image, truth, predicted, _ in tiles:
        panels = [_fit_panel(p, size) for p in overlay_panels(image, truth, predicted,
                                                              palette, ignore_label)]
        spacer = np.full((size, gap, 3), 255, np.uint8)
        rows.append(np.concatenate([panels[0], spacer, panels[1], spacer, panels[2],
                                    spacer, panels[3]], axis=1))
    blank = np.full((gap, rows[0].shape[1], 3), 255, np.uint8)
    composite = np.concatenate([part for row in rows for part in (row, blank)][:-1])
    left, top, bottom = 36, 56 if title else 30, 48  # pixels around the composite
    width_px, height_px = composite.shape[1] + left + 8, composite.shape[0] + top + bottom
    figure = Figure(figsize=(width_px / DPI, height_px / DPI))
    axes = figure.add_axes([left / width_px, bottom / height_px,
                            composite.shape[1] / width_px, composite.shape[0] / height_px])
    axes.imshow(composite, interpolation="nearest", aspect="auto")
    axes.set_axis_off()
    for column, name in enumerate(("image", "truth", "prediction", "errors")):
        axes.text(column * (size + gap) + size / 2, -6, name, ha="center", va="bottom",
                  fontsize="large")
    for row, (*_, caption) in enumerate(tiles):
        axes.text(-8, row * (size + gap) + size / 2, caption, rotation=90, ha="right",
                  va="center", fontsize="small")
    legend = [Patch(facecolor=np.asarray(color) / 255.0, edgecolor="black", label=name)
              for name, color in zip(class_names, palette)]
    legend += [Patch(facecolor=np.asarray(ERROR_COLOR) / 255.0, label="wrong pixel"),
               Patch(facecolor=np.asarray(IGNORED_COLOR) / 255.0, label="ignored (255)")]
    figure.legend(handles=legend, loc="lower center", ncols=min(len(legend), 6),
                  frameon=False)
    if title:
        figure.suptitle(title, y=1 - 8 / height_px, va="top")
    return png_bytes(figure)


def image_rows_figure(rows, *, column_titles, title=None) -> bytes:
    """A grid of images in [0, 1] (``[H, W]``, ``[H, W, 1]`` or ``[H, W, 3]``): ``rows``
    is a list of rows, each a list of ``(image, caption)``."""
    columns = max(len(row) for row in rows)
    figure = Figure(figsize=(columns * 1.9, len(rows) * 2.0 + 0.4), layout="constrained")
    grid = figure.subplots(len(rows), columns, squeeze=False)
    for r, row in enumerate(rows):
        for c in range(columns):
            axes = grid[r][c]
            axes.set_xticks([])
            axes.set_yticks([])
            if c >= len(row):
                axes.set_axis_off()
                continue
            image, caption = row[c]
            image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
            if image.ndim == 3 and image.shape[-1] == 1:
                image = image[..., 0]
            axes.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0.0, vmax=1.0,
                        interpolation="nearest")
            axes.set_xlabel(caption, fontsize="small")
            if r == 0 and c < len(column_titles):
                axes.set_title(column_titles[c], fontsize="medium")
    if title:
        figure.suptitle(title)
    return png_bytes(figure)

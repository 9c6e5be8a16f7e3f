"""The segmentation part of a run's page: loss / accuracy / IoU curves, per-class IoU
bars, a row-normalised confusion matrix and four-panel overlays of the best and worst
validation tiles, all from a bounded set of fixed validation tiles (so that an epoch's
report costs about one prediction of those tiles)."""
import pathlib

import numpy as np

from keras_segen.datasets.info import IGNORE_LABEL
from keras_segen.reports.base import RunReporter
from keras_segen.reports.curves import loss_columns
from keras_segen.reports.figures import bars_figure, confusion_figure, overlay_figure
from keras_segen.reports.html import Image, Section

# Bound on the validation pixels the report predicts each epoch (96 tiles of 64 x 64).
MAX_PIXELS = 96 * 64 * 64
MAX_TILES = 96
SHOWN_TILES = 3  # best and worst each


def report_tiles(dataset, max_pixels=MAX_PIXELS, max_tiles=MAX_TILES):
    """Fixed tiles ``(images, masks)`` spread evenly over the first ones of an unbatched
    ``(image, mask)`` dataset: at most ``max_tiles`` and about ``max_pixels`` pixels."""
    pairs = []
    for image, mask in dataset.as_numpy_iterator():
        pairs.append((image, mask))
        limit = max(4, min(max_tiles, max_pixels // max(1, mask.size)))
        if len(pairs) >= 4 * limit:
            break
    if not pairs:
        raise ValueError("the validation split holds no tiles to report on")
    limit = max(4, min(max_tiles, max_pixels // max(1, pairs[0][1].size)))
    chosen = np.linspace(0, len(pairs) - 1, min(limit, len(pairs))).round().astype(int)
    return [pairs[i][0] for i in chosen], [pairs[i][1] for i in chosen]


def predict_tiles(model, images) -> list:
    """Class masks of the tiles; tiles of one size go through the model together."""
    shapes = {image.shape for image in images}
    if len(shapes) == 1:
        logits = np.asarray(model.predict_on_batch(np.stack(images).astype(np.float32)))
        return list(np.argmax(logits, axis=-1))
    return [np.argmax(np.asarray(model.predict_on_batch(image[None].astype(np.float32)))[0],
                      axis=-1) for image in images]


def confusion_of(masks, predicted, num_classes, ignore_label=IGNORE_LABEL):
    """Confusion matrix [truth, prediction] over the pixels the truth does not ignore."""
    confusion = np.zeros((num_classes, num_classes), np.int64)
    for truth, pred in zip(masks, predicted):
        keep = (truth != ignore_label) & (truth < num_classes)
        flat = truth[keep].astype(np.int64) * num_classes + pred[keep].astype(np.int64)
        confusion += np.bincount(flat, minlength=num_classes ** 2).reshape(
            num_classes, num_classes)
    return confusion


def iou_from_confusion(confusion):
    """Per-class IoU (None where a class is neither in the truth nor predicted)."""
    hits = np.diag(confusion).astype(np.float64)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - hits
    return [None if u == 0 else float(h / u) for h, u in zip(hits, union)]


def tile_iou(truth, pred, num_classes, ignore_label=IGNORE_LABEL) -> float:
    """Mean IoU of one tile over the classes in its truth or prediction."""
    values = [v for v in iou_from_confusion(confusion_of([truth], [pred], num_classes,
                                                         ignore_label)) if v is not None]
    return float(np.mean(values)) if values else 1.0


class SegmentationReporter(RunReporter):
    """Report sections of a segmentation run, on fixed tiles of ``split``."""

    def __init__(self, recipe, class_names, palette, images, masks, *, split="val"):
        super().__init__(recipe)
        self.class_names = list(class_names)
        self.palette = np.asarray(palette, dtype=np.uint8)
        if len(self.palette) < len(self.class_names):
            raise ValueError(f"the palette has {len(self.palette)} colours for "
                             f"{len(self.class_names)} classes")
        self.images, self.masks, self.split = images, masks, split

    def curve_groups(self, history):
        ious = [c for c in history if c.startswith("iou_")]
        scores = [c for c in ("pixel_accuracy", "mean_iou") if c in history]
        return [("loss", "loss", loss_columns(history)),
                ("pixel accuracy and mean IoU", "score", scores),
                ("IoU per class", "IoU", ious)]

    def picture_sections(self, model, run_dir, *, history, epoch):
        predicted = predict_tiles(model, self.images)
        num_classes = len(self.class_names)
        confusion = confusion_of(self.masks, predicted, num_classes)
        when = f"epoch {epoch}" if epoch else "model.keras"
        where = f"{len(self.images)} fixed {self.split} tiles, {when}"
        bars = {f"{self.split} tiles ({when})": iou_from_confusion(confusion)}
        test = self._held_out_iou(run_dir)
        if test:
            bars[test[0]] = test[1]
        scores = [tile_iou(t, p, num_classes) for t, p in zip(self.masks, predicted)]
        order = self._ranked(scores)
        best, worst = order[::-1][:SHOWN_TILES], order[:SHOWN_TILES]
        return [
            Section("Classes", [
                Image(bars_figure(self.class_names, bars, title="IoU per class",
                                  ylabel="IoU"), caption=f"IoU per class on {where}"),
                Image(confusion_figure(confusion, self.class_names,
                                       title=f"confusion ({where})"),
                      caption="rows: truth, normalised to 1; columns: prediction"),
            ]),
            Section("Best and worst tiles", [
                Image(self._overlays(best, predicted, scores, "best"),
                      caption=f"the {len(best)} {self.split} tiles of highest IoU"),
                Image(self._overlays(worst, predicted, scores, "worst"),
                      caption=f"the {len(worst)} {self.split} tiles of lowest IoU"),
            ], note=f"ranked by the mean IoU of each tile over the classes in its truth "
                    f"or prediction, among {where}"),
        ]

    def _ranked(self, scores):
        # Tiles holding two or more classes show more than all-ocean ones: rank those
        # when there are enough of them.
        mixed = [i for i, m in enumerate(self.masks)
                 if len(np.setdiff1d(np.unique(m), [IGNORE_LABEL])) >= 2]
        pool = mixed if len(mixed) >= 2 * SHOWN_TILES else list(range(len(scores)))
        return sorted(pool, key=lambda i: (scores[i], i))

    def _overlays(self, indexes, predicted, scores, which):
        tiles = [(self.images[i], self.masks[i], predicted[i],
                  f"tile {i}, IoU {scores[i]:.3f}") for i in indexes]
        return overlay_figure(tiles, self.palette, self.class_names,
                              title=f"{which} {self.split} tiles")

    def _held_out_iou(self, run_dir):
        from keras_segen.kinds.base import metrics_key, split_names
        from keras_segen.reports.run_files import read_json

        if run_dir is None or "dataset" not in self.recipe:
            return None
        key = metrics_key(self.recipe, split_names(self.recipe)["test"])
        results = read_json(pathlib.Path(run_dir) / "metrics.json").get(key, {})
        per_class = results.get("per_class_iou")
        if not isinstance(per_class, dict):
            return None
        return f"{key} (model.keras)", [per_class.get(name) for name in self.class_names]

"""The generation part of a run's page: loss curves, the FID curve, the pictures the
run's callbacks wrote per epoch (sample grids at a fixed seed, reconstructions, pix2pix
triplets: the files themselves, nothing is sampled twice) and the nearest training
images of a few samples, which shows memorization."""
import pathlib
import re

import numpy as np

from keras_segen.reports.base import RunReporter
from keras_segen.reports.curves import curve_image, loss_columns, other_columns
from keras_segen.reports.figures import image_rows_figure
from keras_segen.reports.html import Image, Section
from keras_segen.reports.run_files import read_json

EPOCH_FILE = re.compile(r"^epoch_(\d+)\.png$")
SHOWN_EPOCHS = 6  # per picture folder: the first, the last and evenly spaced between
NEIGHBOUR_SAMPLES = 6
NEIGHBOURS = 3
MAX_TRAIN_IMAGES = 2000  # the training images searched for neighbours
MIN_WIDTH = 400  # px: small sample grids are shown enlarged (pixelated)


def epoch_pictures(run_dir) -> dict:
    """``{folder name: [(epoch, path), ...]}`` of every ``epoch_NNN.png`` a run's picture
    callbacks wrote (``samples/``, ``reconstructions/``, ``triplets/``...)."""
    found = {}
    if run_dir is None or not pathlib.Path(run_dir).is_dir():
        return found
    for folder in sorted(p for p in pathlib.Path(run_dir).iterdir() if p.is_dir()):
        files = sorted((int(m.group(1)), path) for path in folder.iterdir()
                       if (m := EPOCH_FILE.match(path.name)))
        if files:
            found[folder.name] = files
    return found


def spread(items, count):
    """``count`` items evenly spread over ``items``, the first and the last included."""
    if len(items) <= count:
        return list(items)
    return [items[i] for i in sorted(set(np.linspace(0, len(items) - 1, count).round()
                                         .astype(int)))]


def training_images(dataset, data_range, limit=MAX_TRAIN_IMAGES):
    """The first ``limit`` images of an unbatched training dataset (elements are images
    or ``(image, label)``), as float32 in [0, 1]."""
    low, high = data_range
    images = []
    for element in dataset.take(limit).as_numpy_iterator():
        image = element[0] if isinstance(element, tuple) else element
        images.append((np.asarray(image, np.float32) - low) / (high - low))
    return np.stack(images) if images else None


def nearest_neighbours(samples, train, count=NEIGHBOURS):
    """``(indexes [S, count], distances [S, count])``: the training images nearest each
    sample in pixel space (L2 over all pixels)."""
    flat_train = train.reshape(len(train), -1).astype(np.float64)
    flat = samples.reshape(len(samples), -1).astype(np.float64)
    squared = ((flat ** 2).sum(1)[:, None] + (flat_train ** 2).sum(1)[None]
               - 2.0 * flat @ flat_train.T)
    order = np.argsort(squared, axis=1)[:, :count]
    return order, np.sqrt(np.maximum(np.take_along_axis(squared, order, axis=1), 0.0))


class GenerationReporter(RunReporter):
    """Report sections of a generative run.

    ``train_images``: a subset of the training images in [0, 1] searched for the nearest
    neighbours of samples (None: no neighbour section, e.g. image-to-image models that
    translate instead of sampling a prior). ``seed``: the samples' seed.
    """

    def __init__(self, recipe, train_images=None, *, seed=0):
        super().__init__(recipe)
        self.train_images = train_images
        self.seed = int(seed)

    def curve_groups(self, history):
        rest = [c for c in other_columns(history) if "fid" not in c]
        return [("losses", "loss", loss_columns(history))] + [(c, c, [c]) for c in rest]

    def picture_sections(self, model, run_dir, *, history, epoch):
        found = [self._fid_section(run_dir, history)]
        for folder, files in epoch_pictures(run_dir).items():
            shown = spread(files, SHOWN_EPOCHS)
            found.append(Section(
                f"{folder}/ per epoch",
                [Image(path.read_bytes(), caption=f"epoch {number}", min_width=MIN_WIDTH)
                 for number, path in shown],
                note=f"{len(shown)} of the {len(files)} pictures in {folder}/ (written by "
                     "the run's callbacks each epoch, at a fixed seed)"))
        if self.train_images is not None and model is not None:
            found.append(self._neighbour_section(model))
        return found

    def _fid_section(self, run_dir, history):
        columns = [c for c in history if "fid" in c and not c.startswith("val_")]
        points, where = {}, ""
        metrics = read_json(pathlib.Path(run_dir) / "metrics.json") if run_dir else {}
        for key, results in metrics.items():
            if "/" not in key or not isinstance(results, dict):
                continue
            for name, value in results.items():
                if "fid" in name and isinstance(value, (int, float)):
                    last = history["epoch"][-1] if history else 1
                    points[f"{name}, final ({key}, metrics.json)"] = (float(last), float(value))
                    where = key
        image = curve_image(history, columns, title="FID", ylabel="FID (lower is better)",
                            points=points, caption="FID of generated vs real images"
                            ) if (columns or points) else None
        if image is None:
            return Section("FID", note="no FID yet: it is measured on the test split when "
                                       "the run ends (metrics.json)")
        note = ("per-epoch FID from history.csv" if columns else
                f"no per-epoch FID in history.csv: the stars are the final FID of "
                f"model.keras on {where} (metrics.json)")
        return Section("FID", [image], note=note)

    def _neighbour_section(self, model):
        samples = np.asarray(model.generate(NEIGHBOUR_SAMPLES, seed=self.seed), np.float32)
        train = self.train_images
        if samples.shape[1:] != train.shape[1:]:
            return Section("Nearest training images",
                           note=f"samples {samples.shape[1:]} and training images "
                                f"{train.shape[1:]} differ in shape: not compared")
        indexes, distances = nearest_neighbours(samples, train)
        rows = [[(sample, "sample")] + [(train[i], f"#{i}  L2 {d:.2f}")
                                        for i, d in zip(row, dist)]
                for sample, row, dist in zip(samples, indexes, distances)]
        titles = ["sample"] + [f"nearest {k + 1}" for k in range(NEIGHBOURS)]
        return Section("Nearest training images", [Image(
            image_rows_figure(rows, column_titles=titles),
            caption=f"{len(samples)} samples (seed {self.seed}) and their nearest images")],
            note=f"pixel-space L2 distance over the first {len(train)} training images "
                 "(values in [0, 1]); a sample that copies a training image has a distance "
                 "near 0 (memorization)")

"""Pictures of a generative model's progress, written as PNGs at the end of epochs.

* ``SampleGrid``: ``model.generate`` with one fixed seed (and fixed labels), so that
  grids of successive epochs show the same latent points as training moves them.
* ``VAEReconstructions``: fixed images next to their reconstructions, and a latent
  traversal (each row moves one latent dimension from -range to +range around the
  first image's code).
* ``Pix2PixTriplets``: fixed tiles as input | target | output rows.

Each writes ``<out_dir>/epoch_<NNN>.png`` (``traversal_epoch_<NNN>.png`` too for the VAE
callback) every ``every`` epochs, and keeps the last file written in ``last_path``.
"""
import pathlib

import keras
import numpy as np

from keras_segen.callbacks.nan_guard import logs_diverged
from keras_segen.generation.base import positive_int
from keras_segen.pictures import generation_labels, image_grid, save_png, translation_rows


class _EpochPictures(keras.callbacks.Callback):
    """Shared plumbing: where and how often pictures are written."""

    def __init__(self, out_dir, every=1, scale=2):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.out_dir = pathlib.Path(out_dir)
        self.every = int(every)
        self.scale = positive_int(scale, "scale")  # refused now, not after an epoch
        self.last_path = None

    def on_epoch_end(self, epoch, logs=None):
        # An epoch whose losses went NaN/inf has nothing to draw (its latents would be
        # refused as non-finite); StopOnNaN reports it and the last good checkpoint stays.
        if (epoch + 1) % self.every == 0 and not logs_diverged(logs):
            self.write(epoch + 1)

    def write(self, epoch):
        raise NotImplementedError

    def _save(self, grid, stem, epoch):
        self.last_path = save_png(grid, self.out_dir / f"{stem}{epoch:03d}.png", self.scale)
        return self.last_path


class SampleGrid(_EpochPictures):
    """Each epoch, a grid of ``num_images`` samples drawn with ``seed``.

    Conditional models get one row per class unless ``label`` names one class (see
    ``keras_segen.pictures.generation_labels``). The model needs ``generate(n, seed=,
    labels=)``.
    """

    def __init__(self, out_dir, num_images=64, seed=0, label=None, every=1, scale=2):
        super().__init__(out_dir, every, scale)
        self.num_images = int(num_images)
        self.seed = int(seed)
        self.label = label

    def render(self) -> np.ndarray:
        label = self.label
        if label is None and getattr(self.model, "num_classes", 0):
            label = "all"
        labels, columns = generation_labels(self.model, self.num_images, label)
        images = self.model.generate(self.num_images, seed=self.seed, labels=labels)
        return image_grid(images, columns)

    def write(self, epoch):
        return self._save(self.render(), "epoch_", epoch)


class VAEReconstructions(_EpochPictures):
    """Each epoch, fixed images above their reconstructions, plus a latent traversal.

    Args:
        images: ``[N, H, W, C]`` in [0, 1] (shown in rows of ``columns``: originals,
            then their reconstructions).
        labels: the images' labels (needed by a conditional VAE).
        traversal_dims: how many latent dimensions the traversal moves (one row each).
        traversal_steps: images per traversal row.
        traversal_range: each dimension goes from ``-range`` to ``+range`` (the prior's
            standard deviations) around the first image's posterior mean.
    """

    def __init__(self, images, out_dir, labels=None, columns=8, traversal_dims=8,
                 traversal_steps=9, traversal_range=3.0, every=1, scale=2):
        super().__init__(out_dir, every, scale)
        self.images = np.asarray(images, dtype=np.float32)
        if self.images.ndim != 4 or len(self.images) == 0:
            raise ValueError(
                f"VAEReconstructions needs images [N, H, W, C], got shape {self.images.shape}"
            )
        self.labels = None if labels is None else np.asarray(labels).reshape(-1)
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.columns = positive_int(columns, "columns")
        self.traversal_dims = int(traversal_dims)
        self.traversal_steps = int(traversal_steps)
        self.traversal_range = float(traversal_range)
        self.traversal_path = None

    def render_reconstructions(self) -> np.ndarray:
        reconstructions = np.asarray(self.model.reconstruct(self.images, self.labels))
        rows = []
        for start in range(0, len(self.images), self.columns):
            rows += [self.images[start:start + self.columns],
                     reconstructions[start:start + self.columns]]
        padded = []
        for row in rows:  # a short last row is padded with white cells
            fill = np.ones((self.columns - len(row),) + row.shape[1:], np.float32)
            padded.append(np.concatenate([row, fill]) if len(fill) else row)
        return image_grid(np.concatenate(padded), self.columns)

    def render_traversal(self) -> np.ndarray:
        first_label = None if self.labels is None else self.labels[:1]
        z_mean, _ = self.model.encode(self.images[:1], first_label)
        center = np.asarray(z_mean, dtype=np.float32)[0]
        dims = min(self.traversal_dims, center.shape[0])
        offsets = np.linspace(-self.traversal_range, self.traversal_range, self.traversal_steps)
        codes = np.repeat(center[None], dims * len(offsets), axis=0)
        for dim in range(dims):
            codes[dim * len(offsets):(dim + 1) * len(offsets), dim] = center[dim] + offsets
        labels = None if first_label is None else np.repeat(first_label, len(codes))
        decoded = np.asarray(self.model.decode(codes, labels))
        return image_grid(decoded, len(offsets))

    def write(self, epoch):
        self.traversal_path = self._save(self.render_traversal(), "traversal_epoch_", epoch)
        return self._save(self.render_reconstructions(), "epoch_", epoch)


class Pix2PixTriplets(_EpochPictures):
    """Each epoch, one row per fixed tile: input (mask coloured with ``palette``, or a
    [-1, 1] image), target and the model's output. The model needs ``translate``."""

    def __init__(self, conditions, targets, out_dir, palette=None, every=1, scale=2):
        super().__init__(out_dir, every, scale)
        self.conditions = np.asarray(conditions, dtype=np.float32)
        self.targets = np.asarray(targets, dtype=np.float32)
        if self.conditions.ndim != 4 or self.targets.ndim != 4 \
                or len(self.conditions) != len(self.targets) or len(self.targets) == 0:
            raise ValueError(
                "Pix2PixTriplets needs conditions and targets [N, H, W, C] of one length, "
                f"got {self.conditions.shape} and {self.targets.shape}"
            )
        self.palette = None if palette is None else np.asarray(palette, dtype=np.uint8)

    def render(self) -> np.ndarray:
        return image_grid(translation_rows(self.model, self.conditions, self.targets,
                                           self.palette), columns=3)

    def write(self, epoch):
        return self._save(self.render(), "epoch_", epoch)


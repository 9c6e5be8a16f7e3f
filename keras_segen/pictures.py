"""Pictures of what a generative model makes: image grids and PNG files.

* ``image_grid`` / ``save_png``: float images in [0, 1] -> one uint8 grid -> a PNG.
* ``generation_labels``: the labels to ask a (conditional) model for, checked.
* ``generate_grid``: ``model.generate`` for N images of one seed -> a grid PNG; the same
  seed gives the same file (``keras-segen generate``).
* ``condition_to_rgb`` / ``translation_rows`` / ``translation_grid``: pix2pix inputs,
  targets and outputs side by side (one row per tile); ``recipe_translation_grid`` does
  it for tiles of the dataset a pix2pix recipe trained on, picked by seed.
"""
import errno
import math
import pathlib

import numpy as np
from PIL import Image

from keras_segen.generation.base import positive_int
from keras_segen.training.io import replacing
from keras_segen.visualize import colorize

ALL_CLASSES = "all"


def image_grid(images, columns=None, padding=2, pad_value=1.0) -> np.ndarray:
    """Float images ``[N, H, W, C]`` (C = 1 or 3) in [0, 1] -> a uint8 grid.

    ``columns`` defaults to ``ceil(sqrt(N))``; cells are separated by ``padding``
    pixels of ``pad_value``. Grey images give an ``[H', W']`` array, RGB ``[H', W', 3]``.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(
            f"image_grid expects images [N, H, W, C] with N >= 1 and C = 1 or 3, got "
            f"shape {images.shape}"
        )
    count, height, width, channels = images.shape
    columns = (math.ceil(math.sqrt(count)) if columns is None
               else positive_int(columns, "columns"))
    rows = math.ceil(count / columns)
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        pad_value,
        dtype=np.float32,
    )
    for index, image in enumerate(np.clip(np.nan_to_num(images), 0.0, 1.0)):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    grid = np.round(grid * 255.0).astype(np.uint8)
    return grid[..., 0] if channels == 1 else grid


def save_png(array, path, scale=1) -> pathlib.Path:
    """Write a uint8 ``[H, W]`` or ``[H, W, 3]`` array as a PNG, enlarged ``scale`` times
    (nearest neighbour, so pixels stay visible). The file appears whole or not at all."""
    path = png_path(path)
    scale = positive_int(scale, "scale")
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    with replacing(path) as tmp:
        picture.save(tmp, format="PNG")
    return path


def png_path(path) -> pathlib.Path:
    """``path`` if a PNG can be written there; checked before any work is done."""
    path = pathlib.Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"output file must end in .png, got {path}")
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory, not a PNG file to write",
                                str(path))
    return path


def generation_labels(model, num_images, label=None):
    """``(labels or None, columns)`` for ``num_images`` images of ``model``.

    Unconditional models take no label. Conditional models (``num_classes`` > 0) need one:
    an int in ``[0, num_classes)`` for every image, or ``"all"`` for one grid row per
    class (``ceil(num_images / num_classes)`` images each, classes in order).
    """
    num_classes = int(getattr(model, "num_classes", 0) or 0)
    name = getattr(model, "name", type(model).__name__)
    if isinstance(num_images, bool) or not isinstance(num_images, (int, np.integer)) \
            or num_images < 1:
        raise ValueError(f"the number of images must be a positive int, got {num_images!r}")
    if num_classes == 0:
        if label is not None:
            raise ValueError(f"{name} is unconditional: it takes no label (got {label!r})")
        return None, None
    if label is None:
        raise ValueError(
            f"{name} is class-conditional ({num_classes} classes): pass a label in "
            f"[0, {num_classes - 1}] (--label K), or 'all' for one row per class"
        )
    if isinstance(label, str) and label.strip().lower() == ALL_CLASSES:
        per_class = math.ceil(num_images / num_classes)
        labels = np.repeat(np.arange(num_classes, dtype=np.int32), per_class)[:num_images]
        return labels, per_class
    try:
        value = int(label)
    except (TypeError, ValueError):
        raise ValueError(
            f"label must be an int in [0, {num_classes - 1}] or 'all', got {label!r}"
        ) from None
    if isinstance(label, float) and value != label:
        raise ValueError(f"label must be an int, got {label!r}")
    if not 0 <= value < num_classes:
        raise ValueError(
            f"label {value} is out of range for {name}: it has {num_classes} classes, "
            f"so labels run from 0 to {num_classes - 1}"
        )
    return np.full(num_images, value, dtype=np.int32), None


def generate_grid(model, num_images, *, seed, path, label=None, columns=None, scale=2,
                  batch_size=256) -> pathlib.Path:
    """Generate ``num_images`` images with ``seed`` (and ``label``, see
    ``generation_labels``) and write them as one grid PNG at ``path``."""
    from keras_segen.kinds import kind_of

    kind = kind_of(model)
    if not kind.samples_from_prior:
        if "generate" in kind.verbs:  # e.g. pix2pix
            raise ValueError(
                f"{model.name!r} translates condition maps instead of sampling from a "
                "prior: draw its input | target | output tiles with translation_grid")
        raise ValueError(f"{model.name!r} is a model of kind {kind.name!r}: it has no "
                         "generate()")
    labels, label_columns = generation_labels(model, num_images, label)
    # Checked before generating: a mistake costs nothing.
    path, scale = png_path(path), positive_int(scale, "scale")
    columns = label_columns if columns is None else positive_int(columns, "columns")
    images = model.generate(num_images, seed=int(seed), labels=labels, batch_size=batch_size)
    return save_png(image_grid(images, columns), path, scale)


def condition_to_rgb(conditions, palette=None) -> np.ndarray:
    """pix2pix conditions -> float RGB images in [0, 1] for display.

    One-hot class maps (as many channels as ``palette`` has colours) are coloured with
    the palette; anything else is taken to be an image in [-1, 1].
    """
    conditions = np.asarray(conditions, dtype=np.float32)
    if conditions.ndim != 4:
        raise ValueError(f"conditions must be [N, H, W, C], got shape {conditions.shape}")
    if palette is not None and conditions.shape[-1] == len(palette):
        classes = np.argmax(conditions, axis=-1)
        return colorize(classes, palette).astype(np.float32) / 255.0
    if conditions.shape[-1] == 1:
        conditions = np.repeat(conditions, 3, axis=-1)
    if conditions.shape[-1] != 3:
        raise ValueError(
            f"conditions with {conditions.shape[-1]} channels need a palette of that many "
            "colours to be drawn"
        )
    return np.clip((conditions + 1.0) / 2.0, 0.0, 1.0)


def translation_rows(model, conditions, targets, palette=None):
    """``[3N, H, W, 3]`` images: input, target and output for each tile (for a grid
    with 3 columns). ``targets`` are in [-1, 1]; ``model.translate`` returns [0, 1]."""
    conditions = np.asarray(conditions, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.float32)
    if len(conditions) != len(targets):
        raise ValueError(f"{len(conditions)} conditions but {len(targets)} targets")
    outputs = np.asarray(model.translate(conditions), dtype=np.float32)
    triplets = np.stack(
        [condition_to_rgb(conditions, palette), np.clip((targets + 1.0) / 2.0, 0, 1), outputs],
        axis=1,
    )
    return triplets.reshape((-1,) + triplets.shape[2:])


def translation_grid(model, conditions, targets, *, path, palette=None, scale=2):
    """Write an input | target | output grid PNG for pix2pix tiles."""
    rows = translation_rows(model, conditions, targets, palette)
    return save_png(image_grid(rows, columns=3), path, scale)


def recipe_translation_grid(model, recipe, num_tiles, *, seed, path, split="test", scale=2):
    """pix2pix: ``num_tiles`` tiles of the ``split`` of the dataset ``recipe`` trained on,
    chosen by ``seed``, drawn as an input | target | output grid at ``path``."""
    from keras_segen.datasets.recipe_data import load_recipe_split

    dataset, info = load_recipe_split(recipe, split)
    conditions, targets = pick_tiles(dataset, num_tiles, seed)
    return translation_grid(model, conditions, targets, path=path,
                            palette=info.palette or None, scale=scale)


def pick_tiles(dataset, num_tiles, seed):
    """``num_tiles`` (condition, target) pairs of an unbatched dataset, chosen by ``seed``
    (the same seed picks the same tiles). Where enough one-hot conditions hold two or
    more classes (a coast, a lake shore), only those are picked: they show more."""
    pairs = list(dataset.as_numpy_iterator())
    if not pairs:
        raise ValueError("the dataset holds no tiles")
    mixed = [pair for pair in pairs if _classes_present(pair[0]) >= 2]
    if len(mixed) >= num_tiles:
        pairs = mixed
    rng = np.random.default_rng(int(seed))
    chosen = rng.choice(len(pairs), size=min(int(num_tiles), len(pairs)), replace=False)
    conditions, targets = zip(*(pairs[i] for i in np.sort(chosen)))
    return np.stack(conditions), np.stack(targets)


def _classes_present(condition):
    """Classes present in a one-hot condition map [H, W, K] (1 for other conditions)."""
    condition = np.asarray(condition)
    if condition.min() < 0:  # an image in [-1, 1], not a one-hot map
        return 1
    return int(np.sum(condition.reshape(-1, condition.shape[-1]).max(axis=0) > 0.5))

"""Your own images for the generative models: a folder of pictures, optionally in class
subfolders.

Layout (``root``)::

    root/a.jpg b.png ...                 no labels: every image gets label 0
    root/<class>/a.jpg ...               class subfolders: labels 0..K-1 by sorted name
    root/train/..., root/val/..., root/test/...   optional split folders, each holding
                                         one of the two layouts above (the same classes)

Images may be JPEG, PNG (8- or 16-bit, grey, RGB, RGBA, palette), BMP, GIF or WebP, of
any size. Each is decoded to uint8 RGB (alpha dropped, palette expanded, 16-bit scaled
to 8), converted to ``channels`` (1: luminance, 3: RGB), then fitted to ``image_size``:

* ``fit="crop"`` (default): the shorter side is resized to the target and the centre is
  cut out (no distortion). A random crop would be frozen by the pipeline's cache after
  the first epoch, so there is none.
* ``fit="stretch"``: resized to exactly ``image_size``, aspect ratio not kept.

Elements (the contract other loaders such as ``packed`` follow): ``(image float32
[H, W, channels] in scale's range, label int32 scalar)``, unbatched; ``scale`` is
``"tanh"`` ([-1, 1], GANs) or ``"unit"`` ([0, 1], VAEs), as ``fashion_mnist``'s.
``DatasetInfo``: ``name="image_folder"``, ``image_shape=(H, W, channels)``,
``class_names`` (the sorted subfolder names; ``[]`` without classes), ``extra``:
``{"root", "scale", "value_range": [low, high], "fit", "files": [...], "labels":
[...]}``.

Splits: with split folders, ``train``/``val``/``test`` are those (``all``: all of them).
Otherwise every image is in ``all`` and ``train``/``val``/``test`` are cut by a hash of
its path relative to ``root`` salted with ``split_seed`` (``val_fraction``,
``test_fraction``): deterministic, and adding images never moves others. ``seed`` (what
the trainer passes to every loader) does not change the split.

``validate=True`` opens every file with PIL first, so an unreadable file fails at once,
naming it, instead of mid-epoch.
"""
from __future__ import annotations

import concurrent.futures
import os
import pathlib

import tensorflow as tf

from keras_segen.datasets.folders import (
    IMAGE_EXTENSIONS,
    SPLIT_DIRS,
    check_image_size,
    decode_rgb_uint8,
    hash_split,
)
from keras_segen.datasets.info import DatasetInfo

NAME = "image_folder"
SCALES = {"tanh": (-1.0, 1.0), "unit": (0.0, 1.0)}
FITS = ("crop", "stretch")
CHANNELS = (1, 3)


def load(split: str = "train", *, root, image_size, channels: int = 3, scale: str = "tanh",
         fit: str = "crop", val_fraction: float = 0.0, test_fraction: float = 0.0,
         split_seed: int = 0, seed: int = 0, validate: bool = True):
    """``(tf.data.Dataset, DatasetInfo)`` of one split of the images under ``root``; see
    the module docstring. ``seed`` is accepted (the trainer passes it to every loader)
    and unused: the split depends on ``split_seed`` only."""
    del seed
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image_folder: root not found or not a directory: {root}")
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)  # one number: square
    size = check_image_size(image_size)
    if size is None:
        raise ValueError("image_folder: image_size (height, width) is required")
    if channels not in CHANNELS:
        raise ValueError(f"image_folder: channels must be 1 or 3, got {channels!r}")
    if scale not in SCALES:
        raise ValueError(f"image_folder: scale must be one of {sorted(SCALES)}, got {scale!r}")
    if fit not in FITS:
        raise ValueError(f"image_folder: fit must be one of {FITS}, got {fit!r}")

    files, labels, class_names = list_images(root, split, val_fraction, test_fraction,
                                             split_seed)
    if validate:
        check_readable(files)
    low, high = SCALES[scale]
    ds = _make_dataset(files, labels, size, channels, fit, low, high)
    info = DatasetInfo(
        name=NAME, split=split, num_examples=len(files), image_shape=(*size, channels),
        class_names=class_names,
        description=f"images from {root}, fitted to {size[0]}x{size[1]} by {fit}",
        extra={"root": str(root), "scale": scale, "value_range": [low, high], "fit": fit,
               "files": [str(f) for f in files], "labels": labels},
    )
    return ds, info


# -- finding files -------------------------------------------------------------------


def _images_in(folder):
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_EXTENSIONS)


def _subfolders(folder):
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _labelled(folder):
    """``(files, labels, class_names)`` of one folder: flat, or one subfolder per class."""
    classes = _subfolders(folder)
    loose = _images_in(folder)
    if classes and loose:
        raise ValueError(f"image_folder: {folder} holds both images ({loose[0].name}, ...) "
                         f"and class folders ({classes[0].name}, ...); use one layout")
    if not classes:
        return loose, [0] * len(loose), []
    files, labels = [], []
    for label, sub in enumerate(classes):
        found = _images_in(sub)
        if not found:
            raise ValueError(f"image_folder: class folder {sub} has no images "
                             f"({', '.join(IMAGE_EXTENSIONS)})")
        files += found
        labels += [label] * len(found)
    return files, labels, [c.name for c in classes]


def split_folders(root) -> dict:
    """``{"train": "train", "val": "validation", ...}``: the split folders under ``root``."""
    return {name: candidate for name, candidates in SPLIT_DIRS.items()
            for candidate in candidates if (pathlib.Path(root) / candidate).is_dir()}


def list_images(root, split="all", val_fraction=0.0, test_fraction=0.0, split_seed=0):
    """``(files, labels, class_names)`` of ``split`` (see the module docstring)."""
    root = pathlib.Path(root)
    if split not in ("all", *SPLIT_DIRS):
        raise ValueError(f"image_folder: unknown split {split!r}; use 'all', 'train', 'val' "
                         "or 'test'")
    found = split_folders(root)
    if found:
        wanted = list(found) if split == "all" else [split]
        if split != "all" and split not in found:
            raise FileNotFoundError(f"image_folder: no {'/'.join(SPLIT_DIRS[split])} folder "
                                    f"under {root} (found {sorted(found.values())})")
        files, labels, names = [], [], None
        for name in wanted:
            sub_files, sub_labels, sub_names = _labelled(root / found[name])
            if names is not None and sub_names != names:
                raise ValueError(f"image_folder: {root / found[name]} has classes {sub_names} "
                                 f"but another split has {names}; every split needs the same")
            names = sub_names
            files, labels = files + sub_files, labels + sub_labels
    else:
        files, labels, names = _labelled(root)
        if split != "all":
            keep = [hash_split(f.relative_to(root).as_posix(), split_seed, val_fraction,
                               test_fraction) == split for f in files]
            files = [f for f, k in zip(files, keep) if k]
            labels = [label for label, k in zip(labels, keep) if k]
    if not files:
        raise ValueError(f"image_folder: split {split!r} of {root} holds no images "
                         f"({', '.join(IMAGE_EXTENSIONS)})")
    return files, labels, names


def check_readable(files):
    """Open every file with PIL (threads); ValueError naming the first unreadable one."""
    def problem(path):
        from PIL import Image

        try:
            with Image.open(path) as image:
                image.load()
        except Exception as e:  # noqa: BLE001 -- PIL raises many types for bad files
            return f"image_folder: cannot read image {path}: {e}"
        return None

    with concurrent.futures.ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        errors = [e for e in pool.map(problem, files) if e]
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValueError(errors[0] + more)


# -- the tf.data pipeline ------------------------------------------------------------


def _make_dataset(files, labels, size, channels, fit, low, high):
    height, width = size

    def decode(path, label):
        image = decode_rgb_uint8(tf.io.read_file(path))
        if channels == 1:
            image = tf.image.rgb_to_grayscale(image)
        image = tf.image.convert_image_dtype(image, tf.float32)  # [0, 1]
        if fit == "crop":
            shape = tf.cast(tf.shape(image)[:2], tf.float32)
            factor = tf.maximum(height / shape[0], width / shape[1])
            scaled = tf.cast(tf.math.ceil(shape * factor), tf.int32)
            image = tf.image.resize(image, scaled, method="bilinear", antialias=True)
            top = (scaled[0] - height) // 2
            left = (scaled[1] - width) // 2
            image = image[top:top + height, left:left + width]
        else:
            image = tf.image.resize(image, size, method="bilinear", antialias=True)
        image = tf.clip_by_value(image, 0.0, 1.0) * (high - low) + low
        image.set_shape([height, width, channels])
        return image, label

    ds = tf.data.Dataset.from_tensor_slices(
        ([str(f) for f in files], tf.constant(labels, tf.int32)))
    return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)


def all_grayscale(files) -> bool:
    """Whether every file is a grey image (PIL modes 1, L, LA, I, I;16...): then one
    channel loses nothing. Reads headers only."""
    from PIL import Image

    for path in files:
        with Image.open(path) as image:
            if image.mode not in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"):
                return False
    return True


__all__ = ["FITS", "NAME", "SCALES", "all_grayscale", "list_images", "load", "split_folders"]

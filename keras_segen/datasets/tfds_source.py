"""Any TFDS dataset with an image and a segmentation mask, as ``(image, mask)`` pairs.

``load("oxford_iiit_pet", "train")`` reads data that TFDS has already prepared in
``data_dir`` (default ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``). It never
downloads unless ``download=True``: without data it fails at once with
``DatasetNotAvailableError`` saying how to provide the files, instead of hanging on
network retries.

Split names: ``train`` -> TFDS ``train``; ``val`` -> ``validation`` (or ``val``);
``test`` -> ``test``. A dataset without a validation split (e.g. ``oxford_iiit_pet``)
holds out the last 10% of ``train`` as ``val`` and ``train`` becomes the first 90%, so
the three splits never overlap. A dataset without a test split raises a ValueError for
``test`` naming the splits it has. Any other string is passed to TFDS unchanged, so
slices like ``"train[:50%]"`` work too.

Note: TFDS's ``voc`` is detection-only (no masks). For VOC segmentation use the
``folders`` loader on ``VOCdevkit/VOC2012`` (see ``DatasetNotAvailableError`` text).
"""
from __future__ import annotations

import difflib
import logging

import tensorflow as tf

from keras_segen.datasets.folders import (
    VOC_CLASS_NAMES,
    check_image_size,
    default_palette,
    read_class_names,
)
from keras_segen.datasets.info import IGNORE_LABEL, DatasetInfo

IMAGE_KEYS = ("image", "image_left")
MASK_KEYS = ("segmentation_mask", "segmentation_label")
VAL_HOLDOUT_PERCENT = 10

# Class names (after the label offset) and default offset of sets whose features
# don't carry names. oxford_iiit_pet stores 1 pet, 2 background, 3 border.
KNOWN_DATASETS = {
    "oxford_iiit_pet": {"class_names": ["pet", "background", "border"], "label_offset": -1},
    "voc": {"class_names": VOC_CLASS_NAMES, "label_offset": 0},
}

log = logging.getLogger(__name__)


class DatasetNotAvailableError(FileNotFoundError):
    """The TFDS data is not prepared locally and downloading was not allowed."""


def load(
    name: str,
    split: str,
    *,
    data_dir=None,
    image_size=None,
    download: bool = False,
    label_offset: int | None = None,
    class_names=None,
    seed=None,
):
    """Return ``(tf.data.Dataset, DatasetInfo)`` of ``(image float32 [0,1] HxWx3, mask int32 HxW)``.

    Args:
        name: TFDS name, optionally with config/version (``"oxford_iiit_pet:4.*.*"``).
        split: ``train``, ``val``, ``test`` or any TFDS split string.
        data_dir: where prepared TFDS data lives (default: TFDS's own default).
        image_size: ``(height, width)`` to resize to (nearest neighbour for masks);
            None keeps native sizes.
        download: allow TFDS to download and prepare the data (needs internet).
        label_offset: added to every mask value except 255 (values that fall below 0
            become 255). Default: -1 for ``oxford_iiit_pet``, else 0.
        class_names: list or text file; default: the mask feature's names, a known
            list for the dataset, or ``class_0..class_{K-1}`` from a scan of the split.
        seed: accepted for the trainers' sake (they pass their run seed to every
            loader) and unused: TFDS splits are fixed.
    """
    import tensorflow_datasets as tfds

    builder = _make_builder(tfds, name, data_dir)
    image_key, mask_key = _feature_keys(builder, name)
    if not builder.is_prepared():
        if not download:
            raise DatasetNotAvailableError(_not_available_message(builder, name))
        builder.download_and_prepare()
    tfds_split = _resolve_split(builder, name, split)
    known = KNOWN_DATASETS.get(_base_name(name), {})
    offset = known.get("label_offset", 0) if label_offset is None else int(label_offset)
    size = check_image_size(image_size)

    raw = builder.as_dataset(split=tfds_split, shuffle_files=False)
    ds = raw.map(
        lambda example: _to_pair(example, image_key, mask_key, offset, size),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    names = _class_names(class_names, builder, mask_key, known, ds, name)
    height, width = size if size else (None, None)
    info = DatasetInfo(
        name=f"tfds:{name}",
        split=split,
        num_examples=int(builder.info.splits[tfds_split].num_examples),
        image_shape=(height, width, 3),
        class_names=names,
        palette=default_palette(len(names)),
        license=_license(builder),
        description=(builder.info.description or "").strip().split("\n")[0],
        extra={
            "tfds_name": name,
            "tfds_split": tfds_split,
            "data_dir": str(builder.data_dir),
            "label_offset": offset,
            "image_key": image_key,
            "mask_key": mask_key,
        },
    )
    return ds, info


def _base_name(name: str) -> str:
    return name.split("/")[0].split(":")[0]


def _make_builder(tfds, name, data_dir):
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.DatasetNotFoundError:
        known = tfds.list_builders(with_community_datasets=False)
        close = difflib.get_close_matches(_base_name(name), sorted(set(known)), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"tfds: unknown TFDS dataset {name!r}{hint}") from None


def _feature_keys(builder, name):
    features = builder.info.features
    image_key = next((k for k in IMAGE_KEYS if k in features), None)
    mask_key = next((k for k in MASK_KEYS if k in features), None)
    if image_key and mask_key:
        return image_key, mask_key
    hint = ""
    if _base_name(name) == "voc":
        hint = (
            " TFDS's voc is detection-only. For VOC segmentation download VOCtrainval and "
            "use keras_segen.datasets.load('folders', 'all', images_dir='VOC2012/JPEGImages', "
            "masks_dir='VOC2012/SegmentationClass', "
            "class_names=keras_segen.datasets.folders.VOC_CLASS_NAMES, "
            "stems='VOC2012/ImageSets/Segmentation/train.txt') (val.txt for validation)."
        )
    raise ValueError(
        f"tfds: {name!r} has no image + segmentation mask features (need one of {IMAGE_KEYS} "
        f"and one of {MASK_KEYS}; it has {sorted(features.keys())}).{hint}"
    )


def _not_available_message(builder, name):
    return (
        f"TFDS dataset {name!r} is not prepared under {builder.data_dir_root} "
        f"(looked for {builder.data_dir}) and download=False. To provide it: on a machine "
        "with internet run\n"
        "    python -c \"import tensorflow_datasets as tfds; "
        f"tfds.load('{name}', download=True)\"\n"
        f"then copy ~/tensorflow_datasets/{_base_name(name)} into {builder.data_dir_root} "
        "here, or point TFDS_DATA_DIR (or data_dir=...) at a folder that holds it. "
        "Pass download=True only where this machine can reach the internet."
    )


def _resolve_split(builder, name, split):
    available = list(builder.info.splits.keys())
    if split == "train":
        if "train" not in available:
            raise ValueError(f"tfds: {name!r} has no train split (it has {available})")
        if _validation_split(available):
            return "train"
        return f"train[:{100 - VAL_HOLDOUT_PERCENT}%]"
    if split == "val":
        found = _validation_split(available)
        if found:
            return found
        if "train" in available:
            return f"train[{100 - VAL_HOLDOUT_PERCENT}%:]"
        raise ValueError(f"tfds: {name!r} has no validation or train split (it has {available})")
    if split == "test":
        if "test" in available:
            return "test"
        raise ValueError(
            f"tfds: {name!r} has no test split (it has {available}); pass a TFDS split "
            "string instead, e.g. split='validation'"
        )
    return split  # a TFDS split string such as "train[:50%]"; TFDS validates it


def _validation_split(available):
    return next((s for s in ("validation", "val") if s in available), None)


def _to_pair(example, image_key, mask_key, offset, size):
    image = example[image_key]
    if image.shape[-1] == 1:
        image = tf.image.grayscale_to_rgb(image)
    image = tf.image.convert_image_dtype(image, tf.float32)  # uint8 -> [0, 1]
    mask = tf.cast(example[mask_key], tf.int32)
    if mask.shape.rank == 3:
        mask = mask[..., 0]
    if offset:
        shifted = mask + offset
        keep = tf.logical_and(mask != IGNORE_LABEL, shifted >= 0)
        mask = tf.where(keep, shifted, IGNORE_LABEL)
    if size:
        image = tf.image.resize(image, size, method="bilinear", antialias=True)
        mask = tf.image.resize(mask[..., None], size, method="nearest")[..., 0]
    height, width = size if size else (None, None)
    image.set_shape([height, width, 3])
    mask.set_shape([height, width])
    return image, mask


def _class_names(class_names, builder, mask_key, known, ds, name):
    if class_names is not None:
        return read_class_names(class_names)
    feature_names = getattr(builder.info.features[mask_key], "names", None)
    if feature_names:
        return list(feature_names)
    if "class_names" in known:
        return list(known["class_names"])
    log.warning(
        "tfds: %r declares no class names; scanning the split for the largest label "
        "(pass class_names=... to skip this)", name
    )
    largest = ds.reduce(
        tf.constant(-1, tf.int32),
        lambda acc, pair: tf.maximum(
            acc, tf.reduce_max(tf.where(pair[1] == IGNORE_LABEL, -1, pair[1]))
        ),
    )
    if int(largest) < 0:
        raise ValueError(f"tfds: {name!r} masks hold no labels other than {IGNORE_LABEL}")
    return [f"class_{i}" for i in range(int(largest) + 1)]


def _license(builder):
    info = getattr(builder.info, "redistribution_info", None)
    return str(getattr(info, "license", "") or "")


__all__ = ["DatasetNotAvailableError", "KNOWN_DATASETS", "load"]

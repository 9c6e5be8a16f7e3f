"""Datasets as ``tf.data`` pipelines: ``load(name, split, **options) -> (dataset, info)``.

Segmentation sets yield ``(image float32 [0,1] HxWx3, mask int32 HxW)``; generation
sets yield what their models consume (see each module).
"""
import importlib

from keras_segen.datasets.info import IGNORE_LABEL, DatasetInfo
from keras_segen.datasets.pipeline import make_pipeline
from keras_segen.datasets import augment  # noqa: F401

SPLITS = ("train", "val", "test")


# name -> (module, function); modules are imported on use, each pulls its own dependencies.
_LOADERS = {
    "bluemarble": ("bluemarble", "load"),
    "bluemarble_pairs": ("bluemarble", "load_pairs"),
    "fashion_mnist": ("fashion_mnist", "load"),
    "folders": ("folders", "load"),
    "image_folder": ("image_folder", "load"),  # your images for the generative models
    "packed": ("packed", "load"),  # keras-segen data pack DIR OUT; load(..., path=OUT)
}

# name -> the module whose PROTOCOLS names its extra evaluation protocols.
_PROTOCOLS = {"bluemarble": "bluemarble"}


def list_datasets() -> list[str]:
    return sorted(_LOADERS) + ["tfds:<name>"]


def protocols(name: str) -> dict:
    """``{protocol: loader options}``: the evaluation protocols a dataset defines beside
    its recipe's own options (bluemarble: ``regions``, ``regions_no_caspian``)."""
    if name not in _PROTOCOLS:
        return {}
    module = importlib.import_module(f"keras_segen.datasets.{_PROTOCOLS[name]}")
    return dict(module.PROTOCOLS)


def load(name: str, split: str = "train", **options):
    """Return ``(tf.data.Dataset, DatasetInfo)`` for dataset ``name`` and ``split``.

    ``name`` is a bundled set (``bluemarble``, ``bluemarble_pairs``, ``fashion_mnist``),
    ``folders`` (your own images + masks; pass ``images_dir``, ``masks_dir``,
    ``class_names``, or ``root``), ``image_folder`` (your own images for the generative
    models; ``root``, ``image_size``), or ``tfds:<tfds name>`` for any TFDS set with ``image`` and
    ``segmentation_mask`` features.
    """
    if name.startswith("tfds:"):
        from keras_segen.datasets import tfds_source

        return tfds_source.load(name[len("tfds:"):], split, **options)
    if name not in _LOADERS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(list_datasets())}")
    module_name, function = _LOADERS[name]
    module = importlib.import_module(f"keras_segen.datasets.{module_name}")
    return getattr(module, function)(split=split, **options)


__all__ = ["DatasetInfo", "IGNORE_LABEL", "SPLITS", "list_datasets", "load", "make_pipeline",
           "protocols"]

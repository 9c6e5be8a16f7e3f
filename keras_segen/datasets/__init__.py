"""Datasets as ``tf.data`` pipelines: ``load(name, split, **options) -> (dataset, info)``.

Segmentation sets yield ``(image float32 [0,1] HxWx3, mask int32 HxW)``; generation
sets yield what their models consume (see each module).
"""
from keras_segen.datasets.info import IGNORE_LABEL, DatasetInfo
from keras_segen.datasets.pipeline import make_pipeline
from keras_segen.datasets import augment  # noqa: F401

SPLITS = ("train", "val", "test")


def _loaders():
    # Imported lazily: each module pulls its own heavy dependencies.
    from keras_segen.datasets import bluemarble, fashion_mnist, folders

    return {
        "bluemarble": bluemarble.load,
        "bluemarble_pairs": bluemarble.load_pairs,
        "fashion_mnist": fashion_mnist.load,
        "folders": folders.load,
    }


def list_datasets() -> list[str]:
    return sorted(_loaders()) + ["tfds:<name>"]


def load(name: str, split: str = "train", **options):
    """Return ``(tf.data.Dataset, DatasetInfo)`` for dataset ``name`` and ``split``.

    ``name`` is a bundled set (``bluemarble``, ``bluemarble_pairs``, ``fashion_mnist``),
    ``folders`` (your own images + masks; pass ``images_dir``, ``masks_dir``,
    ``class_names``), or ``tfds:<tfds name>`` for any TFDS set with ``image`` and
    ``segmentation_mask`` features.
    """
    if name.startswith("tfds:"):
        from keras_segen.datasets import tfds_source

        return tfds_source.load(name[len("tfds:"):], split, **options)
    loaders = _loaders()
    if name not in loaders:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(list_datasets())}")
    return loaders[name](split=split, **options)


__all__ = ["DatasetInfo", "IGNORE_LABEL", "SPLITS", "list_datasets", "load", "make_pipeline"]

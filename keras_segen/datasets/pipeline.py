"""The input pipeline every recipe uses: cache -> shuffle -> augment -> batch -> prefetch."""
from __future__ import annotations

import tensorflow as tf

from keras_segen.datasets.augment import from_spec

_MAX_FULL_SHUFFLE = 20_000
_DEFAULT_SHUFFLE_BUFFER = 10_000


def default_shuffle_buffer(ds: tf.data.Dataset) -> int:
    """The whole dataset when its size is known and <= 20000 examples, else 10000."""
    n = int(ds.cardinality())
    if 0 < n <= _MAX_FULL_SHUFFLE:
        return n
    return _DEFAULT_SHUFFLE_BUFFER


def make_pipeline(
    ds: tf.data.Dataset,
    *,
    batch_size: int,
    training: bool,
    augment=None,
    seed: int = 0,
    shuffle_buffer: int | None = None,
    cache: bool | str = True,
    drop_remainder: bool | None = None,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Batch a dataset of ``(x, y)`` pairs for ``fit``/``evaluate``.

    Order: cache -> shuffle -> [repeat] -> augment -> batch -> prefetch.

    Args:
        ds: unbatched dataset of 2-tuples, e.g. ``(image, mask)`` or pix2pix's
            ``(condition, target)``.
        batch_size: examples per batch.
        training: shuffle and augment only when True; evaluation keeps file order.
        augment: None, a callable ``augment(x, y, seed) -> (x, y)`` (e.g.
            ``JointAugment``), or a ``JointAugment`` config dict (as in a recipe).
        seed: seeds the shuffle and the per-example augmentation seeds. The same seed
            gives the same batches run after run; each epoch still differs from the last.
        shuffle_buffer: default: the whole dataset if its size is known and <= 20000,
            else 10000.
        cache: True caches in memory, a string caches to that file path, False not at all.
        drop_remainder: default ``training`` (static batch shapes for training).
        repeat: repeat forever (use with ``steps_per_epoch``).
    """
    if batch_size < 1:
        raise ValueError(f"make_pipeline: batch_size must be >= 1, got {batch_size}")
    spec = ds.element_spec
    if not isinstance(spec, tuple) or len(spec) != 2:
        raise ValueError(
            f"make_pipeline expects a dataset of (x, y) pairs, got element_spec {spec}"
        )
    augment = from_spec(augment)
    if drop_remainder is None:
        drop_remainder = training

    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if training:
        buffer = shuffle_buffer or default_shuffle_buffer(ds)
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    # Augmentation comes after the cache on purpose: a cache placed after a random map
    # would freeze the first epoch's random draws and replay them every epoch.
    if training and augment is not None:
        # One [2] seed per example from a seeded random stream that is re-drawn on every
        # iteration: runs with the same seed repeat exactly, epochs differ.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(
            2, drop_remainder=True
        )
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda pair, s: augment(pair[0], pair[1], s),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


__all__ = ["default_shuffle_buffer", "make_pipeline"]

"""Which share of a file-based dataset this worker reads under multi-worker training.

tf.distribute's AUTO auto-shard policy cannot be left to shard a data pack: the training
pipeline zips in a second source (``Dataset.random``, the augmentation seeds; see
``pipeline.make_pipeline``), and AUTO then shards the reader by file *and* the result by
data, so each of N workers would read 1/N^2 of the pack. Instead the trainer says which
share this process reads (``worker_share`` around its data loading, from
``training.distribution.input_share``) and a file-based loader (``packed``) keeps its
files ``index::num_workers`` and turns auto-sharding off for that dataset. Other loaders
ignore it: for in-memory data AUTO shards by data, as it should.
"""
from __future__ import annotations

import contextlib
import contextvars

_SHARE = contextvars.ContextVar("keras_segen_worker_share", default=None)


@contextlib.contextmanager
def worker_share(num_workers: int, index: int):
    """Inside the block, file-based loaders read share ``index`` of ``num_workers``."""
    if not 0 <= index < num_workers:
        raise ValueError(f"worker index {index} is outside [0, {num_workers})")
    token = _SHARE.set((int(num_workers), int(index)) if num_workers > 1 else None)
    try:
        yield
    finally:
        _SHARE.reset(token)


def current_share():
    """``(num_workers, index)`` set by ``worker_share``, or None (read everything)."""
    return _SHARE.get()


def shard_files(files, dataset_options):
    """``(this worker's files, their positions in files)`` and set ``dataset_options``'
    auto-shard policy: OFF when sharded here by file, DATA when there are fewer files
    than workers (a worker without files would leave the others waiting)."""
    import tensorflow as tf

    share = current_share()
    if share is None:
        return list(files), list(range(len(files)))
    num_workers, index = share
    if len(files) < num_workers:
        dataset_options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return list(files), list(range(len(files)))
    dataset_options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF)
    positions = list(range(index, len(files), num_workers))
    return [files[i] for i in positions], positions


__all__ = ["current_share", "shard_files", "worker_share"]

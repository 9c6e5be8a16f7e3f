"""Segmentation with scarce labels, helped by pix2pix-synthesized training pairs.

The setting: label maps are cheap (a coast line, a lake outline), imagery with aligned
labels is scarce. A pix2pix model trained on the few labelled ``(mask, image)`` pairs
paints an image for every other, image-less label map; the segmentation model then
trains on real and synthetic pairs together.

The parts (``scripts/scarce_labels.py`` runs the whole experiment with them):

- ``scarce_split``: a seeded, stratified choice of the labelled tiles (pure numpy).
- ``bluemarble_scarce_tiles``: that split on Blue Marble tiles -> ``ScarceTiles`` (the
  labelled images and masks, and only the *masks* of the other tiles).
- ``synthesize_pairs``: label maps -> ``(image [0, 1], mask)`` pairs from a pix2pix model.
- ``mixed_pipeline``: real and synthetic pairs drawn at a fixed ratio into the batches
  (the same code path with or without synthetic data, so two runs differ only there).
- ``fit_steps``: ``model.fit`` for an exact number of gradient steps (or until a time
  budget runs out), keeping the weights of the best validation epoch.
"""
from __future__ import annotations

import dataclasses
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_segen import callbacks as segen_callbacks
from keras_segen.datasets.pipeline import make_pipeline

# Small on purpose: each source is already shuffled in full every epoch (see
# mixed_pipeline); this buffer only mixes neighbouring draws.
_MIX_SHUFFLE_BUFFER = 64


# -- choosing the labelled tiles --------------------------------------------------------

def class_signature(masks, num_classes: int) -> np.ndarray:
    """One int per mask: a bit per class present (ocean+lake -> 0b101). Used as strata."""
    masks = np.asarray(masks)
    present = [(masks == label).reshape(len(masks), -1).any(axis=1) for label in range(num_classes)]
    return sum(p.astype(np.int64) << label for label, p in enumerate(present))


def scarce_split(masks, fraction: float, *, seed: int = 0, groups=None,
                 num_classes: int | None = None):
    """Split tile rows into a labelled share and a mask-only rest.

    ``round(fraction * G)`` of the ``G`` distinct tiles (at least one) are labelled,
    chosen at random with ``seed`` and stratified by the set of classes each tile holds
    (largest-remainder quotas), so a rare class is not missing from the labelled share by
    chance. ``groups`` gives each row its tile id: rows repeated for oversampling stay
    together (all labelled or all mask-only). Deterministic for a given seed.

    Returns ``(labelled_rows, mask_only_rows)``: sorted, disjoint int arrays covering
    every row.
    """
    masks = np.asarray(masks)
    if masks.ndim != 3 or not len(masks):
        raise ValueError(f"scarce_split needs masks of shape (N, H, W) with N >= 1, "
                         f"got {masks.shape}")
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    groups = np.arange(len(masks)) if groups is None else np.asarray(groups)
    if groups.shape != (len(masks),):
        raise ValueError(f"groups needs one tile id per mask ({len(masks)}), got shape "
                         f"{groups.shape}")
    num_classes = int(num_classes or masks.max() + 1)
    tiles, first_row = np.unique(groups, return_index=True)
    strata = class_signature(masks[first_row], num_classes)
    wanted = max(1, int(round(float(fraction) * len(tiles))))
    if wanted >= len(tiles):
        raise ValueError(f"fraction {fraction} labels all {len(tiles)} tiles: nothing "
                         "would be left mask-only")

    keys, sizes = np.unique(strata, return_counts=True)
    quotas = sizes * wanted / len(tiles)
    counts = np.floor(quotas).astype(int)
    # Largest remainders first; ties go to the bigger stratum, then the lower key.
    order = np.lexsort((keys, -sizes, -(quotas - counts)))
    counts[order[: wanted - counts.sum()]] += 1

    rng = np.random.default_rng(int(seed))
    chosen = [rng.permutation(tiles[strata == key])[:count] for key, count in zip(keys, counts)]
    labelled = np.isin(groups, np.concatenate(chosen))
    return np.flatnonzero(labelled), np.flatnonzero(~labelled)


@dataclasses.dataclass(frozen=True)
class ScarceTiles:
    """The labelled share (images + masks) and the other tiles' masks, as uint8 arrays.

    Rows may repeat a tile (the recipe's ``class_repeats`` oversampling); the
    ``num_*_tiles`` fields count distinct tiles.
    """

    images: np.ndarray  # (N, T, T, 3) uint8, labelled tiles
    masks: np.ndarray  # (N, T, T) uint8, their masks
    mask_only: np.ndarray  # (M, T, T) uint8, masks whose images are never used
    num_labelled_tiles: int
    num_mask_only_tiles: int
    class_names: tuple
    palette: tuple

    def labelled_dataset(self) -> tf.data.Dataset:
        """``(image float32 [0, 1], mask int32)``, as ``datasets.load("bluemarble")``."""
        return tf.data.Dataset.from_tensor_slices((self.images, self.masks)).map(
            lambda image, mask: (tf.cast(image, tf.float32) / 255.0, tf.cast(mask, tf.int32)))

    def pix2pix_pairs(self) -> tf.data.Dataset:
        """``(one-hot mask float32, image float32 [-1, 1])``, as ``bluemarble_pairs``."""
        depth = len(self.class_names)
        return tf.data.Dataset.from_tensor_slices((self.masks, self.images)).map(
            lambda mask, image: (tf.one_hot(tf.cast(mask, tf.int32), depth, dtype=tf.float32),
                                 tf.cast(image, tf.float32) / 127.5 - 1.0))

    def summary(self) -> dict:
        return {"labelled_tiles": self.num_labelled_tiles, "labelled_rows": len(self.masks),
                "mask_only_tiles": self.num_mask_only_tiles, "mask_only_rows": len(self.mask_only)}


def bluemarble_scarce_tiles(fraction: float, *, split: str = "train", tile_size: int = 64,
                            min_classes: int = 1, other_tiles_fraction: float = 0.0,
                            class_repeats=None, seed: int = 0,
                            split_seed: int = 0) -> ScarceTiles:
    """``scarce_split`` of the Blue Marble tiles a recipe trains on.

    The tile options are ``bluemarble.tile_arrays``'s (with ``seed`` choosing the
    ``other_tiles_fraction`` tiles, as the trainer does); ``split_seed`` chooses the
    labelled share. The images of the mask-only tiles are dropped here, before anything
    can use them.
    """
    from keras_segen.datasets import bluemarble, bluemarble_source

    tiles = bluemarble.tile_arrays(split, tile_size, min_classes, other_tiles_fraction, seed,
                                   class_repeats=class_repeats)
    # A tile's bounds identify it: rows repeated by class_repeats share them.
    _, tile_ids = np.unique(tiles["bounds"], axis=0, return_inverse=True)
    tile_ids = tile_ids.reshape(-1)
    labelled, mask_only = scarce_split(tiles["mask"], fraction, seed=split_seed, groups=tile_ids,
                                       num_classes=len(bluemarble_source.CLASS_NAMES))
    return ScarceTiles(
        images=tiles["image"][labelled],
        masks=tiles["mask"][labelled],
        mask_only=tiles["mask"][mask_only],
        num_labelled_tiles=len(np.unique(tile_ids[labelled])),
        num_mask_only_tiles=len(np.unique(tile_ids[mask_only])),
        class_names=tuple(bluemarble_source.CLASS_NAMES),
        palette=tuple(tuple(c) for c in bluemarble_source.PALETTE),
    )


# -- synthetic pairs --------------------------------------------------------------------

def synthesize_pairs(pix2pix_model, masks, *, batch_size: int = 64) -> tf.data.Dataset:
    """Paint an image for every label map: ``(image float32 [0, 1] HxWx3, mask int32 HxW)``.

    ``masks``: integer class-id maps ``(N, H, W)`` (numpy) or an unbatched
    ``tf.data.Dataset`` of ``HxW`` masks. ``pix2pix_model`` needs ``translate`` (class ids
    -> images in [0, 1], deterministic). The images are made here, once, so the returned
    dataset costs no model calls when iterated.
    """
    if not callable(getattr(pix2pix_model, "translate", None)):
        raise TypeError(f"synthesize_pairs needs a pix2pix model (with translate()), got "
                        f"{getattr(pix2pix_model, 'name', type(pix2pix_model).__name__)!r}")
    if isinstance(masks, tf.data.Dataset):
        found = list(masks.as_numpy_iterator())
        masks = np.stack(found) if found else np.zeros((0, 0, 0), np.int32)
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.dtype.kind not in "iu":
        raise ValueError(f"synthesize_pairs needs integer masks of shape (N, H, W), got "
                         f"{masks.dtype} {masks.shape}")
    if not len(masks):
        raise ValueError("synthesize_pairs got no masks")
    images = pix2pix_model.translate(masks.astype(np.int32), batch_size=batch_size)
    return tf.data.Dataset.from_tensor_slices(
        (np.asarray(images, np.float32), masks.astype(np.int32)))


# -- the training input -----------------------------------------------------------------

def _endless(dataset, seed):
    """Cached, shuffled in full each pass, repeated forever."""
    size = int(dataset.cardinality())
    if size <= 0:
        raise ValueError(f"a training source must be finite and non-empty, has {size} examples")
    return dataset.cache().shuffle(size, seed=seed, reshuffle_each_iteration=True).repeat()


def mixed_pipeline(real, synthetic=None, *, synthetic_weight: float | None = None,
                   batch_size: int, augment=None, seed: int = 0) -> tf.data.Dataset:
    """Endless training batches drawing each example from ``synthetic`` with probability
    ``synthetic_weight`` (default 0.5), else from ``real``
    (``tf.data.Dataset.sample_from_datasets``).

    Both sources are unbatched ``(image, mask)`` datasets, each cached and reshuffled on
    every pass of its own, so the ratio holds whatever their sizes. ``synthetic=None`` (or
    weight 0) gives the real-only pipeline through the same path. ``augment`` as in
    ``make_pipeline`` (a ``JointAugment`` or its config dict). Use with
    ``steps_per_epoch``.
    """
    if synthetic_weight is None:
        synthetic_weight = 0.0 if synthetic is None else 0.5
    weight = float(synthetic_weight)
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"synthetic_weight must be in [0, 1], got {synthetic_weight!r}")
    if synthetic is None and weight > 0:
        raise ValueError(f"synthetic_weight {weight} needs a synthetic dataset")
    if synthetic is None or weight == 0.0:
        stream = _endless(real, seed)
    elif weight == 1.0:
        stream = _endless(synthetic, seed + 1)
    else:
        if real.element_spec != synthetic.element_spec:
            raise ValueError(f"real and synthetic examples differ: {real.element_spec} vs "
                             f"{synthetic.element_spec}")
        stream = tf.data.Dataset.sample_from_datasets(
            [_endless(real, seed), _endless(synthetic, seed + 1)],
            weights=[1.0 - weight, weight], seed=seed)
    return make_pipeline(stream, batch_size=batch_size, training=True, augment=augment,
                         seed=seed, shuffle_buffer=_MIX_SHUFFLE_BUFFER, cache=False)


# -- fitting for a fixed number of steps ------------------------------------------------

class StepLimit(keras.callbacks.Callback):
    """Counts gradient steps and stops ``fit`` after ``max_steps`` (None: never)."""

    def __init__(self, max_steps=None):
        super().__init__()
        self.max_steps = None if max_steps is None else int(max_steps)
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.max_steps is not None and self.steps >= self.max_steps:
            self.model.stop_training = True


class KeepBest(keras.callbacks.EarlyStopping):
    """Keras' ``EarlyStopping`` that never stops: it keeps the weights of the epoch with
    the highest ``monitor`` in memory and restores them when training ends (nothing
    half-written on disk). Unlike EarlyStopping, a monitor missing from the logs is an
    error, not a warning: a typo would otherwise keep the last epoch silently."""

    def __init__(self, monitor: str):
        super().__init__(monitor=monitor, mode="max", patience=sys.maxsize,
                         restore_best_weights=True)

    def get_monitor_value(self, logs):
        if (logs or {}).get(self.monitor) is None:
            raise KeyError(f"KeepBest: {self.monitor!r} is not in the epoch logs "
                           f"({sorted(logs or {})})")
        return super().get_monitor_value(logs)


def fit_steps(model, train_batches, *, steps_per_epoch: int, max_steps: int,
              time_budget_s=None, validation=None, monitor=None, history_csv=None,
              verbose=2) -> dict:
    """Fit a compiled ``model`` for exactly ``max_steps`` gradient steps (fewer only if
    ``time_budget_s`` runs out first) in epochs of ``steps_per_epoch``; the last epoch may
    be partial. With ``validation`` and ``monitor`` (e.g. ``"val_mean_iou"``) the model
    ends with the weights of its best epoch.

    Returns a record: ``steps_run``, ``epochs_run``, ``fit_seconds``,
    ``stopped_by_time_budget``, ``best_epoch`` and ``best_<monitor>``.
    """
    if steps_per_epoch < 1 or max_steps < 1:
        raise ValueError(f"steps_per_epoch and max_steps must be >= 1, got {steps_per_epoch} "
                         f"and {max_steps}")
    if (validation is None) != (monitor is None):
        raise ValueError("fit_steps: give validation and monitor together")
    limit = StepLimit(max_steps)
    nan_guard = segen_callbacks.StopOnNaN()
    callback_list = [limit, nan_guard]
    timer = segen_callbacks.TimeBudget(float(time_budget_s)) if time_budget_s else None
    if timer:
        callback_list.append(timer)
    keep = KeepBest(monitor) if monitor else None
    if keep:
        callback_list.append(keep)
    if history_csv:
        callback_list.append(keras.callbacks.CSVLogger(str(history_csv)))
    started = time.time()
    history = model.fit(train_batches, validation_data=validation,
                        epochs=-(-int(max_steps) // int(steps_per_epoch)),
                        steps_per_epoch=int(steps_per_epoch), callbacks=callback_list,
                        verbose=verbose)
    if nan_guard.reason:
        raise FloatingPointError(nan_guard.reason)
    record = {
        "steps_run": limit.steps,
        "epochs_run": len(next(iter(history.history.values()), [])),
        "fit_seconds": round(time.time() - started, 1),
        "stopped_by_time_budget": bool(timer and timer.stopped),
    }
    if keep:
        record.update(best_epoch=keep.best_epoch, **{f"best_{monitor}": keep.best})
    return record


__all__ = ["KeepBest", "ScarceTiles", "StepLimit", "bluemarble_scarce_tiles",
           "class_signature", "fit_steps", "mixed_pipeline", "scarce_split",
           "synthesize_pairs"]

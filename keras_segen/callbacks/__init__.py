"""Keras callbacks for side effects during training: overlays, sample grids, safety."""
from keras_segen.callbacks.checkpoint import (
    AtomicCheckpoint,
    ResumableCSVLogger,
    SafeBackupAndRestore,
    is_readable_model,
    recover_run_folder,
)
from keras_segen.callbacks.nan_guard import StopOnNaN
from keras_segen.callbacks.overlays import SegmentationOverlay
from keras_segen.callbacks.samples import Pix2PixTriplets, SampleGrid, VAEReconstructions
from keras_segen.callbacks.time_budget import TimeBudget

__all__ = [
    "AtomicCheckpoint",
    "Pix2PixTriplets",
    "ResumableCSVLogger",
    "SafeBackupAndRestore",
    "SampleGrid",
    "SegmentationOverlay",
    "StopOnNaN",
    "TimeBudget",
    "VAEReconstructions",
    "is_readable_model",
    "recover_run_folder",
]

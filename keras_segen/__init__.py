"""keras_segen: a Keras 3 model zoo for image segmentation and generation."""
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_segen.registry import build, list_architectures  # noqa: E402
from keras_segen import callbacks, datasets, losses, metrics  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "build",
    "list_architectures",
    "callbacks",
    "datasets",
    "losses",
    "metrics",
]

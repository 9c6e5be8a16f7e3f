"""keras_segen: a Keras 3 model zoo for image segmentation and generation."""
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_segen.registry import build, list_architectures  # noqa: E402
from keras_segen import callbacks, datasets, layers, losses, metrics  # noqa: E402

# Import every architecture so its custom layers and models are registered with Keras
# before any ``.keras`` file is loaded.
from keras_segen import classification, generation, segmentation  # noqa: E402,F401

__version__ = "0.1.0"

__all__ = [
    "build",
    "list_architectures",
    "callbacks",
    "datasets",
    "layers",
    "losses",
    "metrics",
]

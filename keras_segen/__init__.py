"""keras_segen: a Keras 3 model zoo for image segmentation and generation.

    model = keras_segen.load("unet_bluemarble")     # trained, sha256-verified, compiled
    keras_segen.list_models(task="segmentation")
    keras_segen.get_card("fcn_voc")                 # dataset, metrics, files, recipe...
    keras_segen.build("unet", num_classes=3)        # an architecture by name
    keras_segen.export(model, "serving/", name="unet_bluemarble", version=1)
    keras_segen.train("unet_bluemarble", "runs/unet", epochs=3)   # what keras-segen train runs

    @keras_segen.register_architecture("my_net", task="segmentation")  # users' own builders
    def my_net(num_classes=3, **kwargs): ...
"""
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from keras_segen import tf_logging as _tf_logging  # noqa: E402

_tf_logging.before_tensorflow()  # before TensorFlow's first import: its start-up lines

from keras_segen.registry import (  # noqa: E402
    build, list_architectures, register_architecture)
from keras_segen import callbacks, datasets, layers, losses, metrics  # noqa: E402

# Import every architecture so its custom layers and models are registered with Keras
# before any ``.keras`` file is loaded.
from keras_segen import classification, generation, segmentation  # noqa: E402,F401
from keras_segen.zoo import get_card, list_models, load  # noqa: E402

__version__ = "0.1.0"


def export(*args, **kwargs):
    """Export a model for TF Serving: ``keras_segen.serving.export`` (imported on use,
    as it pulls in the SavedModel machinery)."""
    from keras_segen import serving

    return serving.export(*args, **kwargs)


def train(recipe, out, **overrides):
    """Train a recipe (a dict, a zoo recipe name or a recipe JSON path) into folder ``out``:
    the trainer ``keras-segen train`` runs (``keras_segen.training.train``; imported on
    use, as it pulls in the training machinery). ``overrides``: ``epochs``,
    ``batch_size``, ``steps_per_epoch``, ``seed``, ``strategy``, ``precision``..."""
    from keras_segen import training

    return training.train(recipe, out, **overrides)


__all__ = [
    "build",
    "list_architectures",
    "register_architecture",
    "train",
    "load",
    "list_models",
    "get_card",
    "export",
    "callbacks",
    "datasets",
    "layers",
    "losses",
    "metrics",
]

"""Generative architectures; importing this package registers their builders (every
module in it is imported)."""
from keras_segen.registry import import_submodules

import_submodules(__name__)

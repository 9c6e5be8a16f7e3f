"""Classifiers the zoo ships for its own metrics (FID/KID/IS feature extractors);
importing this package registers their builders."""
from keras_segen.registry import import_submodules

import_submodules(__name__)

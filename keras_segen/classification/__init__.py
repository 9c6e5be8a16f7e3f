"""Classifiers the zoo ships for its own metrics (FID/KID/IS feature extractors)."""
from keras_segen.classification import feature_classifier  # noqa: F401

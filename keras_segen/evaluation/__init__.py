"""Measuring trained models on held-out data (the numbers that go on zoo cards)."""
from keras_segen.evaluation.segmentation import evaluate_segmentation, format_table

__all__ = ["evaluate_segmentation", "format_table"]

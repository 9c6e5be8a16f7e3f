"""Measuring trained models on held-out data (the numbers that go on zoo cards)."""
from keras_segen.evaluation.generation import (
    GenerationEvaluator,
    evaluate_generator,
    evaluate_recipe_model,
    format_generation_table,
)
from keras_segen.evaluation.segmentation import evaluate_segmentation, format_table

__all__ = [
    "GenerationEvaluator",
    "evaluate_generator",
    "evaluate_recipe_model",
    "evaluate_segmentation",
    "format_generation_table",
    "format_table",
]

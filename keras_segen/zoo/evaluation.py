"""The numbers on a card, measured by the project's own evaluation code.

* segmentation: ``keras_segen.evaluation.evaluate_segmentation`` on the recipe's test and
  val splits;
* generation: ``keras_segen.evaluation.generation.evaluate_recipe_model`` on the test
  split (seeded, so the numbers reproduce); baselines are measured once, at build time;
* classification: ``kinds.classification.evaluate_classifier`` (accuracy, per-class
  accuracy) on test and val.

Each is the recipe's kind's ``evaluate`` (``keras_segen.kinds``).

``zoo build`` writes these numbers and ``zoo verify`` measures them again with the same
functions.
"""
from keras_segen.kinds import kind_of_recipe
from keras_segen.zoo import describe


def evaluate_entry(model, recipe, class_names) -> dict:
    """``{"<dataset>/<split>[/<protocol>]": metrics}`` for everything a card reports."""
    kind = kind_of_recipe(recipe)
    results = {}
    for split, protocol in kind.evaluations(recipe):
        extra = {"protocol": protocol} if protocol else {}
        results[describe.metrics_key(recipe, split, protocol)] = kind.evaluate(
            model, recipe, split, baselines=False, class_names=class_names, **extra)
    return results


def generation_baselines(model, recipe) -> dict:
    """The baselines a recipe asks for (generative kinds: untrained model, real floor)."""
    return kind_of_recipe(recipe).baselines(model, recipe)


def feature_model_paths(recipe) -> dict:
    """``{name: path}`` of the trained feature models a recipe is measured with (FID/KID
    change when they change)."""
    return kind_of_recipe(recipe).feature_model_paths(recipe)

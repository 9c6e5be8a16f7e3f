"""The numbers on a card, measured by the project's own evaluation code.

* segmentation: ``keras_segen.evaluation.evaluate_segmentation`` on the recipe's test and
  val splits;
* generation: ``keras_segen.evaluation.generation.evaluate_recipe_model`` on the test
  split (seeded, so the numbers reproduce); baselines are measured once, at build time;
* classification: ``evaluate_classifier`` (accuracy, per-class accuracy) on test and val.

``zoo build`` writes these numbers and ``zoo verify`` measures them again with the same
functions.
"""
import numpy as np

from keras_segen.zoo import describe


def evaluate_classifier(model, dataset, class_names, *, batch_size=512) -> dict:
    """Accuracy of a softmax classifier on a dataset of ``(image, label)``."""
    if dataset.element_spec[0].shape.rank == 3:
        dataset = dataset.batch(batch_size)
    predicted, truth = [], []
    for images, labels in dataset:
        predicted.append(np.argmax(np.asarray(model(images, training=False)), axis=-1))
        truth.append(np.asarray(labels).reshape(-1))
    predicted, truth = np.concatenate(predicted), np.concatenate(truth)
    return {
        "accuracy": float(np.mean(predicted == truth)),
        "per_class_accuracy": {name: float(np.mean(predicted[truth == k] == k))
                               for k, name in enumerate(class_names) if np.any(truth == k)},
        "num_examples": int(len(truth)),
    }


def _load_split(recipe, split):
    from keras_segen import datasets

    data = recipe["dataset"]
    return datasets.load(data["name"], split, **data.get("options", {}))[0]


def evaluate_entry(model, recipe, class_names) -> dict:
    """``{"<dataset>/<split>": metrics}`` for every split a card reports."""
    found = {}
    for split in describe.evaluated_splits(recipe):
        key = describe.metrics_key(recipe, split)
        if recipe["task"] == "segmentation":
            from keras_segen.evaluation import evaluate_segmentation

            found[key] = evaluate_segmentation(model, _load_split(recipe, split), class_names)
        elif recipe["task"] == "classification":
            found[key] = evaluate_classifier(model, _load_split(recipe, split), class_names)
        else:
            from keras_segen.evaluation.generation import evaluate_recipe_model

            found[key] = evaluate_recipe_model(model, recipe, split=split, baselines=False)
    return found


def generation_baselines(model, recipe) -> dict:
    """The untrained-model and real-vs-real baselines a generation recipe asks for."""
    if recipe["task"] != "generation" or not recipe.get("evaluation", {}).get("baselines"):
        return {}
    from keras_segen.evaluation.generation import evaluate_recipe_model

    return evaluate_recipe_model(model, recipe, baselines=True).get("baselines", {})


def feature_model_paths(recipe) -> dict:
    """``{name: path}`` of the trained feature models a generation recipe is measured
    with (FID/KID change when they change)."""
    if recipe["task"] != "generation":
        return {}
    from keras_segen.evaluation import generation as gen_eval

    settings = recipe.get("evaluation", {})
    if describe.generation_kind(recipe["arch"]) == "pix2pix":
        given = settings.get("segmenter")
        return {gen_eval.SEGMENTER_NAME if given is None else "segmenter":
                given or gen_eval.default_segmenter_path()}
    given = settings.get("classifier")
    return {gen_eval.CLASSIFIER_NAME if given is None else "classifier":
            given or gen_eval.default_classifier_path()}

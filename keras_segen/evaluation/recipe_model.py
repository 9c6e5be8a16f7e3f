"""``evaluate_recipe_model``: a generative model on the held-out split its recipe
names, with the untrained and real-floor baselines (cached, see
``keras_segen.evaluation.cache``), and the plain-text table of such results."""
import keras

from keras_segen.datasets.recipe_data import load_recipe_split
from keras_segen.evaluation.generation import GenerationEvaluator, model_kind
from keras_segen.generation.base import positive_int


def evaluate_recipe_model(model, recipe, *, split=None, num_images=None, baselines=None,
                          classifier=None, segmenter=None, eval_samples=None,
                          cache=None) -> dict:
    """Evaluate ``model`` on the held-out split of the dataset its ``recipe`` trained on.

    Settings left None come from ``recipe["evaluation"]`` (``num_images``, ``seed``,
    ``kid_subset_size``, ``kid_subsets``, ``baselines``, ``classifier``, ``segmenter``)
    and ``recipe["dataset"]["test_split"]``. ``eval_samples``: use at most this many
    held-out (and real-floor) images, and generate that many unless ``num_images`` is
    given (a cheap look; the recipe's ``num_images`` is what the cards report).
    ``cache``: see ``GenerationEvaluator``. Returns the metrics of
    ``GenerationEvaluator.evaluate``; with ``baselines`` also ``"baselines"``:
    ``"untrained"`` (the recipe's architecture with fresh weights, seeded by
    ``train.seed``) and ``"real_floor"`` (real training images against the held-out ones).
    """
    # 0 is not "the recipe's default": refused before any work
    if num_images is not None:
        positive_int(num_images, "num_images")
    if eval_samples is not None:
        positive_int(eval_samples, "eval_samples")
        num_images = eval_samples if num_images is None else num_images
    eval_cfg = recipe.get("evaluation", {})
    data_cfg = recipe["dataset"]
    evaluator = recipe_evaluator(model_kind(model), recipe, split=split, num_real=eval_samples,
                                 classifier=classifier, segmenter=segmenter, cache=cache)
    if num_images is None:
        num_images = eval_cfg.get("num_images")
    results = evaluator.evaluate(model, num_images=num_images)
    if baselines if baselines is not None else eval_cfg.get("baselines", False):
        found = {"untrained": _untrained_baseline(evaluator, recipe, num_images)}
        if evaluator.has_features:
            train_split = data_cfg.get("train_split", "train")
            train_data, _ = load_recipe_split(recipe, train_split, training=True)
            found["real_floor"] = {**evaluator.real_floor(train_data), "split": train_split}
        results["baselines"] = found
    return results


def recipe_evaluator(kind, recipe, *, split=None, num_real=None, classifier=None,
                     segmenter=None, cache=None):
    """The ``GenerationEvaluator`` of generative ``kind`` (a kind name) on ``split`` (default: the recipe's test split) with the recipe's evaluation
    settings; ``classifier`` / ``segmenter`` None: the recipe's."""
    eval_cfg = recipe.get("evaluation", {})
    split = split or recipe["dataset"].get("test_split", "test")
    dataset, info = load_recipe_split(recipe, split)
    return GenerationEvaluator(
        dataset, kind=kind, data_range=info.extra.get("value_range"),
        classifier=classifier if classifier is not None else eval_cfg.get("classifier"),
        segmenter=segmenter if segmenter is not None else eval_cfg.get("segmenter"),
        class_names=info.class_names or None, num_real=num_real,
        kid_subset_size=int(eval_cfg.get("kid_subset_size", 1000)),
        kid_subsets=int(eval_cfg.get("kid_subsets", 100)),
        seed=int(eval_cfg.get("seed", 0)), cache=cache,
        data_identity=_split_identity(recipe, split),
    )


def _split_identity(recipe, split):
    data_cfg = recipe["dataset"]
    return {"name": data_cfg["name"], "split": split,
            "options": data_cfg.get("options", {}),
            "limit": (data_cfg.get("limit") or {}).get(split)}


def _untrained_baseline(evaluator, recipe, num_images):
    """The recipe's architecture with fresh weights, seeded so that the cached value is
    the one a recomputation would give."""
    import keras_segen
    from keras_segen import registry

    seed = int(recipe["train"].get("seed", 0))

    def compute():
        keras.utils.set_random_seed(seed)
        return evaluator.evaluate(registry.build(recipe["arch"], **recipe["kwargs"]),
                                  num_images=num_images)

    parts = {"arch": recipe["arch"], "kwargs": recipe["kwargs"], "seed": seed,
             "num_images": num_images, "imports": recipe.get("imports", []),
             "versions": [keras_segen.__version__, keras.__version__]}
    return evaluator.cached_results("untrained", parts, compute)


def format_generation_table(results: dict, title: str = "") -> str:
    """A plain-text table of the scalar metrics in ``results`` and of its baselines."""
    lines = [title] if title else []

    def add_scalars(values, prefix=""):
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            shown = f"{value:>12.5g}" if isinstance(value, float) else f"{value:>12d}"
            lines.append(f"  {prefix + key:<40}{shown}")

    add_scalars(results)
    for name, values in results.get("baselines", {}).items():
        add_scalars({k: v for k, v in values.items() if k in ("fid", "kid", "psnr", "ssim",
                                                              "inception_score")},
                    prefix=f"{name}: ")
    for note in results.get("notes", []):
        lines.append(f"  note: {note}")
    return "\n".join(lines)

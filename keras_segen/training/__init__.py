"""From a recipe to a trained, evaluated model folder."""
from keras_segen.training.recipes import list_recipes, load_recipe, with_overrides


def train(recipe, out_dir, *, strategy=None, precision=None, jit_compile=None, verbose=2,
          **overrides):
    """Train a recipe (a dict, a zoo recipe name, or a JSON path) into ``out_dir``.

    Args:
        strategy: ``"none"`` (default), ``"mirrored"``, ``"multi_worker"`` (cluster from
            ``TF_CONFIG``), ``"tpu"``, or a ``tf.distribute.Strategy``; see
            ``keras_segen.training.distribution``. The batch size is the global batch.
        precision: ``"float32"``, ``"mixed_bfloat16"``, ``"mixed_float16"`` or ``"auto"``
            (``precision.auto_precision``); None keeps the recipe's ``train.precision``.
        jit_compile: True/False XLA-compiles the train step or not; None keeps the
            recipe's ``train.jit_compile`` (default ``"auto"``, Keras' choice).
        **overrides: other ``train`` keys (``epochs``, ``batch_size``, ...); None values
            are ignored.
    """
    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    recipe = with_overrides(recipe, precision=precision, jit_compile=jit_compile, **overrides)
    if recipe["task"] == "segmentation":
        from keras_segen.training.segmentation import train_segmentation

        return train_segmentation(recipe, out_dir, verbose=verbose, strategy=strategy)
    if recipe["task"] == "generation":
        from keras_segen.training.generation import train_generation

        return train_generation(recipe, out_dir, verbose=verbose, strategy=strategy)
    raise ValueError(f"no trainer for task {recipe['task']!r} (recipe {recipe['name']})")


__all__ = ["list_recipes", "load_recipe", "train", "with_overrides"]

"""From a recipe to a trained, evaluated model folder (``trainer.run_training``)."""
from keras_segen.training.recipes import list_recipes, load_recipe, with_overrides


def train(recipe, out_dir, *, strategy=None, precision=None, jit_compile=None, verbose=2,
          overwrite=False, **overrides):
    """Train a recipe (a dict, a zoo recipe name, or a JSON path) into ``out_dir``.

    Args:
        strategy: ``"none"`` (default), ``"mirrored"``, ``"multi_worker"`` (cluster from
            ``TF_CONFIG``), ``"tpu"``, or a ``tf.distribute.Strategy``; see
            ``keras_segen.training.distribution``. The batch size is the global batch.
        precision: ``"float32"``, ``"mixed_bfloat16"``, ``"mixed_float16"`` or ``"auto"``
            (``precision.auto_precision``); None keeps the recipe's ``train.precision``.
        jit_compile: True/False XLA-compiles the train step or not; None keeps the
            recipe's ``train.jit_compile`` (default ``"auto"``, Keras' choice).
        overwrite: a folder holding another recipe's run is emptied and reused (else
            refused, naming the difference).
        **overrides: other ``train`` keys (``epochs``, ``batch_size``, ...); None values
            are ignored. Every value is checked as the recipe's own would be.
    """
    from keras_segen.training.recipes import read_recipe
    from keras_segen.training.trainer import run_training
    from keras_segen.user_modules import import_user_modules

    typed = read_recipe(recipe)
    import_user_modules(typed.imports, where=f"recipe {typed.name}")
    typed = typed.with_overrides(precision=precision, jit_compile=jit_compile, **overrides)
    return run_training(typed.to_dict(), out_dir, verbose=verbose, strategy=strategy,
                        overwrite=overwrite)


__all__ = ["list_recipes", "load_recipe", "train", "with_overrides"]

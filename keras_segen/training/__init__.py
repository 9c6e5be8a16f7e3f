"""From a recipe to a trained, evaluated model folder (``trainer.run_training``)."""
from keras_segen.training.recipes import list_recipes, load_recipe, with_overrides


def train(recipe, out_dir, *, data=None, image_size=None, tile_size=None, strategy=None,
          precision=None, jit_compile=None, verbose="auto", overwrite=False, **overrides):
    """Train a recipe (a dict, a zoo recipe name, or a JSON path) into ``out_dir``.

    Args:
        data: a folder of your own data (``keras_segen.training.own_data``); ``recipe``
            is then an architecture name (``"unet"``, ``"dcgan"``) or a zoo name
            (``"unet_bluemarble"``: start from its weights). Every file is checked
            before anything is built or written.
        image_size: with ``data``: ``(H, W)`` (or one int) to resize images to.
        tile_size: with ``data``, segmentation: train on random N x N crops, evaluate
            whole images as N x N tiles.
        strategy: ``"none"`` (default), ``"mirrored"``, ``"multi_worker"`` (cluster from
            ``TF_CONFIG``), ``"tpu"``, or a ``tf.distribute.Strategy``; see
            ``keras_segen.training.distribution``. The batch size is the global batch.
        precision: ``"float32"``, ``"mixed_bfloat16"``, ``"mixed_float16"`` or ``"auto"``
            (``precision.auto_precision``); None keeps the recipe's ``train.precision``.
        jit_compile: True/False XLA-compiles the train step or not; None keeps the
            recipe's ``train.jit_compile`` (default ``"auto"``, Keras' choice).
        verbose: ``fit``'s: 0 silent, 1 a progress bar, 2 one line per epoch; ``"auto"``
            a bar on a terminal, one line per epoch otherwise (a log file, CI).
        overwrite: a folder holding another recipe's run is emptied and reused (else
            refused, naming the difference).
        **overrides: other ``train`` keys (``epochs``, ``batch_size``, ...); None values
            are ignored. Every value is checked as the recipe's own would be.
    """
    from keras_segen.training.recipes import read_recipe
    from keras_segen.training.trainer import run_training
    from keras_segen.user_modules import import_user_modules

    if data is None:
        if image_size is not None or tile_size is not None:
            raise ValueError("image_size and tile_size go with data=DIR (--data)")
        typed = read_recipe(recipe)
        import_user_modules(typed.imports, where=f"recipe {typed.name}")
    else:
        from keras_segen.training import own_data

        if not isinstance(recipe, str):
            raise ValueError(f"with data=, give an architecture or zoo name, got {recipe!r}")
        seed = overrides.get("seed")
        typed = read_recipe(own_data.own_data_recipe(
            recipe, data, image_size=image_size, tile_size=tile_size,
            seed=0 if seed is None else seed))
    typed = typed.with_overrides(precision=precision, jit_compile=jit_compile, **overrides)
    if data is not None:  # every file read before any model or output folder exists
        given = overrides.get("batch_size") is not None
        checked = own_data.finish_recipe(typed.to_dict(), own_data.check_data(typed.to_dict()),
                                         given)
        typed = read_recipe(checked)
    return run_training(typed.to_dict(), out_dir, verbose=verbose, strategy=strategy,
                        overwrite=overwrite)


__all__ = ["list_recipes", "load_recipe", "train", "with_overrides"]

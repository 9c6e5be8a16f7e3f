"""The data a recipe names: one split of its dataset with the recipe's loader options."""
from keras_segen.datasets import load


def load_recipe_split(recipe, split, *, training=False):
    """``(dataset, info)`` of a recipe's dataset split, with the recipe's loader options
    (and ``train_options`` when ``training``) and its ``limit`` for that split."""
    data_cfg = recipe["dataset"]
    options = dict(data_cfg.get("options", {}))
    if training:
        options.update(data_cfg.get("train_options", {}))
    dataset, info = load(data_cfg["name"], split, **options)
    limit = (data_cfg.get("limit") or {}).get(split)
    if limit:
        dataset = dataset.take(int(limit))
    return dataset, info

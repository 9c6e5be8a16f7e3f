"""The data a recipe names: one split of its dataset with the recipe's loader options."""
from keras_segen.datasets import load, protocols


def protocol_options(recipe, protocol) -> dict:
    """The loader options of evaluation ``protocol`` of the recipe's dataset (None: the
    recipe's own); an unknown protocol is refused naming the known ones."""
    if protocol is None:
        return {}
    name = recipe["dataset"]["name"]
    known = protocols(name)
    if protocol not in known:
        raise ValueError(f"dataset {name} has no evaluation protocol {protocol!r}; "
                         f"known: {', '.join(known) or 'none (only its own tiles)'}")
    return known[protocol]


def load_recipe_split(recipe, split, *, training=False, protocol=None):
    """``(dataset, info)`` of a recipe's dataset split, with the recipe's loader options
    (and ``train_options`` when ``training``; a ``protocol``'s options, e.g. whole
    regions, last) and its ``limit`` for that split."""
    data_cfg = recipe["dataset"]
    options = dict(data_cfg.get("options", {}))
    if training:
        options.update(data_cfg.get("train_options", {}))
    options.update(protocol_options(recipe, protocol))
    dataset, info = load(data_cfg["name"], split, **options)
    limit = (data_cfg.get("limit") or {}).get(split)
    if limit:
        dataset = dataset.take(int(limit))
    return dataset, info

"""From a recipe to a trained, evaluated model folder."""
from keras_segen.training.recipes import list_recipes, load_recipe, with_overrides


def train(recipe, out_dir, **overrides):
    """Train a recipe (a dict, a zoo recipe name, or a JSON path) into ``out_dir``."""
    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    recipe = with_overrides(recipe, **overrides)
    if recipe["task"] == "segmentation":
        from keras_segen.training.segmentation import train_segmentation

        return train_segmentation(recipe, out_dir)
    if recipe["task"] == "generation":
        from keras_segen.training.generation import train_generation

        return train_generation(recipe, out_dir)
    raise ValueError(f"no trainer for task {recipe['task']!r} (recipe {recipe['name']})")


__all__ = ["list_recipes", "load_recipe", "train", "with_overrides"]

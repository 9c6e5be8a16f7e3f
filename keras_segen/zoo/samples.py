"""Sample pictures shipped with an artifact (``samples/*.png``), fixed by seed so a
rebuild of the same weights draws the same pictures.

* segmentation: test tiles that hold several classes, one row each:
  image | truth overlay | predicted overlay; for datasets with a ``regions`` protocol
  also the whole test regions richest in the rarest class: image | truth | prediction |
  errors (magenta);
* GANs and VAEs: a grid of generated images (conditional models: one row per class);
* pix2pix: condition | target | output rows for test tiles;
* classification: none (the classifier is a feature extractor for the zoo's metrics).
"""
import pathlib

import numpy as np

from keras_segen.zoo import describe

SEED = 0


def _mixed_tiles(dataset, count):
    """Up to ``count`` tiles with two or more classes, spread evenly over the split."""
    chosen = [(image, mask) for image, mask in dataset.as_numpy_iterator()
              if len(np.unique(mask[mask != 255])) >= 2]
    if not chosen:
        chosen = list(dataset.take(count).as_numpy_iterator())
    step = max(1, len(chosen) // count)
    return chosen[::step][:count]


def segmentation_overlays(model, recipe, palette, path, count=6, scale=2):
    from keras_segen import datasets
    from keras_segen.pictures import image_grid, save_png
    from keras_segen.visualize import colorize, overlay

    data = recipe["dataset"]
    split = describe.splits(recipe)["test"]
    dataset, _ = datasets.load(data["name"], split, **data.get("options", {}))
    rows = []
    for image, mask in _mixed_tiles(dataset, count):
        picture = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        logits = np.asarray(model(image[None], training=False))[0]
        predicted = np.argmax(logits, axis=-1)
        rows += [picture, overlay(picture, colorize(mask, palette)),
                 overlay(picture, colorize(predicted, palette))]
    grid = image_grid(np.stack(rows).astype(np.float32) / 255.0, columns=3)
    return save_png(grid, path, scale)


def region_overlays(model, recipe, palette, path, count=3):
    """Whole test regions (the ``regions`` protocol) holding the most pixels of the
    rarest class, one four-panel row each, at full resolution."""
    from keras_segen.datasets.recipe_data import load_recipe_split
    from keras_segen.pictures import save_png
    from keras_segen.visualize import overlay_panels

    dataset, _ = load_recipe_split(recipe, describe.splits(recipe)["test"],
                                   protocol="regions")
    regions = list(dataset.as_numpy_iterator())
    counts = np.stack([np.bincount(m[m != 255].ravel(), minlength=len(palette))[:len(palette)]
                       for _, m in regions])
    rarest = int(np.argmin(counts.sum(axis=0)))
    rows = []
    for index in np.argsort(-counts[:, rarest], kind="stable")[:count]:
        image, mask = regions[index]
        picture = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        predicted = np.argmax(np.asarray(model(image[None], training=False))[0], axis=-1)
        rows.append(np.concatenate(overlay_panels(picture, mask, predicted, palette), axis=1))
    return save_png(np.concatenate(rows, axis=0), path)


def write_samples(model, recipe, card_classes, folder) -> list[pathlib.Path]:
    """Write the entry's sample PNGs into ``folder/samples`` (what the recipe's kind
    draws); returns their paths."""
    from keras_segen.kinds import kind_of_recipe

    return kind_of_recipe(recipe).write_samples(model, recipe, card_classes,
                                                pathlib.Path(folder))

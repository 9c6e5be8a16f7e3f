"""Run folders for report tests, written without training (a built model, a history,
a metrics.json), and a check that every image of a page decodes."""
import base64
import html.parser
import io
import json

import numpy as np
from PIL import Image

import keras_segen
from keras_segen import training


class ImageSources(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs).get("src", ""))


def decoded_images(page: str) -> list:
    """Every <img> of ``page`` decoded with PIL; fails on anything but a PNG data URI."""
    parser = ImageSources()
    parser.feed(page)
    images = []
    for source in parser.sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix), source[:60]
        data = base64.b64decode(source[len(prefix):], validate=True)
        assert data, "empty image"
        picture = Image.open(io.BytesIO(data))
        picture.load()
        images.append(picture)
    return images


def write_history(folder, rows):
    fields = list(rows[0])
    lines = [",".join(fields)] + [",".join(str(row[f]) for f in fields) for row in rows]
    (folder / "history.csv").write_text("\n".join(lines) + "\n")


def segmentation_run(folder, epochs=2):
    """A U-Net run folder on 32-px Blue Marble tiles (untrained weights)."""
    recipe = training.load_recipe("unet_bluemarble")
    recipe["kwargs"].update(depth=2, base_filters=4)
    recipe["dataset"]["options"]["tile_size"] = 32
    recipe["dataset"]["limit"] = {"val": 24, "test": 24}  # keeps evaluate quick
    recipe["dataset"].pop("val_protocol", None)  # val as 32-px tiles too, not whole regions
    folder.mkdir(parents=True, exist_ok=True)
    keras_segen.build("unet", **recipe["kwargs"]).save(folder / "model.keras")
    (folder / "run.json").write_text(json.dumps({"recipe": recipe}))
    write_history(folder, [{"epoch": e, "loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1),
                            "mean_iou": 0.3 + 0.1 * e, "val_mean_iou": 0.25 + 0.1 * e,
                            "iou_land": 0.4, "val_iou_land": 0.35}
                           for e in range(epochs)])
    (folder / "metrics.json").write_text(json.dumps({
        "recipe": recipe, "class_names": ["ocean", "land", "lake"],
        "bluemarble/test": {"mean_iou": 0.5, "pixel_accuracy": 0.9,
                            "per_class_iou": {"ocean": 0.9, "land": 0.6, "lake": None}}}))
    return folder, recipe


def dcgan_run(folder, epochs=2):
    """A DCGAN run folder on the Fashion-MNIST files the test set up, with one sample
    grid per epoch as the run's SampleGrid callback writes them."""
    from keras_segen.pictures import image_grid, save_png

    recipe = {"name": "tiny_dcgan", "task": "generation", "arch": "dcgan",
              "kwargs": {"latent_dim": 4, "base_filters": 4, "seed": 0},
              "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                          "train_split": "train", "val_split": None, "test_split": "test"},
              "train": {"epochs": epochs, "batch_size": 8, "seed": 0,
                        "samples": {"num_images": 4}}}
    folder.mkdir(parents=True, exist_ok=True)
    model = keras_segen.build("dcgan", **recipe["kwargs"])
    model.save(folder / "model.keras")
    (folder / "run.json").write_text(json.dumps({"recipe": recipe}))
    write_history(folder, [{"epoch": e, "d_loss": 1.3, "g_loss": 0.7 + e} for e in range(epochs)])
    (folder / "metrics.json").write_text(json.dumps(
        {"recipe": recipe, "fashion_mnist/test": {"fid": 42.5, "kid": 0.1}}))
    for epoch in range(1, epochs + 1):
        save_png(image_grid(np.random.default_rng(epoch).random((4, 28, 28, 1))),
                 folder / "samples" / f"epoch_{epoch:03d}.png", 2)
    return folder, recipe

"""The image-to-image kind: pix2pix (``keras_segen.generation.pix2pix``), condition map
-> image.

Trains on ``(condition, target)`` pairs, draws input | target | output strips per
epoch, reports PSNR/SSIM, FID/KID on the zoo U-Net's features and the FCN-score of its
outputs, serves ``translate`` (class-id masks -> images); ``keras-segen generate`` draws
translated test tiles.
"""
from keras_segen.kinds.generative import GenerativeKind, split_names


class ImageToImageKind(GenerativeKind):
    name = "image_to_image"
    headline_metrics = ("psnr", "fid")
    keeps_labels = True  # the "labels" of a pair are its target images
    samples_from_prior = False
    measured_by = "translations"

    def picture_callbacks(self, model, out, recipe, data, seed):
        from keras_segen.callbacks.samples import Pix2PixTriplets
        from keras_segen.pictures import pick_tiles

        cfg, every, sample_seed = self.picture_settings(recipe, seed)
        picture_ds = data.val if data.val is not None else data.test
        conditions, targets = pick_tiles(picture_ds, int(cfg.get("num_tiles", 8)), sample_seed)
        return [Pix2PixTriplets(conditions, targets, out / "triplets",
                                palette=data.test_info.palette or None, every=every)]

    def classes_used_as(self, kwargs):
        return "condition channels"

    def io_records(self, recipe, kwargs):
        image = list(kwargs["image_shape"])
        condition = recipe["dataset"].get("options", {}).get("condition", "mask")
        channels = kwargs["condition_channels"]
        text = (f"one-hot class map with {channels} channels (float32 0/1)"
                if condition == "mask" else "shaded relief image in [-1, 1]")
        return ({"shape": image[:2] + [channels], "dtype": "float32",
                 "value_range": [0.0, 1.0] if condition == "mask" else [-1.0, 1.0],
                 "preprocessing": f"condition: {text}"},
                {"shape": image,
                 "description": "satellite-like image; model.translate returns it in [0, 1]"})

    def feature_model_paths(self, recipe):
        from keras_segen.evaluation import feature_models as gen_eval

        given = recipe.get("evaluation", {}).get("segmenter")
        return {gen_eval.SEGMENTER_NAME if given is None else "segmenter":
                given or gen_eval.default_segmenter_path()}

    def write_samples(self, model, recipe, card_classes, folder):
        from keras_segen.pictures import recipe_translation_grid

        return [recipe_translation_grid(model, recipe, 8, seed=0,
                                        path=folder / "samples" / "test_translations.png",
                                        split=split_names(recipe)["test"])]

    def write_picture(self, model, recipe, *, num, seed, label, path, columns, scale):
        from keras_segen.pictures import recipe_translation_grid

        if recipe is None:
            raise ValueError(f"{model.name}: no metrics.json or card.json says which tiles "
                             "it translates")
        if label is not None:
            raise ValueError("pix2pix takes no --label: it translates condition tiles")
        return recipe_translation_grid(model, recipe, num, seed=seed, path=path, scale=scale)

    def endpoints(self, model):
        from keras_segen.serving.generation import pix2pix_endpoints

        return pix2pix_endpoints(model)

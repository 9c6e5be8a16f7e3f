"""The diffusion kind: DDPM-trained, DDIM-sampled denoisers
(``keras_segen.generation.diffusion``).

One optimizer (``train.optimizer``, default AdamW 2e-4), a checkpoint per epoch, NaN
guards on ``loss``, a fixed-seed sample grid per epoch (``train.samples``), FID/KID/IS
of DDIM samples on the test split (``evaluation.generation``: the Fashion classifier's
features, or the zoo U-Net's pooled features when the recipe's
``evaluation`` block names a ``segmenter`` key, as pix2pix_bluemarble's does), served as
``sample(batch_size, seed, steps)`` and ``serving_default(z, steps)`` (plus ``labels``
and ``guidance`` when class-conditional).

The number of DDIM steps of evaluation, samples and serving defaults is the builder's
``sampling_steps`` (in the recipe's ``kwargs``): the untrained baseline, built from the
same kwargs, is then sampled the same way.
"""
from keras_segen.kinds.generative import GenerativeKind, split_names


class DiffusionKind(GenerativeKind):
    name = "diffusion"
    headline_metrics = ("fid", "kid")

    def compile(self, model, train_cfg, class_names=None, class_weights=None):
        return self.compile_one_optimizer(model, train_cfg, adam_fallback=False)  # AdamW

    def pipelines(self, model, data, batch_size, seed, repeat):
        """The generative pipelines, images moved from the dataset's ``value_range``
        (Blue Marble tiles: [0, 1]) to the [-1, 1] the model trains on."""
        train_pipe, val_pipe = super().pipelines(model, data, batch_size, seed, repeat)
        low, high = (float(v) for v in data.info.extra.get("value_range", self.data_range))
        if (low, high) == self.data_range:
            return train_pipe, val_pipe

        def rescale(*batch):
            images = (batch[0] - low) * (2.0 / (high - low)) - 1.0
            return images if len(batch) == 1 else (images, *batch[1:])

        return tuple(None if pipe is None else pipe.map(rescale) for pipe in
                     (train_pipe, val_pipe))

    def reporter(self, recipe, data=None, *, split=None):
        """The generative report, its nearest training images read in their dataset's
        own ``value_range``."""
        from keras_segen.datasets.recipe_data import load_recipe_split
        from keras_segen.reports.generation import GenerationReporter, training_images

        _, _, seed = self.picture_settings(recipe, int(recipe["train"].get("seed", 0)))
        dataset, info = (data.train, data.info) if data is not None else load_recipe_split(
            recipe, split_names(recipe)["train"], training=True)
        value_range = info.extra.get("value_range", self.data_range)
        return GenerationReporter(recipe, training_images(dataset, value_range), seed=seed)

    def picture_callbacks(self, model, out, recipe, data, seed):
        from keras_segen.callbacks.samples import SampleGrid

        cfg, every, sample_seed = self.picture_settings(recipe, seed)
        return [SampleGrid(out / "samples", num_images=int(cfg.get("num_images", 64)),
                           seed=sample_seed, every=every)]

    def evaluate(self, model, recipe, split, *, batch_size=None, num_images=None,
                 baselines=None, class_names=None, eval_samples=None):
        from keras_segen.evaluation.feature_models import segmenter_source
        from keras_segen.evaluation.generation import evaluate_recipe_model

        eval_cfg = recipe.get("evaluation") or {}
        # Satellite tiles: measured on the zoo U-Net's features (pix2pix_bluemarble's
        # protocol); the recipe says so by having a "segmenter" entry.
        segmenter = (segmenter_source(eval_cfg.get("segmenter"))
                     if "segmenter" in eval_cfg else None)
        return evaluate_recipe_model(model, recipe, split=split, num_images=num_images,
                                     baselines=baselines, eval_samples=eval_samples,
                                     segmenter=segmenter)

    def feature_model_paths(self, recipe):
        eval_cfg = recipe.get("evaluation") or {}
        if "segmenter" not in eval_cfg:
            return super().feature_model_paths(recipe)
        from keras_segen.evaluation import feature_models as gen_eval

        given = eval_cfg.get("segmenter")
        return {gen_eval.SEGMENTER_NAME if given is None else "segmenter":
                given or gen_eval.default_segmenter_path()}

    def io_records(self, recipe, kwargs):
        image = list(kwargs.get("image_shape", (28, 28, 1)))
        labels = (f" and int class labels in [0, {kwargs['num_classes']})"
                  if kwargs.get("num_classes") else "")
        return ({"shape": image, "dtype": "float32", "value_range": None,
                 "preprocessing": f"initial noise x_T ~ N(0, 1) of the image's shape{labels};"
                                  " model.generate(n, seed=..., steps=...) draws it and runs "
                                  "DDIM"},
                {"shape": image,
                 "description": "DDIM samples in [-1, 1]; model.generate returns them in "
                                "[0, 1]"})

    def endpoints(self, model):
        from keras_segen.serving.diffusion import diffusion_endpoints

        return diffusion_endpoints(model)

"""The adversarial kind: latent-vector GANs (DCGAN, WGAN-GP, cGAN) on
``keras_segen.generation.adversarial.LatentGAN``.

Two optimizers (``train.g_optimizer`` / ``d_optimizer``), a fixed-seed sample grid per
epoch, FID/KID/IS of generated images on the test split, ``serving_default(z[,
labels])`` and ``sample(batch_size, seed)``.
"""
from keras_segen.kinds.generative import GenerativeKind


class AdversarialKind(GenerativeKind):
    name = "adversarial"
    headline_metrics = ("fid", "classifier_accuracy")

    def picture_callbacks(self, model, out, recipe, data, seed):
        from keras_segen.callbacks.samples import SampleGrid

        cfg, every, sample_seed = self.picture_settings(recipe, seed)
        return [SampleGrid(out / "samples", num_images=int(cfg.get("num_images", 100)),
                           seed=sample_seed, every=every)]

    def io_records(self, recipe, kwargs):
        image = list(kwargs["image_shape"])
        labels = (f" and int class labels in [0, {kwargs['num_classes']})"
                  if kwargs.get("num_classes") else "")
        return ({"shape": [kwargs["latent_dim"]], "dtype": "float32", "value_range": None,
                 "preprocessing": f"latent vectors z ~ N(0, 1){labels}; "
                                  "model.generate(n, seed=..., labels=...) draws them"},
                {"shape": image,
                 "description": "images in [-1, 1] from the generator; model.generate "
                                "returns them in [0, 1]"})

    def endpoints(self, model):
        # A family with signatures of its own (StyleGAN's truncation) declares them.
        if hasattr(type(model), "serving_endpoints"):
            return model.serving_endpoints()
        from keras_segen.serving.generation import gan_endpoints

        return gan_endpoints(model)

"""The variational kind: VAE and CVAE (``keras_segen.generation.vae``).

One optimizer, sample grids plus reconstructions and latent traversals per epoch,
PSNR/SSIM of reconstructions and FID/KID of reconstructions and prior samples,
``reconstruct`` / ``encode`` / ``decode`` / ``sample`` signatures.
"""
from keras_segen.kinds.generative import GenerativeKind


class VariationalKind(GenerativeKind):
    name = "variational"
    headline_metrics = ("psnr", "sample_fid")
    data_range = (0.0, 1.0)
    measured_by = "reconstructions"  # and samples of the prior

    def compile(self, model, train_cfg, class_names=None, class_weights=None):
        return self.compile_one_optimizer(model, train_cfg)

    def picture_callbacks(self, model, out, recipe, data, seed):
        from keras_segen.callbacks.samples import SampleGrid, VAEReconstructions

        cfg, every, sample_seed = self.picture_settings(recipe, seed)
        picture_ds = data.val if data.val is not None else data.test
        images, labels = next(iter(picture_ds.batch(int(cfg.get("reconstructions", 16)))))
        conditional = bool(getattr(model, "num_classes", 0))
        return [
            SampleGrid(out / "samples", num_images=int(cfg.get("num_images", 100)),
                       seed=sample_seed, every=every),
            VAEReconstructions(images.numpy(), out / "reconstructions",
                               labels=labels.numpy() if conditional else None, every=every),
        ]

    def io_records(self, recipe, kwargs):
        image = list(kwargs["image_shape"])
        labels = " with int class labels" if kwargs.get("num_classes") else ""
        return ({"shape": image, "dtype": "float32", "value_range": [0.0, 1.0],
                 "preprocessing": f"grey image as float32 = uint8 / 255{labels} "
                                  "(encode / reconstruct); decode takes latent vectors of "
                                  f"size {kwargs['latent_dim']}"},
                {"shape": image,
                 "description": "reconstructions and samples in [0, 1] (reconstruct, "
                                "decode, generate)"})

    def endpoints(self, model):
        from keras_segen.serving.generation import vae_endpoints

        return vae_endpoints(model)

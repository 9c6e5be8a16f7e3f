"""The autoregressive kind: likelihood models that sample pixel by pixel (the gated
PixelCNN, ``keras_segen.generation.pixelcnn``).

One optimizer (``train.optimizer``), the checkpoint kept on the lowest validation
``bits_per_dim``, a fixed-seed sample grid per epoch, and on the card the held-out
split's **bits/dim** (negative log-likelihood per sub-pixel in bits, the number
PixelCNN papers report) next to FID/KID/IS of sampled images on the shared
generation path (``keras_segen.evaluation.generation``; sampled images are measured
exactly as a GAN's are). Serving: ``log_prob`` (= ``serving_default``) and ``sample``.
"""
import math

from keras_segen.kinds.generative import GenerativeKind


def held_out_bits_per_dim(model, dataset, *, limit=None, batch_size=256):
    """``(bits/dim, images)`` of ``model`` on an unbatched ``(images, labels)`` dataset of
    images in [0, 1]: the mean negative log-likelihood per sub-pixel, in bits."""
    import numpy as np
    import tensorflow as tf

    from keras_segen.progress import progress_bar

    if limit is not None:
        dataset = dataset.take(int(limit))
    conditional = bool(getattr(model, "num_classes", 0))
    log_prob = tf.function(lambda images, labels: model.log_prob(
        images, tf.cast(labels, tf.int32) if conditional else None))
    total, count, bar = 0.0, 0, progress_bar(limit, "image")
    for images, labels in dataset.batch(batch_size):
        total += float(np.sum(log_prob(tf.cast(images, tf.float32), labels).numpy()))
        count += int(images.shape[0])
        bar.add(int(images.shape[0]))
    if not count:
        raise ValueError("bits/dim: the held-out split has no images")
    dims = count * float(np.prod(model.image_shape))
    return -total / (dims * math.log(2.0)), count


class AutoregressiveKind(GenerativeKind):
    name = "autoregressive"
    headline_metrics = ("bits_per_dim", "fid")
    checkpoint_monitor = ("val_bits_per_dim", "min")
    data_range = (0.0, 1.0)

    def compile(self, model, train_cfg, class_names=None, class_weights=None):
        return self.compile_one_optimizer(model, train_cfg)

    def nan_monitors(self, model):
        return ["loss"]

    def picture_callbacks(self, model, out, recipe, data, seed):
        from keras_segen.callbacks.samples import SampleGrid

        cfg, every, sample_seed = self.picture_settings(recipe, seed)
        return [SampleGrid(out / "samples", num_images=int(cfg.get("num_images", 100)),
                           seed=sample_seed, every=every)]

    # --- evaluation ---------------------------------------------------------------
    def evaluate(self, model, recipe, split, *, batch_size=None, num_images=None,
                 baselines=None, class_names=None, eval_samples=None):
        """``bits_per_dim`` on ``split`` (at most ``eval_samples`` images) plus the FID/KID/IS
        of ``num_images`` samples (default: the recipe's ``evaluation.num_images``, or
        ``eval_samples``). A missing feature classifier leaves a note, not an error:
        bits/dim needs none. ``baselines`` (default: the recipe's): ``untrained``
        (fresh weights seeded by ``train.seed``: bits/dim, FID) and ``real_floor``."""
        from keras_segen.datasets.recipe_data import load_recipe_split
        from keras_segen.evaluation.feature_models import FeatureModelUnfit
        from keras_segen.generation.base import positive_int

        eval_cfg = recipe.get("evaluation", {})
        if eval_samples is not None:
            positive_int(eval_samples, "eval_samples")
        if num_images is not None:
            positive_int(num_images, "num_images")
        num_images = num_images or eval_samples or eval_cfg.get("num_images")
        batch_size = int(batch_size or 256)
        dataset, _ = load_recipe_split(recipe, split)
        bits, count = held_out_bits_per_dim(model, dataset, limit=eval_samples,
                                            batch_size=batch_size)
        results = {"bits_per_dim": bits, "num_likelihood_images": count}
        evaluator = None
        try:
            evaluator = self.curve_evaluator(recipe, split=split, num_real=eval_samples)
            results.update(evaluator.evaluate(model, num_images=num_images))
        except (FileNotFoundError, FeatureModelUnfit) as err:
            results["notes"] = [f"sample metrics (FID/KID/IS) skipped: {err}"]
        if baselines if baselines is not None else eval_cfg.get("baselines", False):
            results["baselines"] = self._baselines(recipe, dataset, evaluator, num_images,
                                                   eval_samples, batch_size)
        return results

    def _baselines(self, recipe, dataset, evaluator, num_images, eval_samples, batch_size):
        import keras

        import keras_segen
        from keras_segen import registry

        seed = int(recipe["train"].get("seed", 0))

        def untrained():
            keras.utils.set_random_seed(seed)
            model = registry.build(recipe["arch"], **recipe["kwargs"])
            found = {"bits_per_dim": held_out_bits_per_dim(model, dataset, limit=eval_samples,
                                                           batch_size=batch_size)[0]}
            if evaluator is not None:
                found.update(evaluator.evaluate(model, num_images=num_images))
            return found

        found = {}
        if evaluator is None:
            found["untrained"] = untrained()
            return found
        parts = {"arch": recipe["arch"], "kwargs": recipe["kwargs"], "seed": seed,
                 "num_images": num_images, "eval_samples": eval_samples,
                 "imports": recipe.get("imports", []),
                 "versions": [keras_segen.__version__, keras.__version__]}
        found["untrained"] = evaluator.cached_results("untrained_likelihood", parts, untrained)
        from keras_segen.datasets.recipe_data import load_recipe_split

        train_split = recipe["dataset"].get("train_split", "train")
        train_data, _ = load_recipe_split(recipe, train_split, training=True)
        found["real_floor"] = {**evaluator.real_floor(train_data), "split": train_split}
        return found

    def baselines(self, model, recipe):
        if not recipe.get("evaluation", {}).get("baselines"):
            return {}
        from keras_segen.kinds.base import split_names

        return self.evaluate(model, recipe, split_names(recipe)["test"],
                             baselines=True).get("baselines", {})

    def format_results(self, results, title=""):
        from keras_segen.evaluation.generation import format_generation_table

        table = format_generation_table(results, title=title)
        extra = [f"  {name + ': bits_per_dim':<40}{values['bits_per_dim']:>12.5g}"
                 for name, values in results.get("baselines", {}).items()
                 if isinstance(values.get("bits_per_dim"), float)]
        return "\n".join([table, *extra]) if extra else table

    # --- zoo cards ----------------------------------------------------------------
    def io_records(self, recipe, kwargs):
        image = list(kwargs.get("image_shape", (28, 28, 1)))
        labels = (f" with int class labels in [0, {kwargs['num_classes']})"
                  if kwargs.get("num_classes") else "")
        return ({"shape": image, "dtype": "float32", "value_range": [0.0, 1.0],
                 "preprocessing": f"image as float32 = uint8 / 255{labels} (log_prob, "
                                  "bits_per_dim, fit); model.generate(n, seed=...) samples "
                                  "pixel by pixel"},
                {"shape": image + [int(kwargs.get("mixture_components", 5)) * 3
                                   if kwargs.get("output") == "logistic_mixture" else 256],
                 "description": "per sub-pixel distribution parameters (256 logits, or a "
                                "discretized logistic mixture); generate returns images in "
                                "[0, 1]"})

    def endpoints(self, model):
        from keras_segen.serving.autoregressive import pixelcnn_endpoints

        return pixelcnn_endpoints(model)

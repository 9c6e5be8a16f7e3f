"""What the generative kinds share: data from the recipe's splits, one checkpoint per
epoch, NaN guards on every loss tracker, FID/KID-style evaluation of the test split
(``keras_segen.evaluation.generation``) and the generation zoo card fields."""
from keras_segen.evaluation.feature_models import FeatureModelUnfit
from keras_segen.kinds.base import ModelKind, TrainingData, metrics_key, split_names


class GenerativeKind(ModelKind):
    task = "generation"
    verbs = frozenset({"generate"})
    # The value range of the images this kind's recipes train on.
    data_range = (-1.0, 1.0)
    # Batches keep their labels / targets (conditional models, image-to-image pairs).
    keeps_labels = False
    # ``model.generate(n, seed=...)`` draws from a prior (image-to-image models translate).
    samples_from_prior = True
    # What the generation evaluator measures (keras_segen.evaluation.generation):
    # "samples" of the prior, "reconstructions" (autoencoders) or "translations".
    measured_by = "samples"

    def compile(self, model, train_cfg, class_names=None, class_weights=None):
        from keras_segen.training.compiling import jit_compile_setting, make_optimizer

        model.compile(g_optimizer=make_optimizer(train_cfg.get("g_optimizer"), "g"),
                      d_optimizer=make_optimizer(train_cfg.get("d_optimizer"), "d"),
                      jit_compile=jit_compile_setting(train_cfg))
        return model

    def compile_one_optimizer(self, model, train_cfg, *, adam_fallback=True):
        """``compile`` of the families with one optimizer (VAE, PixelCNN, diffusion): the
        recipe's ``train.optimizer``; without one, Adam at ``train.learning_rate`` (1e-3
        if unset), or with ``adam_fallback=False`` the model's own default."""
        import keras

        from keras_segen.training.compiling import jit_compile_setting, make_optimizer

        optimizer = make_optimizer(train_cfg.get("optimizer"))
        if optimizer is None and adam_fallback:
            optimizer = keras.optimizers.Adam(float(train_cfg.get("learning_rate", 1e-3)))
        model.compile(optimizer=optimizer, jit_compile=jit_compile_setting(train_cfg))
        return model

    # --- training -----------------------------------------------------------------
    def load_training_data(self, recipe, seed):
        from keras_segen.datasets.recipe_data import load_recipe_split

        split = split_names(recipe)
        train_ds, info = load_recipe_split(recipe, split["train"], training=True)
        val_ds = load_recipe_split(recipe, split["val"])[0] if split["val"] else None
        test_ds, test_info = load_recipe_split(recipe, split["test"])
        return TrainingData(train=train_ds, val=val_ds, info=info,
                            class_names=info.class_names, test=test_ds, test_info=test_info)

    def keep_labels(self, model):
        return self.keeps_labels or bool(getattr(model, "num_classes", 0))

    def pipelines(self, model, data, batch_size, seed, repeat):
        keep = self.keep_labels(model)
        train_pipe = _batches(data.train, batch_size, training=True, keep_labels=keep,
                              seed=seed, repeat=repeat)
        val_pipe = None if data.val is None else _batches(
            data.val, batch_size, training=False, keep_labels=keep, seed=seed)
        return train_pipe, val_pipe

    def nan_monitors(self, model):
        return [m.name for m in model.metrics if "loss" in m.name] or ["loss"]

    def picture_settings(self, recipe, seed):
        cfg = recipe["train"].get("samples", {})
        return cfg, int(cfg.get("every", 1)), int(cfg.get("seed", seed))

    def metric_callbacks(self, model, recipe, data, seed):
        """``train.fid_curve: {"every", "num_images"}``: FID every few epochs on the test
        split (``keras_segen.callbacks.fid_curve``)."""
        cfg = recipe["train"].get("fid_curve")
        if not cfg:
            return []
        from keras_segen.callbacks.fid_curve import FidCurve

        return [FidCurve(lambda: self.curve_evaluator(recipe), every=int(cfg.get("every", 5)),
                         num_images=int(cfg.get("num_images", 2000)))]

    def curve_evaluator(self, recipe, *, split=None, num_real=None):
        """The evaluator of the final measurement (``evaluate``), for the FID curve."""
        from keras_segen.evaluation.recipe_model import recipe_evaluator

        return recipe_evaluator(self.name, recipe, split=split, num_real=num_real)

    def reporter(self, recipe, data=None, *, split=None):
        """Curves, FID, the run's per-epoch pictures and, for kinds that sample a prior,
        the nearest training images of samples drawn with the pictures' seed."""
        from keras_segen.datasets.recipe_data import load_recipe_split
        from keras_segen.reports.generation import GenerationReporter, training_images

        _, _, seed = self.picture_settings(recipe, int(recipe["train"].get("seed", 0)))
        train = None
        if self.samples_from_prior:
            dataset = data.train if data is not None else load_recipe_split(
                recipe, split_names(recipe)["train"], training=True)[0]
            train = training_images(dataset, self.data_range)
        return GenerationReporter(recipe, train, seed=seed)

    def evaluate_run(self, model, recipe, data):
        """The test split's metrics and baselines. A missing feature model (classifier /
        segmenter) is recorded, not raised: the trained model is already saved and the
        numbers can be made later with ``keras-segen evaluate``."""
        key = metrics_key(recipe, split_names(recipe)["test"])
        results = {"class_names": data.class_names}
        try:
            metrics = self.evaluate(model, recipe, split_names(recipe)["test"],
                                    eval_samples=recipe["train"].get("eval_samples"))
        except (FileNotFoundError, FeatureModelUnfit) as err:
            print(f"evaluation skipped: {err}")
            return {**results, key: {"error": str(err)}}
        baselines = metrics.pop("baselines", None)
        results[key] = metrics
        if baselines:
            results["baselines"] = baselines
        return results

    def summary(self, results, recipe):
        key = metrics_key(recipe, split_names(recipe)["test"])
        shown = {**results.get(key, {}), "baselines": results.get("baselines", {})}
        return self.format_results(shown, f"{recipe['name']} on {key}")

    # --- evaluation ---------------------------------------------------------------
    def evaluate(self, model, recipe, split, *, batch_size=None, num_images=None,
                 baselines=None, class_names=None, eval_samples=None):
        """``eval_samples``: at most this many real and generated images (FID/KID/IS),
        for a quick look (``--eval-samples``)."""
        from keras_segen.evaluation.generation import evaluate_recipe_model

        return evaluate_recipe_model(model, recipe, split=split, num_images=num_images,
                                     baselines=baselines, eval_samples=eval_samples)

    def format_results(self, results, title=""):
        from keras_segen.evaluation.generation import format_generation_table

        return format_generation_table(results, title=title)

    # --- zoo cards ----------------------------------------------------------------
    def evaluated_splits(self, recipe):
        return [split_names(recipe)["test"]]

    def classes_used_as(self, kwargs):
        return "generation labels" if kwargs.get("num_classes") else "none"

    def feature_model_paths(self, recipe):
        from keras_segen.evaluation import feature_models as gen_eval

        given = recipe.get("evaluation", {}).get("classifier")
        return {gen_eval.CLASSIFIER_NAME if given is None else "classifier":
                given or gen_eval.default_classifier_path()}

    def baselines(self, model, recipe):
        if not recipe.get("evaluation", {}).get("baselines"):
            return {}
        from keras_segen.evaluation.generation import evaluate_recipe_model

        return evaluate_recipe_model(model, recipe, baselines=True).get("baselines", {})

    def write_samples(self, model, recipe, card_classes, folder):
        from keras_segen.pictures import generate_grid

        conditional = bool(getattr(model, "num_classes", 0))
        return [generate_grid(model, 100, seed=0, label="all" if conditional else None,
                              path=folder / "samples" / "generated.png")]

    def write_picture(self, model, recipe, *, num, seed, label, path, columns, scale):
        from keras_segen.pictures import generate_grid

        return generate_grid(model, num, seed=seed, label=label, path=path, columns=columns,
                             scale=scale)


def _batches(dataset, batch_size, *, training, keep_labels, seed, repeat=False):
    from keras_segen import datasets

    pipe = datasets.make_pipeline(dataset, batch_size=batch_size, training=training,
                                  seed=seed, repeat=repeat)
    if not keep_labels:  # unconditional models train on images alone
        pipe = pipe.map(lambda images, labels: images)
    return pipe

"""The segmentation kind: image [N, H, W, 3] in [0, 1] -> logits [N, H, W, classes].

Trains with AdamW (or ``train.optimizer``) on the recipe's loss, keeps the best epoch by
validation mean IoU, draws validation overlays, reports pixel accuracy / IoUs on the
test and val splits, serves ``serving_default`` (uint8 images -> masks) and
``predict_bytes``, and is what ``keras-segen predict`` applies to.
"""
import keras
import numpy as np

from keras_segen.datasets.recipe_data import load_recipe_split
from keras_segen.kinds.base import ModelKind, TrainingData, metrics_key, split_names
from keras_segen.training.compiling import build_loss, jit_compile_setting, make_optimizer


def segmentation_metrics(class_names):
    """Pixel accuracy, mean IoU and one IoU per class (logged as ``iou_<name>``), all
    read from one confusion matrix per step."""
    from keras_segen import metrics

    return [metrics.ConfusionMatrixScores(list(class_names), scores=("pixel_accuracy",
                                                                      "mean_iou"),
                                          per_class=("iou",))]


def segmenter_optimizer(train_cfg):
    """``train.optimizer`` as ``{"name": ..., ...}``, else AdamW from ``learning_rate``
    and ``weight_decay``."""
    return make_optimizer(train_cfg.get("optimizer")) or keras.optimizers.AdamW(
        learning_rate=float(train_cfg.get("learning_rate", 1e-3)),
        weight_decay=float(train_cfg.get("weight_decay", 0.0)),
    )


def overlay_tiles(val_ds, count):
    """``count`` fixed val tiles worth looking at: half from tiles holding every class,
    the rest spread evenly over the tiles holding at least two."""
    mixed, complete, plain = [], [], []
    for image, mask in val_ds.as_numpy_iterator():
        present = len(np.unique(mask))
        if len(plain) < count:
            plain.append((image, mask))
        if present >= 2:
            mixed.append((image, mask))
        if present >= 3:
            complete.append((image, mask))
    chosen = complete[:: max(1, len(complete) // max(1, count // 2))][: count // 2]
    rest = count - len(chosen)
    chosen += mixed[:: max(1, len(mixed) // max(1, rest))][:rest]
    if not chosen:  # own data can hold single-class tiles only: show the first ones
        chosen = plain
    if not chosen:
        raise ValueError("the validation split holds no tiles")
    images, masks = zip(*chosen)
    return np.stack(images), np.stack(masks)


class SegmentationKind(ModelKind):
    name = "segmentation"
    task = "segmentation"
    verbs = frozenset({"predict"})
    checkpoint_monitor = ("val_mean_iou", "max")
    headline_metrics = ("mean_iou", "pixel_accuracy")

    def compile(self, model, train_cfg, class_names=None, class_weights=None):
        """AdamW from ``learning_rate``/``weight_decay``, unless ``train.optimizer``
        gives one as ``{"name": ..., ...}``."""
        if class_names is None:
            class_names = [f"class_{k}" for k in range(int(model.output_shape[-1]))]
        model.compile(
            optimizer=segmenter_optimizer(train_cfg),
            loss=build_loss(train_cfg.get("loss", [["cross_entropy", 1.0]]), class_weights),
            metrics=segmentation_metrics(class_names),
            jit_compile=jit_compile_setting(train_cfg),
        )
        return model

    # --- training -----------------------------------------------------------------
    def load_training_data(self, recipe, seed):
        from keras_segen import datasets, losses

        data_cfg, train_cfg = recipe["dataset"], recipe["train"]
        options = dict(data_cfg.get("options", {}))
        train_options = {**options, **data_cfg.get("train_options", {})}  # the latter win
        train_ds, info = datasets.load(data_cfg["name"], split_names(recipe)["train"],
                                       **train_options, seed=seed)
        val_ds, _ = load_recipe_split(recipe, split_names(recipe)["val"],
                                      protocol=data_cfg.get("val_protocol"))
        class_weights = None
        if train_cfg.get("class_weighting"):
            counts = losses.class_frequencies(train_ds, len(info.class_names))
            class_weights = losses.class_weights_from_frequencies(
                counts, method=train_cfg["class_weighting"]).tolist()
        return TrainingData(train=train_ds, val=val_ds, info=info,
                            class_names=info.class_names, class_weights=class_weights,
                            augment=train_cfg.get("augment"))

    def pipelines(self, model, data, batch_size, seed, repeat):
        from keras_segen import datasets
        from keras_segen.datasets.augment import JointAugment

        augment = JointAugment.from_config(data.augment) if data.augment else None
        train_pipe = datasets.make_pipeline(data.train, batch_size=batch_size, training=True,
                                            augment=augment, seed=seed)
        if repeat:
            train_pipe = train_pipe.repeat()
        val_pipe = datasets.make_pipeline(data.val, batch_size=batch_size, training=False)
        return train_pipe, val_pipe

    def picture_callbacks(self, model, out, recipe, data, seed):
        from keras_segen.callbacks import SegmentationOverlay

        images, masks = overlay_tiles(data.val, int(recipe["train"].get("overlay_tiles", 6)))
        return [SegmentationOverlay(images, masks, data.info.palette, str(out / "overlays"),
                                    class_names=data.class_names)]

    def reporter(self, recipe, data=None, *, split=None):
        from keras_segen.reports.segmentation import SegmentationReporter, report_tiles

        split = split or split_names(recipe)["val"]
        if data is not None and split == split_names(recipe)["val"]:
            dataset, info = data.val, data.info
        else:
            dataset, info = load_recipe_split(recipe, split,
                                              protocol=recipe["dataset"].get("val_protocol"))
        images, masks = report_tiles(dataset)
        return SegmentationReporter(recipe, info.class_names, info.palette, images, masks,
                                    split=split)

    def evaluate_run(self, model, recipe, data):
        results = {"class_names": data.class_names, "palette": data.info.palette}
        for split, protocol in self.evaluations(recipe):
            results[metrics_key(recipe, split, protocol)] = self.evaluate(
                model, recipe, split, class_names=data.class_names, protocol=protocol)
        return results

    # --- evaluation ---------------------------------------------------------------
    def evaluations(self, recipe) -> list:
        """``(split, protocol)`` pairs a run and a card report: each held-out split with
        the recipe's own options (protocol None), then with every protocol its dataset
        defines (bluemarble: whole regions, with and without the Caspian)."""
        from keras_segen.datasets import protocols

        extra = list(protocols(recipe["dataset"]["name"]))
        return [(split, protocol) for split in self.evaluated_splits(recipe)
                for protocol in [None] + extra]

    def evaluate(self, model, recipe, split, *, batch_size=64, num_images=None,
                 baselines=None, class_names=None, protocol=None, tta=None):
        """``tta="flips"`` averages the class probabilities over the four flips."""
        from keras_segen.evaluation import evaluate_segmentation
        from keras_segen.evaluation.tta import with_tta

        dataset, info = load_recipe_split(recipe, split, protocol=protocol)
        if protocol is not None:  # whole regions are large: fewer per batch
            batch_size = max(1, min(batch_size, 8))
        return evaluate_segmentation(with_tta(model, tta), dataset,
                                     class_names or info.class_names, batch_size=batch_size)

    def format_results(self, results, title=""):
        from keras_segen.evaluation import format_table

        return format_table(results, title=title)

    # --- zoo cards ----------------------------------------------------------------
    def io_records(self, recipe, kwargs):
        shape = list(kwargs["input_shape"])
        return ({"shape": shape, "dtype": "float32", "value_range": [0.0, 1.0],
                 "preprocessing": "RGB image as float32 = uint8 / 255; any normalization "
                                  "is inside the model. Height and width may be any size."},
                {"shape": shape[:2] + [kwargs["num_classes"]],
                 "description": "logits [N, H, W, num_classes] at the input size; argmax "
                                "over the last axis gives the class mask"})

    def write_samples(self, model, recipe, card_classes, folder):
        from keras_segen.datasets import protocols
        from keras_segen.zoo.samples import region_overlays, segmentation_overlays

        palette = card_classes.get("palette")
        written = [segmentation_overlays(model, recipe, palette,
                                         folder / "samples" / "test_overlays.png")]
        if "regions" in protocols(recipe["dataset"]["name"]):
            written.append(region_overlays(model, recipe, palette,
                                           folder / "samples" / "test_regions.png"))
        return written

    # --- serving ------------------------------------------------------------------
    def endpoints(self, model):
        from keras_segen.serving.segmentation import segmentation_endpoints

        return segmentation_endpoints(model)

    def num_classes(self, model):
        return int(model.outputs[0].shape[-1])

    def prepare_export(self, model, *, fold_batch_norm=True, tflite=False):
        if fold_batch_norm:
            from keras_segen.serving.folding import fold_batch_norms

            return fold_batch_norms(model)
        return model

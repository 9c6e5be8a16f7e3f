"""``ModelKind``: everything the rest of the package asks about a kind of model.

A kind (segmentation, adversarial, variational, ...) is one object; code that needs to
know what a model is asks ``keras_segen.kinds.kind_of(...)`` and then calls the kind,
instead of guessing from the methods a model happens to have. A new kind subclasses
``ModelKind`` in one module and registers it with ``keras_segen.kinds.register_kind``.

The hooks fall in five groups:

* compile: ``compile(model, train_cfg, class_names, class_weights)``;
* training (the one trainer, ``keras_segen.training.trainer``, calls them in order):
  ``load_training_data`` -> ``pipelines`` -> ``checkpoint_monitor`` / ``nan_monitors``
  / ``metric_callbacks`` / ``picture_callbacks`` / ``reporter`` -> ``evaluate_run`` -> ``summary``;
* evaluation: ``evaluate`` (one split, ``keras-segen evaluate``) and ``format_results``;
* zoo cards: ``evaluated_splits``, ``classes_used_as``, ``io_records``,
  ``write_samples``, ``feature_model_paths``, ``baselines``;
* serving and the command line: ``endpoints``, ``num_classes``, ``prepare_export``,
  ``verbs`` (which of ``predict`` / ``generate`` apply) and ``write_picture``.
"""
import dataclasses
from typing import Any


@dataclasses.dataclass
class TrainingData:
    """What a kind loads for training: unbatched datasets and what they are."""

    train: Any
    val: Any  # None: no validation during fit
    info: Any  # the dataset's DatasetInfo (class names, palette, ...)
    class_names: list
    test: Any = None
    test_info: Any = None
    class_weights: Any = None
    augment: Any = None  # a JointAugment config for the training split


class ModelKind:
    """Base of every kind; subclasses override what differs (see the module docstring)."""

    name = ""
    task = ""
    # The CLI verbs that apply besides train / evaluate / export / info.
    verbs = frozenset()
    # ``(metric, mode)`` the checkpoint keeps the best of; None: the last epoch.
    checkpoint_monitor = None
    # The numbers `keras-segen list` shows for an entry of this kind, if its card has them.
    headline_metrics = ()
    # Whether ``model.generate(n, seed=...)`` samples images from a prior.
    samples_from_prior = False

    def __repr__(self):
        return f"<kind {self.name}>"

    # --- compile ------------------------------------------------------------------
    def compile(self, model, train_cfg, class_names=None, class_weights=None):
        raise NotImplementedError

    # --- training -----------------------------------------------------------------
    def load_training_data(self, recipe, seed) -> TrainingData:
        raise NotImplementedError

    def pipelines(self, model, data, batch_size, seed, repeat):
        """``(train_pipe, val_pipe or None)``: batched datasets for ``fit``."""
        raise NotImplementedError

    def nan_monitors(self, model) -> list:
        """Names of the logged losses a NaN guard watches."""
        return ["loss"]

    def picture_callbacks(self, model, out, recipe, data, seed) -> list:
        """Callbacks drawing what the model does while it trains (overlays, samples)."""
        return []

    def metric_callbacks(self, model, recipe, data, seed) -> list:
        """Callbacks that add measurements to the epoch's logs (before the history
        logger), e.g. a generative model's FID curve."""
        return []

    def reporter(self, recipe, data=None, *, split=None):
        """What ``OUT/report.html`` shows (a ``keras_segen.reports.RunReporter``): built
        once per run from the training ``data``, or (``data`` None: ``keras-segen
        report``, ``evaluate --report``) from the recipe's ``split``."""
        from keras_segen.reports import RunReporter

        return RunReporter(recipe)

    def evaluate_run(self, model, recipe, data) -> dict:
        """``{"<dataset>/<split>": metrics, ...}`` of a finished run's model."""
        raise NotImplementedError

    def summary(self, results, recipe) -> str:
        """The table a finished run prints."""
        key = metrics_key(recipe, split_names(recipe)["test"])
        return self.format_results(results.get(key, {}), f"{recipe['name']} on {key}")

    # --- evaluation ---------------------------------------------------------------
    def evaluate(self, model, recipe, split, *, batch_size=32, num_images=None,
                 baselines=None) -> dict:
        raise NotImplementedError

    def format_results(self, results, title="") -> str:
        raise NotImplementedError

    # --- zoo cards ----------------------------------------------------------------
    def evaluated_splits(self, recipe) -> list:
        """The held-out splits a card reports, test first."""
        split = split_names(recipe)
        found = [split["test"]]
        if split["val"] and split["val"] != split["test"]:
            found.append(split["val"])
        return found

    def evaluations(self, recipe) -> list:
        """``(split, protocol)`` pairs a card reports; protocol None is the recipe's own
        data options (a kind with other protocols passes them to ``evaluate``)."""
        return [(split, None) for split in self.evaluated_splits(recipe)]

    def classes_used_as(self, kwargs) -> str:
        return "predicted classes"

    def io_records(self, recipe, kwargs) -> tuple:
        raise NotImplementedError

    def write_samples(self, model, recipe, card_classes, folder) -> list:
        return []

    def feature_model_paths(self, recipe) -> dict:
        return {}

    def baselines(self, model, recipe) -> dict:
        return {}

    # --- serving and the command line ----------------------------------------------
    def endpoints(self, model) -> list:
        raise NotImplementedError

    def num_classes(self, model):
        return int(getattr(model, "num_classes", 0) or 0) or None

    def prepare_export(self, model, *, fold_batch_norm=True, tflite=False):
        """The model to export (e.g. with folded batch norms); refuses what the kind
        can't export."""
        if tflite:
            raise ValueError(f"tflite=True: only segmentation models convert to TFLite; "
                             f"{model.name} is a model of kind {self.name!r}")
        return model

    def write_picture(self, model, recipe, *, num, seed, label, path, columns, scale):
        raise ValueError(f"{model.name} is a model of kind {self.name!r}: `generate` draws pictures "
                         "of generative models only")


def metrics_key(recipe, split, protocol=None) -> str:
    """``"<dataset>/<split>"``: the key of a split's metrics in metrics.json and cards;
    ``"<dataset>/<split>/<protocol>"`` for another evaluation protocol of the split
    (bluemarble's ``regions``)."""
    key = f"{recipe['dataset']['name']}/{split}"
    return f"{key}/{protocol}" if protocol else key


def split_names(recipe) -> dict:
    """``{"train", "val", "test"}`` split names of a recipe dict, with the defaults of
    the typed recipe (``keras_segen.training.recipes``)."""
    data = recipe["dataset"]
    return {"train": data.get("train_split", "train"), "val": data.get("val_split", "val"),
            "test": data.get("test_split", "test")}

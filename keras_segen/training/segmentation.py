"""Train a segmentation recipe: data -> model -> fit (checkpoint, resume, logs, overlays)
-> evaluate the best checkpoint on the held-out splits -> metrics.json.

Output folder layout::

    OUT/model.keras      best checkpoint by validation mean IoU
    OUT/history.csv      one row per epoch (appended across resumed runs)
    OUT/metrics.json     test/val metrics of model.keras, timings, versions, the recipe
    OUT/overlays/        image | truth | prediction strips for fixed val tiles per epoch
    OUT/logs/            TensorBoard
    OUT/backup/          BackupAndRestore state while a run is unfinished

Recipe ``train`` keys read here: ``epochs``, ``batch_size`` (global, over all replicas),
``steps_per_epoch``, ``seed``, ``precision`` (a policy or ``"auto"``), ``jit_compile``,
``learning_rate``/``weight_decay`` (AdamW) or ``optimizer`` (``{"name": ...}``), ``loss``,
``augment``, ``class_weighting``, ``time_budget_s``, ``overlay_tiles``.
"""
import csv
import pathlib
import time

import keras
import numpy as np

from keras_segen import callbacks as segen_callbacks
from keras_segen import datasets, losses, registry
from keras_segen.datasets.augment import JointAugment
from keras_segen.evaluation import evaluate_segmentation, format_table
from keras_segen.training.compiling import compile_segmentation
from keras_segen.training.io import write_json_atomic
from keras_segen.training import distribution
from keras_segen.training.precision import precision_policy, resolve_precision
from keras_segen.training.provenance import trained_with


class TrainingFailed(RuntimeError):
    """Training stopped on a bad state (e.g. NaN loss); the message says where."""


def _best_so_far(history_path: pathlib.Path, monitor: str):
    """Best monitored value in an earlier (interrupted) run's history, for resuming."""
    if not history_path.is_file():
        return None
    with history_path.open() as handle:
        values = [float(row[monitor]) for row in csv.DictReader(handle) if row.get(monitor)]
    return max(values) if values else None


def _overlay_tiles(val_ds, count):
    """``count`` fixed val tiles worth looking at: half from tiles holding every class,
    the rest spread evenly over the tiles holding at least two."""
    mixed, complete = [], []
    for image, mask in val_ds.as_numpy_iterator():
        present = len(np.unique(mask))
        if present >= 2:
            mixed.append((image, mask))
        if present >= 3:
            complete.append((image, mask))
    chosen = complete[:: max(1, len(complete) // max(1, count // 2))][: count // 2]
    rest = count - len(chosen)
    chosen += mixed[:: max(1, len(mixed) // max(1, rest))][:rest]
    if not chosen:
        raise ValueError("the validation split holds no tile with two or more classes")
    images, masks = zip(*chosen)
    return np.stack(images), np.stack(masks)


def train_segmentation(recipe: dict, out_dir, *, verbose: int = 2, strategy=None) -> dict:
    """Run ``recipe`` into ``out_dir``; returns the metrics dict also written to
    ``out_dir/metrics.json``. Re-running with the same ``out_dir`` after an
    interruption resumes from the last finished epoch.

    ``strategy``: a name from ``distribution.STRATEGIES`` or a ``tf.distribute.Strategy``
    (None: one device). ``train.batch_size`` is the global batch. Under a multi-worker
    strategy only the chief writes ``out_dir`` and evaluates; the other workers return
    ``{"recipe", "trained_with"}``.
    """
    strategy = distribution.make_strategy(strategy)  # first: multi-worker needs that
    chief = distribution.is_chief(strategy)
    out = pathlib.Path(out_dir)
    train_cfg = recipe["train"]
    data_cfg = recipe["dataset"]
    seed = int(train_cfg.get("seed", 0))
    precision = resolve_precision(train_cfg.get("precision", "float32"))
    batch_size = int(train_cfg["batch_size"])
    distribution.check_global_batch(batch_size, strategy, f"recipe {recipe['name']}: ")
    keras.utils.set_random_seed(seed)
    started = time.time()

    options = dict(data_cfg.get("options", {}))
    train_options = {**options, **data_cfg.get("train_options", {})}  # the latter win
    train_ds, info = datasets.load(data_cfg["name"], "train", **train_options, seed=seed)
    val_ds, _ = datasets.load(data_cfg["name"], data_cfg.get("val_split", "val"), **options)
    class_names = info.class_names
    augment = JointAugment.from_config(train_cfg["augment"]) if train_cfg.get("augment") else None
    train_pipe = datasets.make_pipeline(
        train_ds, batch_size=batch_size, training=True, augment=augment, seed=seed
    )
    val_pipe = datasets.make_pipeline(val_ds, batch_size=batch_size, training=False)
    steps = train_cfg.get("steps_per_epoch")
    if steps:
        train_pipe = train_pipe.repeat()

    class_weights = None
    if train_cfg.get("class_weighting"):
        counts = losses.class_frequencies(train_ds, len(class_names))
        class_weights = losses.class_weights_from_frequencies(
            counts, method=train_cfg["class_weighting"]
        ).tolist()

    resumable = ("backup", "history.csv")
    with distribution.worker_output_dir(out, strategy, read_from_chief=resumable) as work, \
            precision_policy(precision):
        with strategy.scope():
            model = registry.build(recipe["arch"], **recipe["kwargs"])
            if strategy.num_replicas_in_sync > 1:
                distribution.synchronize_batch_norm(model)
            compile_segmentation(model, train_cfg, class_names, class_weights)
        monitor = "val_mean_iou"
        nan_guard = segen_callbacks.StopOnNaN()
        overlay_images, overlay_masks = _overlay_tiles(val_ds, int(train_cfg.get("overlay_tiles", 6)))
        callback_list = [
            keras.callbacks.BackupAndRestore(str(work / "backup")),
            keras.callbacks.ModelCheckpoint(
                str(work / "model.keras"), monitor=monitor, mode="max", save_best_only=True,
                initial_value_threshold=_best_so_far(work / "history.csv", monitor),
            ),
            keras.callbacks.CSVLogger(str(work / "history.csv"), append=True),
            keras.callbacks.TensorBoard(str(work / "logs"), write_graph=False),
            segen_callbacks.SegmentationOverlay(
                overlay_images, overlay_masks, info.palette, str(work / "overlays")
            ),
            nan_guard,
        ]
        budget = train_cfg.get("time_budget_s")
        if budget:
            callback_list.append(segen_callbacks.TimeBudget(float(budget)))
        callback_list += distribution.distribution_callbacks(strategy)
        fit_started = time.time()
        history = model.fit(
            train_pipe, validation_data=val_pipe, epochs=int(train_cfg["epochs"]),
            steps_per_epoch=steps, callbacks=callback_list, verbose=verbose if chief else 0,
            shuffle=False,
        )
        fit_seconds = time.time() - fit_started
        if nan_guard.reason:
            raise TrainingFailed(
                f"{nan_guard.reason}. The best checkpoint so far is kept in {out / 'model.keras'}"
            )
        if not (work / "model.keras").is_file():  # e.g. the budget ended before one epoch
            model.save(work / "model.keras")
        provenance = dict(
            seed=seed, epochs_run=len(history.history.get("loss", [])),
            precision=precision, jit_compile=model.jit_compile,
            distribution=distribution.describe(strategy), fit_seconds=fit_seconds,
        )
        if not chief:
            return {"recipe": recipe, "trained_with": trained_with(
                model=model, wall_seconds=time.time() - started, **provenance)}
        # Loaded outside the strategy: evaluation runs on this process alone.
        best = keras.saving.load_model(out / "model.keras")

    results = {"recipe": recipe, "class_names": class_names, "palette": info.palette}
    for split in (data_cfg.get("test_split", "test"), data_cfg.get("val_split", "val")):
        split_ds, _ = datasets.load(data_cfg["name"], split, **options)
        results[f"{data_cfg['name']}/{split}"] = evaluate_segmentation(best, split_ds, class_names)
    results["trained_with"] = trained_with(
        model=best, wall_seconds=time.time() - started, **provenance)
    write_json_atomic(out / "metrics.json", results)
    if verbose:
        test_key = f"{data_cfg['name']}/{data_cfg.get('test_split', 'test')}"
        print(format_table(results[test_key], title=f"{recipe['name']} on {test_key}"))
    return results

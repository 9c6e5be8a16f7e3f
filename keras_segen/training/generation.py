"""Train a generation recipe (GAN, VAE, pix2pix): data -> model -> fit (checkpoint every
epoch, resume, logs, sample pictures) -> evaluate the saved model -> metrics.json.

Output folder layout::

    OUT/model.keras      the model after the last finished epoch (replaced atomically)
    OUT/history.csv      one row per epoch (appended across resumed runs)
    OUT/metrics.json     held-out metrics of model.keras (FID/KID/IS, PSNR/SSIM, ...),
                         optional baselines (untrained model, real-vs-real floor),
                         timings, versions and the recipe
    OUT/samples/         fixed-seed sample grids per epoch (GANs, VAEs)
    OUT/reconstructions/ VAE reconstructions and latent traversals per epoch
    OUT/triplets/        pix2pix input | target | output strips per epoch
    OUT/logs/            TensorBoard
    OUT/backup/          BackupAndRestore state while a run is unfinished

Recipe keys read here (besides ``name``, ``task``, ``arch``, ``kwargs``)::

    "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                "train_options": {}, "train_split": "train_full", "val_split": null,
                "test_split": "test", "limit": {"train": null, "val": null, "test": null}}
    "train":   {"epochs", "batch_size" (global), "steps_per_epoch", "seed", "precision"
                (a policy or "auto"), "jit_compile" (true/false/"auto"), "time_budget_s",
                "g_optimizer"/"d_optimizer" (adversarial models) or "optimizer" (VAEs)
                as {"name": "adam", "learning_rate": ..., ...},
                "samples": {"num_images": 100, "seed": 0, "every": 1,
                            "reconstructions": 16 (VAEs), "num_tiles": 8 (pix2pix)}}
    "evaluation": {"num_images": 10000, "seed": 0, "kid_subset_size": 1000,
                   "kid_subsets": 100, "baselines": true, "classifier": null,
                   "segmenter": null}

``train_options`` are extra loader options for the training split only (e.g. Blue
Marble's ``min_classes``); ``limit`` caps a split's examples (quick runs);
``val_split`` null skips validation (a GAN's validation losses say little and cost
time). ``classifier``/``segmenter`` null use the zoo's shipped feature models
(``keras_segen.evaluation.generation``).
"""
import os
import pathlib
import time

import keras

from keras_segen import callbacks as segen_callbacks
from keras_segen import datasets, registry
from keras_segen.callbacks.samples import Pix2PixTriplets, SampleGrid, VAEReconstructions
from keras_segen.evaluation.generation import (
    evaluate_recipe_model,
    format_generation_table,
    load_recipe_split,
    model_kind,
)
from keras_segen.pictures import pick_tiles
from keras_segen.training.compiling import compile_generation, make_optimizer
from keras_segen.training.provenance import trained_with
from keras_segen.training.io import write_json_atomic
from keras_segen.training import distribution
from keras_segen.training.precision import precision_policy, resolve_precision


class TrainingFailed(RuntimeError):
    """Training stopped on a bad state (e.g. NaN loss); the message says where."""


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the whole model (both optimizers included) to ``path`` after every epoch.

    The file is written under a temporary name and renamed over ``path``, so an
    interruption never leaves a half-written ``model.keras``.
    """

    def __init__(self, path):
        super().__init__()
        self.path = pathlib.Path(path)

    def on_epoch_end(self, epoch, logs=None):
        save_model_atomic(self.model, self.path)


def save_model_atomic(model, path):
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.keras")
    model.save(tmp)
    os.replace(tmp, path)


def _batches(dataset, batch_size, *, training, keep_labels, seed, repeat=False):
    pipe = datasets.make_pipeline(dataset, batch_size=batch_size, training=training,
                                  seed=seed, repeat=repeat)
    if not keep_labels:  # unconditional models train on images alone
        pipe = pipe.map(lambda images, labels: images)
    return pipe


def _picture_callbacks(model, kind, out, train_cfg, picture_ds, info, seed):
    """The sample callbacks of ``kind`` (see the module docstring), on fixed inputs."""
    cfg = train_cfg.get("samples", {})
    every = int(cfg.get("every", 1))
    sample_seed = int(cfg.get("seed", seed))
    found = []
    if kind in ("gan", "vae"):
        found.append(SampleGrid(out / "samples", num_images=int(cfg.get("num_images", 100)),
                                seed=sample_seed, every=every))
    if kind == "vae":
        images, labels = next(iter(picture_ds.batch(int(cfg.get("reconstructions", 16)))))
        conditional = bool(getattr(model, "num_classes", 0))
        found.append(VAEReconstructions(images.numpy(), out / "reconstructions",
                                        labels=labels.numpy() if conditional else None,
                                        every=every))
    if kind == "pix2pix":
        conditions, targets = pick_tiles(picture_ds, int(cfg.get("num_tiles", 8)), sample_seed)
        found.append(Pix2PixTriplets(conditions, targets, out / "triplets",
                                     palette=info.palette or None, every=every))
    return found


def train_generation(recipe: dict, out_dir, *, verbose: int = 2, strategy=None) -> dict:
    """Run ``recipe`` into ``out_dir``; returns the metrics dict also written to
    ``out_dir/metrics.json``. Re-running with the same ``out_dir`` after an
    interruption resumes from the last finished epoch (both optimizers included).

    ``strategy``: a name from ``distribution.STRATEGIES`` or a ``tf.distribute.Strategy``
    (None: one device). ``train.batch_size`` is the global batch. Under a multi-worker
    strategy only the chief writes ``out_dir`` and evaluates; the other workers return
    ``{"recipe", "trained_with"}``.
    """
    strategy = distribution.make_strategy(strategy)  # first: multi-worker needs that
    chief = distribution.is_chief(strategy)
    out = pathlib.Path(out_dir)
    train_cfg, data_cfg = recipe["train"], recipe["dataset"]
    seed = int(train_cfg.get("seed", 0))
    precision = resolve_precision(train_cfg.get("precision", "float32"))
    batch_size = int(train_cfg["batch_size"])
    distribution.check_global_batch(batch_size, strategy, f"recipe {recipe['name']}: ")
    keras.utils.set_random_seed(seed)
    started = time.time()

    train_split = data_cfg.get("train_split", "train")
    val_split = data_cfg.get("val_split")
    test_split = data_cfg.get("test_split", "test")
    train_ds, info = load_recipe_split(recipe, train_split, training=True)
    val_ds = load_recipe_split(recipe, val_split)[0] if val_split else None
    test_ds, test_info = load_recipe_split(recipe, test_split)
    steps = train_cfg.get("steps_per_epoch")

    with distribution.worker_output_dir(out, strategy, read_from_chief=("backup",)) as work, \
            precision_policy(precision):
        with strategy.scope():
            model = registry.build(recipe["arch"], **recipe["kwargs"])
            if strategy.num_replicas_in_sync > 1:
                distribution.synchronize_batch_norm(model)
            compile_generation(model, train_cfg)
        kind = model_kind(model)
        keep_labels = kind == "pix2pix" or bool(getattr(model, "num_classes", 0))
        train_pipe = _batches(train_ds, batch_size, training=True, keep_labels=keep_labels,
                              seed=seed, repeat=bool(steps))
        val_pipe = None if val_ds is None else _batches(
            val_ds, batch_size, training=False, keep_labels=keep_labels, seed=seed)

        monitors = [m.name for m in model.metrics if "loss" in m.name] or ["loss"]
        nan_guards = [segen_callbacks.StopOnNaN(monitor=name) for name in monitors]
        callback_list = [
            keras.callbacks.BackupAndRestore(str(work / "backup")),
            EpochCheckpoint(work / "model.keras"),
            keras.callbacks.CSVLogger(str(work / "history.csv"), append=True),
            keras.callbacks.TensorBoard(str(work / "logs"), write_graph=False),
            *_picture_callbacks(model, kind, work, train_cfg, val_ds or test_ds, test_info, seed),
            *nan_guards,
        ]
        budget = train_cfg.get("time_budget_s")
        timer = segen_callbacks.TimeBudget(float(budget)) if budget else None
        if timer:
            callback_list.append(timer)
        callback_list += distribution.distribution_callbacks(strategy)
        fit_started = time.time()
        history = model.fit(
            train_pipe, validation_data=val_pipe, epochs=int(train_cfg["epochs"]),
            steps_per_epoch=steps, callbacks=callback_list, verbose=verbose if chief else 0,
            shuffle=False,
        )
        fit_seconds = time.time() - fit_started
        reasons = [guard.reason for guard in nan_guards if guard.reason]
        if reasons:
            raise TrainingFailed(
                f"{reasons[0]}. The model of the last finished epoch is kept in "
                f"{out / 'model.keras'}"
            )
        if not (work / "model.keras").is_file():  # e.g. zero epochs were left to run
            save_model_atomic(model, work / "model.keras")
        provenance = dict(
            seed=seed, epochs_run=len(next(iter(history.history.values()), [])),
            epochs_completed=_count_rows(work / "history.csv"),
            stopped_by_time_budget=bool(timer and timer.stopped),
            precision=precision, jit_compile=model.jit_compile,
            distribution=distribution.describe(strategy), fit_seconds=fit_seconds,
        )
        if not chief:
            return {"recipe": recipe, "trained_with": trained_with(
                model=model, wall_seconds=time.time() - started, **provenance)}
        # Loaded outside the strategy: evaluation runs on this process alone.
        trained = keras.saving.load_model(out / "model.keras")
        results = {"recipe": recipe, "class_names": info.class_names}
        results.update(_evaluate(recipe, trained))

    results["trained_with"] = trained_with(
        model=trained, wall_seconds=time.time() - started, **provenance)
    write_json_atomic(out / "metrics.json", results)
    if verbose:
        key = f"{data_cfg['name']}/{test_split}"
        shown = {**results[key], "baselines": results.get("baselines", {})}
        print(format_generation_table(shown, title=f"{recipe['name']} on {key}"))
    return results


def _count_rows(csv_path):
    """Epochs recorded in a CSVLogger file (all sessions of a resumed run)."""
    if not csv_path.is_file():
        return 0
    with csv_path.open() as handle:
        return max(0, sum(1 for line in handle if line.strip()) - 1)


def _evaluate(recipe, model) -> dict:
    """``{"<dataset>/<split>": metrics, "baselines": {...}}`` for the trained model.

    A missing feature model (classifier / segmenter) is recorded, not raised: the
    trained model is already saved and the numbers can be made later with
    ``keras-segen evaluate``.
    """
    data_cfg = recipe["dataset"]
    key = f"{data_cfg['name']}/{data_cfg.get('test_split', 'test')}"
    try:
        metrics = evaluate_recipe_model(model, recipe)
    except FileNotFoundError as err:
        print(f"evaluation skipped: {err}")
        return {key: {"error": str(err)}}
    baselines = metrics.pop("baselines", None)
    return {key: metrics, **({"baselines": baselines} if baselines else {})}


__all__ = ["EpochCheckpoint", "TrainingFailed", "make_optimizer", "save_model_atomic",
           "train_generation"]

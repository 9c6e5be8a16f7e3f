"""The one trainer: recipe -> data -> model -> fit -> evaluate -> ``metrics.json``, for
every kind of model. What differs between kinds (data, compile, checkpoint rule,
pictures, evaluation) is asked of the recipe's kind (``keras_segen.kinds``).

Output folder layout::

    OUT/run.json         the recipe this folder belongs to (another recipe is refused)
    OUT/model.keras      the checkpoint: the best epoch by the kind's monitor
                         (segmenters: validation mean IoU) or the last finished epoch
                         (generative models); always replaced atomically
    OUT/history.csv      one row per epoch, none lost or repeated across resumed runs
    OUT/metrics.json     held-out metrics of model.keras, timings, versions, the recipe
    OUT/overlays/ samples/ reconstructions/ triplets/   the kind's pictures per epoch
    OUT/logs/            TensorBoard
    OUT/backup/          Keras BackupAndRestore state (weights, optimizer, epoch), kept
                         after the run: a re-run with more epochs continues it

Re-running with the same ``OUT`` after an interruption resumes from the last finished
epoch (``--epochs`` larger than before continues a finished run); a damaged
``model.keras`` (a kill mid-write in older versions) is moved aside.
"""
import contextlib
import pathlib
import sys
import time

import keras

from keras_segen import callbacks as segen_callbacks
from keras_segen import registry
from keras_segen.callbacks.checkpoint import (
    AtomicCheckpoint,
    ResumableCSVLogger,
    SafeBackupAndRestore,
    recover_run_folder,
    resume_threshold,
    save_model_atomic,
)
from keras_segen.callbacks.report import RunReport, finish_reports
from keras_segen.kinds import kind_of_recipe
from keras_segen.training import distribution
from keras_segen.training.io import write_json_atomic
from keras_segen.training.own_data import apply_init
from keras_segen.training.precision import precision_policy, resolve_precision
from keras_segen.training.provenance import trained_with
from keras_segen.training.run_folder import claim_run_folder


class TrainingFailed(RuntimeError):
    """Training stopped on a bad state (e.g. NaN loss); the message says where."""


def _count_rows(csv_path):
    """Epochs recorded in the history (all sessions of a resumed run)."""
    if not csv_path.is_file():
        return 0
    with csv_path.open() as handle:
        return max(0, sum(1 for line in handle if line.strip()) - 1)


def _callbacks(kind, model, work, recipe, data, seed, strategy):
    """The run's callbacks: state (backup, checkpoint, history), logs, pictures, guards."""
    train_cfg = recipe["train"]
    checkpoint = work / "model.keras"
    if kind.checkpoint_monitor:
        monitor, mode = kind.checkpoint_monitor
        saver = AtomicCheckpoint(checkpoint, monitor=monitor, mode=mode,
                                 initial_value_threshold=resume_threshold(
                                     checkpoint, work / "history.csv", monitor, mode))
    else:
        saver = AtomicCheckpoint(checkpoint)
    nan_guards = [segen_callbacks.StopOnNaN(monitor=name) for name in kind.nan_monitors(model)]
    budget = train_cfg.get("time_budget_s")
    timer = segen_callbacks.TimeBudget(float(budget)) if budget else None
    plateau = train_cfg.get("reduce_lr_on_plateau")
    if plateau:
        monitor, mode = kind.checkpoint_monitor or ("val_loss", "min")
        plateau = keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode=mode, factor=float(plateau.get("factor", 0.5)),
            patience=int(plateau.get("patience", 5)), min_lr=float(plateau.get("min_lr", 0)),
            verbose=1)
    found = [
        # Kept after the last epoch too: a re-run of the finished run then trains nothing
        # and re-measures, and a re-run with more epochs continues from it.
        SafeBackupAndRestore(str(work / "backup"), checkpoint, delete_checkpoint=False),
        saver,
        *([plateau] if plateau else []),  # before the logger: history.csv gets the rate
        *kind.metric_callbacks(model, recipe, data, seed),  # before the logger, too
        ResumableCSVLogger(work / "history.csv"),
        keras.callbacks.TensorBoard(str(work / "logs"), write_graph=False),
        *kind.picture_callbacks(model, work, recipe, data, seed),
        # After the history logger and the pictures: the page shows this epoch's. On
        # every worker, like the pictures: its predictions are collective under
        # MultiWorkerMirroredStrategy (a worker's `work` is a scratch folder).
        RunReport(kind.reporter(recipe, data), work),
        *nan_guards,
        *([timer] if timer else []),
        *distribution.distribution_callbacks(strategy),
    ]
    return found, nan_guards, timer


def progress_verbosity(verbose="auto") -> int:
    """``fit``'s ``verbose``: ``"auto"`` is Keras' progress bar (1) when stdout is a
    terminal and one line per epoch (2) otherwise (a log file, CI), where a bar's
    carriage returns would fill the log; 0, 1, 2 are kept."""
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(verbose)


def run_training(recipe: dict, out_dir, *, verbose="auto", strategy=None,
                 overwrite: bool = False) -> dict:
    """Train ``recipe`` (a checked recipe dict) into ``out_dir``; returns the metrics
    dict also written to ``out_dir/metrics.json``.

    ``strategy``: a name from ``distribution.STRATEGIES`` or a ``tf.distribute.Strategy``
    (None: one device). ``train.batch_size`` is the global batch. Under a multi-worker
    strategy only the chief claims and writes ``out_dir`` and evaluates; the other
    workers return ``{"recipe", "trained_with"}``. ``overwrite`` lets a run of another
    recipe replace the folder's old run.
    """
    kind = kind_of_recipe(recipe)
    strategy = distribution.make_strategy(strategy)  # first: multi-worker needs that
    chief = distribution.is_chief(strategy)
    out = pathlib.Path(out_dir)
    train_cfg = recipe["train"]
    seed = int(train_cfg.get("seed", 0))
    precision = resolve_precision(train_cfg.get("precision", "float32"),
                                  report=print if verbose and chief else None)
    batch_size = int(train_cfg["batch_size"])
    distribution.check_global_batch(batch_size, strategy, f"recipe {recipe['name']}: ")
    steps = train_cfg.get("steps_per_epoch")
    started = time.time()

    claim = claim_run_folder(out, recipe, overwrite=overwrite) if chief \
        else contextlib.nullcontext()
    with claim as folder:
        if chief:
            notes = [*folder.notes, recover_run_folder(out)]
            if verbose and any(notes):
                print(" ".join(note for note in notes if note))
        keras.utils.set_random_seed(seed)
        with distribution.input_share(strategy):  # a data pack: this worker's shards
            data = kind.load_training_data(recipe, seed)
        resumable = ("backup", "history.csv")
        with distribution.worker_output_dir(out, strategy, read_from_chief=resumable) as work, \
                precision_policy(precision):
            with strategy.scope():
                model = registry.build(recipe["arch"], **recipe["kwargs"])
                # A run from a zoo entry starts from its weights; a resumed run's backup,
                # restored by fit, then replaces them with the run's own.
                apply_init(model, recipe)
                if strategy.num_replicas_in_sync > 1:
                    distribution.synchronize_batch_norm(model)
                kind.compile(model, train_cfg, data.class_names, data.class_weights)
            train_pipe, val_pipe = kind.pipelines(model, data, batch_size, seed,
                                                  repeat=bool(steps))
            callback_list, nan_guards, timer = _callbacks(kind, model, work, recipe, data,
                                                          seed, strategy)
            fit_started = time.time()
            history = model.fit(
                train_pipe, validation_data=val_pipe, epochs=int(train_cfg["epochs"]),
                steps_per_epoch=steps, callbacks=callback_list,
                verbose=progress_verbosity(verbose) if chief else 0, shuffle=False,
            )
            fit_seconds = time.time() - fit_started
            reasons = [guard.reason for guard in nan_guards if guard.reason]
            if reasons:
                raise TrainingFailed(
                    f"{reasons[0]}. The last good checkpoint is kept in {out / 'model.keras'}")
            if not (work / "model.keras").is_file():  # e.g. the budget ended before one epoch
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

        results = {"recipe": recipe, **kind.evaluate_run(trained, recipe, data)}
        results["trained_with"] = trained_with(
            model=trained, wall_seconds=time.time() - started, **provenance)
        write_json_atomic(out / "metrics.json", results)
        finish_reports(callback_list, trained)  # the page with the held-out numbers
    if verbose:
        print(kind.summary(results, recipe))
    return results


__all__ = ["TrainingFailed", "run_training"]

"""Where a recipe trains: a ``tf.distribute`` strategy by name, and which worker writes.

Names (``keras-segen train --strategy NAME``, ``training.train(..., strategy=NAME)``):

* ``none``: the default strategy (one device).
* ``mirrored``: ``MirroredStrategy`` over every local GPU, or over every logical CPU
  device when there is no GPU (one replica on a plain CPU machine).
* ``multi_worker``: ``MultiWorkerMirroredStrategy``; the cluster and this process's task
  come from the ``TF_CONFIG`` environment variable. It must be made before TensorFlow
  runs anything, so the trainers make their strategy first. Keras 3 ``fit`` needs
  ``multi_worker_fix`` for it (TF issue 72388).
* ``tpu``: ``TPUStrategy`` on the TPU named by ``TPU_NAME`` (a Cloud TPU VM's own TPU
  when unset), through ``TPUClusterResolver``; a clear error where none is found.

A recipe's ``batch_size`` is the global batch: each step splits it over all replicas,
so it must be a multiple of their number. With more than one replica, batch
normalization is synchronized (statistics of the global batch, as on one device).

Files: only the chief (task type ``chief``, or worker 0 when the cluster has no chief)
writes the run folder. Every other worker runs the same callbacks (they take part in
the same collectives) but writes into a temporary folder deleted at the end, the usual
Keras multi-worker pattern.
"""
import contextlib
import json
import os
import pathlib
import shutil
import tempfile

import keras
import tensorflow as tf

STRATEGIES = ("none", "mirrored", "multi_worker", "tpu")


def make_strategy(strategy=None) -> tf.distribute.Strategy:
    """A strategy by name (see the module docstring); a ``tf.distribute.Strategy`` passes
    through unchanged and ``None`` means ``"none"``."""
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    name = "none" if strategy is None else strategy
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        return _multi_worker_strategy()
    return _tpu_strategy()


def _multi_worker_strategy():
    from keras_segen.training.multi_worker_fix import FixedMultiWorkerMirroredStrategy

    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError(
            "strategy 'multi_worker' reads the cluster from the TF_CONFIG environment "
            "variable, which is not set; e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
            "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": \"worker\", "
            "\"index\": 0}}' (use strategy 'mirrored' for the devices of one machine)"
        )
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}): {raw!r}") from err
    if not isinstance(config, dict) or not config.get("cluster") or "task" not in config:
        raise ValueError(f"TF_CONFIG needs a 'cluster' and a 'task' entry, got {raw!r}")
    try:
        return FixedMultiWorkerMirroredStrategy()
    except RuntimeError as err:
        if "program startup" not in str(err):
            raise
        raise RuntimeError(
            "strategy 'multi_worker' must be created before TensorFlow runs any op in "
            "this process (keras_segen.training.train does so first; in your own script "
            "call keras_segen.training.distribution.make_strategy('multi_worker') at the "
            "start)"
        ) from err


def _tpu_strategy():
    name = os.environ.get("TPU_NAME") or "local"
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name)
        if name != "local":
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, IndexError, tf.errors.OpError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeError(
            f"strategy 'tpu': no TPU found (TPU_NAME={name!r}: {first_line}). On a Cloud "
            "TPU VM leave TPU_NAME unset; for a TPU node set TPU_NAME to its name or "
            "grpc:// address; without a TPU use strategy 'mirrored' or 'none'"
        ) from err


def _task(strategy):
    """``(task_type, task_id, cluster dict)`` of this process; ``(None, None, {})``
    without a cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return None, None, {}
    return resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict()


def is_chief(strategy) -> bool:
    """Whether this process writes the run folder (see the module docstring)."""
    task_type, task_id, cluster = _task(strategy)
    if task_type is None or task_type == "chief":
        return True
    return task_type == "worker" and not task_id and "chief" not in cluster


def num_workers(strategy) -> int:
    _, _, cluster = _task(strategy)
    return max(1, sum(len(cluster.get(job, ())) for job in ("chief", "worker")))


def strategy_name(strategy) -> str:
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "multi_worker"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "mirrored"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "tpu"
    if "Default" in type(strategy).__name__:  # tf.distribute's one-device default
        return "none"
    return type(strategy).__name__


def describe(strategy) -> dict:
    """For ``trained_with``: the strategy's name, replicas and workers."""
    return {
        "strategy": strategy_name(strategy),
        "replicas": int(strategy.num_replicas_in_sync),
        "workers": num_workers(strategy),
    }


def input_share(strategy):
    """A context in which file-based loaders read this worker's share of their files
    (``datasets.sharding``): worker index = position in the cluster, chief first."""
    from keras_segen.datasets.sharding import worker_share

    task_type, task_id, cluster = _task(strategy)
    workers = num_workers(strategy)
    if task_type is None or workers == 1:
        return contextlib.nullcontext()
    index = 0 if task_type == "chief" else int(task_id) + len(cluster.get("chief", ()))
    return worker_share(workers, index)


def check_global_batch(batch_size, strategy, where=""):
    """ValueError unless the global batch splits evenly over the replicas (uneven
    shares would weight the replicas' gradients unequally)."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"{where}batch_size {batch_size} is the global batch; it must be a multiple "
            f"of the {replicas} replicas of strategy {strategy_name(strategy)!r}"
        )


def synchronize_batch_norm(model) -> int:
    """Make every ``BatchNormalization`` inside ``model`` use global-batch statistics
    (``synchronized=True``, kept in the saved config; no effect on one replica).
    Returns how many layers changed."""
    changed = 0
    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized = True
            changed += 1
    return changed


def _all_layers(layer):
    for child in getattr(layer, "layers", ()):
        yield child
        yield from _all_layers(child)


@contextlib.contextmanager
def worker_output_dir(out, strategy, *, read_from_chief=()):
    """Yield the folder this process writes into: ``out`` on the chief, a temporary folder
    (deleted on exit) on other workers.

    ``read_from_chief`` names entries of ``out`` copied into the temporary folder first
    (e.g. the BackupAndRestore state and the history of a run being resumed), so that all
    workers resume from the same epoch and take the same decisions; this needs ``out``
    on a file system the workers share.
    """
    out = pathlib.Path(out)
    if is_chief(strategy):
        out.mkdir(parents=True, exist_ok=True)
        yield out
        return
    task_type, task_id, _ = _task(strategy)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=f"keras_segen_{task_type}{task_id}_"))
    try:
        for name in read_from_chief:
            source = out / name
            if source.is_dir():
                shutil.copytree(source, scratch / name)
            elif source.is_file():
                shutil.copy2(source, scratch / name)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class StopTogether(keras.callbacks.Callback):
    """Multi-worker ``fit``: when a callback on any worker asks to stop (a wall-clock
    budget can run out a moment earlier on one machine), every worker stops after the
    same batch; otherwise the others are left in the next step's collectives, waiting or
    failing.
    Put it after the callbacks that set ``model.stop_training``."""

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy

        @tf.function  # collectives run eagerly are slow (and TF warns each time)
        def count_votes(flag):
            return strategy.reduce("SUM", strategy.run(lambda: tf.identity(flag)), axis=None)

        self._count_votes = count_votes

    def _agree(self):
        votes = self._count_votes(tf.constant(1.0 if self.model.stop_training else 0.0))
        self.model.stop_training = bool(float(votes) > 0.0)

    def on_train_batch_end(self, batch, logs=None):
        self._agree()

    def on_epoch_end(self, epoch, logs=None):
        self._agree()


def distribution_callbacks(strategy) -> list:
    """Callbacks a trainer appends last to its list under ``strategy`` (a TPU's hosts
    are driven by one process: nothing to agree on)."""
    several = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    return [StopTogether(strategy)] if several and num_workers(strategy) > 1 else []

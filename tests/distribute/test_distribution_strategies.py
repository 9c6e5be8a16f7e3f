"""Strategy names, the chief rule, worker output folders and the other distribution
helpers (keras_segen/training/distribution.py)."""
import json

import keras
import pytest
import tensorflow as tf

import keras_segen
from keras_segen.training import distribution
from keras_segen.training.multi_worker_fix import FixedMultiWorkerMirroredStrategy


def test_none_and_mirrored_strategies():
    none = distribution.make_strategy("none")
    assert distribution.make_strategy(None) is none
    assert distribution.describe(none) == {"strategy": "none", "replicas": 1, "workers": 1}
    assert distribution.is_chief(none)
    mirrored = distribution.make_strategy("mirrored")  # conftest: two logical CPUs
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert distribution.describe(mirrored) == {"strategy": "mirrored", "replicas": 2, "workers": 1}
    assert distribution.make_strategy(mirrored) is mirrored  # instances pass through
    with pytest.raises(ValueError, match="strategy must be one of .*'mirrored'"):
        distribution.make_strategy("horovod")


def test_multi_worker_needs_a_valid_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG .* not set"):
        distribution.make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{cluster: nope")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        distribution.make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"task": {"type": "worker", "index": 0}}))
    with pytest.raises(ValueError, match="needs a 'cluster' and a 'task'"):
        distribution.make_strategy("multi_worker")


def test_multi_worker_after_tensorflow_started_is_a_clear_error(monkeypatch):
    # This process has run TF ops long ago; collectives can't be configured any more.
    tf.constant(1.0) + 1.0
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster,
                                                "task": {"type": "worker", "index": 0}}))
    with pytest.raises(RuntimeError, match="before TensorFlow runs any op"):
        distribution.make_strategy("multi_worker")


def test_tpu_strategy_without_a_tpu_fails_clearly(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(RuntimeError, match=r"strategy 'tpu': no TPU found \(TPU_NAME='local'"):
        distribution.make_strategy("tpu")


class _Clustered:
    """Stands in for a strategy: only ``cluster_resolver`` is read by the chief rule."""

    def __init__(self, cluster, task_type, task_id):
        self.cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)


@pytest.mark.parametrize("cluster, task_type, task_id, chief", [
    ({"worker": ["a:1", "b:1"]}, "worker", 0, True),
    ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
    ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "chief", 0, True),
    ({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "worker", 0, False),
    ({"worker": ["a:1"], "evaluator": ["e:1"]}, "evaluator", 0, False),
])
def test_chief_rule(cluster, task_type, task_id, chief):
    strategy = _Clustered(cluster, task_type, task_id)
    assert distribution.is_chief(strategy) is chief
    assert distribution.num_workers(strategy) == len(cluster.get("worker", [])) + len(
        cluster.get("chief", []))


def test_non_chief_writes_into_a_deleted_temp_folder(tmp_path):
    out = tmp_path / "run"
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "training_metadata.json").write_text('{"epoch": 3}')
    (out / "history.csv").write_text("epoch,loss\n0,1.0\n")
    worker = _Clustered({"worker": ["a:1", "b:1"]}, "worker", 1)
    with distribution.worker_output_dir(out, worker, read_from_chief=("backup", "history.csv",
                                                                      "absent")) as work:
        assert work != out and work.is_dir()
        # the chief's resume state is visible, so this worker resumes at the same epoch
        assert (work / "backup" / "training_metadata.json").read_text() == '{"epoch": 3}'
        assert (work / "history.csv").is_file() and not (work / "absent").exists()
        (work / "model.keras").write_text("not the chief's")
    assert not work.exists()
    assert sorted(p.name for p in out.iterdir()) == ["backup", "history.csv"]

    chief = _Clustered({"worker": ["a:1", "b:1"]}, "worker", 0)
    with distribution.worker_output_dir(tmp_path / "new", chief) as work:
        assert work == tmp_path / "new" and work.is_dir()


def test_global_batch_must_split_evenly():
    mirrored = distribution.make_strategy("mirrored")
    distribution.check_global_batch(4, mirrored)
    with pytest.raises(ValueError, match="batch_size 5 is the global batch; .* 2 replicas"):
        distribution.check_global_batch(5, mirrored, "recipe x: ")


def _batch_norms(model):
    return [layer for layer in distribution._all_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization)]


def test_synchronize_batch_norm_reaches_nested_models():
    unet = keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)
    norms = _batch_norms(unet)
    assert distribution.synchronize_batch_norm(unet) == len(norms) > 0
    assert all(layer.synchronized for layer in norms)
    assert norms[0].get_config()["synchronized"] is True  # kept in the saved model
    assert distribution.synchronize_batch_norm(unet) == 0  # already done

    gan = keras_segen.build("dcgan", image_shape=(16, 16, 1), latent_dim=8, base_filters=8)
    nested = _batch_norms(gan)  # inside the generator and discriminator sub-models
    for layer in nested:
        layer.synchronized = False
    assert distribution.synchronize_batch_norm(gan) == len(nested) > 0


def test_multi_worker_fix_keeps_the_stock_strategy_type():
    # Keras picks its multi-worker code paths with isinstance checks on this class.
    assert issubclass(FixedMultiWorkerMirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy)


def test_stop_together_only_for_several_workers():
    assert distribution.distribution_callbacks(distribution.make_strategy("mirrored")) == []

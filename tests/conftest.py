import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402

# Two logical CPU devices so MirroredStrategy tests have two replicas. This must happen
# before TensorFlow initializes its devices, i.e. here, at collection time.
_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2
    )
except RuntimeError:  # already initialized by an earlier import
    pass


import gzip  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def _write_idx(path, array):
    array = np.asarray(array, np.uint8)
    header = (0x800 + array.ndim).to_bytes(4, "big")
    header += b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


@pytest.fixture(scope="session")
def write_idx():
    """Write a uint8 array as a gzip'd idx file (the Fashion-MNIST format)."""
    return _write_idx


@pytest.fixture
def random_fashion_mnist(tmp_path, monkeypatch):
    """``make(train, test)``: write that many random Fashion-MNIST-format images (labels
    0..9 in turn) under ``tmp_path/fashion``, point ``fashion_mnist.ENV_VAR`` there
    (subprocesses inherit it), save a tiny FID/KID feature classifier and return its path."""
    import keras_segen
    from keras_segen.datasets import fashion_mnist

    def make(train, test):
        folder = tmp_path / "fashion"
        folder.mkdir(exist_ok=True)
        rng = np.random.default_rng(0)
        for part, count in (("train", train), ("t10k", test)):
            _write_idx(folder / f"{part}-images-idx3-ubyte.gz",
                       rng.integers(0, 255, (count, 28, 28)))
            _write_idx(folder / f"{part}-labels-idx1-ubyte.gz", np.arange(count) % 10)
        monkeypatch.setenv(fashion_mnist.ENV_VAR, str(folder))
        classifier = tmp_path / "classifier.keras"
        keras_segen.build("fashion_classifier", widths=(4,), feature_dim=8).save(classifier)
        return classifier

    return make


@pytest.fixture(scope="session")
def architecture_exports(tmp_path_factory):
    """Every architecture of tests/architecture_harness.py exported once per session
    (``get(case_or_arch) -> (model, path)``), shared by its export aspect and
    tests/serving/."""
    from architecture_harness import ExportCache

    return ExportCache(tmp_path_factory.mktemp("architecture_exports"))


@pytest.fixture(autouse=True)
def _separate_collective_keys():
    """Give every test's MirroredStrategy its own collective-key range.

    Strategies over the same devices all start their collective keys at the same value,
    and TensorFlow remembers each key's tensor shape for the whole process; a second
    strategy training another model then fails with "Shape mismatch in the collective
    instance". Moving the base per test keeps strategy tests independent of their order.
    """
    tf.distribute.MirroredStrategy._collective_key_base += 10_000
    yield

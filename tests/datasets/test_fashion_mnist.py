import gzip
import os

import numpy as np
import pytest

from keras_segen.datasets import fashion_mnist

HAVE_REAL_DATA = os.path.isfile(
    os.path.join(fashion_mnist.SYSTEM_DIR, "train-images-idx3-ubyte.gz")
)
needs_real_data = pytest.mark.skipif(
    not HAVE_REAL_DATA, reason=f"install with `{fashion_mnist.INSTALL_COMMAND}`"
)


def write_idx(path, array, magic=None):
    """Write a uint8 idx file (gzip'd when the name ends in .gz)."""
    array = np.asarray(array, np.uint8)
    magic = magic if magic is not None else 0x800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(header + array.tobytes())


def write_tiny_set(folder, num_train=24, num_test=6, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    arrays = {}
    for part, count in (("train", num_train), ("t10k", num_test)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        write_idx(os.path.join(folder, f"{part}-images-idx3-ubyte{suffix}"), images)
        write_idx(os.path.join(folder, f"{part}-labels-idx1-ubyte{suffix}"), labels)
        arrays[part] = (images, labels)
    return arrays


@pytest.fixture(autouse=True)
def no_env_override(monkeypatch):
    monkeypatch.delenv(fashion_mnist.ENV_VAR, raising=False)


@needs_real_data
@pytest.mark.parametrize(
    "split, size", [("train", 55000), ("val", 5000), ("test", 10000), ("train_full", 60000)]
)
def test_real_splits_have_the_documented_sizes(split, size):
    images, labels = fashion_mnist.load_arrays(split)
    assert images.shape == (size, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (size,) and labels.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))
    assert images.max() == 255 and images.min() == 0


@needs_real_data
def test_train_and_val_partition_the_official_training_set():
    train, train_labels = fashion_mnist.load_arrays("train")
    val, val_labels = fashion_mnist.load_arrays("val")
    full, full_labels = fashion_mnist.load_arrays("train_full")
    np.testing.assert_array_equal(np.concatenate([train, val]), full)
    np.testing.assert_array_equal(np.concatenate([train_labels, val_labels]), full_labels)


@needs_real_data
@pytest.mark.parametrize("scale, low, high", [("tanh", -1.0, 1.0), ("unit", 0.0, 1.0)])
def test_load_scales_images_and_describes_the_data(scale, low, high):
    dataset, info = fashion_mnist.load("test", scale=scale)
    images, labels = next(iter(dataset.batch(512)))
    raw_images, raw_labels = fashion_mnist.load_arrays("test")
    assert images.shape == (512, 28, 28, 1) and images.dtype.name == "float32"
    assert labels.dtype.name == "int32"
    expected = raw_images[:512, :, :, None] / 255.0 * (high - low) + low
    np.testing.assert_allclose(images.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(labels.numpy(), raw_labels[:512])
    assert info.num_examples == 10000 and info.split == "test"
    assert info.class_names[0] == "T-shirt/top" and info.num_classes == 10
    assert info.image_shape == (28, 28, 1) and info.license == "MIT"
    assert info.extra["value_range"] == [low, high]


@needs_real_data
def test_dispatch_through_datasets_load():
    pytest.importorskip("keras_segen.datasets.bluemarble")  # the dispatcher imports it
    from keras_segen import datasets

    dataset, info = datasets.load("fashion_mnist", "val", scale="unit")
    assert info.num_examples == 5000
    assert dataset.element_spec[0].shape == (28, 28, 1)


def test_tiny_idx_files_round_trip_and_split(tmp_path):
    arrays = write_tiny_set(str(tmp_path), num_train=24, num_test=6, gz=False)
    train, train_labels = fashion_mnist.load_arrays("train", data_dir=str(tmp_path))
    val, _ = fashion_mnist.load_arrays("val", data_dir=str(tmp_path))
    test, test_labels = fashion_mnist.load_arrays("test", data_dir=str(tmp_path))
    np.testing.assert_array_equal(train, arrays["train"][0][:22])  # last 1/12 is val
    np.testing.assert_array_equal(val, arrays["train"][0][22:])
    np.testing.assert_array_equal(train_labels, arrays["train"][1][:22])
    np.testing.assert_array_equal(test, arrays["t10k"][0])
    np.testing.assert_array_equal(test_labels, arrays["t10k"][1])


def test_environment_variable_points_at_the_data(tmp_path, monkeypatch):
    write_tiny_set(str(tmp_path))
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path))
    dataset, info = fashion_mnist.load("test", scale="tanh")
    assert info.num_examples == 6 and info.extra["source"] == str(tmp_path)
    assert len(list(dataset)) == 6


def test_missing_data_names_the_install_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as error:
        fashion_mnist.load("train", data_dir=str(tmp_path))
    message = str(error.value)
    assert "apt-get update && apt-get install -y dataset-fashion-mnist" in message
    assert fashion_mnist.ENV_VAR in message and str(tmp_path) in message
    monkeypatch.setenv(fashion_mnist.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion_mnist.load_arrays("test")


def test_truncated_file_is_a_value_error_naming_it(tmp_path):
    write_tiny_set(str(tmp_path))
    path = str(tmp_path / "t10k-images-idx3-ubyte.gz")
    images = np.zeros((6, 28, 28), np.uint8)
    header = (0x803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in images.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + images.tobytes()[:-100])  # 100 bytes short
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz.*truncated"):
        fashion_mnist.load_arrays("test", data_dir=str(tmp_path))


def test_corrupt_gzip_and_bad_magic_are_value_errors(tmp_path):
    write_tiny_set(str(tmp_path))
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        fashion_mnist.load_arrays("test", data_dir=str(tmp_path))
    write_idx(str(path), np.zeros(6), magic=0x0D03)
    with pytest.raises(ValueError, match="magic"):
        fashion_mnist.load_arrays("test", data_dir=str(tmp_path))


def test_inconsistent_files_are_value_errors(tmp_path):
    write_tiny_set(str(tmp_path))
    labels_path = str(tmp_path / "t10k-labels-idx1-ubyte.gz")
    write_idx(labels_path, np.zeros(5))
    with pytest.raises(ValueError, match="6 images but .* 5 labels"):
        fashion_mnist.load_arrays("test", data_dir=str(tmp_path))
    write_idx(labels_path, np.full(6, 10))
    with pytest.raises(ValueError, match="label 10 out of range"):
        fashion_mnist.load_arrays("test", data_dir=str(tmp_path))


def test_bad_split_and_scale(tmp_path):
    write_tiny_set(str(tmp_path))
    with pytest.raises(ValueError, match="split"):
        fashion_mnist.load("validation", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="scale"):
        fashion_mnist.load("train", scale="0-255", data_dir=str(tmp_path))

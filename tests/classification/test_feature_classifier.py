import gzip
import importlib.util
import json
import os
import pathlib

import keras
import numpy as np
import pytest

import keras_segen
from keras_segen.datasets import fashion_mnist

REPO = pathlib.Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "zoo" / "artifacts" / "fashion_classifier" / "model.keras"
SCRIPT = REPO / "scripts" / "train_feature_classifier.py"


def test_builder_is_registered_with_named_feature_and_probability_layers():
    assert "fashion_classifier" in keras_segen.list_architectures(task="classification")
    model = keras_segen.build("fashion_classifier", widths=(4, 8), feature_dim=12,
                              num_classes=5)
    assert model.get_layer("features").output.shape == (None, 12)
    probabilities = model.predict(np.random.rand(3, 28, 28, 1).astype("float32"), verbose=0)
    assert probabilities.shape == (3, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_saved_model_round_trips(tmp_path):
    model = keras_segen.build("fashion_classifier", widths=(4, 8), feature_dim=8)
    images = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    path = str(tmp_path / "classifier.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(images, verbose=0),
                               model.predict(images, verbose=0), rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="input_shape"):
        keras_segen.build("fashion_classifier", input_shape=(28, 28))
    with pytest.raises(ValueError, match="num_classes"):
        keras_segen.build("fashion_classifier", num_classes=1)


@pytest.mark.skipif(not SHIPPED_MODEL.exists(), reason="no trained classifier in the zoo yet")
@pytest.mark.skipif(
    not os.path.isdir(fashion_mnist.SYSTEM_DIR), reason="Fashion-MNIST is not installed"
)
def test_shipped_classifier_is_accurate_on_the_test_split():
    model = keras.saving.load_model(str(SHIPPED_MODEL))
    images, labels = fashion_mnist.load_arrays("test")
    images, labels = images[:2000], labels[:2000]
    predictions = model.predict(images[..., None] / np.float32(255), batch_size=500, verbose=0)
    assert np.mean(predictions.argmax(axis=1) == labels) > 0.89
    assert model.get_layer("features").output.shape[-1] == 128


def write_idx(path, array):
    array = np.asarray(array, np.uint8)
    header = (0x800 + array.ndim).to_bytes(4, "big")
    header += b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


def test_training_script_end_to_end_on_tiny_data(tmp_path):
    rng = np.random.default_rng(0)
    for part, count in (("train", 48), ("t10k", 16)):
        labels = np.arange(count) % 10
        # Class-dependent brightness so there is something to learn.
        images = (labels[:, None, None] * 25 + rng.integers(0, 20, (count, 28, 28)))
        write_idx(str(tmp_path / f"{part}-images-idx3-ubyte.gz"), images)
        write_idx(str(tmp_path / f"{part}-labels-idx1-ubyte.gz"), labels)
    spec = importlib.util.spec_from_file_location("train_feature_classifier", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out, report = tmp_path / "model.keras", tmp_path / "results.json"
    script.main(["--out", str(out), "--epochs", "1", "--batch-size", "16",
                 "--feature-dim", "8", "--widths", "4", "8", "--precision", "float32", "--floor-samples", "16",
                 "--data-dir", str(tmp_path), "--json", str(report)])
    results = json.loads(report.read_text())
    assert 0.0 <= results["test_accuracy"] <= 1.0
    floor = results["real_vs_real_floor"]
    assert floor["num_test_images"] == 16 and floor["fid"] >= 0.0
    loaded = keras.saving.load_model(str(out))
    assert loaded.get_layer("features").output.shape[-1] == 8
    assert not loaded.compiled  # shipped as a frozen, uncompiled feature extractor

"""keras-segen train / generate / evaluate on a tiny generation recipe, as subprocesses."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras_segen


@pytest.fixture(scope="module")
def env(tmp_path_factory, write_idx):
    """A tiny Fashion-MNIST folder and a tiny classifier, passed to the subprocesses."""
    folder = tmp_path_factory.mktemp("fashion")
    rng = np.random.default_rng(0)
    for part, count in (("train", 48), ("t10k", 24)):
        write_idx(folder / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(folder / f"{part}-labels-idx1-ubyte.gz", np.arange(count) % 10)
    return {**os.environ, "KERAS_SEGEN_FASHION_MNIST_DIR": str(folder)}


def _cli(env, *args):
    done = subprocess.run([sys.executable, "-m", "keras_segen", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def run(env, tmp_path_factory):
    """``keras-segen train`` of a tiny cGAN recipe: the run folder."""
    tmp = tmp_path_factory.mktemp("cgan")
    classifier = tmp / "classifier.keras"
    keras_segen.build("fashion_classifier", widths=(4,), feature_dim=8).save(classifier)
    recipe = {
        "name": "tiny_cgan", "task": "generation", "arch": "cgan",
        "kwargs": {"latent_dim": 4, "base_filters": 4, "embedding_dim": 4, "seed": 0},
        "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                    "train_split": "train", "val_split": None, "test_split": "test"},
        "train": {"epochs": 1, "batch_size": 8, "steps_per_epoch": 2, "seed": 0},
        "evaluation": {"kid_subset_size": 8, "kid_subsets": 2, "classifier": str(classifier)},
    }
    (tmp / "tiny_cgan.json").write_text(json.dumps(recipe))
    code, output = _cli(env, "train", tmp / "tiny_cgan.json", "--out", tmp / "run")
    assert code == 0, output
    return tmp / "run"


def test_generate_is_deterministic_per_seed(env, run, tmp_path):
    for name in ("a.png", "b.png"):
        code, output = _cli(env, "generate", run, "--num", 6, "--seed", 2, "--label", 3,
                            "--out", tmp_path / name)
        assert code == 0, output
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_generate_rejects_a_missing_or_out_of_range_label(env, run, tmp_path):
    code, output = _cli(env, "generate", run, "--num", 4, "--label", 10, "--out", tmp_path / "x.png")
    assert code == 2 and "out of range" in output and "0 to 9" in output
    code, output = _cli(env, "generate", run, "--num", 4, "--out", tmp_path / "x.png")
    assert code == 2 and "--label" in output
    assert not (tmp_path / "x.png").exists()


def test_evaluate_writes_gan_metrics(env, run, tmp_path):
    code, output = _cli(env, "evaluate", run, "--json", tmp_path / "m.json")
    assert code == 0, output
    metrics = json.loads((tmp_path / "m.json").read_text())
    for key in ("fid", "kid", "inception_score", "classifier_accuracy"):
        assert np.isfinite(metrics[key]), key
    assert "fid" in output

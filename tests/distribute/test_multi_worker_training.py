"""Two worker processes on 127.0.0.1 train a recipe with ``--strategy multi_worker``
(MultiWorkerMirroredStrategy, TF_CONFIG per process; needs multi_worker_fix): both end
with the same weights, only the chief writes the run folder, and its model loads."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from keras_segen import training

SCRIPT = pathlib.Path(__file__).with_name("multi_worker_script.py")
TIMEOUT_S = 240


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _train_on_two_workers(recipe, tmp_path, **env_extra):
    """Run both workers to the end (or kill them at the time limit); return the chief's
    run folder and each worker's weights."""
    recipe_path = tmp_path / "recipe.json"
    recipe_path.write_text(json.dumps(recipe))
    out, scratch = tmp_path / "run", tmp_path / "worker_tmp"
    scratch.mkdir()
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2",
                   TMPDIR=str(scratch),  # where the non-chief writes (and must clean up)
                   **env_extra,
                   TF_CONFIG=json.dumps({"cluster": cluster,
                                         "task": {"type": "worker", "index": index}}))
        log = (tmp_path / f"worker{index}.log").open("w")
        command = [sys.executable, str(SCRIPT), str(recipe_path), str(out),
                   str(tmp_path / f"weights{index}.npz")]
        workers.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         env=env), log))
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for process, _ in workers:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        for process, log in workers:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    for index, (process, _) in enumerate(workers):
        text = (tmp_path / f"worker{index}.log").read_text()
        assert process.returncode == 0, f"worker {index} exit {process.returncode}:\n{text[-6000:]}"
        assert 'TRAINED_WITH {"strategy": "multi_worker", "replicas": 2, "workers": 2}' in text
    weights = [dict(np.load(tmp_path / f"weights{index}.npz")) for index in range(2)]
    assert not list(scratch.iterdir()), "the non-chief worker left its temporary folder"
    return out, weights


def _assert_lockstep(weights):
    first, second = weights
    assert first.keys() == second.keys() and first
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)


@pytest.mark.slow  # ~30 s; fast: the DCGAN recipe on two workers
def test_unet_recipe_on_two_workers(tmp_path):
    recipe = training.load_recipe("unet_bluemarble")
    recipe["kwargs"].update(depth=2, base_filters=4)
    # Every validation step is a cross-process collective: keep the val split small.
    recipe["dataset"]["options"].update(tile_size=64, min_classes=2)
    recipe["train"].update(epochs=2, steps_per_epoch=2, batch_size=8, overlay_tiles=2,
                           time_budget_s=None)
    out, weights = _train_on_two_workers(recipe, tmp_path)
    _assert_lockstep(weights)
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["epoch_001.png",
                                                                    "epoch_002.png"]
    written = json.loads((out / "metrics.json").read_text())
    assert written["trained_with"]["distribution"]["workers"] == 2
    assert 0.0 <= written["bluemarble/test"]["mean_iou"] <= 1.0
    model = keras.saving.load_model(out / "model.keras")
    assert model.predict(np.zeros((1, 40, 56, 3), "float32"), verbose=0).shape == (1, 40, 56, 3)


def test_dcgan_recipe_on_two_workers(tmp_path, random_fashion_mnist):
    classifier = random_fashion_mnist(train=40, test=16)  # the workers inherit its env var
    recipe = training.load_recipe("dcgan_fashion_mnist")
    recipe["kwargs"].update(latent_dim=4, base_filters=4)
    recipe["dataset"].update(train_split="train", val_split=None, limit={"test": 16})
    recipe["train"].update(epochs=2, batch_size=8, steps_per_epoch=2, time_budget_s=None,
                           samples={"num_images": 4})
    recipe["evaluation"] = {"kid_subset_size": 8, "kid_subsets": 2, "baselines": False,
                            "classifier": str(classifier)}
    # Worker 1 alone asks to stop after its third batch (epoch 2, batch 1): both workers
    # must stop there, or the chief would wait forever for worker 1's next step.
    out, weights = _train_on_two_workers(recipe, tmp_path, ASK_TO_STOP="1:3")
    _assert_lockstep(weights)
    model = keras.saving.load_model(out / "model.keras")
    assert int(model.g_optimizer.iterations) == 3 == int(model.d_optimizer.iterations)
    assert model.generate(2, seed=0).shape == (2, 28, 28, 1)
    assert (out / "samples" / "epoch_002.png").is_file()
    assert json.loads((out / "metrics.json").read_text())["trained_with"]["distribution"] == {
        "strategy": "multi_worker", "replicas": 2, "workers": 2}

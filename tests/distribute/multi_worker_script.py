"""One worker process of tests/distribute/test_multi_worker_training.py.

    TF_CONFIG=... python multi_worker_script.py RECIPE_JSON OUT_DIR WEIGHTS_NPZ

Trains the recipe with ``strategy="multi_worker"`` through ``keras_segen.training.train``
and, right after ``fit``, saves this worker's copy of every model variable to
WEIGHTS_NPZ so the test can check that the workers stayed in lockstep.

``ASK_TO_STOP="INDEX:N"``: worker INDEX alone asks ``fit`` to stop after its N-th batch
(as a wall-clock budget running out on one machine would).

``READ_LOG=PREFIX``: before ``fit``, read one epoch of the training data as ``fit``
distributes it and write the sha256 of each image this worker got to PREFIX<index>.json
(tests/distribute/test_packed_multi_worker.py).
"""
import hashlib
import json
import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_segen import training  # noqa: E402


class AskToStop(keras.callbacks.Callback):
    def __init__(self, after_batches):
        super().__init__()
        self.left = after_batches

    def on_train_batch_end(self, batch, logs=None):
        self.left -= 1
        if self.left == 0:
            self.model.stop_training = True


def log_reads(strategy, dataset, path):
    """One epoch of ``dataset`` distributed as Keras' fit does it; each local image's sha256."""
    seen = []
    for images, _ in strategy.experimental_distribute_dataset(dataset):
        for local in strategy.experimental_local_results(images):
            seen += [hashlib.sha256(image.tobytes()).hexdigest() for image in local.numpy()]
    with open(path, "w") as handle:
        json.dump(seen, handle)


def main(recipe_path, out_dir, weights_path):
    fit = keras.Model.fit
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    stopper, _, after = os.environ.get("ASK_TO_STOP", "").partition(":")

    def fit_then_dump(model, *args, **kwargs):
        if stopper and int(stopper) == index:  # first, so the trainer's callbacks see it
            kwargs["callbacks"] = [AskToStop(int(after)), *kwargs.get("callbacks", [])]
        if os.environ.get("READ_LOG"):
            log_reads(model.distribute_strategy, args[0], f"{os.environ['READ_LOG']}{index}.json")
        history = fit(model, *args, **kwargs)
        np.savez(weights_path, **{f"{i}:{v.path}": v.numpy() for i, v in enumerate(model.weights)})
        return history

    keras.Model.fit = fit_then_dump
    results = training.train(recipe_path, out_dir, strategy="multi_worker", verbose=0)
    print("TRAINED_WITH", json.dumps(results["trained_with"]["distribution"]), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])

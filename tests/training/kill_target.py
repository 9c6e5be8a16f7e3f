"""A tiny training run, with the trainer's state callbacks, for the fault-injection test
to SIGKILL at random moments (tests/training/test_fault_injection.py).

``python kill_target.py run OUT EPOCHS MODE`` trains once into ``OUT``.

``python kill_target.py serve`` imports TensorFlow and keras_segen once (seconds on a
loaded machine), then for each line ``{"out": ..., "epochs": ..., "mode": ...}`` on
stdin forks a child that trains (no TensorFlow op has run in the server, so the child
starts its own runtime) and reports on stdout::

    PID <child pid>          right after the fork (the pid to kill)
    TRAINING <pid>           the child entered fit
    EPOCH <pid> <e> <s>      epoch e's checkpoint and history row are written, s
                             seconds after TRAINING
    DONE <pid> <epochs run>  the child finished
    ERROR <pid> <message>    the child failed
    EXIT <pid> <status>      the server reaped the child (after this it is no zombie)

``MODE``: ``every`` (a checkpoint after each epoch) or ``best`` (best val_loss only).
"""
import json
import os
import pathlib
import sys
import time
import traceback

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_segen.callbacks.checkpoint import (  # noqa: E402
    AtomicCheckpoint,
    ResumableCSVLogger,
    SafeBackupAndRestore,
    recover_run_folder,
    resume_threshold,
)
from keras_segen.training.run_folder import claim_run_folder  # noqa: E402

RECIPE = {
    "name": "kill_target", "task": "segmentation", "arch": "tiny_segmenter",
    "kwargs": {"num_classes": 3, "hidden": 384, "input_shape": [16, 16, 3]},
    "dataset": {"name": "random"},
    "train": {"epochs": 1, "batch_size": 8},
}


def build_model(num_classes, hidden, input_shape):
    """Per-pixel logits from a conv stem and a wide dense bottleneck: traces in about a
    second (a U-Net takes ~10 s on a loaded 2-core machine), and its ~0.6M weights
    make each save take longer than an epoch, so random kills often land in writes."""
    height, width, _ = input_shape
    inputs = keras.Input(tuple(input_shape))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(hidden, activation="relu")(x)
    x = keras.layers.Dense(height * width * num_classes)(x)
    outputs = keras.layers.Reshape((height, width, num_classes))(x)
    return keras.Model(inputs, outputs)


def _say(text):
    os.write(1, (text + "\n").encode())


def train(out, epochs, mode):
    out = pathlib.Path(out)
    recipe = json.loads(json.dumps(RECIPE))
    recipe["train"]["epochs"] = int(epochs)
    with claim_run_folder(out, recipe):
        recover_run_folder(out)
        keras.utils.set_random_seed(0)
        rng = np.random.default_rng(0)
        images = rng.random((32, 16, 16, 3), dtype=np.float32)
        masks = rng.integers(0, 3, (32, 16, 16)).astype(np.int32)
        model = build_model(**RECIPE["kwargs"])
        model.compile(optimizer="adam",
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        checkpoint = out / "model.keras"
        if mode == "best":
            saver = AtomicCheckpoint(checkpoint, monitor="val_loss", mode="min",
                                     initial_value_threshold=resume_threshold(
                                         checkpoint, out / "history.csv", "val_loss", "min"))
        else:
            saver = AtomicCheckpoint(checkpoint)

        class Report(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.started = time.monotonic()
                _say(f"TRAINING {os.getpid()}")

            def on_epoch_end(self, epoch, logs=None):
                _say(f"EPOCH {os.getpid()} {epoch} {time.monotonic() - self.started:.3f}")

        history = model.fit(
            images, masks, batch_size=8, epochs=int(epochs), verbose=0,
            validation_data=(images[:8], masks[:8]),
            callbacks=[SafeBackupAndRestore(out / "backup", checkpoint), saver,
                       ResumableCSVLogger(out / "history.csv"), Report()])
        return len(history.history.get("loss", []))


def serve():
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: train, report, leave without the server's exit hooks
            code = 0
            try:
                ran = train(job["out"], job["epochs"], job["mode"])
                _say(f"DONE {os.getpid()} {ran}")
            except BaseException as err:  # noqa: BLE001 - reported to the test
                message = f"{type(err).__name__}: {err}".replace("\n", " ")[:500]
                _say(f"ERROR {os.getpid()} {message}")
                traceback.print_exc()
                code = 1
            os._exit(code)
        _say(f"PID {pid}")
        _, status = os.waitpid(pid, 0)
        _say(f"EXIT {pid} {status}")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    else:
        print("DONE", train(sys.argv[2], sys.argv[3], sys.argv[4]))

"""Where a training step spends its time: op time by op type and by phase (forward,
backward, loss, metrics, optimizer) for zoo recipes compiled by their kind, from the
TensorFlow profiler's trace of ``model.fit`` (``tf.profiler.experimental``).

    python benchmarks/training_profile.py [--recipes unet_bluemarble ...] [--steps 10]
                                          [--precision float32|mixed_bfloat16] [--top 12]

Each recipe's model is built and compiled exactly as ``keras-segen train`` does (its kind's
``compile`` with the recipe's losses, metrics and optimizer), fed one fixed random batch
of the recipe's shape, warmed up, then profiled for ``--steps`` steps. Op times are
summed over the executor's threads, so they are CPU time per step; with 2 threads the
wall time per step is about half of the op total when both are busy. The profiler adds
a few percent to the step; compare the phases and op types, not the wall time, with
``training_throughput.py``.
"""
import argparse
import collections
import glob
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _common  # noqa: E402

DEFAULT_RECIPES = ("unet_bluemarble", "deeplabv3plus_bluemarble", "dcgan_fashion_mnist")
# Trace events of the executor that are not ops.
_NOT_OPS = ("ThreadpoolListener", "ExecutorState", "EagerExecute", "EagerKernelExecute",
            "Iterator", "Prefetch")
_OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "lamb", "lion")


def phase_of(op_name: str) -> str:
    """The training phase an op's name scope belongs to."""
    scopes = op_name.lower().split("/")
    if any(s.startswith(("gradient_tape", "gradients")) for s in scopes):
        return "backward"
    if any(s.startswith("compile_loss") or s.endswith("_loss") for s in scopes):
        return "loss"
    if any("metric" in s or s.startswith(("iou", "mean_iou", "pixel_accuracy", "confusion"))
           for s in scopes):
        return "metrics"
    if any(s in _OPTIMIZERS or s.startswith(tuple(o + "_" for o in _OPTIMIZERS))
           for s in scopes):
        return "optimizer"
    return "forward and other"


def profile_fit(model, data, steps, logdir):
    """``{(op type, phase): picoseconds}`` summed over the compute threads while
    ``model.fit`` runs ``steps`` steps, and the wall seconds of that fit."""
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # trace and warm up
    tf.profiler.experimental.start(logdir)
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    wall = time.perf_counter() - started
    tf.profiler.experimental.stop()
    return read_op_times(logdir), wall


def read_op_times(logdir) -> collections.Counter:
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals = collections.Counter()
    for path in glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True):
        space = xplane_pb2.XSpace()
        with open(path, "rb") as handle:
            space.ParseFromString(handle.read())
        for plane in space.planes:
            if not plane.name.startswith("/host:CPU"):
                continue
            names = plane.event_metadata
            for line in plane.lines:
                if not line.name.startswith(("tf_Compute", "tf_numa")):
                    continue
                for event in line.events:
                    label = names[event.metadata_id].name  # "scope/op_name:OpType"
                    if ":" not in label or label.startswith(_NOT_OPS):
                        continue
                    op_name, op_type = label.rsplit(":", 1)
                    totals[(op_type, phase_of(op_name))] += event.duration_ps
    return totals


def recipe_model(name, precision):
    """The recipe's model compiled by its kind, and one training batch of its shape."""
    import keras

    import keras_segen
    from keras_segen import kinds
    from keras_segen.training.recipes import load_recipe

    recipe = load_recipe(name)
    keras.mixed_precision.set_global_policy(precision)
    model = keras_segen.build(recipe["arch"], **recipe["kwargs"])
    kind = kinds.kind_of_recipe(recipe)
    rng = np.random.default_rng(0)
    batch = int(recipe["train"]["batch_size"])
    if kind.task == "segmentation":
        size = int(recipe["dataset"].get("options", {}).get("tile_size", 64))
        classes = int(recipe["kwargs"]["num_classes"])
        kind.compile(model, recipe["train"], [f"class{i}" for i in range(classes)], None)
        images = rng.random((batch, size, size, 3), dtype=np.float32)
        masks = rng.integers(0, classes, (batch, size, size)).astype(np.int32)
        data = tf.data.Dataset.from_tensors((images, masks)).repeat()
    else:
        kind.compile(model, recipe["train"])
        shape = tuple(model.image_shape)
        images = rng.uniform(-1, 1, (batch, *shape)).astype(np.float32)
        data = tf.data.Dataset.from_tensors(images).repeat()
    return model, data, batch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", nargs="+", default=list(DEFAULT_RECIPES))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--precision", default="float32",
                        choices=("float32", "mixed_bfloat16"))
    parser.add_argument("--top", type=int, default=12, help="op types listed per recipe")
    parser.add_argument("--json", default="runs/benchmarks/training_profile.json")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.top < 1:
        parser.error("--steps and --top must be positive")

    import keras

    where = _common.machine()
    results = {}
    for name in args.recipes:
        model, data, batch = recipe_model(name, args.precision)
        with tempfile.TemporaryDirectory() as logdir:
            totals, wall = profile_fit(model, data, args.steps, logdir)
        keras.mixed_precision.set_global_policy("float32")
        per_step = {key: ps / 1e9 / args.steps for key, ps in totals.items()}  # ms
        op_ms = sum(per_step.values())
        by_type, by_phase = collections.Counter(), collections.Counter()
        for (op_type, phase), ms in per_step.items():
            by_type[op_type] += ms
            by_phase[phase] += ms
        title = (f"{name} ({args.precision}, batch {batch}): {1000 * wall / args.steps:.1f} ms "
                 f"wall and {op_ms:.1f} ms of op time per step, {where['cpu']}, "
                 f"{where['cores']} cores")
        phase_rows = [{"phase": p, "ms": ms, "share": ms / op_ms}
                      for p, ms in by_phase.most_common()]
        type_rows = [{"op": t, "ms": ms, "share": ms / op_ms}
                     for t, ms in by_type.most_common(args.top)]
        print(_common.format_table(phase_rows, [("phase", "phase", "s"), ("ms", "ms/step", ".2f"),
                                                ("share", "share", ".1%")], title))
        print(_common.format_table(type_rows, [("op", "op type", "s"), ("ms", "ms/step", ".2f"),
                                               ("share", "share", ".1%")],
                                   f"{name}: top {args.top} op types"))
        results[name] = {"wall_ms_per_step": 1000 * wall / args.steps, "op_ms_per_step": op_ms,
                         "phases": phase_rows, "op_types": [
                             {"op": t, "ms": ms, "share": ms / op_ms}
                             for t, ms in by_type.most_common()]}
    _common.write_json(args.json, {"machine": where, "precision": args.precision,
                                   "steps": args.steps, "recipes": results})
    return results


if __name__ == "__main__":
    main()

"""The GPU path, measured: every zoo recipe trained for N steps on its own model and data
pipeline in float32 and mixed_float16, each with XLA off and on.

    python benchmarks/gpu_check.py [--steps 50] [--recipes NAME ...] [--modes MODE ...]
    python benchmarks/gpu_check.py --dry-run      # CPU: correctness only, tiny sizes

Per recipe and mode it reports images/s (fit on the recipe's real pipeline after one
warm-up step) and two checks:

* loss: one fixed batch's losses (every logged ``*loss`` of ``evaluate`` on the first
  validation batch, or training batch for recipes without validation, before any step)
  against the CPU float32 value of the same weights, within ``|d| <= 0.02 |ref| + 0.01``. float16
  keeps 11 significant bits (rounding 5e-4 per op); a few dozen layers of that, and of
  float32 reductions over float16 products, stay well inside 2% (a wrong cast or an
  overflow does not);
* loss scale (mixed_float16): every optimizer is a ``LossScaleOptimizer`` (the GAN and
  VAE compile wrap theirs, Keras wraps the rest), at least one step was applied (steps
  whose scaled gradients overflow are skipped while the scale halves: it trains on
  until one is applied, 40 steps at most), the scale is finite, the logged losses are
  finite and every network's weights moved.

Without a visible GPU (or with ``--dry-run``) it is a CPU dry run: 2 steps at batch 4
unless told otherwise, mixed_float16 run for the checks only (no images/s: on CPU it
is emulated and says nothing about a GPU). The table goes to
``runs/benchmarks/gpu_check.json`` (a dry run: ``gpu_check_cpu_dry_run.json``).
"""
import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _common  # noqa: E402

MODES = {"float32": ("float32", False), "float32+xla": ("float32", True),
         "mixed_float16": ("mixed_float16", False),
         "mixed_float16+xla": ("mixed_float16", True)}
LOSS_RTOL, LOSS_ATOL = 0.02, 0.01
# Halvings from the initial scale 2**15 before a skipped step is a failure, not overflow.
MAX_SCALING_STEPS = 40
# Kinds whose two players have one optimizer each (the rest: ``model.optimizer``).
TWO_PLAYER_KINDS = ("adversarial", "image_to_image")


def prepare(name, batch_size, seed=0):
    """``(recipe, kind, data)`` of a zoo recipe, or a string saying why it is skipped."""
    from keras_segen.kinds import kind_of_recipe
    from keras_segen.training.recipes import load_recipe

    recipe = load_recipe(name)
    if recipe.get("trainer"):
        return f"trained by its own script ({recipe['trainer'].get('script')})"
    if batch_size:
        recipe["train"]["batch_size"] = batch_size
    kind = kind_of_recipe(recipe)
    try:
        data = kind.load_training_data(recipe, seed)
    except Exception as err:  # noqa: BLE001 - VOC folders, unprepared TFDS data, ...
        return f"its data does not load here ({type(err).__name__}: " \
               f"{str(err).splitlines()[0][:120]})"
    return recipe, kind, data


def build(recipe, kind, data, precision, jit_compile, seed=0):
    """The recipe's model compiled as the trainer compiles it, in ``precision``."""
    from keras_segen import registry
    from keras_segen.training.precision import precision_policy

    with precision_policy(precision):
        keras.utils.set_random_seed(seed)
        model = registry.build(recipe["arch"], **recipe["kwargs"])
        kind.compile(model, {**recipe["train"], "jit_compile": jit_compile},
                     data.class_names, data.class_weights)
    return model


def fixed_losses(model, batch) -> dict:
    """Every logged loss of ``model`` on one batch (``evaluate``, no weight update)."""
    logs = model.evaluate(tf.data.Dataset.from_tensors(batch), verbose=0, return_dict=True)
    return {k: float(v) for k, v in logs.items() if "loss" in k}


def loss_check(found, reference) -> dict:
    worst = max(abs(found[k] - reference[k]) - LOSS_RTOL * abs(reference[k])
                for k in reference)
    return {"losses": found, "reference": reference,
            "max_abs_diff": max(abs(found[k] - reference[k]) for k in reference),
            "ok": worst <= LOSS_ATOL and all(math.isfinite(v) for v in found.values())}


def optimizers(kind, model) -> dict:
    if kind.name in TWO_PLAYER_KINDS:
        return {"g_optimizer": model.g_optimizer, "d_optimizer": model.d_optimizer}
    return {"optimizer": model.optimizer}


def networks(kind, model) -> dict:
    if kind.name in TWO_PLAYER_KINDS:
        return {"generator": model.generator, "discriminator": model.discriminator}
    return {"model": model}


def _scaled_optimizers(kind, model):
    return [o for o in optimizers(kind, model).values()
            if isinstance(o, keras.optimizers.LossScaleOptimizer)]


class _StopWhenApplied(keras.callbacks.Callback):
    def __init__(self, scaled):
        super().__init__()
        self.scaled, self.steps = scaled, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if all(int(o.inner_optimizer.iterations.numpy()) >= 1 for o in self.scaled):
            self.model.stop_training = True


def train_until_applied(kind, model, pipe, logs, cap=MAX_SCALING_STEPS):
    """Dynamic loss scaling skips a step whose scaled gradients overflow and halves the
    scale (the VAE's loss, a sum over pixels, overflows at the initial 2**15 for its
    first ~7 steps). Train on until every optimizer applied a step, ``cap`` steps at
    most; ``(steps run, last logs)``."""
    scaled = _scaled_optimizers(kind, model)
    if not scaled or all(int(o.inner_optimizer.iterations.numpy()) >= 1 for o in scaled):
        return 0, logs
    stopper = _StopWhenApplied(scaled)
    history = model.fit(pipe, steps_per_epoch=cap, epochs=1, verbose=0, callbacks=[stopper])
    return stopper.steps, {k: v[-1] for k, v in history.history.items()}


def loss_scale_check(kind, model, before, logs) -> dict:
    """Loss scaling under mixed_float16: wrapped optimizers that applied steps with a
    finite scale, finite losses, and weights that moved in every network."""
    found = {"ok": True, "optimizers": {}}
    for name, optimizer in optimizers(kind, model).items():
        scaled = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        entry = {"loss_scale_optimizer": scaled}
        if scaled:
            entry["scale"] = float(optimizer.dynamic_scale.numpy())
            entry["applied_steps"] = int(optimizer.inner_optimizer.iterations.numpy())
            entry["ok"] = math.isfinite(entry["scale"]) and entry["applied_steps"] >= 1
        else:
            entry["ok"] = False
        found["optimizers"][name] = entry
        found["ok"] &= entry["ok"]
    found["losses_finite"] = all(math.isfinite(v) for k, v in logs.items() if "loss" in k)
    found["moved"] = {name: any(not np.array_equal(a, v.numpy()) for a, v in
                                zip(before[name], net.trainable_variables))
                      for name, net in networks(kind, model).items()}
    found["ok"] &= found["losses_finite"] and all(found["moved"].values())
    return found


def check_recipe(name, *, modes, steps, batch_size, timed_fp16, seed=0):
    """One row per mode for recipe ``name`` (or one row saying why it is skipped)."""
    prepared = prepare(name, batch_size, seed)
    if isinstance(prepared, str):
        return [{"recipe": name, "skipped": prepared}]
    recipe, kind, data = prepared
    batch = int(recipe["train"]["batch_size"])
    with tf.device("/CPU:0"):  # the reference: CPU float32, the same weights for all
        reference = build(recipe, kind, data, "float32", False, seed)
        # One pipeline for every mode: its in-memory cache is filled once.
        train_pipe, val_pipe = kind.pipelines(reference, data, batch, seed, repeat=True)
        fixed = tf.nest.map_structure(np.asarray, next(iter(val_pipe or train_pipe)))
        weights = reference.get_weights()
        reference_losses = fixed_losses(reference, fixed)
    rows = []
    for mode in modes:
        precision, jit = MODES[mode]
        row = {"recipe": name, "mode": mode, "batch": batch, "steps": steps}
        mode_started = time.perf_counter()
        try:
            model = build(recipe, kind, data, precision, jit, seed)
            model.set_weights(weights)
            row["loss_check"] = loss_check(fixed_losses(model, fixed), reference_losses)
            before = {n: [v.numpy() for v in net.trainable_variables]
                      for n, net in networks(kind, model).items()}
            clock = _StepClock()
            # One fit: step 0 traces, fills the shuffle buffer and warms up; the clock
            # runs from its end to the end of fit.
            history = model.fit(train_pipe, steps_per_epoch=steps + 1, epochs=1, verbose=0,
                                callbacks=[clock])
            seconds = time.perf_counter() - clock.started
            if precision == "float32" or timed_fp16:
                row["img_s"] = steps * batch / seconds
            logs = {k: v[-1] for k, v in history.history.items()}
            if precision == "mixed_float16":
                extra, logs = train_until_applied(kind, model, train_pipe, logs)
                row["loss_scale"] = loss_scale_check(kind, model, before, logs)
                row["loss_scale"]["steps_run"] = steps + 1 + extra
        except Exception as err:  # noqa: BLE001 - a failing mode is a finding, not a stop
            row["error"] = _one_line(err)
        row["status"] = _status(row)
        row["check_seconds"] = time.perf_counter() - mode_started
        print(f"{name} {mode}: {row['status']} ({row['check_seconds']:.0f} s)", flush=True)
        rows.append(row)
    return rows


class _StepClock(keras.callbacks.Callback):
    """Notes when the first (warm-up) training step ended."""

    started = None

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            if logs:  # wait for the step itself: a GPU runs it asynchronously
                keras.ops.convert_to_numpy(next(iter(logs.values())))
            self.started = time.perf_counter()


def matmul_peak(dtypes, size, repeats=10, rounds=5) -> dict:
    """Best dense-matmul FLOP/s per dtype on the default device (hardware_limit.py's
    probe, with float16 and a size that fills a GPU)."""
    found = {}
    for name in dtypes:
        a = tf.cast(tf.random.normal((size, size)) / size**0.5, name)

        @tf.function
        def chain(x):
            for _ in range(repeats):
                x = tf.matmul(x, a)
            return tf.reduce_sum(tf.cast(x, tf.float32))

        chain(a).numpy()
        best = 0.0
        for _ in range(rounds):
            started = time.perf_counter()
            chain(a).numpy()
            best = max(best, 2 * size**3 * repeats / (time.perf_counter() - started))
        found[name] = best
    return found


def _one_line(err):
    """A TF error's first line is often "Graph execution error:": add the first line
    after it that says what failed (not a node name or a stack frame)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    noise = ("Detected at node", "<stack", "File ", "Stack trace", "[[")
    said = [line for line in lines[1:] if not line.startswith(noise)]
    return f"{type(err).__name__}: {' '.join(lines[:1] + said[:1])[:300]}"


def _status(row):
    if "skipped" in row:
        return "skipped: " + row["skipped"]
    if "error" in row:
        return "ERROR " + row["error"]
    parts = [f"loss {'ok' if row['loss_check']['ok'] else 'MISMATCH'} "
             f"(|d| {row['loss_check']['max_abs_diff']:.2g})"]
    if "loss_scale" in row:
        scale = row["loss_scale"]
        applied = ",".join(str(o.get("applied_steps", 0)) for o in scale["optimizers"].values())
        scales = ",".join(f"2^{math.log2(o['scale']):.0f}" if o.get("scale") else "-"
                          for o in scale["optimizers"].values())
        parts.append(f"loss scale {'ok' if scale['ok'] else 'FAILED'} "
                     f"({applied} of {scale['steps_run']} steps applied, scale {scales})")
    return "; ".join(parts)


def main(argv=None):
    from keras_segen.training.recipes import list_recipes

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 50; "
                        "dry run 2)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default: each recipe's own (dry run 4)")
    parser.add_argument("--recipes", nargs="*", help="default: every zoo recipe")
    parser.add_argument("--modes", nargs="*", choices=list(MODES), default=list(MODES))
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU correctness run (automatic without a visible GPU)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    for flag, value in (("--steps", args.steps), ("--batch-size", args.batch_size)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be a positive int, got {value}")
    gpus = tf.config.list_physical_devices("GPU")
    dry = args.dry_run or not gpus
    steps = args.steps or (2 if dry else 50)
    batch_size = args.batch_size or (4 if dry else None)
    machine = _common.machine()
    if dry:
        print("CPU DRY RUN (" + ("--dry-run" if gpus else "no GPU visible") + f") on "
              f"{machine['cpu']}: checks only; mixed_float16 is not timed and no number "
              "here is a GPU figure")
    rows = []
    for name in args.recipes or list_recipes():
        found = check_recipe(name, modes=args.modes, steps=steps, batch_size=batch_size,
                             timed_fp16=not dry)
        if "skipped" in found[0]:
            print(f"{name}: skipped, {found[0]['skipped']}")
        rows += found
    peak = matmul_peak(("float32", "float16", "bfloat16"), 1024 if dry else 8192)
    device = machine["cpu"] if dry else ", ".join(
        tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    columns = [("recipe", "recipe", ""), ("mode", "mode", ""), ("batch", "batch", "d"),
               ("img_s", "img/s", ".1f"), ("status", "checks", "")]
    title = (f"GPU check on {device}, {steps} steps"
             + (" (CPU DRY RUN: not a GPU measurement)" if dry else ""))
    print(_common.format_table([r for r in rows if "skipped" not in r], columns, title))
    print("dense matmul peak: " + ", ".join(f"{k} {v / 1e12:.2f} TFLOP/s"
                                             for k, v in peak.items()))
    default = "gpu_check_cpu_dry_run.json" if dry else "gpu_check.json"
    _common.write_json(args.json or f"runs/benchmarks/{default}",
                       {"machine": machine, "device": device, "dry_run": dry,
                        "date": time.strftime("%Y-%m-%d"), "steps": steps,
                        "loss_tolerance": {"rtol": LOSS_RTOL, "atol": LOSS_ATOL},
                        "matmul_flop_s": peak, "rows": rows})
    return rows


if __name__ == "__main__":
    main()

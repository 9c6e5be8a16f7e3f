"""Precision of a training run: scoped Keras dtype policies, and the ``auto`` choice.

``float32``, ``mixed_bfloat16`` and ``mixed_float16`` are Keras dtype policies; ``auto``
(:func:`auto_precision`) picks one for the machine at hand: on GPUs by a documented rule,
on CPUs by a short timed probe whose result is cached per machine. Under
``mixed_float16`` the models' optimizers are ``keras.optimizers.LossScaleOptimizer``s
(Keras' ``compile`` wraps the one it is given; the GAN and VAE ``compile`` wrap theirs);
outputs and losses stay float32 in every policy.
"""
import contextlib
import datetime
import json
import os
import pathlib
import time
import typing

import keras

from keras_segen.paths import home_dir
from keras_segen.training.io import write_json_atomic

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
PRECISIONS = (*POLICIES, "auto")

# Bfloat16 arithmetic units on x86 CPUs (/proc/cpuinfo flags).
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")

PROBE_ENV = "KERAS_SEGEN_PRECISION_PROBE"
CACHE_FILE = "precision_probe.json"  # under paths.home_dir()
# mixed_bfloat16 must beat float32 by this much in the probe: below it, timing noise on
# a shared machine could flip the choice, and the casts it adds are not worth a few %.
MARGIN = 1.15
# The probe: a small U-Net's train steps (convs, BatchNorm, transposed convs, softmax
# cross-entropy: what the zoo trains), big enough that the convs dominate the step.
_PROBE = dict(image_size=64, batch_size=8, depth=2, base_filters=32, rounds=3, steps=2)


class AutoChoice(typing.NamedTuple):
    policy: str
    reason: str  # one line for the log: "measured 1.90x ...", "cached ...", "rule ..."


def auto_precision(*, gpu_compute_capabilities=None, cpu_flags=None) -> str:
    """The policy ``auto`` stands for here; see :func:`auto_choice`."""
    return auto_choice(gpu_compute_capabilities=gpu_compute_capabilities,
                       cpu_flags=cpu_flags).policy


def auto_choice(*, gpu_compute_capabilities=None, cpu_flags=None) -> AutoChoice:
    """What ``auto`` stands for on this machine, and why.

    * GPUs (the slowest one decides), a documented rule, not a measurement: compute
      capability >= 8.0 (Ampere and later) -> ``mixed_bfloat16``; 7.x (Volta, Turing)
      -> ``mixed_float16``; older -> ``float32``. It rests on NVIDIA's tensor-core
      support (bfloat16 from 8.0 at the float16 rate, without loss scaling; float16
      from 7.0).
    * CPU without bfloat16 units (neither ``avx512_bf16`` nor ``amx_bf16`` in its flags)
      -> ``float32``, without measuring: there bfloat16 is emulated and slower.
    * CPU with bfloat16 units -> a timed probe: interleaved train steps of a small U-Net
      (64x64, batch 8) under ``float32`` and ``mixed_bfloat16`` in this process, a few
      seconds; ``mixed_bfloat16`` only if its best rate is >= ``MARGIN`` (1.15x) the
      float32 one. The result (rates, ratio, choice, date) is cached in
      ``$KERAS_SEGEN_HOME/precision_probe.json`` keyed by CPU model, core count, bf16
      flags and TensorFlow/Keras versions; an unreadable or foreign entry is measured
      again. ``mixed_float16`` is never chosen on a CPU (measured 4-8x slower).
    * ``KERAS_SEGEN_PRECISION_PROBE=off``: no probe and no cache; a CPU with bfloat16
      units -> ``mixed_bfloat16`` (the flag rule).

    Arguments override what is detected (for tests): ``gpu_compute_capabilities`` as a
    list of ``(major, minor)``, ``cpu_flags`` as a set of flag names.
    """
    if gpu_compute_capabilities is None:
        gpu_compute_capabilities = _gpu_compute_capabilities()
    if gpu_compute_capabilities:
        slowest = min(tuple(c) for c in gpu_compute_capabilities)
        policy = ("mixed_bfloat16" if slowest >= (8, 0) else
                  "mixed_float16" if slowest >= (7, 0) else "float32")
        return AutoChoice(policy, "rule for GPU compute capability "
                                  f"{slowest[0]}.{slowest[1]}")
    if cpu_flags is None:
        cpu_flags = _cpu_flags()
    bf16_flags = sorted(f for f in _CPU_BF16_FLAGS if f in cpu_flags)
    if not bf16_flags:
        return AutoChoice("float32", "CPU has no bfloat16 units (no avx512_bf16/amx_bf16)")
    if os.environ.get(PROBE_ENV, "").strip().lower() in ("off", "0", "false", "no"):
        return AutoChoice("mixed_bfloat16",
                          f"{PROBE_ENV}=off: rule for CPU flags {'+'.join(bf16_flags)}")
    return _probed_choice(bf16_flags)


def resolve_precision(name: str, *, report=None) -> str:
    """``name`` checked, with ``auto`` replaced by :func:`auto_choice`'s policy.
    ``report``: called with one line saying what ``auto`` chose and why (e.g. ``print``)."""
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {name!r}")
    if name != "auto":
        return name
    choice = auto_choice()
    if report is not None:
        report(f"precision auto: {choice.policy} ({choice.reason})")
    return choice.policy


@contextlib.contextmanager
def precision_policy(name: str):
    """Set the global dtype policy to ``name`` (``auto`` resolved) inside the block."""
    name = resolve_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# --- the CPU probe and its cache ---------------------------------------------------------

def _probed_choice(bf16_flags) -> AutoChoice:
    key = _machine_key(bf16_flags)
    path = home_dir() / CACHE_FILE
    entries = _read_cache(path)
    entry = entries.get(key)
    if _valid_entry(entry):
        return AutoChoice(entry["policy"], f"cached: measured {entry['ratio']:.2f}x "
                                           f"bfloat16/float32 on {entry['date']}")
    started = time.perf_counter()
    rates = _measure_rates(**_PROBE)
    ratio = rates["mixed_bfloat16"] / rates["float32"]
    policy = "mixed_bfloat16" if ratio >= MARGIN else "float32"
    entries[key] = dict(
        policy=policy, ratio=round(ratio, 3), margin=MARGIN,
        rates_img_per_s={name: round(rate, 2) for name, rate in rates.items()},
        probe_seconds=round(time.perf_counter() - started, 2), probe=dict(_PROBE),
        date=datetime.date.today().isoformat())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, entries)
        cached = ""
    except OSError as error:  # a read-only home costs a probe per run, not the run
        cached = f"; not cached: {error}"
    return AutoChoice(policy, f"measured {ratio:.2f}x bfloat16/float32, "
                              f"needs {MARGIN}x{cached}")


def _machine_key(bf16_flags) -> str:
    import tensorflow as tf

    return (f"{_cpu_model()} | {_cpu_count()} cores | {'+'.join(bf16_flags)} | "
            f"tensorflow {tf.__version__} | keras {keras.__version__}")


def _read_cache(path) -> dict:
    # Any damage (truncated, not JSON, not a dict of entries) means: measure again.
    try:
        entries = json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _valid_entry(entry) -> bool:
    return (isinstance(entry, dict) and entry.get("policy") in ("float32", "mixed_bfloat16")
            and isinstance(entry.get("ratio"), (int, float))
            and isinstance(entry.get("date"), str))


def _measure_rates(*, image_size, batch_size, depth, base_filters, rounds, steps) -> dict:
    """Training images/s of the probe U-Net per policy: the best of ``rounds`` rounds of
    ``steps`` steps each, the policies alternating (A B, B A, ...) so that load from
    other processes hits both alike; best, not mean, since noise only slows a round.
    A bare ``tf.function`` step (forward, cross-entropy, Adam update) rather than
    ``fit``: it traces in a second, where Keras' train function takes several."""
    import numpy as np
    import tensorflow as tf

    from keras_segen.segmentation.unet import unet

    rng = np.random.default_rng(0)
    images = tf.constant(rng.uniform(0, 1, (batch_size, image_size, image_size, 3)),
                         tf.float32)
    labels = tf.constant(rng.integers(0, 3, (batch_size, image_size, image_size)), tf.int32)
    steppers = {}
    previous = keras.config.dtype_policy()
    try:
        for policy in ("float32", "mixed_bfloat16"):
            keras.config.set_dtype_policy(policy)
            model = unet(input_shape=(image_size, image_size, 3), num_classes=3,
                         depth=depth, base_filters=base_filters, name=f"probe_{policy}")
            optimizer = keras.optimizers.Adam(1e-3)
            optimizer.build(model.trainable_variables)
            steppers[policy] = _train_step(model, optimizer, images, labels)
            steppers[policy]()  # trace and warm up outside the timing
    finally:
        keras.config.set_dtype_policy(previous)
    best = dict.fromkeys(steppers, 0.0)
    for index in range(rounds):
        for policy in (list(steppers) if index % 2 == 0 else list(reversed(steppers))):
            started = time.perf_counter()
            for _ in range(steps):
                steppers[policy]()
            best[policy] = max(best[policy],
                               steps * batch_size / (time.perf_counter() - started))
    return best


def _train_step(model, optimizer, images, labels):
    import tensorflow as tf

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = tf.cast(model(images, training=True), tf.float32)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        variables = model.trainable_variables
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return step


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def _cpu_count() -> int:
    try:  # the cores this process may use (a container's share), not the host's
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _gpu_compute_capabilities():
    import tensorflow as tf

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        found.append(tuple(capability) if capability else (0, 0))
    return found


def _cpu_flags():
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no cheap portable way to ask, assume no bf16 units
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()

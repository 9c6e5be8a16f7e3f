"""Precision of a training run: scoped Keras dtype policies, and the ``auto`` rule.

``float32``, ``mixed_bfloat16`` and ``mixed_float16`` are Keras dtype policies; ``auto``
(:func:`auto_precision`) picks one for the machine at hand. Under ``mixed_float16`` the
models' optimizers are ``keras.optimizers.LossScaleOptimizer``s (Keras' ``compile`` wraps
the one it is given; the GAN and VAE ``compile`` wrap theirs); outputs and losses stay
float32 in every policy.
"""
import contextlib
import pathlib

import keras

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
PRECISIONS = (*POLICIES, "auto")

# Bfloat16 arithmetic units on x86 CPUs (/proc/cpuinfo flags).
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def auto_precision(*, gpu_compute_capabilities=None, cpu_flags=None) -> str:
    """The policy ``auto`` stands for: what is faster at equal quality here.

    * GPUs (the slowest one decides): compute capability >= 8.0 (Ampere and later) ->
      ``mixed_bfloat16``; 7.x (Volta, Turing) -> ``mixed_float16``; older ->
      ``float32``. This rests on NVIDIA's tensor-core support (bfloat16 from 8.0 at
      the float16 rate, without loss scaling; float16 from 7.0), not on a measurement
      here: no GPU was available to this project.
    * CPU with bfloat16 units (``avx512_bf16`` or ``amx_bf16``) -> ``mixed_bfloat16``:
      measured on an AMD EPYC with avx512_bf16 (2 cores), a U-Net trained ~1.6x faster
      than in float32 (15 epochs to 9 in 600 s) and reached the same test mean IoU
      (0.7039 vs 0.7053; README, "Precision").
    * Any other CPU -> ``float32``: without those units bfloat16 is emulated, and
      ``mixed_float16`` measured 4-8x *slower* than float32 even on that EPYC.

    Arguments override what is detected (for tests): ``gpu_compute_capabilities`` as a
    list of ``(major, minor)``, ``cpu_flags`` as a set of flag names.
    """
    if gpu_compute_capabilities is None:
        gpu_compute_capabilities = _gpu_compute_capabilities()
    if gpu_compute_capabilities:
        slowest = min(tuple(c) for c in gpu_compute_capabilities)
        if slowest >= (8, 0):
            return "mixed_bfloat16"
        return "mixed_float16" if slowest >= (7, 0) else "float32"
    if cpu_flags is None:
        cpu_flags = _cpu_flags()
    return "mixed_bfloat16" if any(f in cpu_flags for f in _CPU_BF16_FLAGS) else "float32"


def resolve_precision(name: str) -> str:
    """``name`` checked, with ``auto`` replaced by :func:`auto_precision`'s choice."""
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {name!r}")
    return auto_precision() if name == "auto" else name


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

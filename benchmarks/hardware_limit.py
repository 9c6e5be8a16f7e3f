"""The machine's dense matmul FLOP/s in float32 and bfloat16: the ceiling that training
FLOP/s are compared with.

    python benchmarks/hardware_limit.py
"""
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402


def matmul_flops_per_s(size=1024, repeats=10, rounds=5) -> dict:
    """Best over ``rounds`` of ``repeats`` chained [size x size] matmuls per dtype (the
    limit: throttling and neighbours only ever slow a round down)."""
    found = {}
    for dtype in (tf.float32, tf.bfloat16):
        a = tf.random.normal((size, size), dtype=tf.float32)
        a = tf.cast(a / size**0.5, dtype)

        @tf.function
        def chain(x):
            for _ in range(repeats):
                x = tf.matmul(x, a)
            return tf.reduce_sum(tf.cast(x, tf.float32))

        chain(a).numpy()  # trace and warm up
        rates = []
        for _ in range(rounds):
            started = time.perf_counter()
            chain(a).numpy()
            rates.append(2 * size**3 * repeats / (time.perf_counter() - started))
        found[dtype.name] = max(rates)
    return found


if __name__ == "__main__":
    for name, rate in matmul_flops_per_s().items():
        print(f"{name:<9} {rate / 1e9:8.1f} GFLOP/s")

"""Shared pieces of the benchmarks: interleaved timing, FLOP counting, tables, JSON."""
import json
import os
import pathlib
import platform
import statistics
import time

import numpy as np


def machine() -> dict:
    """What the numbers were measured on."""
    import tensorflow as tf
    import keras

    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {"cpu": cpu, "cores": os.cpu_count(), "gpus": gpus, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version(),
            "load_average_at_start": os.getloadavg()[0]}


def interleaved(candidates: dict, *, rounds: int, work_per_round) -> dict:
    """Time each candidate ``rounds`` times, alternating A, B, A, B, ... so drifts in
    machine load hit every candidate alike. ``candidates`` maps a name to a callable that
    does one round of work; ``work_per_round`` (images per round) turns seconds into
    throughput. Returns name -> {"best_per_s", "median_per_s", "rounds_per_s": [...],
    "best_per_cpu_s", "rounds_per_cpu_s": [...]} (work per wall second and per second of
    this process's CPU time, all threads).

    Compare candidates by ``best_per_s`` (timeit's rule: noise only ever slows a round
    down) and check it against ``best_per_cpu_s``. On the shared VMs we measure on, CPU
    throttling pins whole rounds of *either* candidate at one capped rate (seen: 12 of 16
    rounds of one side and 5 of 16 of the other at exactly 62.8 img/s); a throttled
    round stalls without using CPU, so work per CPU second is blind to it.
    """
    rates = {name: [] for name in candidates}
    cpu_rates = {name: [] for name in candidates}
    for index in range(rounds):
        order = list(candidates) if index % 2 == 0 else list(reversed(candidates))
        for name in order:
            started, cpu_started = time.perf_counter(), time.process_time()
            candidates[name]()
            rates[name].append(work_per_round / (time.perf_counter() - started))
            cpu_rates[name].append(work_per_round / (time.process_time() - cpu_started))
    return {name: {"best_per_s": max(found), "median_per_s": statistics.median(found),
                   "rounds_per_s": found, "best_per_cpu_s": max(cpu_rates[name]),
                   "rounds_per_cpu_s": cpu_rates[name]}
            for name, found in rates.items()}


def forward_flops(model, input_shapes) -> float:
    """FLOPs of one forward pass at fixed input shapes, counted by TF's graph profiler
    (multiply-adds count 2). Training costs about 3x this (forward + two backward
    matmuls per layer)."""
    import tensorflow as tf

    specs = [tf.TensorSpec(shape, tf.float32) for shape in input_shapes]
    function = tf.function(lambda *xs: model(xs[0] if len(xs) == 1 else list(xs),
                                             training=False))
    graph = function.get_concrete_function(*specs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
    return float(profile.total_float_ops)


def format_table(rows: list[dict], columns: list[tuple[str, str, str]], title: str) -> str:
    """``columns`` is (key, header, format spec); missing values print as '-'."""
    headers = [header for _, header, _ in columns]
    cells = [[("-" if row.get(key) is None else format(row[key], spec))
              for key, _, spec in columns] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def write_json(path, payload):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_plain))
    os.replace(tmp, path)


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value)}")

"""What a run was trained with: versions, hardware and timings, for metrics.json and cards."""
import os
import platform

import keras
import tensorflow as tf


def environment() -> dict:
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "hardware": f"{platform.machine()} {os.cpu_count()} CPUs, {platform.processor() or 'cpu'}",
    }


def trained_with(*, seed, model, epochs_run, fit_seconds, wall_seconds, **extra) -> dict:
    """The ``trained_with`` record of a run (``extra`` keys go before the environment)."""
    return {
        "seed": seed,
        "epochs_run_this_session": epochs_run,
        **extra,
        "fit_seconds_this_session": round(fit_seconds, 1),
        "wall_seconds_this_session": round(wall_seconds, 1),
        "num_params": int(model.count_params()),
        **environment(),
    }

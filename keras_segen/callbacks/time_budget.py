"""Stop training once a wall-clock budget is spent (checked after every batch)."""
import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops ``fit`` after ``seconds`` of training, finishing the current batch.

    The epoch that is cut short still runs its validation and epoch-end callbacks, so a
    best-checkpoint callback sees the last weights. ``stopped`` tells whether the budget
    ended the run.
    """

    def __init__(self, seconds: float):
        super().__init__()
        if seconds <= 0:
            raise ValueError(f"time budget must be positive, got {seconds}")
        self.seconds = float(seconds)
        self.stopped = False
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.monotonic()
        self.stopped = False

    @property
    def elapsed(self) -> float:
        return 0.0 if self._start is None else time.monotonic() - self._start

    def on_train_batch_end(self, batch, logs=None):
        if self.elapsed >= self.seconds:
            self.stopped = True
            self.model.stop_training = True

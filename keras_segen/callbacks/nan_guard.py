"""Stop training with a clear record when the loss becomes NaN or infinite."""
import math

import keras


def logs_diverged(logs) -> bool:
    """Whether an epoch's logs hold a NaN or infinite number (what StopOnNaN stops on):
    callbacks that draw or report skip such an epoch and keep their last good output."""
    return any(isinstance(v, (int, float)) and not math.isfinite(v)
               for v in (logs or {}).values())


class StopOnNaN(keras.callbacks.Callback):
    """Like ``keras.callbacks.TerminateOnNaN`` but remembers where and why it stopped.

    ``reason`` is None while training is healthy; the trainer reports it and exits
    non-zero, keeping the best checkpoint written before the failure.
    """

    def __init__(self, monitor: str = "loss"):
        super().__init__()
        self.monitor = monitor
        self.reason = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            self.reason = (
                f"{self.monitor} became {value} at epoch {self._epoch + 1}, batch {batch + 1}; "
                "training stopped (try a lower learning rate or check the data for bad labels)"
            )
            self.model.stop_training = True

"""``RunReport``: rewrite ``OUT/report.html`` at the end of every epoch."""
import pathlib

import keras

from keras_segen.callbacks.nan_guard import logs_diverged


class RunReport(keras.callbacks.Callback):
    """Each ``every`` epochs, writes the run's page (``keras_segen.reports``) for the
    current weights, atomically. Put it after the history logger and the picture
    callbacks: the page shows this epoch's history row and pictures.

    Args:
        reporter: a ``keras_segen.reports.RunReporter`` (``kind.reporter(recipe, data)``).
        run_dir: the run folder; the page is ``run_dir/report.html``.
    """

    def __init__(self, reporter, run_dir, every: int = 1, title=""):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.reporter = reporter
        self.run_dir = pathlib.Path(run_dir)
        self.every = int(every)
        self.title = title
        self.seconds = []  # what each page cost, for the record

    @property
    def path(self):
        from keras_segen.reports import REPORT_NAME

        return self.run_dir / REPORT_NAME

    def write(self, model=None, epoch=None):
        """Write the page now (``model``: default the model being trained)."""
        from keras_segen.reports import write_report

        _, seconds = write_report(self.path, self.reporter, model or self.model, self.run_dir,
                                  epoch=epoch, title=self.title)
        self.seconds.append(seconds)
        return self.path

    def on_epoch_end(self, epoch, logs=None):
        if logs_diverged(logs):
            return  # a NaN epoch (StopOnNaN ends the run): keep the last good page
        if (epoch + 1) % self.every == 0:
            self.write(epoch=epoch + 1)


def finish_reports(callbacks, model):
    """After a run's metrics.json is written: rewrite the page of every ``RunReport``
    in ``callbacks`` for ``model`` (the kept checkpoint), with the held-out numbers."""
    return [cb.write(model) for cb in callbacks if isinstance(cb, RunReport)]

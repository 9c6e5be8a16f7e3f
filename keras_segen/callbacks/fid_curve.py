"""``FidCurve``: FID (and its companions) of a generative model measured every few epochs
during training and written into the epoch's logs, so ``history.csv``, the run page and
the zoo card show where FID stops improving -- the loss of a GAN does not.

The recipe asks for it with ``train.fid_curve: {"every": 5, "num_images": 2000}``; the
kind builds the evaluator (``GenerativeKind.curve_evaluator``), the same one the final
evaluation uses, so the real images' features come from the shared cache and the last
point of the curve is measured exactly as the card's number (with fewer samples).
"""
import math

import keras

from keras_segen.callbacks.nan_guard import logs_diverged
from keras_segen.generation.base import positive_int

# What goes from the evaluator's results into the logs (a VAE's prior samples are
# ``sample_*``); other results (per-class accuracies, counts) stay out of history.csv.
LOGGED = ("fid", "kid", "classifier_accuracy", "sample_fid", "sample_kid",
          "sample_classifier_accuracy")


class FidCurve(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the first), ``evaluator.evaluate(model,
    num_images)`` added to the logs under the names in ``LOGGED``.

    Args:
        make_evaluator: a function of no arguments returning a ``GenerationEvaluator``
            (called once, at the first measurement: building one embeds the real images).
        every: epochs between measurements; epochs in between log nothing (their
            ``history.csv`` cells stay empty).
        num_images: samples per measurement (fewer than the card's 10,000 make FID
            larger by a bias that is the same at every point of the curve).

    Put it before the history logger in the callback list: later callbacks see the
    values. An epoch whose losses diverged is not measured.
    """

    def __init__(self, make_evaluator, *, every=5, num_images=2000):
        super().__init__()
        self.make_evaluator = make_evaluator
        self.every = positive_int(every, "fid_curve.every")
        self.num_images = positive_int(num_images, "fid_curve.num_images")
        self.evaluator = None
        self.measured = {}  # epoch (from 1) -> the logged values

    def due(self, epoch) -> bool:
        """Whether epoch ``epoch`` (counted from 0) is measured."""
        return epoch == 0 or (epoch + 1) % self.every == 0

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self.due(epoch) or logs_diverged(logs):
            return
        if self.evaluator is None:
            self.evaluator = self.make_evaluator()
        results = self.evaluator.evaluate(self.model, num_images=self.num_images)
        found = {key: float(results[key]) for key in LOGGED
                 if isinstance(results.get(key), (int, float))
                 and math.isfinite(results[key])}
        logs.update(found)
        self.measured[epoch + 1] = found
        shown = ", ".join(f"{k} {v:.4g}" for k, v in found.items())
        print(f"\nepoch {epoch + 1}: {shown} ({self.num_images} samples)")

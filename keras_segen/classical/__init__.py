"""Classical (non-deep) segmentation baselines on scikit-image and scikit-learn:
Otsu thresholding, k-means colour clustering, SLIC superpixels with a per-segment
classifier. Each has ``fit(images, masks)``, ``predict(images) -> [N, H, W]`` and
``get_config``; score them with ``keras_segen.evaluation.predictions.evaluate_predictions``
(the same confusion matrix and metrics as ``evaluate_segmentation``).

Needs the ``classical`` extra (scikit-image, scikit-learn).
"""
from keras_segen.classical.base import Baseline
from keras_segen.classical.kmeans import KMeansBaseline
from keras_segen.classical.otsu import OtsuBaseline
from keras_segen.classical.superpixels import SuperpixelBaseline

BASELINES = {cls.name: cls for cls in (OtsuBaseline, KMeansBaseline, SuperpixelBaseline)}


def make_baseline(name, **config):
    """A baseline by name (``BASELINES``), built with ``config``."""
    if name not in BASELINES:
        raise ValueError(f"unknown classical baseline {name!r}; choose from {sorted(BASELINES)}")
    return BASELINES[name](**config)


__all__ = ["BASELINES", "Baseline", "KMeansBaseline", "OtsuBaseline", "SuperpixelBaseline",
           "make_baseline"]

"""Otsu thresholding on one colour channel, chosen on train.

Why one global threshold fitted on train, not Otsu per image: a tile that is all ocean
has no second class, and per-image Otsu would split its noise in two. The channel
(brightness, blue ratio, saturation or HSV value) is the one whose threshold gives the
best mean IoU on the sampled train pixels; each side of the threshold takes the
majority class of its train pixels, so the method predicts at most two classes (which
ones -- ocean/land, and where lake goes -- is what the vote says).
"""
import numpy as np
from skimage.filters import threshold_otsu

from keras_segen.classical.base import Baseline, colour_features, majority_labels, sample_pixels

CHANNELS = ("brightness", "blue_ratio", "saturation", "value")


def channel_values(images_uint8, channel):
    """The named channel of ``[..., 3]`` uint8 pixels, float32 ``[...]``."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {CHANNELS}, got {channel!r}")
    rgb = images_uint8.astype(np.float32)
    if channel == "brightness":
        return rgb.mean(axis=-1) / 255.0
    if channel == "blue_ratio":
        return rgb[..., 2] / (rgb.sum(axis=-1) + 1.0)
    features = colour_features(images_uint8)
    return features[..., 4] if channel == "saturation" else features[..., 5]


def _mean_iou(truth, predicted, num_classes):
    ious = []
    for c in range(num_classes):
        union = np.sum((truth == c) | (predicted == c))
        if union:
            ious.append(np.sum((truth == c) & (predicted == c)) / union)
    return float(np.mean(ious))


class OtsuBaseline(Baseline):
    """Otsu threshold on a train-chosen channel; sides labelled by majority vote.

    Args:
        channels: candidate channels (``CHANNELS``); one is kept by train mean IoU.
        sample: train pixels used for the threshold and the votes.
        num_classes, ignore_label, seed: as in ``Baseline``.
    """

    name = "otsu"

    def __init__(self, channels=CHANNELS, sample=500_000, **kwargs):
        super().__init__(**kwargs)
        self.channels = tuple(channels)
        for channel in self.channels:
            channel_values(np.zeros((1, 1, 1, 3), np.uint8), channel)  # validates names
        self.sample = int(sample)
        self.channel = self.threshold = self.side_labels = None

    def _fit(self, images, masks):
        picked = sample_pixels(masks, self.sample, self.seed, self.ignore_label)
        truth = masks.reshape(-1)[picked]
        pixels = images.reshape(-1, 1, 3)[picked]  # channels of the sample only
        best = None
        for channel in self.channels:
            values = channel_values(pixels, channel).reshape(-1)
            threshold = float(threshold_otsu(values))
            sides = (values > threshold).astype(np.int64)
            labels = majority_labels(sides, truth, 2, self.num_classes)
            score = _mean_iou(truth, labels[sides], self.num_classes)
            if best is None or score > best[0]:
                best = (score, channel, threshold, labels)
        _, self.channel, self.threshold, labels = best
        self.side_labels = [int(v) for v in labels]

    def _predict(self, images):
        above = channel_values(images, self.channel) > self.threshold
        return np.asarray(self.side_labels)[above.astype(np.int64)]

    def get_config(self):
        return {**super().get_config(), "channels": list(self.channels),
                "sample": self.sample}

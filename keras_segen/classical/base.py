"""What every classical baseline shares: input checks, colour features, train sampling,
majority-vote labelling.

A baseline is a plain object, not a Keras model: ``fit(images, masks)`` on train
tiles or regions, ``predict(images) -> int32 [N, H, W]``, ``get_config()``. Images
are ``[N, H, W, 3]`` uint8 or floats in ``[0, 1]`` (what ``datasets.load`` gives);
masks are integer ``[N, H, W]`` with ``ignore_label`` (255) pixels left out of fitting.
"""
import numpy as np
from skimage.color import rgb2hsv

from keras_segen.datasets.info import IGNORE_LABEL


def as_uint8(images, what="images"):
    """``[N, H, W, 3]`` uint8 from uint8 or ``[0, 1]`` floats (one quantization for all)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"{what} must be [N, H, W, 3] RGB, got shape {images.shape}")
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"{what} must be uint8 or floats in [0, 1], got {images.dtype}")
    return np.round(np.clip(images, 0.0, 1.0) * 255.0).astype(np.uint8)


def check_masks(masks, images, num_classes, ignore_label=IGNORE_LABEL):
    """``[N, H, W]`` int masks matching ``images``, labels in range or ignored."""
    masks = np.asarray(masks)
    if masks.ndim == 4 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    if masks.shape != images.shape[:3]:
        raise ValueError(f"masks must be [N, H, W] matching images {images.shape[:3]}, "
                         f"got shape {masks.shape}")
    masks = masks.astype(np.int64)
    bad = (masks != ignore_label) & ((masks < 0) | (masks >= num_classes))
    if bad.any():
        raise ValueError(f"masks hold labels outside [0, {num_classes - 1}] (or "
                         f"{ignore_label}): found {np.unique(masks[bad])[:5].tolist()}")
    return masks


def colour_features(images_uint8):
    """Per-pixel ``[..., 6]`` float32: RGB and HSV, all in [0, 1]."""
    rgb = images_uint8.astype(np.float32) / 255.0
    return np.concatenate([rgb, rgb2hsv(rgb).astype(np.float32)], axis=-1)


def sample_pixels(masks, count, seed, ignore_label=IGNORE_LABEL):
    """Flat indices of up to ``count`` counted pixels, drawn without replacement."""
    counted = np.flatnonzero(masks.reshape(-1) != ignore_label)
    if counted.size == 0:
        raise ValueError("masks hold no counted pixels to fit on (all are ignored)")
    if counted.size <= count:
        return counted
    return np.sort(np.random.default_rng(seed).choice(counted, size=count, replace=False))


def majority_labels(groups, labels, num_groups, num_classes):
    """Each group's most frequent class (``labels`` of its members); a group with no
    member gets the overall most frequent class."""
    votes = np.zeros((num_groups, num_classes), dtype=np.int64)
    np.add.at(votes, (groups, labels), 1)
    chosen = votes.argmax(axis=1)
    chosen[votes.sum(axis=1) == 0] = np.bincount(labels, minlength=num_classes).argmax()
    return chosen.astype(np.int32)


class Baseline:
    """Base of the baselines: ``fit`` / ``predict`` / ``get_config``."""

    name = None

    def __init__(self, num_classes=3, ignore_label=IGNORE_LABEL, seed=0):
        if int(num_classes) != num_classes or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self.ignore_label = int(ignore_label)
        self.seed = int(seed)
        self.fitted = False

    def fit(self, images, masks):
        images = as_uint8(images)
        self._fit(images, check_masks(masks, images, self.num_classes, self.ignore_label))
        self.fitted = True
        return self

    def predict(self, images):
        if not self.fitted:
            raise ValueError(f"{type(self).__name__}: call fit(images, masks) before predict")
        return self._predict(as_uint8(images)).astype(np.int32)

    def get_config(self):
        return {"num_classes": self.num_classes, "ignore_label": self.ignore_label,
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

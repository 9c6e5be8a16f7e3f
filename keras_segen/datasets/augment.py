"""Joint random augmentation of an (input, target) pair, deterministic per seed.

``JointAugment`` applies the *same* geometric transform (flips, 90-degree rotations,
random scale, random crop) to both elements and photometric jitter (brightness,
contrast) to the input only. Two modes:

- ``"segmentation"``: ``(image float [0,1] HxWxC, mask int HxW)``. Masks are resized
  with nearest neighbour (labels never blend) and padded with the ignore label 255.
- ``"paired_images"``: ``(condition image, target image)`` as pix2pix uses. Both are
  resized bilinearly and padded with 0. Photometric jitter touches only the condition:
  the target is what the generator must reproduce, so randomizing its colours would
  only teach the generator to average them out.

All randomness comes from ``tf.random.stateless_*`` ops driven by one ``[2]`` integer
seed, so the same seed always gives the same result (``make_pipeline`` draws one seed
per example and per epoch).
"""
from __future__ import annotations

import dataclasses

import tensorflow as tf

from keras_segen.datasets.info import IGNORE_LABEL

MODES = ("segmentation", "paired_images")

# Sub-seed slots, one per random decision, so adding a decision never changes another's.
_HFLIP, _VFLIP, _ROT, _SCALE, _CROP_Y, _CROP_X, _BRIGHT, _CONTRAST = range(8)
_NUM_SUBSEEDS = 8


@dataclasses.dataclass(frozen=True)
class JointAugment:
    """Serializable joint augmentation config; call it as ``aug(x, y, seed)``.

    Args:
        hflip: random left-right flip with probability 0.5.
        vflip: random up-down flip with probability 0.5.
        rot90: random rotation by a multiple of 90 degrees. Non-square inputs only
            get 0 or 180 degrees so their shape is kept.
        scale_range: ``(low, high)`` random zoom factor, or None for no zoom.
        crop_size: ``(height, width)`` of the output; None keeps the input size. When
            the (scaled) input is smaller than the crop it is padded: images with 0,
            masks with the ignore label 255.
        brightness: max absolute brightness delta (input only), 0 disables.
        contrast: contrast factor drawn from ``[1 - contrast, 1 + contrast]``, 0 disables.
        mode: ``"segmentation"`` or ``"paired_images"`` (see module docstring).
        focus_class: segmentation only: a class whose pixels crops are centred on now
            and then (nnU-Net's foreground oversampling), so a rare class is seen in
            context; None disables.
        focus_rate: the probability that a crop holds a random pixel of ``focus_class``
            (when the input holds one); the other crops are placed uniformly.
    """

    hflip: bool = True
    vflip: bool = False
    rot90: bool = False
    scale_range: tuple | None = (0.75, 1.25)
    crop_size: tuple | None = None
    brightness: float = 0.1
    contrast: float = 0.1
    mode: str = "segmentation"
    focus_class: int | None = None
    focus_rate: float = 0.0

    def __post_init__(self):
        # Normalize lists (from JSON) to tuples so configs compare equal after a round trip.
        if self.scale_range is not None:
            scale = tuple(float(s) for s in self.scale_range)
            if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
                raise ValueError(
                    f"JointAugment: scale_range must be (low, high) with 0 < low <= high, "
                    f"got {self.scale_range!r}"
                )
            object.__setattr__(self, "scale_range", scale)
        if self.crop_size is not None:
            crop = tuple(self.crop_size)
            if len(crop) != 2 or not all(isinstance(c, int) and c > 0 for c in crop):
                raise ValueError(
                    f"JointAugment: crop_size must be (height, width) positive ints or None, "
                    f"got {self.crop_size!r}"
                )
            object.__setattr__(self, "crop_size", crop)
        for field in ("brightness", "contrast"):
            value = getattr(self, field)
            if not 0 <= value < 1:
                raise ValueError(f"JointAugment: {field} must be in [0, 1), got {value!r}")
        if self.mode not in MODES:
            raise ValueError(f"JointAugment: mode must be one of {MODES}, got {self.mode!r}")
        if not (isinstance(self.focus_rate, (int, float)) and 0 <= self.focus_rate <= 1):
            raise ValueError(f"JointAugment: focus_rate must be in [0, 1], got "
                             f"{self.focus_rate!r}")
        if self.focus_class is not None and not (
                isinstance(self.focus_class, int) and 0 <= self.focus_class < IGNORE_LABEL):
            raise ValueError(f"JointAugment: focus_class must be a class index or None, got "
                             f"{self.focus_class!r}")
        if self.focus_rate > 0 and (self.focus_class is None or self.mode != "segmentation"
                                    or self.crop_size is None):
            raise ValueError("JointAugment: focus_rate needs focus_class, crop_size and "
                             "mode 'segmentation'")

    # -- serialization (plain JSON-able dict, so a recipe can hold it) ----------------
    def get_config(self) -> dict:
        config = dataclasses.asdict(self)
        for key in ("scale_range", "crop_size"):
            if config[key] is not None:
                config[key] = list(config[key])
        return config

    @classmethod
    def from_config(cls, config: dict) -> "JointAugment":
        unknown = set(config) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"JointAugment.from_config: unknown keys {sorted(unknown)}")
        return cls(**config)

    # -- the transform ------------------------------------------------------------------
    def __call__(self, x, y, seed):
        """Augment one unbatched pair with a ``[2]`` integer ``seed``; returns ``(x, y)``."""
        x = tf.convert_to_tensor(x)
        y = tf.convert_to_tensor(y)
        if x.shape.rank not in (None, 3):
            raise ValueError(
                f"JointAugment expects an unbatched HxWxC input, got shape {x.shape}"
            )
        segmentation = self.mode == "segmentation"
        expected_y_rank = 2 if segmentation else 3
        if y.shape.rank not in (None, expected_y_rank):
            what = "HxW mask" if segmentation else "HxWxC target image"
            raise ValueError(f"JointAugment({self.mode}) expects an {what}, got shape {y.shape}")
        if not x.dtype.is_floating:
            raise TypeError(f"JointAugment expects a float input image in [0, 1], got {x.dtype}")
        # tf.image ops need a known rank; this also checks it at run time.
        x = tf.ensure_shape(x, [None, None, None]) if x.shape.rank is None else x
        if y.shape.rank is None:
            y = tf.ensure_shape(y, [None] * expected_y_rank)

        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), _NUM_SUBSEEDS)
        if segmentation:
            y = y[..., tf.newaxis]  # treat the mask as a one-channel image from here on
        input_hw = tf.shape(x)[:2]
        static_x, static_y = x.shape, y.shape

        if self.hflip:
            x, y = _maybe(seeds[_HFLIP], lambda t: tf.reverse(t, [1]), x, y)
        if self.vflip:
            x, y = _maybe(seeds[_VFLIP], lambda t: tf.reverse(t, [0]), x, y)
        if self.rot90:
            x, y = self._rotate(seeds[_ROT], x, y)
        if self.scale_range is not None:
            x, y = self._scale(seeds[_SCALE], x, y, segmentation)
        crop_hw = tf.constant(self.crop_size, tf.int32) if self.crop_size else input_hw
        focus = None
        if self.focus_rate > 0:
            # Seeds of their own (not a new sub-seed slot): runs without focus repeat exactly.
            focus_seeds = tf.random.experimental.stateless_split(
                tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 7919), 2)
            focus = (self.focus_class, self.focus_rate, focus_seeds)
        x, y = _pad_and_crop(seeds[_CROP_Y], seeds[_CROP_X], x, y, crop_hw, segmentation,
                             focus)
        x = self._photometric(seeds[_BRIGHT], seeds[_CONTRAST], x)

        if self.crop_size:
            x.set_shape([*self.crop_size, static_x[-1]])
            y.set_shape([*self.crop_size, static_y[-1]])
        else:  # cropped back to the input size (rotations keep it too)
            x.set_shape(static_x)
            y.set_shape(static_y)
        if segmentation:
            y = y[..., 0]
        return x, y

    def _rotate(self, seed, x, y):
        k = tf.random.stateless_uniform([], seed, minval=0, maxval=4, dtype=tf.int32)
        shape = tf.shape(x)
        # A quarter turn of a non-square input would change its shape: use 0 or 180 only.
        k = tf.where(tf.equal(shape[0], shape[1]), k, (k % 2) * 2)
        return tf.image.rot90(x, k), tf.image.rot90(y, k)

    def _scale(self, seed, x, y, segmentation):
        low, high = self.scale_range
        factor = tf.random.stateless_uniform([], seed, minval=low, maxval=high)
        hw = tf.cast(tf.shape(x)[:2], tf.float32)
        new_hw = tf.maximum(tf.cast(tf.round(hw * factor), tf.int32), 1)
        x = tf.image.resize(x, new_hw, method="bilinear")
        if segmentation:
            y = tf.image.resize(y, new_hw, method="nearest")  # keeps labels and dtype
        else:
            y = tf.cast(tf.image.resize(y, new_hw, method="bilinear"), y.dtype)
        return x, y

    def _photometric(self, bright_seed, contrast_seed, x):
        if self.brightness > 0:
            x = tf.image.stateless_random_brightness(x, self.brightness, bright_seed)
        if self.contrast > 0:
            x = tf.image.stateless_random_contrast(
                x, 1.0 - self.contrast, 1.0 + self.contrast, contrast_seed
            )
        if self.brightness > 0 or self.contrast > 0:
            x = tf.clip_by_value(x, 0.0, 1.0)
        return x


def _maybe(seed, transform, x, y):
    """Apply ``transform`` to both tensors with probability 0.5."""
    apply = tf.random.stateless_uniform([], seed) < 0.5
    return tf.cond(apply, lambda: (transform(x), transform(y)), lambda: (x, y))


def _pad_and_crop(seed_y, seed_x, x, y, crop_hw, segmentation, focus=None):
    """Pad up to ``crop_hw`` (0 for images, 255 for masks), then crop both at one offset.

    ``focus=(label, rate, seeds)``: with probability ``rate`` the crop is placed uniformly
    among the offsets whose window holds one random pixel of ``label`` (if any)."""
    hw = tf.shape(x)[:2]
    pad = tf.maximum(crop_hw - hw, 0)
    # Centre the padding so a small input stays in the middle of the crop.
    before = pad // 2
    paddings = tf.stack(
        [[before[0], pad[0] - before[0]], [before[1], pad[1] - before[1]], [0, 0]]
    )
    x = tf.pad(x, paddings, constant_values=0)
    y_fill = IGNORE_LABEL if segmentation else 0
    y = tf.pad(y, paddings, constant_values=tf.cast(y_fill, y.dtype))
    hw = tf.maximum(hw, crop_hw)
    low, high = tf.zeros([2], tf.int32), hw - crop_hw  # the offsets, inclusive
    if focus is not None:
        low, high = _focus_window(y[..., 0], crop_hw, low, high, *focus)
    top = tf.random.stateless_uniform([], seed_y, low[0], high[0] + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], seed_x, low[1], high[1] + 1, dtype=tf.int32)
    begin = tf.stack([top, left, 0])
    x = tf.slice(x, begin, tf.stack([crop_hw[0], crop_hw[1], -1]))
    y = tf.slice(y, begin, tf.stack([crop_hw[0], crop_hw[1], -1]))
    return x, y


def _focus_window(labels, crop_hw, low, high, label, rate, seeds):
    """The offset range ``[low, high]`` narrowed to crops holding one random ``label``
    pixel, with probability ``rate`` and only when the mask holds that label."""
    where = tf.cast(tf.where(tf.equal(labels, tf.cast(label, labels.dtype))), tf.int32)
    count = tf.shape(where)[0]
    use = tf.logical_and(tf.random.stateless_uniform([], seeds[0]) < rate, count > 0)
    pick = tf.random.stateless_uniform([], seeds[1], 0, tf.maximum(count, 1), dtype=tf.int32)
    # A dummy last row keeps the gather valid when the label is absent (then unused).
    pixel = tf.gather(tf.concat([where, tf.zeros([1, 2], tf.int32)], 0), pick)
    focus_low = tf.maximum(low, pixel - crop_hw + 1)
    focus_high = tf.minimum(high, pixel)
    return tf.where(use, focus_low, low), tf.where(use, focus_high, high)


def from_spec(spec) -> "JointAugment | None":
    """Turn a recipe's augmentation entry into a callable: None, a config dict, or a callable."""
    if spec is None or callable(spec):
        return spec
    if isinstance(spec, dict):
        return JointAugment.from_config(spec)
    raise TypeError(
        f"augment must be None, a JointAugment config dict or a callable, got {type(spec)}"
    )


__all__ = ["JointAugment", "MODES", "from_spec"]

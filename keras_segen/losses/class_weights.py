"""Per-class pixel counts of a mask dataset, and class weights derived from them.

Typical use, since Keras' ``fit(class_weight=...)`` refuses per-pixel targets::

    counts = class_frequencies(train_ds, num_classes=3)
    weights = class_weights_from_frequencies(counts, method="median")
    model.compile(loss=SparseCrossEntropy(class_weights=weights), ...)
"""
import numpy as np
import tensorflow as tf

METHODS = ("inverse", "inverse_sqrt", "median", "effective")


def _mask_of(element):
    """The mask of a dataset element: ``mask``, ``(image, mask)`` or ``(image, mask, w)``."""
    if isinstance(element, (tuple, list)):
        if len(element) == 1:
            return _mask_of(element[0])
        return element[1]
    if isinstance(element, dict):
        for key in ("mask", "segmentation_mask", "label"):
            if key in element:
                return element[key]
        raise ValueError(
            f"class_frequencies: dict elements need a 'mask' or 'segmentation_mask' "
            f"key, got keys {sorted(element)}"
        )
    return element


def _images_of(mask):
    """Reshape a mask to [B, pixels]: [H,W] and [H,W,1] are one image, [B,H,W(,1)] B."""
    rank = mask.shape.rank
    if rank is None:
        raise ValueError("class_frequencies: masks need a known rank")
    if rank == 2 or (rank == 3 and mask.shape[-1] == 1):
        return tf.reshape(mask, [1, -1])
    if rank in (3, 4):
        return tf.reshape(mask, [tf.shape(mask)[0], -1])
    raise ValueError(
        f"class_frequencies: expected masks of shape [H, W], [H, W, 1], [B, H, W] or "
        f"[B, H, W, 1], got {mask.shape}"
    )


def class_frequencies(dataset, num_classes, ignore_label=255, return_image_pixels=False):
    """Count the pixels of each class in the masks of ``dataset``.

    Args:
        dataset: a ``tf.data.Dataset`` whose elements are masks, ``(image, mask)`` or
            ``(image, mask, sample_weight)`` tuples (or dicts with a ``"mask"`` key),
            batched or not; or one array of masks ``[B, H, W(, 1)]``. Streams once.
        num_classes: number of classes ``C``; labels must be in ``[0, C-1]``.
        ignore_label: label that is not counted (``None`` counts every pixel).
        return_image_pixels: also return, per class, the number of (non-ignored)
            pixels of the images in which the class occurs -- the denominator of
            Eigen & Fergus' median frequency balancing.

    Returns:
        ``counts``: numpy int64 ``[C]`` pixel counts; with ``return_image_pixels``, the
        pair ``(counts, image_pixels)``.

    Raises:
        ValueError: a mask holds a label outside ``[0, C-1]`` that is not the ignore
            label (the message says how many pixels and the value range found).
    """
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"class_frequencies: num_classes must be >= 1, got {num_classes}")
    if not isinstance(dataset, tf.data.Dataset):
        dataset = tf.data.Dataset.from_tensors(tf.convert_to_tensor(dataset))

    def statistics(*element):
        images = tf.cast(_images_of(tf.convert_to_tensor(_mask_of(element))), "int64")
        if ignore_label is None:
            counted = tf.ones_like(images, dtype="bool")
        else:
            counted = tf.not_equal(images, int(ignore_label))
        in_range = (images >= 0) & (images < num_classes)
        bad = counted & ~in_range
        # Class C collects everything not counted, so bincount needs no filtering.
        ids = tf.where(counted & in_range, images, num_classes)
        per_image = tf.math.bincount(
            ids, minlength=num_classes + 1, maxlength=num_classes + 1,
            dtype="int64", axis=-1,
        )[:, :num_classes]
        image_totals = tf.reduce_sum(per_image, axis=1, keepdims=True)
        present = tf.cast(per_image > 0, "int64")
        bad_values = tf.boolean_mask(images, bad)
        return (
            tf.reduce_sum(per_image, axis=0),
            tf.reduce_sum(present * image_totals, axis=0),
            tf.reduce_sum(tf.cast(bad, "int64")),
            tf.reduce_min(tf.concat([bad_values, [np.iinfo(np.int64).max]], 0)),
            tf.reduce_max(tf.concat([bad_values, [np.iinfo(np.int64).min]], 0)),
        )

    zeros = tf.zeros([num_classes], "int64")
    initial = (zeros, zeros, tf.constant(0, "int64"),
               tf.constant(np.iinfo(np.int64).max), tf.constant(np.iinfo(np.int64).min))

    def accumulate(state, new):
        return (state[0] + new[0], state[1] + new[1], state[2] + new[2],
                tf.minimum(state[3], new[3]), tf.maximum(state[4], new[4]))

    counts, image_pixels, num_bad, low, high = dataset.map(statistics).reduce(
        initial, accumulate
    )
    if int(num_bad):
        allowed = "" if ignore_label is None else f" (or the ignore label {ignore_label})"
        raise ValueError(
            f"class_frequencies: {int(num_bad)} mask pixels have labels outside "
            f"[0, {num_classes - 1}]{allowed}; found values from {int(low)} to {int(high)}"
        )
    counts = counts.numpy().astype(np.int64)
    if return_image_pixels:
        return counts, image_pixels.numpy().astype(np.int64)
    return counts


def class_weights_from_frequencies(counts, method="median", *, image_pixels=None,
                                   beta=0.9999, max_weight=None):
    """Per-class loss weights from per-class pixel counts.

    Classes with a count of 0 (absent from the data) get weight 0: they contribute
    no pixels, and a finite value keeps losses and configs free of inf/NaN.

    Args:
        counts: ``[C]`` non-negative pixel counts (e.g. from :func:`class_frequencies`).
        method: with ``n_k`` the count, ``N = sum n_k`` and ``K`` the number of
            present classes:

            * ``"inverse"``: ``N / (K * n_k)`` (scikit-learn's "balanced"; the
              pixel-weighted mean weight is 1).
            * ``"inverse_sqrt"``: proportional to ``1 / sqrt(n_k)``, scaled so the
              pixel-weighted mean weight is 1 (a milder rebalancing).
            * ``"median"``: median frequency balancing (Eigen & Fergus 2015, SegNet):
              ``median(f) / f_k`` with ``f_k = n_k / image_pixels_k``, the pixels of
              class ``k`` over the pixels of the images where ``k`` occurs. Without
              ``image_pixels`` it uses ``f_k = n_k / N``. The median class gets 1.
            * ``"effective"``: class-balanced weights of Cui et al. 2019,
              ``(1 - beta) / (1 - beta ** n_k)``, scaled to sum to ``K``.
        image_pixels: optional ``[C]`` counts from
            ``class_frequencies(..., return_image_pixels=True)`` for ``"median"``.
        beta: the ``"effective"`` hyper-parameter in ``[0, 1)``. With pixel counts
            in the millions, values close to 1 (``1 - 1/n`` for a typical count ``n``)
            keep the weights from all saturating to 1.
        max_weight: optional cap applied after normalization, against huge weights
            for very rare classes.

    Returns:
        numpy float64 ``[C]`` weights.
    """
    counts = np.asarray(counts)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"counts must be finite and non-negative, got {counts.tolist()}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    counts = counts.astype(np.float64)
    present = counts > 0
    if not present.any():
        raise ValueError("counts are all zero: no class occurs, no weights to derive")
    total = counts.sum()
    num_present = present.sum()
    weights = np.zeros_like(counts)
    n = counts[present]

    if method == "inverse":
        weights[present] = total / (num_present * n)
    elif method == "inverse_sqrt":
        raw = 1.0 / np.sqrt(n)
        weights[present] = raw * total / np.sum(raw * n)
    elif method == "median":
        if image_pixels is None:
            denominators = np.full_like(n, total)
        else:
            image_pixels = np.asarray(image_pixels, dtype=np.float64)
            if image_pixels.shape != counts.shape:
                raise ValueError(
                    f"image_pixels must have the shape of counts {counts.shape}, "
                    f"got {image_pixels.shape}"
                )
            if np.any(image_pixels[present] < n):
                raise ValueError(
                    "image_pixels must be >= counts for every present class (it counts "
                    "all pixels of the images containing the class)"
                )
            denominators = image_pixels[present]
        frequencies = n / denominators
        weights[present] = np.median(frequencies) / frequencies
    else:  # "effective"
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1), got {beta}")
        if beta == 0.0:
            raw = np.ones_like(n)
        else:
            # 1 - beta**n computed as -expm1(n log beta): exact for beta near 1.
            raw = (1.0 - beta) / -np.expm1(n * np.log(beta))
        weights[present] = raw * num_present / raw.sum()

    if max_weight is not None:
        if max_weight <= 0:
            raise ValueError(f"max_weight must be > 0, got {max_weight}")
        weights = np.minimum(weights, float(max_weight))
    return weights


__all__ = ["class_frequencies", "class_weights_from_frequencies"]

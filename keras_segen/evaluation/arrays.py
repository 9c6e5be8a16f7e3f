"""Held-out data as numpy arrays, in the value range the evaluation measures in."""
import numpy as np
import tensorflow as tf


def collect(data, limit=None, batch_size=256):
    """``(first, second)`` numpy arrays from a dataset of pairs (batched or not), a tuple
    of arrays, or an array of images (``second`` is then None); at most ``limit`` rows."""
    if isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        first_spec = spec[0] if isinstance(spec, (tuple, list)) else spec
        if first_spec.shape.rank == 3:  # unbatched [H, W, C]
            data = data.batch(batch_size)
        firsts, seconds, count = [], [], 0
        for element in data.as_numpy_iterator():
            first = element[0] if isinstance(element, tuple) else element
            firsts.append(first)
            if isinstance(element, tuple) and len(element) > 1:
                seconds.append(element[1])
            count += len(first)
            if limit is not None and count >= limit:
                break
        if not firsts:
            raise ValueError("the evaluation dataset is empty")
        first = np.concatenate(firsts)
        second = np.concatenate(seconds) if seconds else None
    elif isinstance(data, (tuple, list)):
        first = np.asarray(data[0])
        second = np.asarray(data[1]) if len(data) > 1 and data[1] is not None else None
    else:
        first, second = np.asarray(data), None
    if limit is not None:
        first = first[:limit]
        second = None if second is None else second[:limit]
    if first.ndim != 4:
        raise ValueError(f"evaluation images must be [N, H, W, C], got shape {first.shape}")
    if second is not None and len(second) != len(first):
        raise ValueError(f"{len(first)} images but {len(second)} labels/targets")
    return first.astype(np.float32) if first.dtype.kind == "f" else first, second


def to_unit_range(images, value_range):
    """Images in ``value_range`` -> float32 in [0, 1] (uint8 images are read as 0..255)."""
    images = np.asarray(images)
    low, high = (0.0, 255.0) if images.dtype.kind in "iu" else value_range
    return np.clip((images.astype(np.float32) - low) / (high - low), 0.0, 1.0)

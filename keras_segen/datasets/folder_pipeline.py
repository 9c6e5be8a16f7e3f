"""The tf.data side of the folder loaders: decoding image files and (image, mask) pairs,
resizing, and cutting whole images into tiles.

Images are decoded as uint8 and converted afterwards: ``tf.io.decode_image(...,
dtype=float32)`` fails on WebP inside tf.data ("WebP only supports uint8"), and uint8
is what every format decodes to anyway (16-bit PNGs are scaled to 8 bits).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from keras_segen.datasets.info import IGNORE_LABEL

# Mask encodings, as the decoder's branch index.
GRAY8, GRAY16, PALETTE = 0, 1, 2


def decode_rgb_uint8(raw):
    """uint8 ``[H, W, 3]`` of an encoded JPEG/PNG/BMP/GIF/WebP (alpha dropped, grey and
    palette images expanded to RGB, 16-bit scaled to 8)."""
    return tf.io.decode_image(raw, channels=3, dtype=tf.uint8, expand_animations=False)


def decode_rgb_float(raw):
    """float32 ``[H, W, 3]`` in [0, 1] of an encoded image (see ``decode_rgb_uint8``)."""
    return tf.image.convert_image_dtype(decode_rgb_uint8(raw), tf.float32)


def tile_pair(image, mask, tile):
    """Cut ``image [H, W, 3]`` and ``mask [H, W]`` into ``tile`` x ``tile`` tiles that cover
    every pixel once (row-major); the last row/column is padded (image 0, mask with the
    ignore label, so padding never counts). Returns ``[T, tile, tile, 3]``, ``[T, tile, tile]``."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    pad_h, pad_w = (-height) % tile, (-width) % tile
    image = tf.pad(image, [[0, pad_h], [0, pad_w], [0, 0]])
    mask = tf.pad(mask, [[0, pad_h], [0, pad_w]], constant_values=IGNORE_LABEL)
    rows, cols = (height + pad_h) // tile, (width + pad_w) // tile

    def split(x, channels):
        x = tf.reshape(x, [rows, tile, cols, tile, channels])
        return tf.reshape(tf.transpose(x, [0, 2, 1, 3, 4]), [rows * cols, tile, tile, channels])

    return split(image, 3), split(mask[..., None], 1)[..., 0]


def pair_dataset(pairs, encodings, color_table, image_size=None, tile_size=None):
    """``(image float32 [0,1] HxWx3, mask int32 HxW)`` for each ``(stem, image, mask)``
    pair; ``encodings``: GRAY8 / GRAY16 / PALETTE per mask; ``color_table``: ``(keys,
    values)`` mapping palette RGB keys to indices, or None. ``image_size`` resizes,
    ``tile_size`` cuts every example into tiles (``tile_pair``)."""
    image_paths = [str(image) for _, image, _ in pairs]
    mask_paths = [str(mask) for _, _, mask in pairs]
    # A never-matching table when no mask is a palette PNG keeps all three branches valid.
    keys, values = color_table if color_table is not None else (np.array([-1]), np.array([0]))
    keys, values = tf.constant(keys, tf.int64), tf.constant(values, tf.int64)

    def decode_gray8(raw):
        return tf.cast(tf.io.decode_png(raw, channels=1)[..., 0], tf.int32)

    def decode_gray16(raw):
        return tf.cast(tf.io.decode_png(raw, channels=1, dtype=tf.uint16)[..., 0], tf.int32)

    def decode_palette(raw):
        # TF expands palette PNGs to RGB; map each colour back to its palette index.
        rgb = tf.cast(tf.io.decode_png(raw, channels=3), tf.int64)
        flat = tf.reshape(rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2], [-1])
        pos = tf.minimum(tf.searchsorted(keys, flat), tf.size(keys) - 1)
        found = tf.equal(tf.gather(keys, pos), flat)
        index = tf.where(found, tf.gather(values, pos), tf.constant(IGNORE_LABEL, tf.int64))
        return tf.reshape(tf.cast(index, tf.int32), tf.shape(rgb)[:2])

    def decode(image_path, mask_path, encoding):
        image = decode_rgb_float(tf.io.read_file(image_path))
        raw = tf.io.read_file(mask_path)
        mask = tf.switch_case(
            encoding,
            [lambda: decode_gray8(raw), lambda: decode_gray16(raw), lambda: decode_palette(raw)],
        )
        tf.debugging.Assert(
            tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.shape(mask))),
            ["folders: image and mask sizes differ:", image_path, mask_path],
        )
        return resize_pair(image, mask, image_size)

    ds = tf.data.Dataset.from_tensor_slices(
        (image_paths, mask_paths, tf.constant(encodings, tf.int32))
    )
    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    if tile_size:
        ds = ds.flat_map(lambda image, mask: tf.data.Dataset.from_tensor_slices(
            tile_pair(image, mask, tile_size)))
    return ds


__all__ = ["GRAY16", "GRAY8", "PALETTE", "decode_rgb_float", "decode_rgb_uint8",
           "pair_dataset", "tile_pair"]


def resize_pair(image, mask, image_size):
    """An (image [H,W,3], mask [H,W]) pair resized to ``image_size`` (bilinear with
    antialiasing for the image, nearest neighbour for the class ids), or kept at its
    size when ``image_size`` is None; static shapes set either way."""
    if image_size:
        image = tf.image.resize(image, image_size, method="bilinear", antialias=True)
        mask = tf.image.resize(mask[..., None], image_size, method="nearest")[..., 0]
    height, width = image_size if image_size else (None, None)
    image.set_shape([height, width, 3])
    mask.set_shape([height, width])
    return image, mask

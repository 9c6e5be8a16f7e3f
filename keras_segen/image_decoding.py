"""One rule for turning an image file into the uint8 RGB pixels a model sees.

``keras-segen predict`` (numpy, through PIL: ``decode_rgb``) and the exported
``predict_bytes`` signature (TensorFlow ops: ``decode_rgb_tf``) both follow it, and give
identical arrays for PNG (1 to 16 bits, gray, gray + alpha, palette, RGB, RGBA), JPEG
(gray, RGB, CMYK), GIF (first frame), BMP and WebP files:

* 16 bits per sample -> 8 by keeping the high byte (``value >> 8``), as libpng's
  ``png_set_strip_16``, ``tf.image.convert_image_dtype`` and PIL's 16-bit RGB reader do.
  A 16-bit grayscale PNG is no longer clipped at 255 (PIL's ``convert("RGB")`` of an
  ``I;16`` image washes it out to white).
* 1, 2 or 4 bits per sample -> scaled to the 0..255 range (0 -> 0, max -> 255).
* grayscale -> the gray value in all three channels; palette -> the palette's colours;
  CMYK -> RGB as libjpeg converts it.
* alpha -> dropped (not composited over a background): a transparent pixel keeps its
  colour.
* JPEG -> libjpeg's accurate integer IDCT (``dct_method="INTEGER_ACCURATE"``), PIL's
  default; TensorFlow's default (fast IDCT) differs by up to ~15 levels.
* The first frame of an animation; EXIF orientation is not applied (neither library
  applies it).

Images over ``PIL.Image.MAX_IMAGE_PIXELS`` (PIL's decompression-bomb guard, about 89.5
million pixels) are refused before they are decoded, naming their size. Setting the
environment variable ``KERAS_SEGEN_MAX_IMAGE_PIXELS`` to a larger count (or
``PIL.Image.MAX_IMAGE_PIXELS`` in Python) raises the limit.
"""
import os
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS_ENV = "KERAS_SEGEN_MAX_IMAGE_PIXELS"
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def max_image_pixels():
    """The pixel limit of ``decode_rgb``: ``$KERAS_SEGEN_MAX_IMAGE_PIXELS`` when set (it
    becomes PIL's limit too, so PIL reads what this allows), else PIL's own."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if value:
        try:
            limit = int(value)
        except ValueError:
            limit = 0
        if limit < 1:
            raise ValueError(f"{MAX_PIXELS_ENV} must be a positive number of pixels, got {value!r}")
        Image.MAX_IMAGE_PIXELS = limit
    return Image.MAX_IMAGE_PIXELS


def decode_rgb(path) -> np.ndarray:
    """An image file as uint8 RGB ``[H, W, 3]`` by the module's rule.

    Raises FileNotFoundError for a missing file and ValueError, naming the file, for an
    unreadable one or one over ``max_image_pixels()``.
    """
    limit = max_image_pixels()
    try:
        with warnings.catch_warnings():
            # Between PIL's limit and twice it PIL only warns; the limit below refuses.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
        with image:
            _check_size(path, image.size, limit)
            return to_rgb(image, path)
    except FileNotFoundError:
        raise FileNotFoundError(f"image {path} does not exist") from None
    except Image.DecompressionBombError as err:  # over twice PIL's limit: not opened
        _check_size(path, _header_size(path), limit)
        raise ValueError(f"image {path} is too large to read: {err}") from err
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"image {path} is not a readable image: {err}") from err


def to_rgb(image, where="image") -> np.ndarray:
    """A PIL image as uint8 RGB ``[H, W, 3]`` by the module's rule."""
    if image.mode in _SIXTEEN_BIT_MODES or image.mode == "I":
        values = np.asarray(image)
        if image.mode == "I" and values.size and (values.min() < 0 or values.max() > 65535):
            raise ValueError(
                f"{where}: 32-bit integer pixels ({values.min()}..{values.max()}) have no "
                "8-bit reading; save the image with 8 or 16 bits per sample"
            )
        gray = (values.astype(np.uint32) >> 8).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    if image.mode == "F":
        raise ValueError(
            f"{where}: floating-point pixels have no agreed 8-bit reading; save the image "
            "with 8 or 16 bits per sample"
        )
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def decode_rgb_tf(data, channels=3):
    """TensorFlow ops: one encoded image (a string scalar) -> uint8 ``[H, W, channels]``
    by the module's rule (``channels=3``: the RGB that ``decode_rgb`` gives)."""
    import tensorflow as tf

    def jpeg():
        return tf.io.decode_jpeg(data, channels=channels, dct_method="INTEGER_ACCURATE")

    def other():
        # uint8 output: libpng keeps the high byte of 16-bit samples and expands gray,
        # palette and low bit depths, and strips alpha, as the rule says.
        return tf.io.decode_image(data, channels=channels, expand_animations=False)

    image = tf.cond(tf.io.is_jpeg(data), jpeg, other)
    return tf.ensure_shape(image, [None, None, channels])


def _check_size(path, size, limit):
    if limit is None or size is None:
        return
    width, height = size
    if width * height > limit:
        raise ValueError(
            f"image {path} is {width}x{height} ({width * height} pixels), over PIL's "
            f"decompression bomb limit of {limit} pixels (PIL.Image.MAX_IMAGE_PIXELS); to "
            f"read it, set {MAX_PIXELS_ENV} to a larger number of pixels"
        )


def _header_size(path):
    """``(W, H)`` from the file's header without PIL's size check (which refused it), or
    None: the first image plugin that accepts the file's first bytes reads the header."""
    Image.init()
    with open(path, "rb") as fp:
        prefix = fp.read(16)
        for fmt in Image.ID:
            factory, accept = Image.OPEN[fmt]
            accepted = accept is None or accept(prefix)
            if not accepted or isinstance(accepted, str):
                continue
            fp.seek(0)
            try:
                return factory(fp, str(path)).size
            except Exception:  # not this format: try the next, as Image.open does
                fp.seek(0)
    return None

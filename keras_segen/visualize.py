"""Turning class masks into pictures: palette colouring and blending over images."""
import numpy as np

IGNORE_COLOR = (0, 0, 0)


def colorize(mask, palette) -> np.ndarray:
    """Class indices [H,W] -> RGB uint8 [H,W,3]; labels outside the palette are black."""
    palette = np.asarray(palette, dtype=np.uint8)
    mask = np.asarray(mask)
    out = np.zeros(mask.shape + (3,), dtype=np.uint8)
    valid = (mask >= 0) & (mask < len(palette))
    out[valid] = palette[mask[valid]]
    return out


def overlay(image_uint8, color_mask, alpha: float = 0.45) -> np.ndarray:
    """Blend a coloured mask over an RGB uint8 image."""
    blended = (1 - alpha) * image_uint8.astype(np.float32) + alpha * color_mask
    return np.clip(blended, 0, 255).astype(np.uint8)


# The four-panel overlay (image | truth | prediction | errors): flat colours, no blending,
# so that each class reads at a glance and wrong pixels stand out.
ERROR_COLOR = (255, 0, 255)  # magenta: in no class palette of the zoo
IGNORED_COLOR = (176, 176, 176)  # neutral grey: pixels the truth marks 255 (not scored)


def class_panel(mask, palette, ignore_label: int = 255) -> np.ndarray:
    """Class indices [H,W] -> flat palette colours, ignored pixels neutral grey."""
    mask = np.asarray(mask)
    out = colorize(mask, palette)
    out[mask == ignore_label] = IGNORED_COLOR
    return out


def error_panel(image_uint8, truth, predicted, ignore_label: int = 255) -> np.ndarray:
    """RGB [H,W,3]: wrong pixels in ``ERROR_COLOR`` over a dimmed grey copy of the
    image (right pixels), ignored pixels in ``IGNORED_COLOR``."""
    image = np.asarray(image_uint8, dtype=np.float32)
    grey = image.mean(axis=-1) if image.ndim == 3 else image
    out = np.repeat((0.25 * grey)[..., None], 3, axis=-1).astype(np.uint8)
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    ignored = truth == ignore_label
    out[(truth != predicted) & ~ignored] = ERROR_COLOR
    out[ignored] = IGNORED_COLOR
    return out


def overlay_panels(image, truth, predicted, palette, ignore_label: int = 255) -> list:
    """The four uint8 RGB panels image | truth | prediction | errors of one tile
    (``image`` float in [0, 1] or uint8)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (np.clip(np.nan_to_num(image.astype(np.float32)), 0, 1) * 255).round()
        image = image.astype(np.uint8)
    if image.ndim == 2 or image.shape[-1] == 1:
        image = np.repeat(image.reshape(image.shape[:2] + (1,)), 3, axis=-1)
    return [image, class_panel(truth, palette, ignore_label),
            class_panel(predicted, palette, ignore_label),
            error_panel(image, truth, predicted, ignore_label)]

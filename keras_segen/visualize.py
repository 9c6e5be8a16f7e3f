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

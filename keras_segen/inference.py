"""Predict masks for image files of any size and write palette masks and overlays."""
import pathlib

import numpy as np
from PIL import Image

from keras_segen.image_decoding import decode_rgb
from keras_segen.visualize import colorize, overlay

WINDOW = 512  # larger images are predicted window by window to bound memory
MARGIN = 32  # context added around each window, cropped away afterwards


def read_rgb(path) -> np.ndarray:
    """An image file as uint8 RGB [H,W,3], decoded as the exported ``predict_bytes``
    decodes it (keras_segen/image_decoding.py); unreadable or too large files raise
    naming the file."""
    return decode_rgb(path)


def predict_mask(model, image_uint8: np.ndarray) -> np.ndarray:
    """Class indices [H,W] for one RGB uint8 image of any size."""
    image = image_uint8.astype(np.float32) / 255.0
    height, width = image.shape[:2]
    if height <= WINDOW and width <= WINDOW:
        return np.argmax(np.asarray(model.predict_on_batch(image[None])[0]), axis=-1)
    mask = np.zeros((height, width), dtype=np.int64)
    for top in range(0, height, WINDOW):
        for left in range(0, width, WINDOW):
            y0, x0 = max(top - MARGIN, 0), max(left - MARGIN, 0)
            y1, x1 = min(top + WINDOW + MARGIN, height), min(left + WINDOW + MARGIN, width)
            logits = np.asarray(model.predict_on_batch(image[None, y0:y1, x0:x1])[0])
            window = np.argmax(logits, axis=-1)
            bottom, right = min(top + WINDOW, height), min(left + WINDOW, width)
            mask[top:bottom, left:right] = window[top - y0: bottom - y0, left - x0: right - x0]
    return mask


def default_palette(num_classes: int) -> np.ndarray:
    """Distinct colours for models without a stored palette (VOC-style bit pattern)."""
    palette = np.zeros((num_classes, 3), dtype=np.uint8)
    for index in range(num_classes):
        label, color = index, [0, 0, 0]
        for shift in range(7, -1, -1):
            for channel in range(3):
                color[channel] |= ((label >> channel) & 1) << shift
            label >>= 3
        palette[index] = color
    return palette


def predict_files(model, paths, out_dir, palette=None) -> list[pathlib.Path]:
    """Write ``<stem>_mask.png`` (palette PNG of class indices) and ``<stem>_overlay.png``
    for each image (inputs sharing a stem: see ``output_stems``); returns the written
    paths. All inputs are read before any output is written, so a bad file stops the run
    before it produces partial results."""
    out = pathlib.Path(out_dir)
    images = [(stem, read_rgb(p)) for stem, p in zip(output_stems(paths), paths)]
    out.mkdir(parents=True, exist_ok=True)
    num_classes = int(model.outputs[0].shape[-1])
    palette = default_palette(num_classes) if palette is None else np.asarray(palette, np.uint8)
    written = []
    for stem, image in images:
        mask = predict_mask(model, image)
        mask_image = Image.fromarray(mask.astype(np.uint8), mode="P")
        mask_image.putpalette(palette.flatten().tolist())
        mask_path = out / f"{stem}_mask.png"
        overlay_path = out / f"{stem}_overlay.png"
        mask_image.save(mask_path)
        Image.fromarray(overlay(image, colorize(mask, palette))).save(overlay_path)
        written += [mask_path, overlay_path]
    return written


def output_stems(paths) -> list[str]:
    """What each input's output names start with, unique among ``paths``: its stem
    (``a/x.png`` -> ``x``); where stems collide, the file name (``x.png``, ``x.jpg``);
    where those collide too, parent folders in front joined by ``_`` (``a_x.png``,
    ``b_x.png``), as many as it takes; the same file given twice gets ``-2``, ``-3``, ...
    in the order given. A colliding group moves up one step at a time, all together."""
    resolved = [pathlib.Path(p).absolute().resolve() for p in paths]
    levels = [0] * len(resolved)

    def name(path, level):
        if level == 0:
            return path.stem
        folders = path.parent.parts[1:]  # without the root
        return "_".join(folders[len(folders) - (level - 1):] + (path.name,)) if level > 1 \
            else path.name

    while True:
        names = [name(path, level) for path, level in zip(resolved, levels)]
        files = {}  # name -> the distinct files it would name
        for stem, path in zip(names, resolved):
            files.setdefault(stem, set()).add(path)
        moved = False
        for i, path in enumerate(resolved):
            if len(files[names[i]]) > 1 and levels[i] < len(path.parent.parts):
                levels[i] += 1
                moved = True
        if not moved:
            break
    seen = {}
    for i, stem in enumerate(names):  # only identical paths are left colliding
        seen[stem] = seen.get(stem, 0) + 1
        if seen[stem] > 1:
            names[i] = f"{stem}-{seen[stem]}"
    return names

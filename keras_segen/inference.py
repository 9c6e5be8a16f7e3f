"""Predict masks for image files of any size and write palette masks and overlays."""
import pathlib

import numpy as np
from PIL import Image

from keras_segen.image_decoding import decode_rgb
from keras_segen.visualize import colorize, overlay

WINDOW = 512  # larger images are predicted window by window to bound memory
OVERLAP = 64  # windows overlap by this much; their probabilities blend across it


def read_rgb(path) -> np.ndarray:
    """An image file as uint8 RGB [H,W,3], decoded as the exported ``predict_bytes``
    decodes it (keras_segen/image_decoding.py); unreadable or too large files raise
    naming the file."""
    return decode_rgb(path)


def _ramp(length, overlap):
    """Blending weights along one axis of a window: rising over the first ``overlap``
    pixels, falling over the last, so neighbouring windows cross-fade."""
    steps = np.arange(length, dtype=np.float32)
    rise = np.minimum((steps + 1) / (overlap + 1), (length - steps) / (overlap + 1))
    return np.clip(rise, 1e-3, 1.0)


def window_starts(size, window, overlap):
    """Window offsets covering ``[0, size)`` with at least ``overlap`` shared pixels."""
    if size <= window:
        return [0]
    stride = window - overlap
    starts = list(range(0, size - window, stride))
    return starts + [size - window]


def predict_probabilities(model, image_uint8, *, window=WINDOW, overlap=OVERLAP, tta=None):
    """Class probabilities [H,W,C] of one RGB uint8 image of any size.

    Up to ``window`` pixels a side the image is one fully convolutional pass; larger
    images are cut into overlapping windows whose softmax outputs are blended with
    linear ramps (no seams, every pixel keeps context). ``tta="flips"`` averages the
    four flips (``evaluation.tta``)."""
    from keras_segen.evaluation.tta import with_tta

    model = with_tta(model, tta)
    image = image_uint8.astype(np.float32) / 255.0
    height, width = image.shape[:2]

    def probabilities(part):
        logits = np.asarray(model.predict_on_batch(part[None])[0], dtype=np.float32)
        logits -= logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=-1, keepdims=True)

    if height <= window and width <= window:
        return probabilities(image)
    total, weight = None, np.zeros((height, width, 1), np.float32)
    for top in window_starts(height, window, overlap):
        for left in window_starts(width, window, overlap):
            part = image[top:top + window, left:left + window]
            probs = probabilities(part)
            ramp = np.outer(_ramp(part.shape[0], overlap), _ramp(part.shape[1], overlap))
            if total is None:
                total = np.zeros((height, width, probs.shape[-1]), np.float32)
            total[top:top + part.shape[0], left:left + part.shape[1]] += probs * ramp[..., None]
            weight[top:top + part.shape[0], left:left + part.shape[1]] += ramp[..., None]
    return total / weight


def predict_mask(model, image_uint8: np.ndarray, *, window=WINDOW, overlap=OVERLAP,
                 tta=None) -> np.ndarray:
    """Class indices [H,W] for one RGB uint8 image of any size (see
    ``predict_probabilities``)."""
    return np.argmax(predict_probabilities(model, image_uint8, window=window,
                                           overlap=overlap, tta=tta), axis=-1)


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


def predict_files(model, paths, out_dir, palette=None, tta=None) -> list[pathlib.Path]:
    """Write ``<stem>_mask.png`` (palette PNG of class indices) and ``<stem>_overlay.png``
    for each image (inputs sharing a stem: see ``output_stems``); returns the written
    paths. All inputs are read before any output is written, so a bad file stops the run
    before it produces partial results."""
    from keras_segen.evaluation.tta import with_tta

    out = pathlib.Path(out_dir)
    model = with_tta(model, tta)  # once: one traced function for every file
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

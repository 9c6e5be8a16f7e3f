"""Write image | truth | prediction PNG strips for fixed validation tiles each epoch."""
import os

import keras
import numpy as np
from PIL import Image

from keras_segen.visualize import colorize, overlay


class SegmentationOverlay(keras.callbacks.Callback):
    """Each epoch, saves ``<out_dir>/epoch_<NNN>.png``: one row per fixed tile with the
    image, the truth overlay and the prediction overlay side by side."""

    def __init__(self, images, masks, palette, out_dir, every: int = 1, scale: int = 2):
        super().__init__()
        self.images = np.asarray(images, dtype=np.float32)
        self.masks = np.asarray(masks)
        if self.images.ndim != 4 or self.masks.shape != self.images.shape[:3]:
            raise ValueError(
                f"overlay tiles must be images [N,H,W,3] and masks [N,H,W], got "
                f"{self.images.shape} and {self.masks.shape}"
            )
        self.palette = np.asarray(palette, dtype=np.uint8)
        self.out_dir = out_dir
        self.every = every
        self.scale = scale

    def render(self) -> np.ndarray:
        logits = self.model.predict_on_batch(self.images)
        predicted = np.argmax(np.asarray(logits), axis=-1)
        rows = []
        for image, truth, pred in zip(self.images, self.masks, predicted):
            image8 = (np.clip(image, 0, 1) * 255).astype(np.uint8)
            rows.append(np.concatenate([
                image8,
                overlay(image8, colorize(truth, self.palette)),
                overlay(image8, colorize(pred, self.palette)),
            ], axis=1))
        return np.concatenate(rows, axis=0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        os.makedirs(self.out_dir, exist_ok=True)
        strip = Image.fromarray(self.render())
        strip = strip.resize((strip.width * self.scale, strip.height * self.scale), Image.NEAREST)
        strip.save(os.path.join(self.out_dir, f"epoch_{epoch + 1:03d}.png"))

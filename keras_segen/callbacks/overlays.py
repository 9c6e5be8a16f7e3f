"""Write image | truth | prediction | errors overlays of fixed validation tiles each epoch."""
import pathlib

import keras
import numpy as np

from keras_segen.training.io import replacing


class SegmentationOverlay(keras.callbacks.Callback):
    """Each ``every`` epochs, saves ``<out_dir>/epoch_<NNN>.png``: one row per fixed tile
    with four panels, image | truth | prediction | errors (wrong pixels highlighted,
    ignored 255 pixels grey), and a colour legend of the class names
    (``keras_segen.reports.figures.overlay_figure``).

    Args:
        images: ``[N, H, W, 3]`` in [0, 1]; masks: ``[N, H, W]`` class ids (255 ignored).
        palette: one RGB colour per class.
        class_names: the legend's names (default ``class_0``, ``class_1``...).
    """

    def __init__(self, images, masks, palette, out_dir, every: int = 1, class_names=None):
        super().__init__()
        self.images = np.asarray(images, dtype=np.float32)
        self.masks = np.asarray(masks)
        if self.images.ndim != 4 or self.masks.shape != self.images.shape[:3]:
            raise ValueError(
                f"overlay tiles must be images [N,H,W,3] and masks [N,H,W], got "
                f"{self.images.shape} and {self.masks.shape}"
            )
        self.palette = np.asarray(palette, dtype=np.uint8)
        self.class_names = list(class_names or [f"class_{k}" for k in range(len(self.palette))])
        if len(self.class_names) > len(self.palette):
            raise ValueError(f"{len(self.class_names)} class names but {len(self.palette)} "
                             "palette colours")
        self.out_dir = pathlib.Path(out_dir)
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = int(every)

    def render(self, title=None) -> bytes:
        """The overlay figure of the current weights, as PNG bytes."""
        from keras_segen.reports.figures import overlay_figure

        logits = self.model.predict_on_batch(self.images)
        predicted = np.argmax(np.asarray(logits), axis=-1)
        tiles = [(image, truth, pred, f"tile {index}") for index, (image, truth, pred)
                 in enumerate(zip(self.images, self.masks, predicted))]
        return overlay_figure(tiles, self.palette, self.class_names, title=title)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        png = self.render(title=f"validation tiles after epoch {epoch + 1}")
        with replacing(self.out_dir / f"epoch_{epoch + 1:03d}.png") as tmp:
            tmp.write_bytes(png)

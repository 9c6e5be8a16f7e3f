"""The report's drawings: four-panel overlays, plots, neighbours, progress output."""
import io
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from keras_segen.callbacks import SegmentationOverlay
from keras_segen.reports import figures
from keras_segen.reports.generation import nearest_neighbours, spread
from keras_segen.reports.segmentation import confusion_of, iou_from_confusion, tile_iou
from keras_segen.visualize import ERROR_COLOR, IGNORED_COLOR, overlay_panels

PALETTE = [[0, 0, 255], [0, 255, 0], [255, 0, 0]]
NAMES = ["ocean", "land", "lake"]


def _png(data):
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def test_overlay_panels_mark_wrong_pixels_and_show_ignored_ones_neutral():
    image = np.full((2, 3, 3), 0.5, np.float32)
    truth = np.array([[0, 1, 255], [2, 2, 0]])
    predicted = np.array([[0, 2, 1], [2, 0, 0]])
    panels = overlay_panels(image, truth, predicted, PALETTE)
    assert [p.shape for p in panels] == [(2, 3, 3)] * 4
    assert tuple(panels[1][0, 0]) == (0, 0, 255)  # truth in flat palette colours
    assert tuple(panels[1][0, 2]) == IGNORED_COLOR
    errors = panels[3]
    wrong = {(0, 1), (1, 1)}  # (0, 2) is wrong too but ignored
    for r in range(2):
        for c in range(3):
            expected = IGNORED_COLOR if (r, c) == (0, 2) else (
                ERROR_COLOR if (r, c) in wrong else None)
            if expected is None:
                assert tuple(errors[r, c]) not in (ERROR_COLOR, IGNORED_COLOR)
            else:
                assert tuple(errors[r, c]) == expected


def test_overlay_figure_is_readable_and_has_four_panels_per_tile():
    rng = np.random.default_rng(0)
    tiles = [(rng.random((8, 8, 3)), rng.integers(0, 3, (8, 8)), rng.integers(0, 3, (8, 8)),
              f"tile {k}") for k in range(2)]
    picture = _png(figures.overlay_figure(tiles, PALETTE, NAMES, title="t"))
    assert picture.width >= 4 * 192  # each panel shown >= 192 px wide
    assert picture.height >= 2 * 192
    pixels = np.asarray(picture.convert("RGB")).reshape(-1, 3)
    # the legend and the panels carry the palette colours and the error colour
    for color in (*PALETTE, ERROR_COLOR):
        assert (pixels == color).all(axis=1).any(), color


def test_plots_decode_as_pngs():
    curves = figures.curves_figure({"loss": ([1, 2], [1.0, 0.5]), "val_loss": ([1, 2], [1.2, 0.7])},
                                   title="loss", ylabel="loss", points={"final": (2, 0.6)})
    bars = figures.bars_figure(NAMES, {"a": [0.5, None, 0.1], "b": [0.2, 0.3, 0.4]},
                               title="IoU", ylabel="IoU")
    confusion = figures.confusion_figure([[5, 1, 0], [0, 3, 0], [0, 0, 0]], NAMES, title="c")
    rows = figures.image_rows_figure([[(np.zeros((4, 4, 1)), "a"), (np.ones((4, 4)), "b")]],
                                     column_titles=["sample", "nearest"])
    for data in (curves, bars, confusion, rows):
        assert _png(data).width > 200


def test_confusion_and_iou_skip_ignored_pixels():
    truth = np.array([[0, 0, 1, 255]])
    predicted = np.array([[0, 1, 1, 2]])
    confusion = confusion_of([truth], [predicted], 3)
    np.testing.assert_array_equal(confusion, [[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    assert iou_from_confusion(confusion) == [0.5, 0.5, None]
    assert tile_iou(truth, predicted, 3) == 0.5
    assert tile_iou(truth, np.array([[0, 0, 1, 0]]), 3) == 1.0


def test_nearest_neighbours_find_a_copied_training_image():
    train = np.random.default_rng(0).random((50, 6, 6, 1)).astype(np.float32)
    samples = np.stack([train[7], train[31] + 0.01])
    indexes, distances = nearest_neighbours(samples, train, count=2)
    assert indexes[:, 0].tolist() == [7, 31]
    assert distances[0, 0] == pytest.approx(0.0, abs=1e-5)
    assert distances[1, 0] == pytest.approx(0.06, abs=1e-4)
    assert (distances[:, 1] > distances[:, 0]).all()
    assert spread(list(range(10)), 3) == [0, 4, 9]  # the first, the last, one between


def _tiny_model():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_epoch_overlays_are_four_panel_figures_with_a_legend(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((4, 8, 8, 3)).astype("float32")
    masks = rng.integers(0, 3, (4, 8, 8))
    callback = SegmentationOverlay(images[:2], masks[:2], PALETTE, tmp_path, class_names=NAMES)
    _tiny_model().fit(images, masks, epochs=2, verbose=0, callbacks=[callback])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_001.png", "epoch_002.png"]
    picture = Image.open(tmp_path / "epoch_002.png")
    assert picture.width >= 4 * 192 and picture.height >= 2 * 192
    with pytest.raises(ValueError, match="class names"):
        SegmentationOverlay(images, masks, PALETTE[:2], tmp_path, class_names=NAMES)


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_bars_only_on_a_terminal(monkeypatch):
    from keras_segen.progress import progress_bar
    from keras_segen.training.trainer import progress_verbosity

    assert isinstance(progress_bar(10, stream=_Stream(True)), keras.utils.Progbar)
    quiet = progress_bar(10, stream=_Stream(False))
    assert not isinstance(quiet, keras.utils.Progbar)
    quiet.add(3)  # prints nothing, fails nothing
    monkeypatch.setattr(sys, "stdout", _Stream(True))
    assert progress_verbosity("auto") == 1  # Keras' progress bar on a terminal
    monkeypatch.setattr(sys, "stdout", _Stream(False))
    assert progress_verbosity("auto") == 2  # one line per epoch in a log
    assert progress_verbosity(0) == 0


def test_sampling_many_images_shows_a_bar_on_a_terminal(monkeypatch):
    import keras_segen

    model = keras_segen.build("dcgan", image_shape=(16, 16, 1), latent_dim=4, base_filters=4)
    terminal = _Stream(True)
    monkeypatch.setattr(sys, "stdout", terminal)
    assert model.generate(5, seed=0, batch_size=2).shape == (5, 16, 16, 1)
    assert "5/5" in terminal.getvalue()  # the bar counted every image
    log = _Stream(False)
    monkeypatch.setattr(sys, "stdout", log)
    model.generate(5, seed=0, batch_size=2)
    assert log.getvalue() == ""

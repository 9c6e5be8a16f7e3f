"""Grids and PNGs of generated images (keras_segen.pictures)."""
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_segen
from keras_segen.pictures import (
    condition_to_rgb,
    generate_grid,
    generation_labels,
    image_grid,
    pick_tiles,
    save_png,
    translation_grid,
)


@pytest.fixture(scope="module")
def dcgan():
    return keras_segen.build("dcgan", latent_dim=8, base_filters=4, seed=0)


@pytest.fixture(scope="module")
def cgan():
    return keras_segen.build("cgan", latent_dim=8, base_filters=4, embedding_dim=4, seed=0)


def test_image_grid_places_cells_with_padding():
    images = np.zeros((5, 4, 6, 1), np.float32)
    images[4] = 1.0
    grid = image_grid(images, columns=2, padding=1, pad_value=0.5)
    assert grid.shape == (3 * 5 + 1, 2 * 7 + 1) and grid.dtype == np.uint8  # grey -> 2-D
    assert grid[0, 0] == 128  # padding
    assert grid[1, 1] == 0  # first cell
    assert grid[11, 1] == 255  # fifth cell: third row, first column
    assert grid[11, 8] == 128  # the empty sixth cell stays padding
    rgb = image_grid(np.full((4, 3, 3, 3), 2.0, np.float32))  # clipped to 1
    assert rgb.shape == (2 * 5 + 2, 2 * 5 + 2, 3) and rgb.max() == 255


@pytest.mark.parametrize("shape", [(0, 4, 4, 1), (2, 4, 4, 2), (4, 4)])
def test_image_grid_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="image_grid expects"):
        image_grid(np.zeros(shape))


def test_save_png_scales_and_needs_png_suffix(tmp_path):
    path = save_png(np.zeros((3, 5), np.uint8), tmp_path / "sub" / "x.png", scale=3)
    assert Image.open(path).size == (15, 9)
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]  # no temporary left
    with pytest.raises(ValueError, match=r"\.png"):
        save_png(np.zeros((3, 5), np.uint8), tmp_path / "x.jpg")


def test_save_png_onto_a_folder_is_refused_and_leaves_nothing(tmp_path):
    (tmp_path / "grid.png").mkdir()
    with pytest.raises(IsADirectoryError) as raised:
        save_png(np.zeros((3, 5), np.uint8), tmp_path / "grid.png")
    assert raised.value.filename == str(tmp_path / "grid.png")
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary left
    assert list((tmp_path / "grid.png").iterdir()) == []


@pytest.mark.parametrize("scale", [0, -1, 1.5, True, "2"])
def test_save_png_refuses_a_scale_that_is_not_a_positive_int(tmp_path, scale):
    with pytest.raises(ValueError, match="scale must be a positive int"):
        save_png(np.zeros((3, 5), np.uint8), tmp_path / "x.png", scale=scale)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("columns", [0, -2, 2.5])
def test_image_grid_refuses_columns_that_are_not_a_positive_int(columns):
    with pytest.raises(ValueError, match="columns must be a positive int"):
        image_grid(np.zeros((4, 2, 2, 1)), columns=columns)


def test_generate_grid_refuses_zero_columns_and_scale(dcgan, tmp_path):
    for options in ({"columns": 0}, {"scale": 0}):
        with pytest.raises(ValueError, match="must be a positive int"):
            generate_grid(dcgan, 4, seed=0, path=tmp_path / "g.png", **options)
    assert list(tmp_path.iterdir()) == []


def test_generation_labels_errors_and_layouts(dcgan, cgan):
    assert generation_labels(dcgan, 4) == (None, None)
    with pytest.raises(ValueError, match="unconditional"):
        generation_labels(dcgan, 4, label=3)
    with pytest.raises(ValueError, match=r"class-conditional \(10 classes\).*--label"):
        generation_labels(cgan, 4)
    for bad in (10, -1):
        with pytest.raises(ValueError, match=r"out of range.*0 to 9"):
            generation_labels(cgan, 4, label=bad)
    with pytest.raises(ValueError, match="'all'"):
        generation_labels(cgan, 4, label="shoe")
    with pytest.raises(ValueError, match="positive int"):
        generation_labels(cgan, 0, label=1)
    labels, columns = generation_labels(cgan, 4, label="7")
    assert labels.tolist() == [7, 7, 7, 7] and columns is None
    labels, columns = generation_labels(cgan, 25, label="all")
    assert columns == 3 and labels.tolist() == sorted(labels.tolist())
    assert labels.tolist()[:6] == [0, 0, 0, 1, 1, 1] and len(labels) == 25


def test_generate_grid_is_deterministic_per_seed(dcgan, tmp_path):
    first = generate_grid(dcgan, 6, seed=3, path=tmp_path / "a.png", scale=1)
    again = generate_grid(dcgan, 6, seed=3, path=tmp_path / "b.png", scale=1)
    other = generate_grid(dcgan, 6, seed=4, path=tmp_path / "c.png", scale=1)
    pixels = [np.asarray(Image.open(p)) for p in (first, again, other)]
    assert pixels[0].shape == (2 * 30 + 2, 3 * 30 + 2)  # 3 columns x 2 rows of 28 + 2
    np.testing.assert_array_equal(pixels[0], pixels[1])
    assert not np.array_equal(pixels[0], pixels[2])


def test_generate_grid_for_one_class_matches_generate(cgan, tmp_path):
    path = generate_grid(cgan, 3, seed=1, label=2, path=tmp_path / "g.png", columns=3, scale=1)
    expected = image_grid(cgan.generate(3, seed=1, labels=[2, 2, 2]), columns=3)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), expected)


def test_generate_grid_refuses_pix2pix(tmp_path):
    model = keras_segen.build("pix2pix", image_shape=(16, 16, 3), base_filters=4,
                              discriminator_depth=2)
    with pytest.raises(ValueError, match="translation_grid"):
        generate_grid(model, 2, seed=0, path=tmp_path / "p.png")
    conditions = np.eye(3, dtype=np.float32)[np.zeros((2, 16, 16), int)]
    targets = np.zeros((2, 16, 16, 3), np.float32)
    path = translation_grid(model, conditions, targets, path=tmp_path / "t.png",
                            palette=[[0, 0, 255], [0, 255, 0], [255, 255, 255]], scale=1)
    grid = np.asarray(Image.open(path))
    assert grid.shape == (2 * 18 + 2, 3 * 18 + 2, 3)
    np.testing.assert_array_equal(grid[2, 2], [0, 0, 255])  # first tile's mask: class 0
    np.testing.assert_array_equal(grid[2, 20], [128, 128, 128])  # target 0 -> mid grey


def test_condition_to_rgb_palette_or_image():
    one_hot = np.eye(3, dtype=np.float32)[np.array([[[0, 2]]])]
    coloured = condition_to_rgb(one_hot, palette=[[255, 0, 0], [0, 255, 0], [0, 0, 255]])
    np.testing.assert_allclose(coloured[0, 0], [[1, 0, 0], [0, 0, 1]])
    grey = condition_to_rgb(-np.ones((1, 2, 2, 1), np.float32))
    assert grey.shape == (1, 2, 2, 3) and grey.max() == 0.0
    with pytest.raises(ValueError, match="palette"):
        condition_to_rgb(np.zeros((1, 2, 2, 4), np.float32))


def test_pick_tiles_is_seeded_and_prefers_tiles_with_two_classes():
    masks = np.zeros((10, 4, 4), int)
    masks[[2, 5, 7], 0, 0] = 1  # three tiles hold two classes
    conditions = np.eye(3, dtype=np.float32)[masks]
    targets = np.arange(10, dtype=np.float32)[:, None, None, None] * np.ones((1, 4, 4, 3))
    dataset = tf.data.Dataset.from_tensor_slices((conditions, targets.astype(np.float32)))
    _, picked = pick_tiles(dataset, 2, seed=0)
    assert set(picked[:, 0, 0, 0]) <= {2.0, 5.0, 7.0}
    _, again = pick_tiles(dataset, 2, seed=0)
    np.testing.assert_array_equal(picked, again)
    _, many = pick_tiles(dataset, 5, seed=0)  # not enough mixed tiles: any tile
    assert len(many) == 5

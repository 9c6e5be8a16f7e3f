"""image_folder: images of any size and mode -> fixed-size float images (+ class labels)."""
import numpy as np
import pytest
from PIL import Image

import keras_segen.datasets as kd
from keras_segen.datasets import image_folder


def _rgb(seed, size=(30, 40)):
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


@pytest.fixture
def modes(tmp_path):
    """One file per mode a user may have: RGB JPEG, RGBA/P/L/16-bit PNG, WebP, GIF, BMP."""
    root = tmp_path / "modes"
    root.mkdir()
    pixels = _rgb(0)
    Image.fromarray(pixels).save(root / "a_rgb.jpg")
    Image.fromarray(pixels).convert("RGBA").save(root / "b_rgba.png")
    Image.fromarray(pixels).convert("P").save(root / "c_palette.png")
    Image.fromarray(pixels[..., 0]).save(root / "d_grey.png")
    Image.fromarray(pixels[..., 0].astype(np.uint16) * 257).save(root / "e_grey16.png")
    Image.fromarray(pixels).save(root / "f_lossless.webp", lossless=True)
    Image.fromarray(pixels).save(root / "g.gif")
    Image.fromarray(pixels).save(root / "h.bmp")
    return root, pixels


def test_every_mode_decodes_to_the_size_channels_and_range(modes):
    root, pixels = modes
    for channels, scale, (low, high) in ((3, "tanh", (-1, 1)), (1, "unit", (0, 1))):
        ds, info = kd.load("image_folder", "all", root=root, image_size=(16, 16),
                           channels=channels, scale=scale)
        images = [image.numpy() for image, _ in ds]
        assert len(images) == info.num_examples == 8
        assert info.image_shape == (16, 16, channels) and info.class_names == []
        assert all(x.shape == (16, 16, channels) and x.dtype == np.float32 for x in images)
        assert all(low <= x.min() and x.max() <= high for x in images)
        assert info.extra["value_range"] == [low, high]


def test_webp_and_16_bit_pixels_match_the_source(modes):
    root, pixels = modes
    ds, info = image_folder.load("all", root=root, image_size=(30, 40), fit="stretch",
                                 scale="unit")
    by_name = {f.split("/")[-1]: x.numpy() for f, (x, _) in zip(info.extra["files"], ds)}
    np.testing.assert_allclose(by_name["f_lossless.webp"], pixels / 255.0, atol=1e-6)
    grey = np.repeat(pixels[..., :1], 3, axis=-1) / 255.0
    np.testing.assert_allclose(by_name["e_grey16.png"], grey, atol=1e-6)


def test_centre_crop_keeps_the_aspect_ratio(tmp_path):
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, 10:20] = 255  # a white centre third
    Image.fromarray(wide).save(tmp_path / "wide.png")
    (crop, _), = image_folder.load("all", root=tmp_path, image_size=(10, 10), scale="unit")[0]
    (stretch, _), = image_folder.load("all", root=tmp_path, image_size=(10, 10), fit="stretch",
                                      scale="unit")[0]
    assert crop.numpy().min() > 0.99  # the centre only
    assert stretch.numpy()[:, 0].max() < 0.01 and stretch.numpy()[:, 5].min() > 0.99


def test_class_folders_give_sorted_labels_and_the_hash_split_is_disjoint(tmp_path):
    for name in ("zebra", "ant"):
        (tmp_path / name).mkdir()
        for i in range(10):
            Image.fromarray(_rgb(i, (8, 8))).save(tmp_path / name / f"{i}.png")
    parts = {}
    for split in ("train", "test"):
        ds, info = image_folder.load(split, root=tmp_path, image_size=8, test_fraction=0.3,
                                     split_seed=3)
        assert info.class_names == ["ant", "zebra"]
        labels = [int(label) for _, label in ds]
        assert labels == info.extra["labels"]
        parts[split] = set(info.extra["files"])
        assert {f.split("/")[-2] for f in parts[split]} <= {"ant", "zebra"}
        assert all(label == ("zebra" in f) for f, label in zip(info.extra["files"], labels))
    assert not parts["train"] & parts["test"] and len(parts["train"] | parts["test"]) == 20
    again = image_folder.load("test", root=tmp_path, image_size=8, test_fraction=0.3,
                              split_seed=3, seed=99)[1]  # the run seed moves nothing
    assert set(again.extra["files"]) == parts["test"]


def test_bad_folders_are_named(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read image .*bad.png"):
        image_folder.load("all", root=tmp_path, image_size=8)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="holds no images"):
        image_folder.load("all", root=empty, image_size=8)
    (tmp_path / "cls").mkdir()
    with pytest.raises(ValueError, match="both images .* and class folders"):
        image_folder.load("all", root=tmp_path, image_size=8)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        image_folder.load("all", root=empty, image_size=8, channels=2)

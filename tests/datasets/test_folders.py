import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import keras_segen.datasets as kd
from keras_segen.datasets import folders

CLASSES = ["sky", "road", "car"]
H, W = 10, 12


def _palette_256():
    palette = folders.default_palette(256)
    palette[255] = [224, 224, 192]  # VOC's boundary colour for the ignore label
    return [c for rgb in palette for c in rgb]


def _write_pair(images, masks, stem, seed, *, image_ext=".png", palette_mask=False):
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(images / f"{stem}{image_ext}")
    mask = rng.integers(0, len(CLASSES), (H, W)).astype(np.uint8)
    mask[0, 0] = 255  # ignore label is always allowed
    if palette_mask:
        image = Image.fromarray(mask, mode="P")
        image.putpalette(_palette_256())
        image.save(masks / f"{stem}.png")
    else:
        Image.fromarray(mask).save(masks / f"{stem}.png")
    return mask


@pytest.fixture
def data(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    truth = {}
    for i in range(6):
        truth[f"tile{i}"] = _write_pair(
            images, masks, f"tile{i}", i, image_ext=".jpg" if i % 3 == 0 else ".png",
            palette_mask=i % 2 == 1,
        )
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(CLASSES) + "\n")
    return {"images_dir": images, "masks_dir": masks, "class_names": classes, "truth": truth}


def _load(data, split="all", **kwargs):
    args = {k: data[k] for k in ("images_dir", "masks_dir", "class_names")}
    return folders.load(split, **{**args, **kwargs})


def test_pairs_decode_to_float_images_and_exact_int_masks(data):
    ds, info = _load(data)
    assert info.num_examples == 6 and info.class_names == CLASSES and info.num_classes == 3
    assert len(info.palette) == 3 and info.image_shape == (None, None, 3)
    assert ds.element_spec[0].dtype == tf.float32 and ds.element_spec[1].dtype == tf.int32
    for (image, mask), stem in zip(ds, info.extra["stems"]):
        assert image.shape == (H, W, 3) and mask.shape == (H, W)
        assert 0.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 1.0
        # grayscale and palette ("P") masks both come back as their class indices
        np.testing.assert_array_equal(mask.numpy(), data["truth"][stem])


def test_image_size_resizes_so_examples_batch(data):
    ds, info = _load(data, image_size=(8, 8))
    assert info.image_shape == (8, 8, 3)
    images, masks = next(iter(ds.batch(6)))
    assert images.shape == (6, 8, 8, 3) and masks.shape == (6, 8, 8)
    assert set(np.unique(masks.numpy()).tolist()) <= {0, 1, 2, 255}


def test_hash_split_is_disjoint_complete_and_deterministic(tmp_path):
    images, masks = tmp_path / "im", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    for i in range(40):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(images / f"s{i:02d}.png")
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(masks / f"s{i:02d}.png")
    kwargs = dict(images_dir=images, masks_dir=masks, class_names=["a"], val_fraction=0.25,
                  test_fraction=0.25, validate=False)
    stems = {s: folders.load(s, **kwargs)[1].extra["stems"] for s in ("train", "val", "test")}
    assert all(stems.values())
    assert sorted(sum(stems.values(), [])) == [f"s{i:02d}" for i in range(40)]
    assert folders.load("val", **kwargs)[1].extra["stems"] == stems["val"]
    other_seed = folders.load("val", **{**kwargs, "seed": 1})[1].extra["stems"]
    assert other_seed != stems["val"]
    with pytest.raises(ValueError, match="empty"):
        folders.load("val", images_dir=images, masks_dir=masks, class_names=["a"])


def test_split_subfolders_are_used_when_present(tmp_path):
    for split, n in (("train", 3), ("val", 2)):
        images, masks = tmp_path / "im" / split, tmp_path / "m" / split
        images.mkdir(parents=True)
        masks.mkdir(parents=True)
        for i in range(n):
            _write_pair(images, masks, f"{split}{i}", i)
    kwargs = dict(images_dir=tmp_path / "im", masks_dir=tmp_path / "m", class_names=CLASSES)
    assert folders.load("train", **kwargs)[1].num_examples == 3
    assert folders.load("val", **kwargs)[1].num_examples == 2
    assert folders.load("all", **kwargs)[1].num_examples == 5
    with pytest.raises(FileNotFoundError, match="test"):
        folders.load("test", **kwargs)


def test_stems_list_selects_examples_and_ignores_unlisted_images(data):
    (data["images_dir"] / "extra.png").write_bytes(
        (data["images_dir"] / "tile1.png").read_bytes()
    )
    listed = data["images_dir"].parent / "train.txt"
    listed.write_text("tile1\ntile2\n")
    _, info = _load(data, stems=listed)
    assert info.extra["stems"] == ["tile1", "tile2"]


def test_through_the_package_entry_point(data):
    ds, info = kd.load("folders", "all", images_dir=data["images_dir"],
                       masks_dir=data["masks_dir"], class_names=CLASSES)
    assert info.name == "folders" and len(list(ds)) == 6


# -- every bad input names the offending file -------------------------------------


def test_image_without_mask_is_named(data):
    (data["masks_dir"] / "tile2.png").unlink()
    with pytest.raises(FileNotFoundError, match="images without a mask.*tile2.png"):
        _load(data)


def test_mask_without_image_is_named(data):
    (data["images_dir"] / "tile4.png").unlink()
    with pytest.raises(FileNotFoundError, match="masks without an image.*tile4.png"):
        _load(data)


def test_corrupt_image_is_named(data):
    (data["images_dir"] / "tile1.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="cannot read image .*tile1.png"):
        _load(data)


def test_truncated_mask_is_named(data):
    path = data["masks_dir"] / "tile2.png"
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ValueError, match="cannot read mask .*tile2.png"):
        _load(data)


def test_mask_that_is_not_a_png_is_named(data):
    (data["masks_dir"] / "tile3.png").write_bytes(b"GIF89a junk")
    with pytest.raises(ValueError, match="tile3.png is not a readable PNG"):
        _load(data, validate=False)


def test_rgb_mask_is_refused_and_named(data):
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(data["masks_dir"] / "tile0.png")
    with pytest.raises(ValueError, match="tile0.png is RGB"):
        _load(data)


def test_mask_values_outside_the_class_range_are_named(data):
    bad = np.full((H, W), 7, np.uint8)
    Image.fromarray(bad).save(data["masks_dir"] / "tile5.png")
    with pytest.raises(ValueError, match=r"tile5.png has values \[7\] outside \[0, 3\)"):
        _load(data)


def test_mask_size_different_from_image_is_named(data):
    Image.fromarray(np.zeros((H + 1, W), np.uint8)).save(data["masks_dir"] / "tile4.png")
    with pytest.raises(ValueError, match="tile4.png is 12x11"):
        _load(data)
    ds, _ = _load(data, validate=False)  # caught at read time instead
    with pytest.raises(tf.errors.InvalidArgumentError, match="tile4"):
        list(ds)


def test_palette_masks_with_conflicting_colours_are_named(data):
    image = Image.fromarray(np.ones((H, W), np.uint8), mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)  # red is index 1 ...
    image.save(data["masks_dir"] / "tile1.png")
    image = Image.fromarray(np.ones((H, W), np.uint8), mode="P")
    image.putpalette([0, 0, 0, 0, 128, 0, 128, 0, 0] + [0] * 759)  # ... and index 2 here
    image.save(data["masks_dir"] / "tile3.png")
    with pytest.raises(ValueError, match="palette of mask .*tile3.png"):
        _load(data)


def test_empty_directories_are_refused(tmp_path):
    (tmp_path / "im").mkdir()
    (tmp_path / "m").mkdir()
    with pytest.raises(ValueError, match="no image files .* in .*im"):
        folders.load(images_dir=tmp_path / "im", masks_dir=tmp_path / "m", class_names=["a"])
    with pytest.raises(FileNotFoundError, match="nowhere"):
        folders.load(images_dir=tmp_path / "nowhere", masks_dir=tmp_path / "m", class_names=["a"])


def test_class_names_file_missing_or_empty(data, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        _load({**data, "class_names": tmp_path / "missing.txt"})
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        _load({**data, "class_names": empty})
    with pytest.raises(ValueError, match="duplicate"):
        _load({**data, "class_names": ["a", "a"]})


def test_bad_options_are_refused(data):
    with pytest.raises(ValueError, match="palette"):
        _load(data, palette=[[0, 0, 0]])
    with pytest.raises(ValueError, match="image_size"):
        _load(data, image_size=(8,))
    with pytest.raises(ValueError, match="split"):
        _load(data, split="holdout")
    with pytest.raises(ValueError, match="val_fraction"):
        _load(data, split="train", val_fraction=1.2)


def test_palette_defaults_to_the_masks_own_palette(tmp_path):
    images, masks = tmp_path / "im", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(images / "a.png")
    mask = Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8).repeat(2, 0).repeat(2, 1), "P")
    mask.putpalette([10, 20, 30, 40, 50, 60, 70, 80, 90])
    mask.save(masks / "a.png")
    ds, info = folders.load(images_dir=images, masks_dir=masks, class_names=CLASSES)
    assert info.palette == [[10, 20, 30], [40, 50, 60], [70, 80, 90]]
    (_, decoded), = list(ds)
    np.testing.assert_array_equal(decoded.numpy(), np.asarray(Image.open(masks / "a.png")))


def test_default_palette_starts_with_the_voc_colours():
    palette = folders.default_palette(21)
    assert palette[:3] == [[0, 0, 0], [128, 0, 0], [0, 128, 0]]
    assert palette[15] == [192, 128, 128]  # person
    assert len({tuple(c) for c in folders.default_palette(255)}) == 255


# -- own-data layouts, WebP, tiles, split seed (issue 12) ------------------------------


def test_webp_images_decode_inside_tf_data(tmp_path):
    # decode_image(dtype=float32) fails on WebP in tf.data ("WebP only supports uint8").
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(images / "a.webp", lossless=True)
    Image.fromarray(np.ones((H, W), np.uint8)).save(masks / "a.png")
    ds, _ = folders.load(images_dir=images, masks_dir=masks, class_names=CLASSES)
    (image, mask), = list(ds)
    np.testing.assert_allclose(image.numpy(), pixels / 255.0, atol=1e-6)
    assert (mask.numpy() == 1).all()


def test_split_first_root_layout(tmp_path):
    for split, count in (("train", 3), ("val", 2)):
        (tmp_path / split / "images").mkdir(parents=True)
        (tmp_path / split / "masks").mkdir()
        for i in range(count):
            _write_pair(tmp_path / split / "images", tmp_path / split / "masks",
                        f"{split}{i}", i)
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES))
    for split, count in (("train", 3), ("val", 2), ("all", 5)):
        _, info = folders.load(split, root=tmp_path)
        assert info.num_examples == count and info.class_names == CLASSES
    with pytest.raises(FileNotFoundError, match="no test folder"):
        folders.load("test", root=tmp_path)


def test_tile_size_covers_every_pixel_once(data):
    ds, info = _load(data, tile_size=8)  # 10x12 images -> 2x2 tiles, padded with 255
    tiles = list(ds)
    assert len(tiles) == 4 * info.num_examples and info.image_shape == (8, 8, 3)
    stem = info.extra["stems"][0]
    masks = np.stack([m.numpy() for _, m in tiles[:4]])
    whole = np.block([[masks[0], masks[1]], [masks[2], masks[3]]])
    np.testing.assert_array_equal(whole[:H, :W], data["truth"][stem])
    assert (whole[H:] == 255).all() and (whole[:, W:] == 255).all()


def test_split_seed_wins_over_the_run_seed(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i in range(20):
        _write_pair(images, masks, f"s{i}", i)
    args = dict(images_dir=images, masks_dir=masks, class_names=CLASSES, val_fraction=0.3)
    val = folders.load("val", **args, split_seed=1, seed=0)[1].extra["stems"]
    train = folders.load("train", **args, split_seed=1, seed=7)[1].extra["stems"]
    assert val and not set(val) & set(train) and len(val) + len(train) == 20

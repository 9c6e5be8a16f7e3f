import numpy as np
import pytest

from keras_segen import datasets
from keras_segen.datasets import bluemarble, bluemarble_source


@pytest.mark.parametrize("tile_size", [64, 128])
def test_splits_are_geographically_disjoint(tile_size):
    bounds = {s: bluemarble.tile_arrays(s, tile_size)["bounds"] for s in ("train", "val", "test")}
    for first, second in [("train", "val"), ("train", "test"), ("val", "test")]:
        # Compare every tile of one split against every tile of the other, vectorised.
        # Tiles may share an edge, not an area: compare with a small tolerance.
        eps = 1e-6
        a, b = bounds[first][:, None, :], bounds[second][None, :, :]
        overlap = (a[..., 0] + eps < b[..., 1]) & (b[..., 0] + eps < a[..., 1]) & \
                  (a[..., 2] + eps < b[..., 3]) & (b[..., 2] + eps < a[..., 3])
        assert not overlap.any(), f"{first} and {second} share ground"
    total = sum(len(b) for b in bounds.values())
    assert total == len(bluemarble.tile_arrays("all", tile_size)["bounds"])


def test_bounds_are_on_the_globe_and_sized_by_tile():
    bounds = bluemarble.tile_arrays("test", 128)["bounds"]
    assert bounds[:, 0].min() >= -90 and bounds[:, 1].max() <= 90
    assert bounds[:, 2].min() >= -180 and bounds[:, 3].max() <= 180
    np.testing.assert_allclose(bounds[:, 1] - bounds[:, 0], 128 * 180 / 2700)


def test_load_yields_float_images_and_int_masks_in_range():
    dataset, info = datasets.load("bluemarble", "val", tile_size=64)
    assert info.class_names == ["ocean", "land", "lake"]
    assert info.num_examples == len(info.bounds)
    count = 0
    for image, mask in dataset.take(50):
        assert image.shape == (64, 64, 3) and image.dtype.name == "float32"
        assert mask.shape == (64, 64) and mask.dtype.name == "int32"
        assert 0.0 <= float(image.numpy().min()) and float(image.numpy().max()) <= 1.0
        assert set(np.unique(mask.numpy())) <= {0, 1, 2}
        count += 1
    assert count == 50


def test_deterministic_and_informative_filter():
    first = bluemarble.tile_arrays("train", 64, min_classes=2, other_tiles_fraction=0.1, seed=3)
    second = bluemarble.tile_arrays("train", 64, min_classes=2, other_tiles_fraction=0.1, seed=3)
    np.testing.assert_array_equal(first["mask"], second["mask"])
    informative = bluemarble.tile_arrays("train", 64, min_classes=2)
    present = sum((informative["mask"] == k).any(axis=(1, 2)) for k in range(3))
    assert (present >= 2).all()
    everything = bluemarble.tile_arrays("train", 64)
    assert len(informative["mask"]) < len(first["mask"]) < len(everything["mask"])


def test_every_split_holds_all_three_classes():
    for split in ("train", "val", "test"):
        frequencies = bluemarble.class_frequencies(split)
        assert frequencies.shape == (3,) and abs(frequencies.sum() - 1) < 1e-9
        assert (frequencies > 0.001).all(), (split, frequencies)


def test_mask_matches_image_at_known_places():
    image, mask = bluemarble.globe()

    def pixel(lat, lon):
        return int((90 - lat) * 15), int((lon + 180) * 15)

    assert mask[pixel(-30.0, -140.0)] == 0  # South Pacific
    assert mask[pixel(23.0, 12.0)] == 1  # Sahara
    assert mask[pixel(-1.0, 33.0)] == 2  # Lake Victoria
    assert mask[pixel(47.7, -87.5)] == 2  # Lake Superior
    # ocean pixels are blue-dominated in the imagery, Sahara pixels red-dominated
    ocean = image[mask == 0].mean(axis=0)
    assert ocean[2] > ocean[0]
    assert image[pixel(23.0, 12.0)][0] > image[pixel(23.0, 12.0)][2]


def test_pairs_are_aligned_with_tiles():
    pairs, info = datasets.load("bluemarble_pairs", "val", tile_size=64)
    tiles = bluemarble.tile_arrays("val", 64)
    condition, target = next(iter(pairs))
    np.testing.assert_array_equal(np.argmax(condition.numpy(), -1), tiles["mask"][0])
    np.testing.assert_allclose((target.numpy() + 1) * 127.5, tiles["image"][0], atol=1e-3)
    assert info.extra["condition"] == "mask"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tile_size": 100}, "tile_size must divide 384"),
        ({"min_classes": 4}, "min_classes"),
        ({"other_tiles_fraction": 2.0}, "other_tiles_fraction"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        datasets.load("bluemarble", "train", **kwargs)


def test_bad_split_and_unknown_dataset():
    with pytest.raises(ValueError, match="split must be one of"):
        datasets.load("bluemarble", "training")
    with pytest.raises(KeyError, match="unknown dataset"):
        datasets.load("bluemarbel", "train")


def test_missing_and_corrupt_source_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SEGEN_BASEMAP_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="bmng.jpg"):
        bluemarble_source.read_image()
    (tmp_path / "bmng.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="bmng.jpg"):
        bluemarble_source.read_image()
    (tmp_path / "lsmask_5min_h.bin").write_bytes(b"\x1f\x8b broken gzip")
    with pytest.raises(ValueError, match="lsmask_5min_h.bin"):
        bluemarble_source.read_mask(grid="5min")


def test_regions_protocol_gives_whole_blocks_and_ignore_boxes_blank_the_caspian():
    protocols = datasets.protocols("bluemarble")
    assert set(protocols) == {"regions", "regions_no_caspian"}
    assert datasets.protocols("fashion_mnist") == {}
    regions = bluemarble.tile_arrays("test", **protocols["regions"])
    tiles = bluemarble.tile_arrays("test", tile_size=64)
    assert regions["mask"].shape[1:] == (384, 384)
    # The same pixels, cut differently: identical class counts.
    assert np.array_equal(np.bincount(regions["mask"].ravel(), minlength=3),
                          np.bincount(tiles["mask"].ravel(), minlength=3))
    blanked = bluemarble.tile_arrays("all", **protocols["regions_no_caspian"])
    full = bluemarble.tile_arrays("all", tile_size=384)
    changed = blanked["mask"] != full["mask"]
    assert (blanked["mask"][changed] == 255).all()
    # About 12 x 10 degrees at 4 arc-min: 180 x 150 pixels, all of them in the box.
    assert changed.sum() == 180 * 150
    lake_pixels = (full["mask"][changed] == 2).sum()
    assert lake_pixels > 5000  # the Caspian is in the box (labelled lake)


@pytest.mark.parametrize("box", [[48, 36, 46, 56], [36, 48, 56, 46], [1, 2, 3]])
def test_bad_ignore_boxes_raise(box):
    with pytest.raises(ValueError, match="ignore_boxes"):
        bluemarble.ignore_boxes_mask(np.zeros((10, 10), np.uint8), [box])

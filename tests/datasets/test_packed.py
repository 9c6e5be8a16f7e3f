"""``keras-segen data pack``: a folder written as sharded TFRecords reads back as the
folder itself; the write is atomic; bad packs are refused naming the file; tf.distribute
shards a pack by file."""
import json

import numpy as np
import pytest
from PIL import Image

import keras_segen.datasets as kd
from keras_segen import cli
from keras_segen.datasets import folders, image_folder, packed, packed_write

CLASSES = ["sky", "road", "car"]


def _segmentation_folder(root, count=12):
    """A flat folder: JPEG and PNG images of two sizes, grey and palette masks."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    rng = np.random.default_rng(0)
    for i in range(count):
        height, width = (10, 12) if i % 2 else (9, 7)
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"s{i:02d}{'.jpg' if i % 3 else '.png'}")
        mask = rng.integers(0, len(CLASSES), (height, width)).astype(np.uint8)
        mask[0, 0] = 255
        if i % 4 == 1:
            image = Image.fromarray(mask, mode="P")
            image.putpalette([c for rgb in folders.default_palette(256) for c in rgb])
            image.save(root / "masks" / f"s{i:02d}.png")
        else:
            Image.fromarray(mask).save(root / "masks" / f"s{i:02d}.png")
    return root


def _image_folder(root):
    """Two class subfolders of RGB, grey and RGBA images of several sizes."""
    rng = np.random.default_rng(1)
    for label, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(6):
            size = (11 + i, 9 + 2 * i)
            mode = ("RGB", "L", "RGBA")[i % 3]
            channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
            pixels = rng.integers(0, 256, (*size, channels), dtype=np.uint8)
            Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode).save(
                root / name / f"{name}{i}.png")
    return root


def _assert_same(expected, got, atol=0.0):
    assert expected.element_spec == got.element_spec
    count = 0
    for (x, y), (u, v) in zip(expected, got, strict=True):
        if atol:
            np.testing.assert_allclose(u.numpy(), x.numpy(), atol=atol, rtol=0)
        else:
            np.testing.assert_array_equal(u.numpy(), x.numpy())
        np.testing.assert_array_equal(v.numpy(), y.numpy())
        count += 1
    return count


@pytest.fixture
def seg_pack(tmp_path):
    source = _segmentation_folder(tmp_path / "seg")
    out = tmp_path / "pack"
    manifest = packed_write.pack(source, out, shards=3)
    return source, out, manifest


def test_segmentation_pack_reads_back_as_the_folder(seg_pack):
    source, out, _ = seg_pack
    for split in ("train", "val"):
        for options in ({}, {"image_size": (8, 8)}, {"tile_size": 4}):
            expected, want = folders.load(split, root=source, val_fraction=0.2, split_seed=0,
                                          **options)
            got, info = kd.load("packed", split, path=str(out), **options)
            assert _assert_same(expected, got) >= (1 if split == "val" else 5)
            assert info.num_examples == want.num_examples
            assert (info.class_names, info.palette, info.image_shape) == (
                want.class_names, want.palette, want.image_shape)
    # The pipeline's shuffle buffer covers the split, as with folders.
    assert int(kd.load("packed", "train", path=str(out))[0].cardinality()) == \
        folders.load("train", root=source, val_fraction=0.2, split_seed=0)[1].num_examples


def test_pack_json_records_splits_shards_and_hashes(seg_pack):
    source, out, manifest = seg_pack
    assert json.loads((out / "pack.json").read_text()) == manifest
    assert (manifest["format"], manifest["version"], manifest["task"]) == (
        "keras_segen.packed", 1, "segmentation")
    assert manifest["class_names"] == CLASSES and len(manifest["palette"]) == 3
    assert manifest["image_shape"] == [None, None, 3]  # two sizes in the folder
    assert manifest["source"] == str(source.resolve())
    assert manifest["split"] == {"method": "sha256 of '<seed>/<file stem>'", "seed": 0,
                                 "val_fraction": 0.2}
    train, val = manifest["splits"]["train"], manifest["splits"]["val"]
    assert train["num_examples"] + val["num_examples"] == 12
    assert [s["file"] for s in train["shards"]] == [
        f"train-0000{i}-of-00003.tfrecord" for i in range(3)]
    sizes = [s["num_examples"] for s in train["shards"]]
    assert sum(sizes) == train["num_examples"] and max(sizes) - min(sizes) <= 1
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(["pack.json"] + [s["file"] for s in train["shards"] + val["shards"]])
    for shard in train["shards"] + val["shards"]:
        assert shard["sha256"] == packed.sha256_of(out / shard["file"])
        assert shard["bytes"] == (out / shard["file"]).stat().st_size
    assert packed.is_packed(out) and not packed.is_packed(source)
    assert "packed" in kd.list_datasets()


def test_split_folders_are_packed_as_they_are(tmp_path):
    root = tmp_path / "data"
    for split in ("train", "val"):
        _segmentation_folder(root / split, count=3)
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    manifest = packed_write.pack(root, tmp_path / "pack")
    assert {s: r["num_examples"] for s, r in manifest["splits"].items()} == {"train": 3, "val": 3}
    assert manifest["split"]["method"] == "the source's split folders"
    expected, _ = folders.load("val", root=root)
    assert _assert_same(expected, kd.load("packed", "val", path=str(tmp_path / "pack"))[0]) == 3


def test_image_folder_pack_reads_back_as_the_folder(tmp_path):
    source = _image_folder(tmp_path / "pets")
    out = tmp_path / "pack"
    manifest = packed_write.pack(source, out, image_size=(8, 6))
    assert manifest["task"] == "generation" and manifest["class_names"] == ["cats", "dogs"]
    assert manifest["image_shape"] == [8, 6, 3]
    assert set(manifest["splits"]) == {"train", "test"}
    for split in ("train", "test"):
        for scale in ("tanh", "unit"):
            expected, want = image_folder.load(split, root=source, image_size=(8, 6),
                                               channels=3, scale=scale, test_fraction=0.1)
            got, info = kd.load("packed", split, path=str(out), scale=scale)
            # Resized pixels are not multiples of 1/255: stored as 16-bit PNG.
            assert _assert_same(expected, got, atol=2 / 65535) == want.num_examples
            assert (info.class_names, info.image_shape) == (want.class_names, want.image_shape)
            assert info.extra["value_range"] == want.extra["value_range"]
    with pytest.raises(ValueError, match=r"pack.json holds 8x6 images; image_size \[16, 16\]"):
        kd.load("packed", "train", path=str(out), image_size=(16, 16))
    with pytest.raises(ValueError, match="--image-size"):
        packed_write.pack(source, tmp_path / "other")


def test_an_existing_out_is_refused_and_overwrite_replaces_only_a_pack(seg_pack, tmp_path):
    source, out, _ = seg_pack
    with pytest.raises(FileExistsError, match=f"{out} already exists; pass --overwrite"):
        packed_write.pack(source, out)
    before = (out / "pack.json").read_text()
    manifest = packed_write.pack(source, out, shards=1, overwrite=True)
    assert (out / "pack.json").read_text() != before
    assert len(manifest["splits"]["train"]["shards"]) == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "pack.json", "train-00000-of-00001.tfrecord", "val-00000-of-00001.tfrecord"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="is not a pack"):
        packed_write.pack(source, mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="inside the source folder"):
        packed_write.pack(source, source / "pack")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "pack", "seg"]


def test_a_failure_midway_leaves_no_out(tmp_path, monkeypatch):
    source = _segmentation_folder(tmp_path / "seg")
    dead = tmp_path / ".pack.packing-999999999"  # left by a killed pack (no such pid)
    dead.mkdir()
    written = []

    def fail_after_three(*args):
        if len(written) == 3:
            raise OSError(28, "No space left on device")
        written.append(args)
        return real(*args)

    real = packed_write._example
    monkeypatch.setattr(packed_write, "_example", fail_after_three)
    with pytest.raises(OSError, match="No space left"):
        packed_write.pack(source, tmp_path / "pack", shards=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg"]  # no OUT, no temporaries


def test_bad_packs_fail_naming_the_file(seg_pack):
    _, out, manifest = seg_pack
    shard = out / manifest["splits"]["train"]["shards"][1]["file"]
    raw = bytearray(shard.read_bytes())
    raw[-5] ^= 0xFF  # same size, other content
    shard.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"shard {shard} has sha256 .* records"):
        kd.load("packed", "train", path=str(out))
    kd.load("packed", "train", path=str(out), verify=False)  # size only
    shard.write_bytes(bytes(raw[:-1]))
    with pytest.raises(ValueError, match=f"shard {shard} has {len(raw) - 1} bytes"):
        kd.load("packed", "train", path=str(out), verify=False)
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=f"shard {shard} is missing"):
        kd.load("packed", "train", path=str(out))
    with pytest.raises(ValueError, match="has no split 'test'; it holds train, val"):
        kd.load("packed", "test", path=str(out))
    (out / "pack.json").write_text(json.dumps({**manifest, "version": 99}))
    with pytest.raises(ValueError, match=f"{out / 'pack.json'} has format version 99"):
        kd.load("packed", "val", path=str(out))
    (out / "pack.json").write_text("{not json")
    with pytest.raises(ValueError, match=f"{out / 'pack.json'} is not valid JSON"):
        kd.load("packed", "val", path=str(out))
    with pytest.raises(FileNotFoundError, match="no pack.json in"):
        kd.load("packed", "val", path=str(out.parent))


def _identify(images):
    """Examples by content (sorted pixels survive flips)."""
    return [np.sort(x.ravel()).tobytes() for x in images]


def _shard_of(out, split="train"):
    """``{example: index of the shard holding it}``, from the pack read in order."""
    ds, _ = kd.load("packed", split, path=str(out), image_size=(8, 8))
    keys = _identify(x for x, _ in ds.as_numpy_iterator())
    shards = packed.read_manifest(out)["splits"][split]["shards"]
    owner = np.repeat(np.arange(len(shards)), [s["num_examples"] for s in shards])
    assert len(set(keys)) == len(keys) == len(owner)
    return dict(zip(keys, owner.tolist()))


def _worker_pipeline(out, worker, augment):
    """What worker ``worker`` of 2 reads of the segmentation kind's training pipeline,
    sharded by tf.distribute's own rewrite (what experimental_distribute_dataset does)."""
    from tensorflow.python.distribute import input_ops

    from keras_segen.kinds.base import TrainingData
    from keras_segen.kinds.segmentation import SegmentationKind

    from keras_segen.datasets.sharding import worker_share

    # A fresh dataset per worker: two pipelines in one process would share the cache.
    with worker_share(2, worker):  # what the trainer sets under multi_worker
        train, info = kd.load("packed", "train", path=str(out), image_size=(8, 8))
    data = TrainingData(train=train, val=train, info=info, class_names=info.class_names,
                        augment=augment)
    pipe, _ = SegmentationKind().pipelines(None, data, 2, 0, repeat=False)
    sharded = input_ops.auto_shard_dataset(pipe, 2, worker, 2)
    return [x for images, _ in sharded.as_numpy_iterator() for x in images]


def _check_file_sharding(out, augment):
    owner = _shard_of(out)
    seen = [_identify(_worker_pipeline(out, worker, augment)) for worker in range(2)]
    shards = [{owner[key] for key in keys} for keys in seen]
    assert shards == [{0, 2}, {1, 3}]  # whole shards, round robin, disjoint
    for worker, keys in enumerate(seen):
        whole = {key for key, index in owner.items() if index in shards[worker]}
        assert set(keys) <= whole and len(keys) == len(set(keys))
        # Everything of its shards, less the last incomplete batch.
        assert len(whole) - len(keys) < 2, (
            f"worker {worker} read {len(keys)} of the {len(whole)} examples of its shards")


def test_workers_read_disjoint_whole_shards(tmp_path):
    source = _segmentation_folder(tmp_path / "seg", count=20)
    packed_write.pack(source, tmp_path / "pack", shards=4)
    _check_file_sharding(tmp_path / "pack", augment=None)


def test_workers_read_disjoint_whole_shards_with_augmentation(tmp_path):
    source = _segmentation_folder(tmp_path / "seg", count=20)
    packed_write.pack(source, tmp_path / "pack", shards=4)
    # Flips only: an example stays recognisable by its sorted pixels.
    _check_file_sharding(tmp_path / "pack", augment={"hflip": True, "vflip": True,
                                                     "scale_range": None, "brightness": 0.0,
                                                     "contrast": 0.0})


def test_cli_data_pack(tmp_path, capsys):
    source = _segmentation_folder(tmp_path / "seg")
    out = tmp_path / "pack"
    assert cli.main(["data", "pack", str(source), str(out), "--shards", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"into {out} (segmentation, 3 classes, images anyxanyx3)" in printed
    assert "train: " in printed and "in 2 shards (train-00000-of-00002.tfrecord" in printed
    assert f"--data {out}" in printed
    assert cli.main(["data", "pack", str(source), str(out)]) == 2
    assert f"keras-segen data: error: data pack: {out} already exists" in capsys.readouterr().err
    assert cli.main(["data", "pack", str(tmp_path / "nowhere"), str(tmp_path / "p2")]) == 2
    assert "source folder not found" in capsys.readouterr().err


def test_the_worker_share_keeps_whole_files_round_robin_or_falls_back_to_data():
    import tensorflow as tf

    from keras_segen.datasets.sharding import shard_files, worker_share

    policy = tf.data.experimental.AutoShardPolicy
    options = tf.data.Options()
    assert shard_files(["a", "b", "c"], options) == (["a", "b", "c"], [0, 1, 2])  # no share
    with worker_share(2, 1):
        assert shard_files(["a", "b", "c", "d", "e"], options) == (["b", "d"], [1, 3])
        assert options.experimental_distribute.auto_shard_policy == policy.OFF
    with worker_share(3, 0):  # fewer files than workers: every worker needs batches
        assert shard_files(["a", "b"], options) == (["a", "b"], [0, 1])
        assert options.experimental_distribute.auto_shard_policy == policy.DATA
    with pytest.raises(ValueError, match="outside"):
        with worker_share(2, 2):
            pass

"""Two worker processes on 127.0.0.1 train from a pack (``keras-segen data pack``) with
``--strategy multi_worker``: tf.distribute shards the pack by file, so each worker reads
whole shards, none twice, all of them together; and the workers end in lockstep."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image
from test_multi_worker_training import _assert_lockstep, _train_on_two_workers

import keras_segen.datasets as kd
from keras_segen.datasets import packed, packed_write
from keras_segen.training import own_data

pytestmark = pytest.mark.slow  # two TensorFlow processes: ~1 minute on 2 CPU cores


def _segmentation_folder(root, count):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    (root / "classes.txt").write_text("land\nsea\nlake\n")
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(
            root / "images" / f"t{i:02d}.png")
        Image.fromarray(rng.integers(0, 3, (20, 24)).astype(np.uint8)).save(
            root / "masks" / f"t{i:02d}.png")
    return root


def _shard_of_each_image(pack, image_size):
    """``{sha256 of an image as the recipe loads it: its shard's index}``."""
    ds, _ = kd.load("packed", "train", path=str(pack), image_size=image_size)
    digests = [hashlib.sha256(x.tobytes()).hexdigest() for x, _ in ds.as_numpy_iterator()]
    shards = packed.read_manifest(pack)["splits"]["train"]["shards"]
    owner = np.repeat(np.arange(len(shards)), [s["num_examples"] for s in shards]).tolist()
    assert len(set(digests)) == len(digests) == len(owner)
    return dict(zip(digests, owner))


def test_two_workers_read_disjoint_shards_of_a_pack_and_stay_in_lockstep(tmp_path):
    source = _segmentation_folder(tmp_path / "tiles", 30)
    pack = tmp_path / "pack"
    manifest = packed_write.pack(source, pack, shards=4)
    sizes = [s["num_examples"] for s in manifest["splits"]["train"]["shards"]]
    # The recipe `keras-segen train unet --data PACK --image-size 16` trains.
    recipe = own_data.own_data_recipe("unet", pack, image_size=16)
    assert recipe["dataset"]["name"] == "packed"
    assert recipe["dataset"]["options"] == {"path": str(pack), "image_size": [16, 16]}
    recipe["kwargs"].update(depth=2, base_filters=4)
    # No augmentation: an image read by a worker is then the one stored (see the xfail in
    # tests/datasets/test_packed.py for augmentation); global batch 4 = 2 per worker.
    recipe["train"].update(epochs=2, batch_size=4, augment=None, overlay_tiles=2)
    out, weights = _train_on_two_workers(recipe, tmp_path, READ_LOG=str(tmp_path / "read"))
    _assert_lockstep(weights)

    owner = _shard_of_each_image(pack, (16, 16))
    reads = [json.loads((tmp_path / f"read{index}.json").read_text()) for index in range(2)]
    shards = [sorted({owner[digest] for digest in read}) for read in reads]
    assert shards == [[0, 2], [1, 3]]  # whole files, round robin: FILE auto-sharding
    for index, read in enumerate(reads):
        assert len(read) == len(set(read))
        held = sum(sizes[k] for k in shards[index])
        # All of its shards' examples but those of its last incomplete (global) batch.
        assert held - 4 < len(read) <= held, (index, len(read), held)
    assert len(reads[0]) == len(reads[1])  # the same number of steps on both
    written = json.loads((out / "metrics.json").read_text())
    assert written["trained_with"]["distribution"]["workers"] == 2
    assert written["recipe"]["dataset"]["name"] == "packed"

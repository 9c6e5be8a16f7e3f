"""keras-segen train ARCH_OR_ZOO --data DIR: own folders as ordinary recipes (issue 12)."""
import json

import numpy as np
import pytest
from PIL import Image

import keras_segen
from keras_segen import cli
from keras_segen.training import own_data
from keras_segen.training.recipes import read_recipe


def write_segmentation(root, n=12, size=(32, 32), classes=("bg", "fg")):
    """``n`` image/mask pairs (stems im0..; with 12, the seed-0 hash split puts im11 in
    val) and classes.txt."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        mask = np.zeros(size, np.uint8)
        mask[:, size[1] // 2:] = 1
        image[mask == 1] //= 3
        Image.fromarray(image).save(root / "images" / f"im{i}.png")
        Image.fromarray(mask).save(root / "masks" / f"im{i}.png")
    (root / "classes.txt").write_text("\n".join(classes) + "\n")
    return root


def write_classes(root, classes=("cats", "dogs"), n=8, mode="L", size=(40, 50)):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).convert(mode).save(root / name / f"{name}{i}.png")
    return root


def run_main(capsys, *args):
    code = cli.main([str(a) for a in args])
    return code, capsys.readouterr().err.strip().splitlines()


def test_an_architecture_and_a_folder_make_a_checked_recipe(tmp_path):
    data = write_segmentation(tmp_path / "My Data")
    recipe = own_data.own_data_recipe("unet", data, seed=3)
    read_recipe(recipe)  # a valid recipe
    assert recipe["name"] == "unet_my_data" and recipe["arch"] == "unet"
    assert recipe["kwargs"]["num_classes"] == 2 and recipe["classes"] == {"names": ["bg", "fg"]}
    options = recipe["dataset"]["options"]
    assert options == {"root": str(data.resolve()), "split_seed": 3, "val_fraction": 0.2}
    assert recipe["dataset"]["test_split"] == "val" and "seed 3" in \
        recipe["dataset"]["split_protocol"]
    assert "init" not in recipe  # an architecture starts fresh
    counts = own_data.check_data(recipe)
    assert counts == {"train": 8, "val": 4}  # the split of seed 3
    finished = own_data.finish_recipe(recipe, counts, batch_size_given=False)
    assert finished["train"]["batch_size"] == 8  # the pipeline drops incomplete batches
    assert finished["dataset"]["source"] == f"{data.resolve()} (images: train 8, val 4)"
    recipe["train"]["batch_size"] = 16  # as --batch-size 16 sets it
    with pytest.raises(ValueError, match="--batch-size 16 is larger than the 8 training"):
        own_data.finish_recipe(recipe, counts, batch_size_given=True)


def test_a_zoo_name_records_where_its_weights_start(tmp_path):
    data = write_segmentation(tmp_path / "d", classes=("a", "b", "c", "d", "e"))
    recipe = own_data.own_data_recipe("unet_bluemarble", data)
    assert recipe["init"] == {"from": "unet_bluemarble", "weights": "zoo"}
    assert recipe["kwargs"]["num_classes"] == 5 and "train_options" not in recipe["dataset"]
    voc = own_data.own_data_recipe("fcn_voc", data)
    assert voc["init"] == {"from": "fcn_voc", "weights": "backbone"}
    assert voc["kwargs"]["vgg_weights"] == "hed"  # the builder loads the backbone
    assert voc["dataset"]["options"]["image_size"] == [320, 320]  # the recipe's own size


def test_zoo_init_copies_the_trained_encoder_and_leaves_a_fresh_head(tmp_path):
    recipe = own_data.own_data_recipe("unet_bluemarble", write_segmentation(tmp_path / "d"))
    model = keras_segen.build("unet", **recipe["kwargs"])
    fresh = own_data.apply_init(model, recipe)
    zoo = keras_segen.load("unet_bluemarble")
    assert fresh == ["classifier"]  # the 2-class head; the zoo's has 3
    copied = [layer for layer in model.layers if layer.weights and layer.name not in fresh]
    assert copied
    for layer in copied:
        for got, want in zip(layer.get_weights(), zoo.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(got, want)


def test_tile_size_trains_on_crops_and_evaluates_tiles(tmp_path):
    recipe = own_data.own_data_recipe("unet", write_segmentation(tmp_path / "d"), tile_size=16)
    assert recipe["dataset"]["options"]["tile_size"] == 16
    assert recipe["dataset"]["train_options"] == {"tile_size": None}
    assert recipe["train"]["augment"]["crop_size"] == [16, 16]
    with pytest.raises(ValueError, match="not both"):
        own_data.own_data_recipe("unet", tmp_path / "d", tile_size=16, image_size=32)


def test_generation_recipes_from_image_folders(tmp_path):
    grey = write_classes(tmp_path / "grey")
    dcgan = own_data.own_data_recipe("dcgan", grey, image_size=32)
    assert dcgan["kwargs"]["image_shape"] == [32, 32, 1]  # all grey: one channel
    assert "num_classes" not in dcgan["kwargs"]  # unconditional: labels ignored
    assert dcgan["dataset"]["name"] == "image_folder"
    assert dcgan["dataset"]["options"]["scale"] == "tanh"
    cvae = own_data.own_data_recipe("cvae", write_classes(tmp_path / "rgb", mode="RGB"),
                                    image_size=(16, 24))
    assert cvae["kwargs"]["image_shape"] == [16, 24, 3] and cvae["kwargs"]["num_classes"] == 2
    assert cvae["dataset"]["options"]["scale"] == "unit"
    assert cvae["classes"] == {"names": ["cats", "dogs"]}
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(flat / "a.png")
    with pytest.raises(ValueError, match="conditional model: put the images .* one subfolder"):
        own_data.own_data_recipe("cgan", flat)
    with pytest.raises(ValueError, match="pix2pix translates condition maps"):
        own_data.own_data_recipe("pix2pix", flat)


@pytest.mark.parametrize("damage, named", [
    ("corrupt", "cannot read image .*im3.png"),
    ("size", "mask .*im3.png is 16x16 .* but image .*im3.png is 32x32"),
    ("values", r"mask .*im3.png has values \[7\] outside \[0, 2\)"),
    ("empty", "split 'val' is empty"),
])
def test_bad_data_fails_before_anything_is_built(tmp_path, capsys, damage, named):
    data = write_segmentation(tmp_path / "d", n=12 if damage != "empty" else 6)
    if damage == "corrupt":
        (data / "images" / "im3.png").write_bytes(b"\x89PNG broken")
    elif damage == "size":
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(data / "masks" / "im3.png")
    elif damage == "values":
        Image.fromarray(np.full((32, 32), 7, np.uint8)).save(data / "masks" / "im3.png")
    out = tmp_path / "out"
    code, err = run_main(capsys, "train", "unet", "--data", data, "--out", out)
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("keras-segen train: error: ")
    assert __import__("re").search(named, err[0]), err[0]
    assert not out.exists()  # nothing was claimed, built or written


def test_data_options_need_data(capsys, tmp_path):
    code, err = run_main(capsys, "train", "unet_bluemarble", "--out", tmp_path / "o",
                         "--tile-size", "8")
    assert code == 2 and "--image-size and --tile-size go with --data" in err[-1]


# -- end to end through the command line (training: slow) -------------------------------


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_cli_trains_an_architecture_on_a_folder(tmp_path, capsys):
    data = write_segmentation(tmp_path / "d")
    code, err = run_main(capsys, "train", "unet", "--data", data, "--out", tmp_path / "o",
                         "--epochs", 1, "--steps-per-epoch", 1, "--tile-size", 24)
    assert code == 0, err
    metrics = _metrics(tmp_path / "o")
    assert set(metrics["folders/val"]["per_class_iou"]) == {"bg", "fg"}
    assert metrics["recipe"]["dataset"]["source"].endswith("(images: train 11, val 1)")


@pytest.mark.slow
def test_cli_fine_tunes_a_zoo_entry_with_another_class_count(tmp_path, capsys):
    data = write_segmentation(tmp_path / "d", classes=("a", "b", "c", "d", "e"))
    code, err = run_main(capsys, "train", "unet_bluemarble", "--data", data, "--out",
                         tmp_path / "o", "--epochs", 1, "--steps-per-epoch", 1)
    assert code == 0, err
    metrics = _metrics(tmp_path / "o")
    assert metrics["recipe"]["init"] == {"from": "unet_bluemarble", "weights": "zoo"}
    assert len(metrics["folders/val"]["per_class_iou"]) == 5


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["dcgan", "cgan"])
def test_cli_trains_a_generator_on_class_folders(tmp_path, capsys, arch):
    # 28x28 grey images: the zoo's Fashion-MNIST feature classifier can score them.
    data = write_classes(tmp_path / "d", n=10, size=(30, 36))
    code, err = run_main(capsys, "train", arch, "--data", data, "--image-size", 28,
                         "--out", tmp_path / "o", "--epochs", 1, "--steps-per-epoch", 1,
                         "--batch-size", 4)
    assert code == 0, err
    metrics = _metrics(tmp_path / "o")
    assert metrics["recipe"]["kwargs"]["image_shape"] == [28, 28, 1]
    assert (arch == "cgan") == ("num_classes" in metrics["recipe"]["kwargs"])
    assert metrics["class_names"] == (["cats", "dogs"] if arch == "cgan" else ["cats", "dogs"])

import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import keras_segen.datasets as kd
from keras_segen.datasets import tfds_source
from keras_segen.datasets.tfds_source import DatasetNotAvailableError


def _examples(n, seed, labels):
    rng = np.random.default_rng(seed)
    for i in range(n):
        height, width = 8 + i % 3, 10
        mask = rng.choice(labels, (height, width, 1)).astype(np.uint8)
        yield i, {
            "image": rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
            "segmentation_mask": mask,
        }


class KerasSegenTinyLabeled(tfds.core.GeneratorBasedBuilder):
    """Masks with named classes 0..2 (LabeledImage); train and test splits only."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "segmentation_mask": tfds.features.LabeledImage(
                    labels=["water", "land", "ice"], shape=(None, None, 1)
                ),
            }),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(10, 0), "test": self._generate_examples(3, 1)}

    def _generate_examples(self, n, seed):
        yield from _examples(n, seed, [0, 1, 2])


class KerasSegenTinyPlain(tfds.core.GeneratorBasedBuilder):
    """Pet-style masks 1..3 plus 255, no class names, a validation split."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "segmentation_mask": tfds.features.Image(shape=(None, None, 1)),
            }),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(4, 0), "validation": self._generate_examples(2, 1)}

    def _generate_examples(self, n, seed):
        yield from _examples(n, seed, [1, 2, 3, 255])


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tfds")
    for builder_cls in (KerasSegenTinyLabeled, KerasSegenTinyPlain):
        builder_cls(data_dir=str(root)).download_and_prepare()  # offline: generated data
    return str(root)


def test_missing_data_fails_fast_and_says_how_to_provide_it(tmp_path):
    start = time.monotonic()
    with pytest.raises(DatasetNotAvailableError) as caught:
        tfds_source.load("oxford_iiit_pet", "train", data_dir=str(tmp_path))
    assert time.monotonic() - start < 20
    message = str(caught.value)
    assert "oxford_iiit_pet" in message and str(tmp_path) in message
    assert "download=True" in message and "TFDS_DATA_DIR" in message
    assert isinstance(caught.value, FileNotFoundError)
    with pytest.raises(DatasetNotAvailableError):  # the trainers' seed= is no TypeError
        tfds_source.load("oxford_iiit_pet", "train", data_dir=str(tmp_path), seed=3)


def test_unknown_name_suggests_close_names(tmp_path):
    with pytest.raises(ValueError, match="oxford_iiit_pet"):
        tfds_source.load("oxford_iit_pet", "train", data_dir=str(tmp_path))


def test_dataset_without_masks_is_refused_with_a_hint(tmp_path):
    with pytest.raises(ValueError, match="no image \\+ segmentation mask.*folders"):
        tfds_source.load("voc/2012", "train", data_dir=str(tmp_path))


def test_prepared_dataset_loads_as_image_mask_pairs(data_dir):
    ds, info = tfds_source.load("keras_segen_tiny_labeled", "test", data_dir=data_dir)
    assert info.class_names == ["water", "land", "ice"]  # from the LabeledImage feature
    assert info.num_examples == 3 and info.image_shape == (None, None, 3)
    assert ds.element_spec[0].dtype == tf.float32 and ds.element_spec[1].dtype == tf.int32
    pairs = list(ds)
    assert len(pairs) == 3
    for image, mask in pairs:
        assert image.shape[-1] == 3 and image.shape[:2] == mask.shape
        assert 0.0 <= float(tf.reduce_min(image)) and float(tf.reduce_max(image)) <= 1.0
        assert set(np.unique(mask.numpy()).tolist()) <= {0, 1, 2}


def test_missing_validation_split_is_held_out_of_train(data_dir):
    _, train = tfds_source.load("keras_segen_tiny_labeled", "train", data_dir=data_dir)
    _, val = tfds_source.load("keras_segen_tiny_labeled", "val", data_dir=data_dir)
    assert train.extra["tfds_split"] == "train[:90%]" and val.extra["tfds_split"] == "train[90%:]"
    assert train.num_examples + val.num_examples == 10


def test_label_offset_image_size_and_scanned_class_names(data_dir):
    ds, info = tfds_source.load(
        "keras_segen_tiny_plain", "val", data_dir=data_dir, label_offset=-1, image_size=(6, 6)
    )
    assert info.extra["tfds_split"] == "validation"
    assert info.class_names == ["class_0", "class_1", "class_2"]  # scanned: labels 0..2
    images, masks = next(iter(ds.batch(2)))
    assert images.shape == (2, 6, 6, 3) and masks.shape == (2, 6, 6)
    assert set(np.unique(masks.numpy()).tolist()) <= {0, 1, 2, 255}  # 255 stays ignore
    with pytest.raises(ValueError, match="no test split"):
        tfds_source.load("keras_segen_tiny_plain", "test", data_dir=data_dir)


def test_through_the_package_entry_point(data_dir):
    ds, info = kd.load(
        "tfds:keras_segen_tiny_plain", "train", data_dir=data_dir, class_names=["a", "b", "c", "d"]
    )
    assert info.name == "tfds:keras_segen_tiny_plain" and info.num_classes == 4
    assert len(list(ds)) == 4


def test_known_pet_defaults():
    pets = tfds_source.KNOWN_DATASETS["oxford_iiit_pet"]
    assert pets["label_offset"] == -1 and pets["class_names"] == ["pet", "background", "border"]

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_segen.datasets.augment import JointAugment, from_spec

NUM_CLASSES = 4


def _example(height=20, width=20, seed=0):
    """An image whose red channel encodes the mask, so any misalignment shows."""
    rng = np.random.default_rng(seed)
    mask = rng.integers(0, NUM_CLASSES, (height, width)).astype(np.int32)
    image = np.empty((height, width, 3), np.float32)
    image[..., 0] = (mask + 1) / 10.0  # 0.1 .. 0.4, never 0 (0 marks padding)
    image[..., 1:] = rng.uniform(0.2, 0.8, (height, width, 2))
    return tf.constant(image), tf.constant(mask)


def _seed(a, b=0):
    return tf.constant([a, b], tf.int64)


def test_same_seed_same_result_and_different_seeds_differ():
    aug = JointAugment(vflip=True, rot90=True, scale_range=(0.6, 1.4), crop_size=(16, 16))
    image, mask = _example()
    x1, y1 = aug(image, mask, _seed(7))
    x2, y2 = aug(image, mask, _seed(7))
    np.testing.assert_array_equal(x1.numpy(), x2.numpy())
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    outputs = {aug(image, mask, _seed(s))[1].numpy().tobytes() for s in range(6)}
    assert len(outputs) > 1


def test_masks_keep_original_labels_or_ignore_and_images_stay_in_range():
    aug = JointAugment(scale_range=(0.5, 1.5), crop_size=(24, 24), brightness=0.3, contrast=0.3)
    image, mask = _example()
    saw_padding = False
    for s in range(8):
        x, y = aug(image, mask, _seed(s))
        assert x.shape == (24, 24, 3) and y.shape == (24, 24)
        assert x.dtype == tf.float32 and y.dtype == tf.int32
        labels = set(np.unique(y.numpy()).tolist())
        assert labels <= set(range(NUM_CLASSES)) | {255}
        saw_padding |= 255 in labels
        assert 0.0 <= float(tf.reduce_min(x)) and float(tf.reduce_max(x)) <= 1.0
    assert saw_padding  # a 20px input scaled <= 1.2 can't fill a 24px crop


def test_padding_is_zero_in_the_image_where_the_mask_is_ignore():
    aug = JointAugment(scale_range=(0.5, 0.8), crop_size=(20, 20), brightness=0, contrast=0)
    image, mask = _example()
    x, y = aug(image, mask, _seed(3))
    padded = y.numpy() == 255
    assert padded.any()
    assert np.all(x.numpy()[padded] == 0)
    assert np.all(x.numpy()[~padded][:, 0] > 0)


def test_geometric_ops_move_image_and_mask_together():
    aug = JointAugment(
        hflip=True, vflip=True, rot90=True, scale_range=None, crop_size=(12, 12),
        brightness=0, contrast=0,
    )
    image, mask = _example()
    changed = 0
    for s in range(10):
        x, y = aug(image, mask, _seed(s))
        np.testing.assert_allclose(x.numpy()[..., 0], (y.numpy() + 1) / 10.0, rtol=1e-6)
        changed += not np.array_equal(y.numpy(), mask.numpy()[:12, :12])
    assert changed > 0


def test_rot90_keeps_the_shape_of_non_square_inputs():
    aug = JointAugment(hflip=False, rot90=True, scale_range=None, brightness=0, contrast=0)
    image, mask = _example(12, 20)
    for s in range(6):
        x, y = aug(image, mask, _seed(s))
        assert x.shape == (12, 20, 3) and y.shape == (12, 20)
        np.testing.assert_allclose(x.numpy()[..., 0], (y.numpy() + 1) / 10.0, rtol=1e-6)


def test_unknown_size_inputs_in_a_graph():
    aug = JointAugment(scale_range=(0.8, 1.2))

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, 3], tf.float32),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([2], tf.int64),
        ]
    )
    def run(image, mask, seed):
        return aug(image, mask, seed)

    image, mask = _example(10, 14)
    x, y = run(image, mask, _seed(1))
    assert x.shape == (10, 14, 3) and y.shape == (10, 14)  # crop defaults to input size

    @tf.function(
        input_signature=[
            tf.TensorSpec(None, tf.float32),  # unknown rank too
            tf.TensorSpec(None, tf.int32),
            tf.TensorSpec([2], tf.int64),
        ]
    )
    def run_cropped(image, mask, seed):
        return JointAugment(crop_size=(6, 6))(image, mask, seed)

    x, y = run_cropped(image, mask, _seed(1))
    assert x.shape == (6, 6, 3) and y.shape == (6, 6)


def test_paired_images_share_geometry_and_only_the_condition_is_jittered():
    image, _ = _example()
    geometric = JointAugment(
        mode="paired_images", vflip=True, scale_range=(0.7, 1.3), crop_size=(16, 16),
        brightness=0, contrast=0,
    )
    x, y = geometric(image, image, _seed(5))
    np.testing.assert_allclose(x.numpy(), y.numpy())

    photometric = JointAugment(
        mode="paired_images", hflip=False, scale_range=None, brightness=0.3, contrast=0.3
    )
    x, y = photometric(image, image, _seed(5))
    np.testing.assert_array_equal(y.numpy(), image.numpy())
    assert not np.allclose(x.numpy(), image.numpy())


def test_config_round_trips_through_json():
    aug = JointAugment(vflip=True, scale_range=(0.5, 2.0), crop_size=(32, 48), mode="paired_images")
    config = json.loads(json.dumps(aug.get_config()))
    assert JointAugment.from_config(config) == aug
    assert from_spec(config) == aug
    assert from_spec(None) is None
    assert from_spec(aug) is aug


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"scale_range": (1.5, 0.5)}, "scale_range"),
        ({"crop_size": (0, 8)}, "crop_size"),
        ({"brightness": 1.5}, "brightness"),
        ({"mode": "video"}, "mode"),
    ],
)
def test_bad_config_is_refused(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        JointAugment(**kwargs)
    with pytest.raises(ValueError, match="unknown keys"):
        JointAugment.from_config({"flip": True})


def test_batched_input_is_refused():
    image, mask = _example()
    with pytest.raises(ValueError, match="unbatched"):
        JointAugment()(image[None], mask[None], _seed(0))


def _focus_case(rate, seeds=40):
    image = np.random.default_rng(0).random((192, 192, 3)).astype("float32")
    mask = np.zeros((192, 192), np.int32)
    mask[150:152, 10:12] = 2  # four rare pixels in a corner
    augment = JointAugment(hflip=True, vflip=True, crop_size=(64, 64), scale_range=None,
                           focus_class=2, focus_rate=rate)
    crops = [augment(image, mask, tf.constant([s, 3]))[1].numpy() for s in range(seeds)]
    return sum(int((c == 2).any()) for c in crops)


def test_focus_crops_hold_the_rare_class_at_the_rate_asked():
    assert _focus_case(1.0) == 40  # every crop holds a rare pixel
    assert _focus_case(0.0) <= 4  # uniform crops rarely do (about 1 in 9 windows)
    assert 10 <= _focus_case(0.5) <= 32


def test_focus_on_a_mask_without_the_class_crops_uniformly_and_keeps_runs_equal():
    augment = JointAugment(crop_size=(32, 32), focus_class=2, focus_rate=1.0)
    image, mask = np.ones((96, 96, 3), np.float32) / 2, np.zeros((96, 96), np.int32)
    x, y = augment(image, mask, tf.constant([1, 2]))
    assert x.shape == (32, 32, 3) and y.shape == (32, 32)
    again = augment(image, mask, tf.constant([1, 2]))
    assert np.array_equal(x.numpy(), again[0].numpy())
    # Without focus the draws are those of a recipe that never had the option.
    plain = JointAugment(crop_size=(32, 32))
    unfocused = JointAugment(crop_size=(32, 32), focus_class=2, focus_rate=0.0)
    image = np.random.default_rng(1).random((96, 96, 3)).astype("float32")
    assert np.array_equal(plain(image, mask, tf.constant([5, 6]))[0].numpy(),
                          unfocused(image, mask, tf.constant([5, 6]))[0].numpy())


@pytest.mark.parametrize("kwargs, message", [
    (dict(focus_rate=1.5, focus_class=2, crop_size=(8, 8)), "focus_rate"),
    (dict(focus_rate=0.5, crop_size=(8, 8)), "needs focus_class"),
    (dict(focus_rate=0.5, focus_class=2), "needs focus_class, crop_size"),
    (dict(focus_class=-1), "focus_class"),
])
def test_bad_focus_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        JointAugment(**kwargs)

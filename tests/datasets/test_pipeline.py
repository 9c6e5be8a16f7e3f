import numpy as np
import pytest
import tensorflow as tf

from keras_segen.datasets import make_pipeline
from keras_segen.datasets.augment import JointAugment
from keras_segen.datasets.pipeline import default_shuffle_buffer

N = 10


def _dataset(n=N, size=8):
    # Example i is filled with i / n, so batches show which examples they hold.
    values = np.arange(n, dtype=np.float32) / n
    images = np.broadcast_to(values[:, None, None, None], (n, size, size, 3)).copy()
    masks = np.broadcast_to(np.arange(n, dtype=np.int32)[:, None, None] % 3, (n, size, size)).copy()
    return tf.data.Dataset.from_tensor_slices((images, masks))


def _epoch(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def _same(a, b):
    return len(a) == len(b) and all(
        np.array_equal(xa, xb) and np.array_equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b)
    )


AUG = JointAugment(scale_range=(0.5, 1.5), crop_size=(6, 6), brightness=0.2)


def test_training_batches_have_static_full_shapes():
    ds = make_pipeline(_dataset(), batch_size=4, training=True, augment=AUG)
    assert ds.element_spec[0].shape == (4, 6, 6, 3)
    assert ds.element_spec[1].shape == (4, 6, 6)
    batches = _epoch(ds)
    assert len(batches) == N // 4  # remainder dropped when training
    assert all(x.dtype == np.float32 and y.dtype == np.int32 for x, y in batches)


def test_evaluation_keeps_order_all_examples_and_skips_augmentation():
    ds = make_pipeline(_dataset(), batch_size=4, training=False, augment=AUG)
    batches = _epoch(ds)
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    firsts = np.concatenate([x[:, 0, 0, 0] for x, _ in batches])
    np.testing.assert_allclose(firsts, np.arange(N) / N)
    assert batches[0][0].shape[1:] == (8, 8, 3)  # no crop applied
    assert _same(batches, _epoch(ds))


def test_same_seed_repeats_runs_and_epochs_differ():
    first = make_pipeline(_dataset(), batch_size=2, training=True, augment=AUG, seed=3)
    second = make_pipeline(_dataset(), batch_size=2, training=True, augment=AUG, seed=3)
    run1 = [_epoch(first), _epoch(first)]
    run2 = [_epoch(second), _epoch(second)]
    assert _same(run1[0], run2[0]) and _same(run1[1], run2[1])
    assert not _same(run1[0], run1[1])
    other = make_pipeline(_dataset(), batch_size=2, training=True, augment=AUG, seed=4)
    assert not _same(run1[0], _epoch(other))


def test_augmentation_after_cache_is_redrawn_every_epoch():
    calls = []

    def source():
        for x, y in _dataset().as_numpy_iterator():
            calls.append(1)
            yield x, y

    spec = (tf.TensorSpec([8, 8, 3], tf.float32), tf.TensorSpec([8, 8], tf.int32))
    raw = tf.data.Dataset.from_generator(source, output_signature=spec)
    # No shuffle (buffer 1): any change between epochs comes from the augmentation.
    ds = make_pipeline(raw, batch_size=N, training=True, augment=AUG, shuffle_buffer=1)
    epoch1, epoch2 = _epoch(ds), _epoch(ds)
    assert len(calls) == N  # the source was read once, then served from the cache
    assert not _same(epoch1, epoch2)


def test_shuffle_only_reorders_and_reshuffles_each_epoch():
    ds = make_pipeline(_dataset(), batch_size=N, training=True, seed=1)
    orders = [tuple(x[:, 0, 0, 0].tolist()) for x, _ in _epoch(ds) + _epoch(ds)]
    expected = sorted((np.arange(N, dtype=np.float32) / N).tolist())
    assert all(sorted(o) == expected for o in orders)
    assert orders[0] != orders[1]


def test_repeat_serves_more_than_one_epoch():
    ds = make_pipeline(_dataset(), batch_size=4, training=True, augment=AUG, repeat=True)
    assert len(list(ds.take(7))) == 7


def test_augment_config_dict_and_plain_callable_are_accepted():
    from_dict = make_pipeline(_dataset(), batch_size=2, training=True, augment=AUG.get_config())
    assert from_dict.element_spec[0].shape == (2, 6, 6, 3)

    def invert(x, y, seed):
        return 1.0 - x, y

    ds = make_pipeline(_dataset(), batch_size=N, training=True, augment=invert, shuffle_buffer=1)
    (x, _), = _epoch(ds)
    np.testing.assert_allclose(x[:, 0, 0, 0], 1.0 - np.arange(N) / N, rtol=1e-5)


def test_default_shuffle_buffer():
    assert default_shuffle_buffer(_dataset()) == N
    assert default_shuffle_buffer(tf.data.Dataset.range(30_000)) == 10_000
    unknown = tf.data.Dataset.range(5).filter(lambda i: i > 1)
    assert default_shuffle_buffer(unknown) == 10_000


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="pairs"):
        make_pipeline(tf.data.Dataset.range(4), batch_size=2, training=True)
    with pytest.raises(ValueError, match="batch_size"):
        make_pipeline(_dataset(), batch_size=0, training=True)
    with pytest.raises(TypeError, match="augment"):
        make_pipeline(_dataset(), batch_size=2, training=True, augment="flip")


def test_pipeline_feeds_keras_fit():
    import keras

    model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Conv2D(3, 1)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    no_padding = JointAugment(vflip=True, scale_range=None, crop_size=(6, 6))
    ds = make_pipeline(_dataset(), batch_size=4, training=True, augment=no_padding)
    history = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()

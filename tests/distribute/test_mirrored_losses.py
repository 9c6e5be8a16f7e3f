"""Every segmentation loss gives the same training on two replicas as on one device,
also when the replicas' halves of the batch hold different numbers of ignored pixels
or of a class: the mean over counted pixels and the batch-level Dice/Jaccard/Tversky
scores are global, not averages of the replicas' local values."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_segen import losses
from keras_segen.training import distribution

LOSSES = {
    "ce_ignore": lambda: losses.SparseCrossEntropy(),
    "ce_class_weights": lambda: losses.SparseCrossEntropy(class_weights=[0.2, 1.0, 3.0]),
    "ce_mean_with_sample_weight": lambda: losses.SparseCrossEntropy(
        class_weights=[0.2, 1.0, 3.0], reduction="mean_with_sample_weight"),
    "focal": lambda: losses.FocalLoss(gamma=2.0),
    "dice": lambda: losses.DiceLoss(),
    "jaccard": lambda: losses.JaccardLoss(smooth=0.1),
    "tversky": lambda: losses.TverskyLoss(alpha=0.3, beta=0.7, class_weights=[0, 1, 1]),
    "dice_per_image": lambda: losses.DiceLoss(per_image=True),
    "lovasz": lambda: losses.LovaszSoftmaxLoss(),
    "lovasz_per_image": lambda: losses.LovaszSoftmaxLoss(per_image=True, classes="all"),
    "ce_plus_dice": lambda: losses.CombinedLoss(
        [losses.SparseCrossEntropy(), losses.DiceLoss()], [1.0, 0.5]),
}


def _data():
    """8 images in batches of 4: each replica gets 2 images of every batch. The first
    two images of each batch are mostly ignored and hold no class 2; the last two are
    fully labelled, so local and global pixel counts and class counts differ."""
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 16, 16, 3)).astype("float32")
    masks = np.zeros((8, 16, 16), "int32")
    masks[:, :, 8:] = 1
    for start in (0, 4):
        masks[start:start + 2, :12] = 255
        masks[start + 2:start + 4, 10:, :6] = 2
    return images, masks


def _model():
    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Conv2D(3, 1)(features))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_trains_alike_on_two_replicas(name):
    images, masks = _data()

    def fit(strategy):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = _model()
            model.compile(optimizer=keras.optimizers.SGD(0.5), loss=LOSSES[name]())
        start = model.weights[0].numpy()
        history = model.fit(images, masks, batch_size=4, epochs=2, shuffle=False, verbose=0)
        assert not np.allclose(model.weights[0].numpy(), start)  # it did train
        return model, history.history["loss"]

    single, expected = fit(tf.distribute.OneDeviceStrategy("/cpu:0"))
    mirrored, got = fit(distribution.make_strategy("mirrored"))
    assert mirrored.distribute_strategy.num_replicas_in_sync == 2
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    for a, b in zip(single.weights, mirrored.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6, err_msg=a.path)


def test_region_loss_value_and_gradient_equal_the_global_ones_inside_a_replica():
    """The per-replica values and gradients themselves: the replicas' shares add up to
    the one-device loss, and their gradients to its gradient."""
    images, masks = _data()
    logits = tf.constant(np.random.default_rng(1).normal(size=(4, 16, 16, 3)), "float32")
    loss = losses.DiceLoss()
    with tf.GradientTape() as tape:
        tape.watch(logits)
        want = loss(masks[:4], logits)
    want_grad = tape.gradient(want, logits)

    strategy = distribution.make_strategy("mirrored")
    halves = strategy.experimental_distribute_values_from_function(
        lambda ctx: (masks[2 * ctx.replica_id_in_sync_group:][:2],
                     logits[2 * ctx.replica_id_in_sync_group:][:2]))

    def step(batch):
        y, x = batch
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(y, x)
        return value, tape.gradient(value, x)

    values, grads = strategy.run(tf.function(step), args=(halves,))
    shares = [float(v) for v in strategy.experimental_local_results(values)]
    np.testing.assert_allclose(sum(shares), float(want), rtol=1e-6)
    got_grad = np.concatenate([g.numpy() for g in strategy.experimental_local_results(grads)])
    np.testing.assert_allclose(got_grad, want_grad.numpy(), rtol=1e-4, atol=1e-9)

"""Adversarial segmentation (keras_segen/segmentation/adversarial_segmenter.py): any
registered segmenter inside, both players trained, lambda = 0 is exactly the plain
segmenter (the control of the comparison), ignored pixels hidden from D, its kind.
(Build/config/saving/mixed precision/mirrored/export: tests/architecture_harness.py.)"""
import numpy as np
import pytest

import keras
import keras_segen
from architecture_harness import CASES_BY_ARCH
from keras_segen import losses
from keras_segen.kinds import kind_of
from keras_segen.segmentation.adversarial_segmenter import AdversarialSegmenter
from keras_segen.segmentation.pair_discriminator import ClassProduct

TINY_D = dict(discriminator_filters=4, discriminator_depth=2)


def _tiny_kwargs(arch):
    return {k: v for k, v in CASES_BY_ARCH[arch].kwargs.items() if k != "num_classes"}


def _batch(n=4, size=16, seed=0, ignored=True):
    rng = np.random.default_rng(seed)
    images = rng.random((n, size, size, 3), dtype=np.float32)
    masks = rng.integers(0, 3, (n, size, size)).astype("int32")
    if ignored:
        masks[:, :4, :] = 255  # unlabelled rows
    return images, masks


def _compile(model, learning_rate=1e-2, **kwargs):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss=losses.SparseCrossEntropy(),
                  metrics=[keras_segen.metrics.ConfusionMatrixScores(
                      ["a", "b", "c"], scores=("mean_iou",))], **kwargs)


@pytest.mark.parametrize("arch", ["unet", "fcn8s", "deeplabv3plus"])
def test_wraps_any_segmenter_and_trains_both_players(arch):
    model = keras_segen.build("adversarial_segmenter", segmenter=arch, num_classes=3,
                              adversarial_weight=0.5, **TINY_D, **_tiny_kwargs(arch))
    assert kind_of(model).name == "adversarial_segmentation"
    assert model.segmenter.name == arch and model.num_classes == 3
    images, masks = _batch()
    # call is the segmenter's logits, so evaluation/predict/serving see a segmenter
    np.testing.assert_array_equal(np.asarray(model(images)),
                                  np.asarray(model.segmenter(images, training=False)))
    assert model.outputs[0].shape[-1] == 3 and model.inputs is model.segmenter.inputs

    _compile(model, run_eagerly=True)  # one eager step: cheap, same code as the graph
    segmenter_before = [w.numpy() for w in model.segmenter.trainable_weights]
    discriminator_before = [w.numpy() for w in model.discriminator.trainable_weights]
    logs = model.fit(images, masks, batch_size=4, verbose=0).history
    assert {"loss", "seg_loss", "adv_loss", "d_loss", "mean_iou"} <= set(logs)
    assert all(np.isfinite(v[0]) for v in logs.values())
    np.testing.assert_allclose(logs["loss"][0],
                               logs["seg_loss"][0] + 0.5 * logs["adv_loss"][0], rtol=1e-5)
    changed = {player.name: [not np.array_equal(b, w.numpy())
                             for b, w in zip(before, player.trainable_weights)]
               for before, player in ((segmenter_before, model.segmenter),
                                      (discriminator_before, model.discriminator))}
    # FCN's zero-initialized score layers let only the head move in its first step.
    assert any(changed[arch]) and all(changed["discriminator"]), changed
    assert int(model.optimizer.iterations) == int(model.d_optimizer.iterations) == 1


def test_zero_adversarial_weight_is_the_plain_segmenter_step():
    """lambda = 0 trains the segmenter as Keras trains it alone: same logs and weights
    (incl. BN statistics). Equal to float rounding, not bitwise: two runs of the plain
    model from the same weights already differ by ~2e-7 (oneDNN's threaded kernels)."""
    kwargs = dict(num_classes=3, depth=2, base_filters=4)
    plain = keras_segen.build("unet", **kwargs)
    models = {weight: keras_segen.build("adversarial_segmenter", adversarial_weight=weight,
                                        **TINY_D, **kwargs) for weight in (0.0, 0.5)}
    history, start = {}, plain.get_weights()
    for name, model in (("plain", plain), *models.items()):
        (model.segmenter if name != "plain" else model).set_weights(start)
        _compile(model, run_eagerly=True)
        history[name] = model.fit(*_batch(n=8), batch_size=4, shuffle=False,
                                  verbose=0).history
    for key in ("loss", "mean_iou"):
        np.testing.assert_allclose(history[0.0][key], history["plain"][key], rtol=1e-6)
    for a, b in zip(plain.weights, models[0.0].segmenter.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=a.path)
    assert history[0.0]["d_loss"][0] > 0  # D still learns: its loss is reported
    # ... and the comparison can tell: lambda > 0 moves it far beyond the rounding.
    moved = max(np.abs(a.numpy() - b.numpy()).max() for a, b in
                zip(plain.trainable_weights, models[0.5].segmenter.trainable_weights))
    assert moved > 1e-5, moved  # 50x the ~2e-7 run-to-run noise


class _Recorder(keras.layers.Layer):
    """Keeps every class map the discriminator is shown (eager only)."""

    seen = []

    def call(self, maps):
        if not keras.backend.is_keras_tensor(maps):  # not while the model is built
            _Recorder.seen.append(np.asarray(maps))
        return maps

    def compute_output_shape(self, input_shape):
        return input_shape


def test_ignored_pixels_do_not_reach_the_discriminator():
    segmenter = keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)
    images_in = keras.Input((None, None, 3))
    maps_in = keras.Input((None, None, 3))
    x = keras.layers.Concatenate()([images_in, _Recorder()(maps_in)])
    discriminator = keras.Model([images_in, maps_in], keras.layers.Conv2D(1, 3)(x))
    model = AdversarialSegmenter(segmenter, discriminator, adversarial_weight=0.5)
    _compile(model, run_eagerly=True)
    images, masks = _batch()
    _Recorder.seen.clear()
    model.fit(images, masks, batch_size=4, shuffle=False, verbose=0)
    assert len(_Recorder.seen) == 3  # the segmenter's adv term, then D's real and fake
    ignored = masks == 255
    for maps in _Recorder.seen:
        assert np.all(maps[ignored] == 0)  # the same (nothing) at ignored pixels
        np.testing.assert_allclose(maps[~ignored].sum(-1), 1.0, rtol=1e-5)
    truth = _Recorder.seen[1]
    np.testing.assert_array_equal(truth.argmax(-1)[~ignored], masks[~ignored])
    assert set(np.unique(truth)) == {0.0, 1.0}
    np.testing.assert_allclose(_Recorder.seen[2], _Recorder.seen[0], rtol=1e-6)


def test_product_input_multiplies_the_image_by_each_class_map():
    images, masks = _batch(n=2, size=8, ignored=False)
    maps = np.eye(3, dtype="float32")[masks]
    product = np.asarray(ClassProduct()([images, maps]))
    assert product.shape == (2, 8, 8, 9)
    np.testing.assert_allclose(product.reshape(2, 8, 8, 3, 3),
                               images[..., :, None] * maps[..., None, :])
    model = keras_segen.build("adversarial_segmenter", num_classes=3, depth=2, base_filters=4,
                              discriminator_input="product", **TINY_D)
    assert model.discriminator.get_layer("pair").compute_output_shape(
        [(None, 8, 8, 3), (None, 8, 8, 3)]) == (None, 8, 8, 9)


@pytest.mark.parametrize("kwargs, message", [
    (dict(segmenter="unett"), r"segmenter must be a segmentation architecture, one of "
                              r"deeplabv3plus, fcn16s, .*unet; got 'unett'"),
    (dict(segmenter="dcgan"), r"one of .*; got 'dcgan'"),
    (dict(segmenter="adversarial_segmenter"), r"got 'adversarial_segmenter'"),
    (dict(adversarial_weight=-1.0), r"adversarial_weight must be a finite number >= 0"),
    (dict(discriminator_input="sum"), r"discriminator_input must be one of"),
    (dict(bogus=1), r"adversarial_segmenter: segmenter 'unet': .*bogus"),
])
def test_bad_arguments_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        keras_segen.build("adversarial_segmenter", num_classes=3, **kwargs)
    assert "\n" not in str(error.value)
    assert "adversarial_segmenter," not in str(error.value)  # never offers itself


def test_kind_compiles_both_optimizers_from_the_recipe_and_exports_the_segmenter():
    model = keras_segen.build("adversarial_segmenter", num_classes=3, depth=2,
                              base_filters=4, **TINY_D)
    kind = kind_of(model)
    kind.compile(model, {"learning_rate": 2e-3, "weight_decay": 1e-4,
                         "loss": [["cross_entropy", 1.0], ["dice", 0.5]],
                         "d_optimizer": {"name": "adam", "learning_rate": 5e-4,
                                         "beta_1": 0.5}}, ["ocean", "land", "lake"])
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert float(model.optimizer.learning_rate) == pytest.approx(2e-3)
    assert model.d_optimizer.name == "d_adam"
    assert float(model.d_optimizer.learning_rate) == pytest.approx(5e-4)
    assert kind.checkpoint_monitor == ("val_mean_iou", "max")
    assert kind.num_classes(model) == 3 and "d_loss" in kind.nan_monitors(model)
    exported = kind.prepare_export(model, fold_batch_norm=False)
    assert exported is model.segmenter  # serving never carries the discriminator
    model.run_eagerly = True
    images, masks = _batch()
    logs = model.fit(images, masks, validation_data=(images, masks), batch_size=4,
                     verbose=0).history
    assert "val_mean_iou" in logs and "val_iou_lake" in logs
    assert not {"val_d_loss", "val_adv_loss", "val_seg_loss"} & set(logs)  # train only

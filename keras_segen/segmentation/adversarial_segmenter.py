"""Adversarial segmentation (Luc et al. 2016, "Semantic Segmentation using Adversarial
Networks"): any registered segmenter trained with its segmentation loss plus an
adversarial term from a discriminator that judges (image, class map) pairs.

``build("adversarial_segmenter", segmenter="unet", num_classes=3, base_filters=16)``:
the keyword arguments this builder does not know go to the segmenter's builder.

``AdversarialSegmenter`` behaves as a segmenter everywhere else: ``call(images)``,
``inputs``/``outputs`` and ``num_classes`` are the segmenter's, so evaluation,
``predict``, overlays and serving treat it as one; its kind exports the plain segmenter.

One training step (``train_step``):

1. segmenter: ``loss = seg_loss + adversarial_weight * adv_loss``, where ``seg_loss`` is
   the compiled loss (e.g. CE + Dice with ignore label 255) and ``adv_loss`` is the
   non-saturating GAN loss ``BCE(D(image, softmax(logits)), real)``;
2. discriminator, on the predictions of step 1 (one segmenter pass per step):
   ``d_loss = BCE(D(image, onehot(truth)), real) + BCE(D(image, softmax), fake)``.

Ignored pixels are zeros in both class maps, so D can't tell truth from prediction by
them. With ``adversarial_weight=0`` step 1 is exactly the plain segmenter's Keras step:
the control that the adversarial term is measured against. ``test_step`` reports the
segmentation loss and metrics only.
"""
import math
import numbers

import keras
import tensorflow as tf
from keras import ops

from keras_segen import registry
from keras_segen.datasets.info import IGNORE_LABEL
from keras_segen.generation.base import GenerativeModel
from keras_segen.losses.adversarial import (
    discriminator_loss,
    generator_loss,
    get_adversarial_loss,
)
from keras_segen.segmentation._arguments import check_input_shape, check_num_classes
from keras_segen.segmentation.pair_discriminator import pair_discriminator

# Trackers only train_step updates: not part of validation logs.
ADVERSARIAL_LOGS = ("seg_loss", "adv_loss", "d_loss")
_unscale = GenerativeModel.unscale_for_distribution  # replica-scaled loss -> global


def check_adversarial_weight(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not 0 <= value < math.inf:
        raise ValueError(f"adversarial_weight must be a finite number >= 0, got {value!r}")
    return float(value)


def segmenter_architectures() -> list:
    """Registered architectures of the plain segmentation kind (what may be wrapped)."""
    return [name for name in registry.list_architectures("segmentation")
            if registry.get_architecture(name).kind == "segmentation"]


@keras.saving.register_keras_serializable(package="keras_segen")
class AdversarialSegmenter(keras.Model):
    """A segmenter and a pair discriminator trained against each other.

    Args:
        segmenter: a built ``keras.Model``, images -> logits ``[N, H, W, K]``.
        discriminator: a built ``keras.Model``, ``[images, class maps (K channels)]``
            -> real/fake logits (any shape).
        adversarial_weight: lambda of the segmenter's adversarial term (>= 0).
        adversarial_loss: a ``keras_segen.losses.ADVERSARIAL_LOSSES`` name.
        ignore_label: mask value of unlabelled pixels.
    """

    KIND = "adversarial_segmentation"

    def __init__(self, segmenter, discriminator, *, adversarial_weight=0.1,
                 adversarial_loss="non_saturating", ignore_label=IGNORE_LABEL, **kwargs):
        super().__init__(**kwargs)
        for role, model in (("segmenter", segmenter), ("discriminator", discriminator)):
            if not isinstance(model, keras.Model):
                raise TypeError(f"AdversarialSegmenter: {role} must be a keras.Model, "
                                f"got {type(model).__name__}")
        self.adversarial_weight = check_adversarial_weight(adversarial_weight)
        self.segmenter = segmenter
        self.discriminator = discriminator
        self.num_classes = int(segmenter.outputs[0].shape[-1])
        maps = discriminator.inputs[1].shape[-1] if len(discriminator.inputs) == 2 else None
        if maps != self.num_classes:
            raise ValueError(
                f"AdversarialSegmenter: the discriminator must take [images, class maps "
                f"with {self.num_classes} channels]; its inputs are "
                f"{[tuple(x.shape) for x in discriminator.inputs]}")
        self.adversarial_loss = adversarial_loss
        self.ignore_label = int(ignore_label)
        self.adv_loss_fn = get_adversarial_loss(adversarial_loss, player="generator")
        self.d_loss_fn = get_adversarial_loss(adversarial_loss, player="discriminator")
        self.trackers = {n: keras.metrics.Mean(name=n) for n in ADVERSARIAL_LOGS}
        self.d_optimizer = None
        self.built = True  # every weight lives in the two built sub-models

    # --- a segmenter to the rest of the package ------------------------------------
    @property
    def inputs(self):
        return self.segmenter.inputs

    @property
    def outputs(self):
        return self.segmenter.outputs

    @property
    def input_shape(self):
        return self.segmenter.input_shape

    @property
    def output_shape(self):
        return self.segmenter.output_shape

    def call(self, images, training=False):
        return self.segmenter(images, training=training)

    # --- compile and its serialization ----------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, d_optimizer=None,
                **kwargs):
        """Keras' compile for the segmenter (``optimizer``, ``loss`` -- default the
        ignore-label cross-entropy --, ``metrics``, ...) plus the discriminator's
        ``d_optimizer`` (default Adam(1e-4, beta_1=0.5)). Both are built here, under the
        model's distribution strategy (MirroredStrategy needs that, and a ``.keras``
        reload restores their slots into them)."""
        if loss is None:
            from keras_segen.losses import SparseCrossEntropy

            loss = SparseCrossEntropy(ignore_label=self.ignore_label)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)
        d_optimizer = (keras.optimizers.Adam(1e-4, beta_1=0.5, name="d_adam")
                       if d_optimizer is None else keras.optimizers.get(d_optimizer))
        if d_optimizer is self.optimizer or d_optimizer is getattr(
                self.optimizer, "inner_optimizer", None):
            raise ValueError("the segmenter and the discriminator need two optimizer "
                             "instances (one shared instance would mix their slot variables)")
        if self.dtype_policy.name == "mixed_float16" and not isinstance(
                d_optimizer, keras.optimizers.LossScaleOptimizer):
            d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
        self.d_optimizer = d_optimizer
        with self.distribute_strategy.scope():
            self.optimizer.build(self.segmenter.trainable_variables)
            self.d_optimizer.build(self.discriminator.trainable_variables)

    def get_compile_config(self):
        config = super().get_compile_config()
        if config is not None and self.d_optimizer is not None:
            config["d_optimizer"] = keras.saving.serialize_keras_object(self.d_optimizer)
        return config

    def compile_from_config(self, config):
        # Keras skips models that override compile: rebuild both optimizers here.
        if config:
            self.compile(**keras.saving.deserialize_keras_object(config))

    # --- model config ---------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(
            segmenter=keras.saving.serialize_keras_object(self.segmenter),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            adversarial_weight=self.adversarial_weight,
            adversarial_loss=self.adversarial_loss,
            ignore_label=self.ignore_label,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("segmenter", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)

    # --- the class maps the discriminator sees --------------------------------------
    def _labels(self, masks):
        masks = ops.convert_to_tensor(masks)
        if len(masks.shape) == 4 and masks.shape[-1] == 1:
            masks = masks[..., 0]
        masks = ops.cast(masks, "int32")
        valid = ops.not_equal(masks, self.ignore_label)
        return ops.where(valid, masks, 0), ops.expand_dims(ops.cast(valid, "float32"), -1)

    def truth_map(self, masks):
        """One-hot truth ``[N, H, W, K]`` float32, zeros at ignored pixels."""
        labels, valid = self._labels(masks)
        return ops.one_hot(labels, self.num_classes, dtype="float32") * valid

    def prediction_map(self, logits, masks):
        """Softmax of ``logits`` float32, zeros where ``masks`` is ignored."""
        _, valid = self._labels(masks)
        return ops.softmax(ops.cast(logits, "float32"), axis=-1) * valid

    # --- training -------------------------------------------------------------------
    def train_step(self, data):
        images, masks, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            logits = self(images, training=True)
            seg_loss = self._compute_loss(x=images, y=masks, y_pred=logits,
                                          sample_weight=sample_weight, training=True)
            fake_maps = self.prediction_map(logits, masks)
            adv_loss = generator_loss(  # replica-scaled, as Keras losses are
                self.adv_loss_fn, self.discriminator([images, fake_maps], training=True))
            loss = seg_loss
            if self.adversarial_weight:  # 0: exactly the plain segmenter's step
                loss = seg_loss + self.adversarial_weight * adv_loss
            scaled = self.optimizer.scale_loss(loss)
        variables = self.segmenter.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))

        # The discriminator judges this step's predictions, as constants.
        fake_maps = ops.stop_gradient(fake_maps)
        truth = self.truth_map(masks)
        with tf.GradientTape() as tape:
            d_loss = discriminator_loss(
                self.d_loss_fn, self.discriminator([images, truth], training=True),
                self.discriminator([images, fake_maps], training=True))
            scaled = self.d_optimizer.scale_loss(d_loss)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))

        self._track_loss(loss, images)
        for name, value in (("seg_loss", seg_loss), ("adv_loss", adv_loss),
                            ("d_loss", d_loss)):
            self.trackers[name].update_state(_unscale(value))
        return self.compute_metrics(images, masks, logits, sample_weight=sample_weight)

    def test_step(self, data):
        images, masks, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        logits = self(images, training=False)
        loss = self._compute_loss(x=images, y=masks, y_pred=logits,
                                  sample_weight=sample_weight, training=False)
        self._track_loss(loss, images)
        logs = self.compute_metrics(images, masks, logits, sample_weight=sample_weight)
        return {k: v for k, v in logs.items() if k not in ADVERSARIAL_LOGS}

    def _track_loss(self, loss, images):
        # Keras' own "loss" log, kept as its train_step keeps it (a per-sample mean).
        self._loss_tracker.update_state(_unscale(loss), sample_weight=ops.shape(images)[0])


@registry.register_architecture("adversarial_segmenter", task="segmentation",
                                kind="adversarial_segmentation")
def adversarial_segmenter(*, segmenter="unet", input_shape=(None, None, 3), num_classes,
                          adversarial_weight=0.1, adversarial_loss="non_saturating",
                          discriminator_filters=32, discriminator_depth=3,
                          discriminator_input="basic", name="adversarial_segmenter",
                          **segmenter_kwargs):
    """Adversarial segmentation (Luc et al. 2016) around any registered segmenter.

    Args:
        segmenter: name of a registered segmentation architecture (``unet``, ``fcn8s``,
            ``deeplabv3plus``, ...); ``segmenter_kwargs`` go to its builder.
        adversarial_weight: lambda of the adversarial term (0: the plain segmenter).
        discriminator_filters, discriminator_depth: width and stride-2 convs of D.
        discriminator_input: ``"basic"`` (image ++ class map) or ``"product"``.
    """
    where = "adversarial_segmenter"
    choices = segmenter_architectures()
    if segmenter not in choices:
        raise ValueError(f"{where}: segmenter must be a segmentation architecture, one of "
                         f"{', '.join(choices)}; got {segmenter!r}")
    input_shape = check_input_shape(input_shape, where)
    num_classes = check_num_classes(num_classes, where)
    check_adversarial_weight(adversarial_weight)
    get_adversarial_loss(adversarial_loss, player="generator")
    discriminator = pair_discriminator(  # first: its checks are cheaper than a segmenter
        image_channels=input_shape[-1], num_classes=num_classes,
        filters=discriminator_filters, depth=discriminator_depth,
        input_mode=discriminator_input)
    try:
        model = registry.build(segmenter, input_shape=input_shape, num_classes=num_classes,
                               **segmenter_kwargs)
    except TypeError as err:  # an argument the segmenter's builder does not take
        raise ValueError(f"{where}: segmenter {segmenter!r}: {err}") from None
    return AdversarialSegmenter(model, discriminator, adversarial_weight=adversarial_weight,
                                adversarial_loss=adversarial_loss, name=name)

"""Test-time augmentation: a segmenter's class probabilities averaged over flips.

``with_tta(model, "flips")`` is a Keras model with the same input and an output of the
same shape: the log of the mean softmax over the identity, the left-right, the up-down
and the both-ways flip (each prediction flipped back first). Log-probabilities are
logits up to a per-pixel constant, so argmax, softmax and every metric read them as
they read the plain model's logits.
"""
import keras

TTA_CHOICES = ("flips",)


@keras.saving.register_keras_serializable(package="keras_segen")
class FlipAverage(keras.layers.Layer):
    """``log(mean(softmax(model(flip(x))) flipped back))`` over the four flips."""

    def __init__(self, segmenter, **kwargs):
        super().__init__(**kwargs)
        self.segmenter = segmenter

    def call(self, images):
        from keras import ops

        total = None
        for axes in ((), (2,), (1,), (1, 2)):
            flipped = ops.flip(images, axes) if axes else images
            probabilities = ops.softmax(ops.cast(self.segmenter(flipped, training=False),
                                                 "float32"), axis=-1)
            probabilities = ops.flip(probabilities, axes) if axes else probabilities
            total = probabilities if total is None else total + probabilities
        return ops.log(ops.maximum(total / 4.0, 1e-12))

    def get_config(self):
        config = super().get_config()
        config["segmenter"] = keras.saving.serialize_keras_object(self.segmenter)
        return config

    @classmethod
    def from_config(cls, config):
        config["segmenter"] = keras.saving.deserialize_keras_object(config["segmenter"])
        return cls(**config)


def with_tta(model, tta):
    """``model`` itself for ``tta=None``; for ``"flips"`` the flip-averaged model."""
    if tta is None:
        return model
    if tta not in TTA_CHOICES:
        raise ValueError(f"tta must be one of {TTA_CHOICES} or None, got {tta!r}")
    inputs = getattr(model, "inputs", None)  # a subclassed model may have none
    shape = tuple(inputs[0].shape[1:]) if inputs else (None, None, 3)
    images = keras.Input(shape=shape, name="images")
    return keras.Model(images, FlipAverage(model, name="flip_tta")(images),
                       name=f"{model.name}_tta_{tta}")


__all__ = ["FlipAverage", "TTA_CHOICES", "with_tta"]

"""Fold inference-mode BatchNormalization into the convolution before it, for serving.

At inference a BatchNormalization is a per-channel affine map,
``y = (x - mean) * gamma / sqrt(var + eps) + beta``. Keras runs it as a separate Mul and
Add over the whole activation map; on the zoo U-Net those were 17% of the op time of a
``serving_default`` call (README, performance). After a convolution with no activation
the map can live in the convolution instead: ``kernel' = kernel * s`` and
``bias' = (bias - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``. The normalization
becomes a pass-through layer of the same name, so the graph and the layer names stay.

Only exact folds are made: a ``Conv2D`` (or a subclass with the same kernel layout, such
as ``AtrousConv2D``) without activation whose only consumer is a channels-last
BatchNormalization, each used once. Everything else is copied unchanged.
"""
import keras
import numpy as np


@keras.saving.register_keras_serializable(package="keras_segen")
class FoldedBatchNormalization(keras.layers.Layer):
    """Stands where a BatchNormalization was folded into the convolution before it and
    passes its input through (it takes the same call arguments as the layer it replaces)."""

    def call(self, inputs, training=None, mask=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def foldable_pairs(model) -> dict:
    """``{batch norm layer name: conv layer name}`` of the folds ``fold_batch_norms`` makes."""
    pairs = {}
    if not _is_functional(model):
        return pairs
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        if len(layer._inbound_nodes) != 1 or layer.axis not in (-1, 3):
            continue
        conv = layer.input._keras_history.operation
        if (
            isinstance(conv, keras.layers.Conv2D)
            and conv.activation is keras.activations.linear
            and conv.data_format == "channels_last"
            and len(conv._inbound_nodes) == 1
            and len(conv._outbound_nodes) == 1
        ):
            pairs[layer.name] = conv.name
    return pairs


def fold_batch_norms(model):
    """A copy of ``model`` with every foldable BatchNormalization folded into its conv.

    Computes the same function in inference mode (up to float rounding); the original
    model is left untouched. Models with nothing to fold (or not functional) come back
    as they are.
    """
    pairs = foldable_pairs(model)
    if not pairs:
        return model
    convs = {conv: norm for norm, conv in pairs.items()}

    def clone_layer(layer):
        if layer.name in pairs:
            return FoldedBatchNormalization(name=layer.name, dtype=layer.dtype_policy.name)
        config = layer.get_config()
        if layer.name in convs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    folded = keras.models.clone_model(model, clone_function=clone_layer)
    for layer in model.layers:
        if layer.name in pairs or not layer.weights:
            continue
        target = folded.get_layer(layer.name)
        if layer.name in convs:
            target.set_weights(_folded_conv(layer, model.get_layer(convs[layer.name])))
        else:
            target.set_weights(layer.get_weights())
    return folded


def _folded_conv(conv, norm):
    """``[kernel, bias]`` of ``conv`` followed by ``norm`` (inference), in float64 math."""
    kernel = np.asarray(conv.kernel.numpy(), np.float64)
    channels = kernel.shape[-1]
    bias = np.asarray(conv.bias.numpy(), np.float64) if conv.use_bias else np.zeros(channels)
    mean = np.asarray(norm.moving_mean.numpy(), np.float64)
    variance = np.asarray(norm.moving_variance.numpy(), np.float64)
    gamma = np.asarray(norm.gamma.numpy(), np.float64) if norm.scale else np.ones(channels)
    beta = np.asarray(norm.beta.numpy(), np.float64) if norm.center else np.zeros(channels)
    scale = gamma / np.sqrt(variance + norm.epsilon)
    dtype = conv.kernel.dtype
    return [(kernel * scale).astype(dtype), ((bias - mean) * scale + beta).astype(dtype)]


def _is_functional(model):
    return isinstance(model, keras.Model) and hasattr(model, "_operations") and bool(
        getattr(model, "inputs", None)
    )

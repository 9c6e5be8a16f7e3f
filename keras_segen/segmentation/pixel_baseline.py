"""Per-pixel baseline: a stack of 1x1 convolutions, so no pixel sees its neighbours.

It answers "how much of the score comes from colour alone?": the gap between it and the
spatial models is what spatial context buys.
"""
import keras

from keras_segen.layers import float32_logits
from keras_segen.registry import register_architecture
from keras_segen.segmentation._arguments import (
    check_input_shape,
    check_num_classes,
    check_positive_int,
)


@register_architecture("pixel_baseline", task="segmentation")
def pixel_baseline(
    *,
    input_shape=(None, None, 3),
    num_classes,
    hidden_units=32,
    hidden_layers=2,
    name="pixel_baseline",
):
    """Per-pixel MLP (1x1 convs) from colour to class logits ``[N, H, W, num_classes]``."""
    where = "pixel_baseline"
    input_shape = check_input_shape(input_shape, where)
    num_classes = check_num_classes(num_classes, where)
    hidden_units = check_positive_int(hidden_units, "hidden_units", where)
    hidden_layers = check_positive_int(hidden_layers, "hidden_layers", where, minimum=0)

    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    for index in range(1, hidden_layers + 1):
        x = keras.layers.Conv2D(
            hidden_units, 1, activation="relu", kernel_initializer="he_normal",
            name=f"pixel_dense{index}",
        )(x)
    x = keras.layers.Conv2D(num_classes, 1, name="classifier")(x)
    return keras.Model(inputs, float32_logits(x), name=name)

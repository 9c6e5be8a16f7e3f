"""A small Fashion-MNIST CNN whose penultimate layer is the FID/KID embedding.

No Inception weights exist offline, so the zoo's distribution metrics use the features
of this classifier, trained by ``scripts/train_feature_classifier.py``. Its input is a
grey image in **[0, 1]**; ``keras_segen.metrics.FeatureExtractor`` rescales GAN outputs
in [-1, 1] before calling it.
"""
import keras
from keras import layers

from keras_segen.registry import register_architecture

FEATURE_LAYER = "features"
PROBABILITY_LAYER = "probabilities"


def _conv_block(x, filters, prefix):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{prefix}_conv")(x)
    x = layers.BatchNormalization(name=f"{prefix}_bn")(x)
    return layers.ReLU(name=f"{prefix}_relu")(x)


@register_architecture("fashion_classifier", task="classification")
def fashion_classifier(
    *,
    input_shape=(28, 28, 1),
    num_classes=10,
    feature_dim=128,
    widths=(32, 64, 128),
    dropout=0.3,
    name="fashion_classifier",
):
    """Small CNN classifier for 28x28 grey images in [0, 1] (the FID/KID feature net).

    Two 3x3 conv blocks per width with 2x2 max pooling between widths, global average
    pooling, a ReLU dense layer named ``"features"`` (``feature_dim`` wide: the FID/KID
    embedding) and a softmax layer named ``"probabilities"`` (used by Inception Score).
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if feature_dim < 1 or not widths:
        raise ValueError(f"need feature_dim >= 1 and at least one width, got "
                         f"feature_dim={feature_dim}, widths={widths}")
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = inputs
    for stage, filters in enumerate(widths):
        if stage > 0:
            x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
        x = _conv_block(x, filters, f"stage{stage}_a")
        x = _conv_block(x, filters, f"stage{stage}_b")
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    features = layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER)(x)
    x = layers.Dropout(dropout, name="dropout")(features)
    outputs = layers.Dense(num_classes, activation="softmax", name=PROBABILITY_LAYER)(x)
    return keras.Model(inputs, outputs, name=name)

"""Atrous Spatial Pyramid Pooling (DeepLabV3, Chen et al. 2017)."""
import keras

from keras_segen.layers.conv_blocks import conv_norm_act
from keras_segen.layers.resize import ResizeToReference


def atrous_spatial_pyramid_pooling(
    x, *, filters=256, rates=(6, 12, 18), dropout=0.1, normalization="batch", name="aspp"
):
    """ASPP over feature map ``x``: a 1x1 branch, one 3x3 branch per atrous rate, and an
    image-pooling branch, concatenated and projected to ``filters`` channels.

    The image-pooling branch averages over the whole map, then is broadcast back with a
    resize to ``x``'s run-time size, so the block works at unknown spatial sizes.
    """
    if not rates or any(int(r) != r or r < 1 for r in rates):
        raise ValueError(f"ASPP rates must be a non-empty list of positive ints, got {rates!r}")
    branches = [conv_norm_act(x, filters, 1, name=f"{name}_1x1", normalization=normalization)]
    for rate in rates:
        branches.append(
            conv_norm_act(
                x,
                filters,
                3,
                dilation_rate=int(rate),
                name=f"{name}_rate{int(rate)}",
                normalization=normalization,
            )
        )
    pooled = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_image_pool")(x)
    pooled = conv_norm_act(
        pooled, filters, 1, name=f"{name}_image_pool_proj", normalization=normalization
    )
    pooled = ResizeToReference(name=f"{name}_image_pool_resize")([pooled, x])
    branches.append(pooled)

    y = keras.layers.Concatenate(name=f"{name}_concat")(branches)
    y = conv_norm_act(y, filters, 1, name=f"{name}_project", normalization=normalization)
    if dropout:
        y = keras.layers.Dropout(dropout, name=f"{name}_dropout")(y)
    return y

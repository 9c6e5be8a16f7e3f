"""SegFormer (Xie et al., NeurIPS 2021): a Mix Transformer encoder (overlapping patch
embeddings, spatial-reduction attention, Mix-FFN; no positional encoding, so any input
size) and an all-MLP decoder."""
import numbers

import keras

from keras_segen.layers import ResizeToReference, float32_logits
from keras_segen.layers.mix_transformer import MixTransformerBlock, OverlapPatchEmbedding
from keras_segen.registry import register_architecture
from keras_segen.segmentation._arguments import (
    check_choice,
    check_input_shape,
    check_num_classes,
    check_positive_int,
    check_rate,
)

# The paper's MiT-B0 and MiT-B1 (Table 6 of the appendix); mlp_ratio 4 and decoder 256.
SEGFORMER_VARIANTS = {
    "b0": dict(embed_dims=(32, 64, 160, 256), depths=(2, 2, 2, 2), num_heads=(1, 2, 5, 8),
               sr_ratios=(8, 4, 2, 1)),
    "b1": dict(embed_dims=(64, 128, 320, 512), depths=(2, 2, 2, 2), num_heads=(1, 2, 5, 8),
               sr_ratios=(8, 4, 2, 1)),
}
# Mean and standard deviation of ImageNet RGB in [0, 1], SegFormer's input normalization.
_RGB_MEAN = (0.485, 0.456, 0.406)
_RGB_STD = (0.229, 0.224, 0.225)


@register_architecture("segformer", task="segmentation")
def segformer(
    *,
    input_shape=(None, None, 3),
    num_classes,
    variant="b0",
    embed_dims=None,
    depths=None,
    num_heads=None,
    sr_ratios=None,
    mlp_ratio=4,
    decoder_dim=256,
    drop_path_rate=0.1,
    dropout=0.1,
    name="segformer",
):
    """SegFormer: logits ``[N, H, W, num_classes]`` at the input size, for any input size.

    Args:
        variant: "b0" or "b1"; the per-stage sequences below default to its values.
        embed_dims, depths, num_heads, sr_ratios: one int per stage (all the same length).
            Stage 1 embeds 7x7 patches with stride 4, later stages 3x3 with stride 2.
        mlp_ratio: Mix-FFN hidden width over the stage width.
        decoder_dim: width of the all-MLP decoder (256 for B0/B1 in the paper).
        drop_path_rate: stochastic depth, rising linearly from 0 to this over the blocks.
        dropout: dropout before the classifier (0.1 in the paper).

    Inputs are RGB in [0, 1], normalized inside the model with ImageNet's mean and std as
    in the paper (other channel counts: mean 0.5, std 0.25 per channel).
    """
    where = "segformer"
    input_shape = check_input_shape(input_shape, where)
    num_classes = check_num_classes(num_classes, where)
    check_choice(variant, tuple(SEGFORMER_VARIANTS), "variant", where)
    stages = _stages(SEGFORMER_VARIANTS[variant], where, embed_dims=embed_dims,
                     depths=depths, num_heads=num_heads, sr_ratios=sr_ratios)
    if (isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, numbers.Real)
            or not mlp_ratio > 0):
        raise ValueError(f"{where}: mlp_ratio must be a number > 0, got {mlp_ratio!r}")
    decoder_dim = check_positive_int(decoder_dim, "decoder_dim", where)
    drop_path_rate = check_rate(drop_path_rate, "drop_path_rate", where)
    dropout = check_rate(dropout, "dropout", where)

    inputs = keras.Input(shape=input_shape, name="images")
    channels = input_shape[-1]
    mean, std = (_RGB_MEAN, _RGB_STD) if channels == 3 else ((0.5,) * channels, (0.25,) * channels)
    x = keras.layers.Normalization(mean=mean, variance=[s * s for s in std], dtype="float32",
                                   name="normalize")(inputs)
    total_blocks = sum(stage[1] for stage in stages)
    block_index = 0
    features = []
    for stage, (dim, depth, heads, sr) in enumerate(stages, start=1):
        patch, stride = (7, 4) if stage == 1 else (3, 2)
        x = OverlapPatchEmbedding(dim, patch, stride, name=f"stage{stage}_embed")(x)
        for block in range(depth):
            # Stochastic depth grows linearly with depth (0 at the first block).
            rate = drop_path_rate * block_index / max(total_blocks - 1, 1)
            x = MixTransformerBlock(dim, heads, sr, mlp_ratio, drop_path=rate,
                                    name=f"stage{stage}_block{block + 1}")(x)
            block_index += 1
        x = keras.layers.LayerNormalization(epsilon=1e-6, name=f"stage{stage}_norm")(x)
        features.append(x)

    # All-MLP decoder: per-stage linear to decoder_dim, up to 1/4, concat, fuse, classify.
    quarter = features[0]
    projected = []
    for stage, feature in enumerate(features, start=1):
        y = keras.layers.Dense(decoder_dim, name=f"decoder_linear{stage}")(feature)
        if stage > 1:
            y = ResizeToReference(name=f"decoder_up{stage}")([y, quarter])
        projected.append(y)
    y = keras.layers.Concatenate(name="decoder_concat")(projected[::-1])  # deepest first
    y = keras.layers.Conv2D(decoder_dim, 1, use_bias=False, name="decoder_fuse")(y)
    y = keras.layers.BatchNormalization(name="decoder_fuse_bn")(y)
    y = keras.layers.ReLU(name="decoder_fuse_relu")(y)
    if dropout:
        y = keras.layers.Dropout(dropout, name="decoder_dropout")(y)
    y = keras.layers.Conv2D(num_classes, 1, name="classifier")(y)
    y = ResizeToReference(name="upsample_to_input")([y, inputs])
    return keras.Model(inputs, float32_logits(y), name=name)


def _stages(defaults, where, **given):
    """(dim, depth, heads, sr) per stage from the variant's values and explicit ones."""
    values = {}
    for argument, value in given.items():
        value = defaults[argument] if value is None else value
        try:
            value = tuple(value)
        except TypeError:
            raise ValueError(
                f"{where}: {argument} must be a sequence of ints, got {value!r}") from None
        if not value:
            raise ValueError(f"{where}: {argument} must not be empty")
        values[argument] = tuple(check_positive_int(v, f"every {argument} entry", where)
                                 for v in value)
    lengths = {argument: len(value) for argument, value in values.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"{where}: embed_dims, depths, num_heads and sr_ratios must have "
                         f"one entry per stage, got lengths {lengths}")
    stages = list(zip(values["embed_dims"], values["depths"], values["num_heads"],
                      values["sr_ratios"]))
    for stage, (dim, _, heads, _) in enumerate(stages, start=1):
        if dim % heads:
            raise ValueError(f"{where}: embed_dims[{stage - 1}]={dim} must be divisible by "
                             f"num_heads[{stage - 1}]={heads}")
    return stages

"""SegFormer and its Mix Transformer layers: any input size, the paper's sizes, attention
with spatial reduction against a numpy reference, stochastic depth, argument checks.
Build, config, saving, mixed precision, mirrored and export: tests/test_architectures.py."""
import numpy as np
import pytest

import keras
import keras_segen
from keras_segen.layers.mix_transformer import (
    DropPath,
    EfficientSelfAttention,
    MixTransformerBlock,
    OverlapPatchEmbedding,
)

# Four stages as in B0 (sr 8, 4, 2, 1), at a width that runs in milliseconds.
TINY = dict(embed_dims=(8, 16, 24, 32), depths=(1, 1, 1, 1), num_heads=(1, 2, 3, 4),
            decoder_dim=8, drop_path_rate=0.1, dropout=0.1)


@pytest.fixture(scope="module")
def tiny():
    return keras_segen.build("segformer", num_classes=3, **TINY)


@pytest.mark.parametrize("size", [(48, 80), (64, 64), (96, 128), (33, 19), (7, 5)])
def test_logits_at_the_input_size_for_any_size(tiny, size):
    images = np.random.default_rng(0).random((2, *size, 3), dtype=np.float32)
    logits = tiny(images, training=False)
    assert tuple(logits.shape) == (2, *size, 3) and logits.dtype == "float32"
    assert np.isfinite(logits.numpy()).all()


def test_one_traced_function_serves_every_size(tiny):
    # What export and predict do: one graph with unknown height and width.
    import tensorflow as tf

    spec = tf.TensorSpec((None, None, None, 3), tf.float32)
    function = tf.function(lambda x: tiny(x, training=False), input_signature=[spec])
    for size in ((40, 56), (200, 152)):
        assert tuple(function(tf.zeros((1, *size, 3))).shape) == (1, *size, 3)


def test_stage_strides_are_4_8_16_32(tiny):
    norms = [tiny.get_layer(f"stage{i}_norm").output for i in (1, 2, 3, 4)]
    stages = keras.Model(tiny.input, norms)
    outputs = stages(np.zeros((1, 96, 128, 3), np.float32))
    assert [tuple(o.shape[1:]) for o in outputs] == [(24, 32, 8), (12, 16, 16), (6, 8, 24),
                                                      (3, 4, 32)]
    embed = OverlapPatchEmbedding(4, 7, 4)
    assert tuple(embed(np.zeros((1, 33, 19, 3), np.float32)).shape) == (1, 9, 5, 4)  # ceil


@pytest.mark.parametrize("variant, encoder, total", [("b0", 3.4e6, 3.8e6), ("b1", 13.1e6, 13.7e6)])
def test_variants_have_the_papers_parameter_counts(variant, encoder, total):
    # Xie et al. 2021, Table 1 (ADE20K, 150 classes): MiT encoder and whole model.
    model = keras_segen.build("segformer", num_classes=150, variant=variant)
    encoder_params = sum(layer.count_params() for layer in model.layers
                         if layer.name.startswith("stage"))
    assert encoder_params == pytest.approx(encoder, rel=0.03)
    assert model.count_params() == pytest.approx(total, rel=0.03)
    embed = model.get_layer("stage1_embed")
    assert (embed.patch_size, embed.stride, embed.filters) == (7, 4, 32 if variant == "b0" else 64)
    assert model.get_layer("stage1_block1").attention.sr_ratio == 8
    assert model.get_layer("stage4_block2").attention.num_heads == 8


def test_explicit_stage_values_override_the_variant():
    model = keras_segen.build("segformer", num_classes=3, variant="b1", depths=(1, 1, 1, 1),
                              decoder_dim=16)
    blocks = [layer.name for layer in model.layers if "_block" in layer.name]
    assert blocks == [f"stage{i}_block1" for i in (1, 2, 3, 4)]
    assert model.get_layer("stage4_block1").dim == 512  # b1's width kept
    assert model.get_layer("decoder_fuse").filters == 16


def _layer_norm(x, eps):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)  # gamma 1, beta 0 at initialisation


def _reference_attention(x, layer):
    """numpy: queries from every pixel, keys/values from the sr-strided conv + LN."""
    (wq, bq), (wk, bk), (wv, bv), (wp, bp) = (
        [np.asarray(w) for w in sub.weights] for sub in (layer.query, layer.key, layer.value,
                                                         layer.proj))
    kernel, bias = (np.asarray(w) for w in layer.reduce.weights)
    sr, (_, h, w, c) = layer.sr_ratio, x.shape
    rh, rw = -(-h // sr), -(-w // sr)  # "same": ceil, zero padding at the bottom/right
    padded = np.zeros((1, rh * sr, rw * sr, c), np.float64)
    padded[:, :h, :w] = x
    reduced = np.einsum("bipjqc,pqcd->bijd", padded.reshape(1, rh, sr, rw, sr, c), kernel) + bias
    context = _layer_norm(reduced.reshape(1, rh * rw, c), layer.epsilon)
    tokens, heads, d = x.reshape(1, h * w, c), layer.num_heads, c // layer.num_heads
    q = (tokens @ wq + bq).reshape(h * w, heads, d).transpose(1, 0, 2)
    k = (context @ wk + bk).reshape(rh * rw, heads, d).transpose(1, 0, 2)
    v = (context @ wv + bv).reshape(rh * rw, heads, d).transpose(1, 0, 2)
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = (weights @ v).transpose(1, 0, 2).reshape(h * w, c)
    return (out @ wp + bp).reshape(1, h, w, c)


def test_spatial_reduction_attention_equals_a_numpy_reference():
    keras.utils.set_random_seed(1)
    layer = EfficientSelfAttention(dim=4, num_heads=2, sr_ratio=2)
    x = np.random.default_rng(1).normal(size=(1, 5, 7, 4)).astype(np.float32)  # odd: padded
    out = layer(x).numpy()
    assert layer.reduce.strides == (2, 2) and tuple(layer.reduce.kernel_size) == (2, 2)
    np.testing.assert_allclose(out, _reference_attention(x.astype(np.float64), layer),
                               rtol=1e-4, atol=1e-5)


def test_sr_1_is_plain_multi_head_attention():
    layer = EfficientSelfAttention(dim=4, num_heads=2, sr_ratio=1)
    x = np.random.default_rng(2).normal(size=(2, 3, 5, 4)).astype(np.float32)
    out = layer(x).numpy()
    assert layer.reduce is None
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=2)
    tokens = x.reshape(2, 15, 4)
    mha(tokens, tokens)
    (wq, bq), (wk, bk), (wv, bv), (wp, bp) = (
        [np.asarray(w) for w in sub.weights] for sub in (layer.query, layer.key, layer.value,
                                                         layer.proj))
    mha.set_weights([wq.reshape(4, 2, 2), bq.reshape(2, 2), wk.reshape(4, 2, 2), bk.reshape(2, 2),
                     wv.reshape(4, 2, 2), bv.reshape(2, 2), wp.reshape(2, 2, 4), bp])
    np.testing.assert_allclose(out.reshape(2, 15, 4), mha(tokens, tokens).numpy(), atol=1e-5)


def test_drop_path_drops_whole_samples_in_training_only():
    layer = DropPath(0.5, seed=0)
    x = np.ones((256, 3, 3, 2), np.float32)
    np.testing.assert_array_equal(layer(x, training=False), x)
    out = layer(x, training=True).numpy()
    per_sample = out.reshape(256, -1)
    assert set(np.unique(per_sample)) == {0.0, 2.0}  # kept samples scaled by 1 / (1 - rate)
    assert (per_sample == per_sample[:, :1]).all()  # one decision per sample
    assert 0.35 < (per_sample[:, 0] == 0).mean() < 0.65


def test_block_with_drop_path_is_deterministic_and_unchanged_at_inference():
    x = np.random.default_rng(3).normal(size=(4, 6, 5, 8)).astype(np.float32)
    plain = MixTransformerBlock(8, 2, sr_ratio=2, drop_path=0.0)
    dropped = MixTransformerBlock(8, 2, sr_ratio=2, drop_path=0.9, seed=0)
    plain(x), dropped(x)
    for name in ("norm1", "attention", "norm2", "ffn"):
        getattr(dropped, name).set_weights(getattr(plain, name).get_weights())
    expected = plain(x, training=False).numpy()
    np.testing.assert_allclose(dropped(x, training=False).numpy(), expected, atol=1e-6)
    assert not np.allclose(dropped(x, training=True).numpy(), expected, atol=1e-3)


def test_whole_model_is_deterministic_at_inference(tiny):
    x = np.random.default_rng(4).random((2, 32, 32, 3), dtype=np.float32)
    np.testing.assert_array_equal(tiny(x, training=False), tiny(x, training=False))
    assert not np.allclose(tiny(x, training=True), tiny(x, training=False))
    rates = [tiny.get_layer(f"stage{i}_block1").drop_path for i in (1, 2, 3, 4)]
    np.testing.assert_allclose(rates, [0.0, 0.1 / 3, 0.2 / 3, 0.1])  # linear in depth


def test_layers_round_trip_their_config():
    for layer in (OverlapPatchEmbedding(8, 3, 2), EfficientSelfAttention(8, 2, 4, 0.1, 0.1),
                  MixTransformerBlock(8, 2, 2, 3, drop_path=0.2, dropout=0.1, seed=5)):
        rebuilt = type(layer).from_config(layer.get_config())
        assert rebuilt.get_config() == layer.get_config()


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1}, "num_classes must be >= 2"),
    ({"num_classes": 3, "input_shape": (32, 32)}, "rank 3"),
    ({"num_classes": 3, "variant": "b7"}, r"variant must be one of \('b0', 'b1'\)"),
    ({"num_classes": 3, "embed_dims": (32, 64)}, "one entry per stage, got lengths"),
    ({"num_classes": 3, "depths": 2}, "depths must be a sequence of ints"),
    ({"num_classes": 3, "num_heads": ()}, "num_heads must not be empty"),
    ({"num_classes": 3, "sr_ratios": (8, 4, 0, 1)}, "every sr_ratios entry must be an int >= 1"),
    ({"num_classes": 3, "num_heads": (1, 3, 5, 8)}, r"embed_dims\[1\]=64 must be divisible by "
                                                    r"num_heads\[1\]=3"),
    ({"num_classes": 3, "mlp_ratio": 0}, "mlp_ratio must be a number > 0"),
    ({"num_classes": 3, "decoder_dim": 0}, "decoder_dim must be an int >= 1"),
    ({"num_classes": 3, "drop_path_rate": 1.0}, r"drop_path_rate must be a number in \[0, 1\)"),
    ({"num_classes": 3, "dropout": -0.1}, r"dropout must be a number in \[0, 1\)"),
])
def test_bad_arguments_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=f"^segformer: .*{message}") as error:
        keras_segen.build("segformer", **kwargs)
    assert "\n" not in str(error.value)

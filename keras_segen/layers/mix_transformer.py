"""Mix Transformer (MiT) blocks of SegFormer (Xie et al., NeurIPS 2021).

Every layer here takes and returns NHWC feature maps, not token sequences: Dense and
LayerNormalization act on the last axis either way, Mix-FFN's depthwise conv needs the
map, and only the attention flattens (from the run-time shape), so any input size works.
"""
import math

import keras
import tensorflow as tf


def _sublayer_kwargs(layer):
    # Sublayers follow the parent's dtype policy (mixed_bfloat16 included).
    return {"dtype": layer.dtype_policy}


@keras.saving.register_keras_serializable(package="keras_segen")
class OverlapPatchEmbedding(keras.layers.Layer):
    """Overlapping patches: a ``patch_size`` conv with stride ``stride`` and zero padding
    ``patch_size // 2`` (the paper's k7/s4 for stage 1, k3/s2 after), then LayerNorm.
    An input of size s gives ceil(s / stride)."""

    def __init__(self, filters, patch_size=7, stride=4, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.patch_size = int(patch_size)
        self.stride = int(stride)
        self.epsilon = float(epsilon)
        common = _sublayer_kwargs(self)
        self.pad = keras.layers.ZeroPadding2D(self.patch_size // 2, **common)
        self.proj = keras.layers.Conv2D(self.filters, self.patch_size, strides=self.stride,
                                        padding="valid", name="proj", **common)
        self.norm = keras.layers.LayerNormalization(epsilon=self.epsilon, name="norm", **common)

    def build(self, input_shape):
        padded = self.pad.compute_output_shape(input_shape)
        self.proj.build(padded)
        self.norm.build(self.proj.compute_output_shape(padded))

    def call(self, inputs):
        return self.norm(self.proj(self.pad(inputs)))

    def compute_output_shape(self, input_shape):
        return self.proj.compute_output_shape(self.pad.compute_output_shape(input_shape))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "patch_size": self.patch_size, "stride": self.stride, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_segen")
class EfficientSelfAttention(keras.layers.Layer):
    """Multi-head self-attention whose keys and values come from the map shrunk by a
    ``sr_ratio`` x ``sr_ratio`` strided conv + LayerNorm (cost N^2 / sr^2); sr 1 is plain
    attention. The reduction conv pads "same" (ceil, not the paper's floor) so that maps
    smaller than ``sr_ratio`` (a 33-px input at stage 1) still give one key."""

    def __init__(self, dim, num_heads, sr_ratio=1, attention_dropout=0.0,
                 projection_dropout=0.0, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.num_heads, self.sr_ratio = int(dim), int(num_heads), int(sr_ratio)
        if self.dim % self.num_heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by num_heads ({self.num_heads})")
        self.attention_dropout = float(attention_dropout)
        self.projection_dropout = float(projection_dropout)
        self.epsilon = float(epsilon)
        common = _sublayer_kwargs(self)
        self.query = keras.layers.Dense(self.dim, name="query", **common)
        self.key = keras.layers.Dense(self.dim, name="key", **common)
        self.value = keras.layers.Dense(self.dim, name="value", **common)
        self.proj = keras.layers.Dense(self.dim, name="proj", **common)
        self.reduce = self.reduce_norm = None
        if self.sr_ratio > 1:
            self.reduce = keras.layers.Conv2D(self.dim, self.sr_ratio, strides=self.sr_ratio,
                                              padding="same", name="reduce", **common)
            self.reduce_norm = keras.layers.LayerNormalization(
                epsilon=self.epsilon, name="reduce_norm", **common)
        # Dropout layers only where they act: a rate-0 Dropout still adds a seed state.
        self.attention_drop = (keras.layers.Dropout(self.attention_dropout, **common)
                               if self.attention_dropout else None)
        self.proj_drop = (keras.layers.Dropout(self.projection_dropout, **common)
                          if self.projection_dropout else None)

    def build(self, input_shape):
        for layer in (self.query, self.key, self.value, self.proj):
            layer.build(input_shape)
        if self.reduce is not None:
            self.reduce.build(input_shape)
            self.reduce_norm.build(self.reduce.compute_output_shape(input_shape))

    def _heads(self, x):
        # [B, h, w, C] -> [B, heads, h*w, C / heads], from the run-time shape.
        shape = tf.shape(x)
        x = tf.reshape(x, [shape[0], shape[1] * shape[2], self.num_heads,
                           self.dim // self.num_heads])
        return tf.transpose(x, [0, 2, 1, 3])

    def call(self, inputs, training=None):
        shape = tf.shape(inputs)
        query = self._heads(self.query(inputs))
        context = inputs
        if self.reduce is not None:
            context = self.reduce_norm(self.reduce(inputs))
        key, value = self._heads(self.key(context)), self._heads(self.value(context))
        scale = (self.dim // self.num_heads) ** -0.5
        scores = tf.matmul(query, key, transpose_b=True) * tf.cast(scale, query.dtype)
        # Softmax in float32: bfloat16 sums over thousands of keys lose the small weights.
        weights = tf.cast(tf.nn.softmax(tf.cast(scores, tf.float32), axis=-1), value.dtype)
        if self.attention_drop is not None:
            weights = self.attention_drop(weights, training=training)
        out = tf.transpose(tf.matmul(weights, value), [0, 2, 1, 3])
        out = self.proj(tf.reshape(out, [shape[0], shape[1], shape[2], self.dim]))
        if self.proj_drop is not None:
            out = self.proj_drop(out, training=training)
        return out

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_heads": self.num_heads,
                "sr_ratio": self.sr_ratio, "attention_dropout": self.attention_dropout,
                "projection_dropout": self.projection_dropout, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_segen")
class MixFFN(keras.layers.Layer):
    """Dense -> 3x3 depthwise conv -> GELU -> Dense: the depthwise conv leaks position
    into the tokens, which is why MiT needs no positional encoding."""

    def __init__(self, dim, hidden_dim, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.hidden_dim, self.dropout = int(dim), int(hidden_dim), float(dropout)
        common = _sublayer_kwargs(self)
        self.fc1 = keras.layers.Dense(self.hidden_dim, name="fc1", **common)
        self.dwconv = keras.layers.DepthwiseConv2D(3, padding="same", name="dwconv", **common)
        self.fc2 = keras.layers.Dense(self.dim, name="fc2", **common)
        self.drop = keras.layers.Dropout(self.dropout, **common) if self.dropout else None

    def build(self, input_shape):
        self.fc1.build(input_shape)
        hidden = (*input_shape[:-1], self.hidden_dim)
        self.dwconv.build(hidden)
        self.fc2.build(hidden)

    def call(self, inputs, training=None):
        # Exact (erf) GELU, as torch.nn.GELU in the reference implementation.
        x = keras.activations.gelu(self.dwconv(self.fc1(inputs)), approximate=False)
        if self.drop is not None:
            x = self.drop(x, training=training)
        x = self.fc2(x)
        if self.drop is not None:
            x = self.drop(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "hidden_dim": self.hidden_dim,
                "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="keras_segen")
class DropPath(keras.layers.Layer):
    """Stochastic depth: in training, zero a residual branch for a random ``rate`` of the
    samples and scale the rest by 1 / (1 - rate); the identity at inference."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        if not 0 <= self.rate < 1:
            raise ValueError(f"DropPath rate must be in [0, 1), got {rate!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        shape = tf.concat([tf.shape(inputs)[:1], tf.ones([tf.rank(inputs) - 1], tf.int32)], 0)
        mask = keras.random.uniform(shape, seed=self.seed_generator) < keep
        return inputs * tf.cast(mask, inputs.dtype) / tf.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_segen")
class MixTransformerBlock(keras.layers.Layer):
    """Pre-norm block: x + DropPath(Attention(LN(x))), then x + DropPath(MixFFN(LN(x)))."""

    def __init__(self, dim, num_heads, sr_ratio=1, mlp_ratio=4, drop_path=0.0, dropout=0.0,
                 epsilon=1e-6, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.num_heads, self.sr_ratio = int(dim), int(num_heads), int(sr_ratio)
        self.mlp_ratio, self.drop_path = mlp_ratio, float(drop_path)
        self.dropout, self.epsilon, self.seed = float(dropout), float(epsilon), seed
        common = _sublayer_kwargs(self)
        self.norm1 = keras.layers.LayerNormalization(epsilon=self.epsilon, name="norm1", **common)
        self.attention = EfficientSelfAttention(
            self.dim, self.num_heads, self.sr_ratio, projection_dropout=self.dropout,
            name="attention", **common)
        self.norm2 = keras.layers.LayerNormalization(epsilon=self.epsilon, name="norm2", **common)
        self.ffn = MixFFN(self.dim, int(math.ceil(self.dim * mlp_ratio)), self.dropout,
                          name="ffn", **common)
        self.drop = (DropPath(self.drop_path, seed=seed, name="drop_path", **common)
                     if self.drop_path else None)

    def build(self, input_shape):
        for layer in (self.norm1, self.attention, self.norm2, self.ffn):
            layer.build(input_shape)

    def _branch(self, x, training):
        return x if self.drop is None else self.drop(x, training=training)

    def call(self, inputs, training=None):
        x = inputs + self._branch(self.attention(self.norm1(inputs), training=training),
                                  training)
        return x + self._branch(self.ffn(self.norm2(x), training=training), training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_heads": self.num_heads,
                "sr_ratio": self.sr_ratio, "mlp_ratio": self.mlp_ratio,
                "drop_path": self.drop_path, "dropout": self.dropout,
                "epsilon": self.epsilon, "seed": self.seed}

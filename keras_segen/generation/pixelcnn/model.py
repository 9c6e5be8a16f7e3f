"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders"): an autoregressive likelihood model of images, trained through ``model.fit``.

``build("pixelcnn", image_shape=(H, W, C), num_classes=0, filters=64, num_layers=7,
output="categorical256"|"logistic_mixture", mixture_components=5, kernel_size=3,
input_kernel_size=7, seed=0)``: ``PixelCNNInput`` (mask A), ``num_layers`` gated blocks
with vertical and horizontal stacks (layers in masked_conv.py), ``PixelCNNHead``; one
functional ``network``: images in [-1, 1] (+ labels) -> distribution parameters
``[N, H, W, C, P]`` (distributions.py).

* **Data**: images in [0, 1], quantized to 256 levels (``round(x * 255)``); a batch is
  ``images`` or ``(images, labels)``. ``call`` gives the parameters; ``log_prob``,
  ``bits_per_dim`` the likelihoods per image.
* **Loss** (``train_step`` / ``test_step``): the negative log-likelihood in nats per
  sub-pixel (pixel x channel), logged as ``loss``, and ``bits_per_dim`` (= loss / ln 2);
  under ``tf.distribute`` the gradient is scaled by ``scale_for_distribution`` and the
  trackers are weighted by the local batch, so both are global-batch values.
* **Sampling** (``generate(n, *, seed, labels=None, temperature=1.0)``): one uniform
  number per sub-pixel, ``stateless_uniform((n, H, W, C), sampling_seed(seed))``, turns
  each tempered distribution ``p^(1/T)`` into a value by inverse CDF. Images depend on
  ``seed`` only, not on the batch size (up to float rounding), and the first ``k`` of
  ``generate(n)`` are ``generate(k)``; serving's ``sample`` draws the same noise.
  ``sample_from_noise`` is one ``tf.while_loop`` over rows, colour channels and columns
  (no per-pixel Python): per row it runs the vertical stack once on the rows the row's
  pixels can see (``vertical_reach`` rows above; exact, not an approximation), and per
  sub-pixel only the horizontal stack on that one row -- the same layers as ``call``,
  about H times cheaper than re-running the network on the whole canvas.
"""
import math
import numbers

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_segen.generation.base import SingleOptimizerModel, positive_int, sampling_seed
from keras_segen.generation.pixelcnn import distributions
from keras_segen.generation.pixelcnn.masked_conv import (
    GatedPixelCNNBlock,
    PixelCNNHead,
    PixelCNNInput,
)
from keras_segen.progress import progress_bar
from keras_segen.registry import register_architecture

LN2 = math.log(2.0)


def _int_arg(value, what, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _odd_arg(value, what):
    value = _int_arg(value, what, 1)
    if value % 2 == 0:
        raise ValueError(f"{what} must be odd, got {value}")
    return value


def check_image_shape(image_shape):
    if isinstance(image_shape, (str, bytes)) or len(tuple(image_shape)) != 3 or any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
        for d in image_shape
    ):
        raise ValueError(f"image_shape must be (H, W, C) of positive ints, got {image_shape!r}")
    return tuple(int(d) for d in image_shape)


def build_network(image_shape, *, num_classes, filters, num_layers, params_per_channel,
                  kernel_size, input_kernel_size, seed, name="network"):
    """Functional network: ``images [N, H, W, C]`` in [-1, 1] (+ ``labels [N]``) ->
    parameters ``[N, H, W, C, P]`` float32."""
    channels = image_shape[-1]

    def layer_seed(index):
        return None if seed is None else int(seed) * 1000 + 10 * index

    images = keras.Input(image_shape, name="images")
    inputs = [images]
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
    v, h = PixelCNNInput(filters, input_kernel_size, channels, seed=layer_seed(0),
                         name="input_layer")(images)
    for index in range(1, num_layers + 1):
        block = GatedPixelCNNBlock(filters, kernel_size, channels, num_classes,
                                   seed=layer_seed(index), name=f"gated_block_{index}")
        v, h = block([v, h, labels] if num_classes else [v, h])
    params = PixelCNNHead(filters, params_per_channel, channels,
                          seed=layer_seed(num_layers + 1), name="head")(h)
    return keras.Model(inputs if num_classes else images, params, name=name)


@keras.saving.register_keras_serializable(package="keras_segen")
class PixelCNN(SingleOptimizerModel):
    """Gated PixelCNN; see the module docstring. Built from its builder kwargs (which
    are its config)."""

    KIND = "autoregressive"

    def __init__(self, image_shape=(28, 28, 1), *, num_classes=0, filters=64, num_layers=7,
                 output="categorical256", mixture_components=5, kernel_size=3,
                 input_kernel_size=7, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        channels = self.image_shape[-1]
        self.num_classes = _int_arg(num_classes, "num_classes", 0)
        if self.num_classes == 1:
            raise ValueError("num_classes must be 0 (unconditional) or >= 2, got 1")
        self.filters = _int_arg(filters, "filters", 1)
        if self.filters % channels:
            raise ValueError(f"filters must be a multiple of the {channels} image channels "
                             f"(each channel's features are a colour group), got {filters}")
        self.num_layers = _int_arg(num_layers, "num_layers", 0)
        if output not in distributions.OUTPUTS:
            raise ValueError(f"output must be one of {distributions.OUTPUTS}, got {output!r}")
        self.output_distribution = output
        self.mixture_components = _int_arg(mixture_components, "mixture_components", 1)
        self.kernel_size = _odd_arg(kernel_size, "kernel_size")
        self.input_kernel_size = _odd_arg(input_kernel_size, "input_kernel_size")
        if seed is not None:
            seed = _int_arg(seed, "seed", 0)
        self.seed = seed
        self.params_per_channel = distributions.params_per_channel(output, mixture_components)
        self.network = build_network(
            self.image_shape, num_classes=self.num_classes, filters=self.filters,
            num_layers=self.num_layers, params_per_channel=self.params_per_channel,
            kernel_size=self.kernel_size, input_kernel_size=self.input_kernel_size,
            seed=seed, name=f"{self.name}_network")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bits_tracker = keras.metrics.Mean(name="bits_per_dim")
        self._sampler = None
        # The network is functional and holds every weight: built from the start.
        self.built = True

    # --- layers the sampler calls directly ---------------------------------------------
    @property
    def input_layer(self):
        return self.network.get_layer("input_layer")

    @property
    def blocks(self):
        return [self.network.get_layer(f"gated_block_{i}")
                for i in range(1, self.num_layers + 1)]

    @property
    def head(self):
        return self.network.get_layer("head")

    @property
    def vertical_reach(self):
        """How many rows above a pixel its distribution can depend on."""
        return 1 + self.input_kernel_size // 2 + self.num_layers * (self.kernel_size // 2)

    # --- inputs ------------------------------------------------------------------------
    @staticmethod
    def quantize_images(images):
        """Images in [0, 1] -> int32 values 0..255."""
        images = ops.clip(ops.cast(images, "float32"), 0.0, 1.0)
        return ops.cast(ops.round(images * 255.0), "int32")

    @staticmethod
    def to_network(values):
        """int values 0..255 -> the network's input range [-1, 1]."""
        return ops.cast(values, "float32") / 127.5 - 1.0

    def _check_images(self, images, where):
        images = ops.convert_to_tensor(images)
        if tuple(images.shape[1:]) != self.image_shape and any(
                d is not None for d in images.shape[1:]):
            expected = ", ".join(map(str, self.image_shape))
            raise ValueError(f"{where}: expected images of shape (N, {expected}), "
                             f"got {tuple(images.shape)}")
        if not images.dtype.is_floating:
            raise TypeError(f"{where}: expected float images in [0, 1], got {images.dtype.name}")
        return images

    def _network_inputs(self, values, labels):
        x = self.to_network(values)
        return x if labels is None else [x, labels]

    def _unpack(self, data):
        if isinstance(data, (tuple, list)):
            images = data[0]
            labels = data[1] if len(data) > 1 else None
        else:
            images, labels = data, None
        return images, (labels if self.num_classes else None)

    # --- likelihoods -------------------------------------------------------------------
    def call(self, inputs, training=False):
        """``images`` (or ``[images, labels]``) in [0, 1] -> parameters ``[N, H, W, C, P]``."""
        images, labels = self._unpack(inputs)
        images = self._check_images(images, self.name)
        labels = self.prepare_labels(labels, images.shape[0], self.name)
        return self.network(self._network_inputs(self.quantize_images(images), labels),
                            training=training)

    def log_prob_per_subpixel(self, images, labels=None, training=False):
        """float32 ``[N, H, W, C]``: log p of each sub-pixel given those before it."""
        images = self._check_images(images, f"{self.name}.log_prob")
        labels = self.prepare_labels(labels, images.shape[0], f"{self.name}.log_prob")
        values = self.quantize_images(images)
        params = self.network(self._network_inputs(values, labels), training=training)
        return distributions.log_prob(params, values, self.output_distribution)

    def log_prob(self, images, labels=None):
        """float32 ``[N]``: log-likelihood of each image in nats."""
        return ops.sum(self.log_prob_per_subpixel(images, labels), axis=(1, 2, 3))

    def bits_per_dim(self, images, labels=None):
        """float32 ``[N]``: negative log-likelihood per sub-pixel in bits."""
        dims = float(np.prod(self.image_shape))
        return -self.log_prob(images, labels) / (dims * LN2)

    def nll(self, images, labels=None, training=False):
        """Mean negative log-likelihood of a batch in nats per sub-pixel."""
        return -ops.mean(self.log_prob_per_subpixel(images, labels, training=training))

    # --- training ----------------------------------------------------------------------
    def _record(self, images, nats):
        # Weighted by the local batch: the trackers' on-read sum over replicas then
        # gives the global-batch mean.
        batch = ops.cast(ops.shape(images)[0], "float32")
        self.loss_tracker.update_state(nats, sample_weight=batch)
        self.bits_tracker.update_state(nats / LN2, sample_weight=batch)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        images, labels = self._unpack(data)
        with tf.GradientTape() as tape:
            nats = self.nll(images, labels, training=True)
            total = nats
            if self.losses:
                total = total + ops.cast(ops.sum(self.losses), "float32")
            # The optimizer sums gradients over replicas: scale to get their mean.
            scaled = self.optimizer.scale_loss(self.scale_for_distribution(total))
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return self._record(images, nats)

    def test_step(self, data):
        images, labels = self._unpack(data)
        return self._record(images, self.nll(images, labels, training=False))

    def predict_step(self, data):
        # predict(images) -> bits per dim of each image.
        inputs, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        images, labels = self._unpack(inputs)
        return self.bits_per_dim(images, labels)

    @property
    def metrics(self):
        return [self.loss_tracker, self.bits_tracker]

    # --- sampling ----------------------------------------------------------------------
    def sampling_noise(self, num_images, seed):
        """The uniform numbers ``[N, H, W, C]`` of ``generate(num_images, seed=seed)``."""
        shape = tf.stack([tf.cast(num_images, tf.int32), *self.image_shape]) \
            if tf.is_tensor(num_images) else (positive_int(num_images, "num_images"),
                                               *self.image_shape)
        return tf.random.stateless_uniform(shape, seed=sampling_seed(seed), dtype=tf.float32)

    def sample_from_noise(self, noise, labels=None, temperature=1.0, return_log_probs=False):
        """Images (int32 values 0..255, ``[N, H, W, C]``) from uniform ``noise`` of that
        shape; graph-friendly (one ``tf.while_loop``; see the module docstring).

        ``return_log_probs``: also the tempered log-probabilities ``[N, H, W, C, 256]``
        each sub-pixel was drawn from (tests: they must equal the network's on the image).
        """
        height, width, channels = self.image_shape
        noise = tf.convert_to_tensor(noise, tf.float32)
        temperature = tf.cast(temperature, tf.float32)
        batch = tf.shape(noise)[0]
        crop = min(height, self.vertical_reach + 1)
        input_layer, blocks, head = self.input_layer, self.blocks, self.head
        lp_shape = tf.stack([batch, height, width, channels, distributions.NUM_VALUES])

        def links_of_row(canvas, i):
            # Every link row i reads lies within `crop` rows ending at row i.
            start = tf.maximum(0, i - (crop - 1))
            window = tf.slice(canvas, [0, start, 0, 0], [-1, crop, -1, -1])
            v, link = input_layer.vertical_step(self.to_network(window))
            links = [link]
            for block in blocks:
                v, link = block.vertical_step(v, labels)
                links.append(link)
            row = i - start
            return [tf.gather(link, [row], axis=1) for link in links]

        def draw(row, links, j, c, u):
            x = self.to_network(row)
            h = input_layer.horizontal_step(x, links[0])
            for block, link in zip(blocks, links[1:]):
                h = block.horizontal_step(h, link, labels)
            params = head(h)[:, 0, j, c]  # [N, P]
            log_probs = tf.nn.log_softmax(
                distributions.bin_log_probs(params, self.output_distribution) / temperature)
            cdf = tf.cumsum(tf.exp(log_probs), axis=-1)
            value = tf.reduce_sum(tf.cast(cdf < u[:, None] * cdf[:, -1:], tf.int32), axis=-1)
            return tf.minimum(value, distributions.NUM_VALUES - 1), log_probs

        def row_body(i, canvas, lp_canvas):
            links = links_of_row(canvas, i)

            def pixel_body(p, row, lp_row):
                j, c = p // channels, p % channels
                value, log_probs = draw(row, links, j, c, noise[:, i, j, c])
                spot = (tf.one_hot(j, width)[:, None] * tf.one_hot(c, channels)[None, :])
                row = row + spot[None, None] * tf.cast(value, tf.float32)[:, None, None, None]
                if return_log_probs:
                    lp_row = lp_row + spot[None, None, :, :, None] * log_probs[:, None, None, None]
                return p + 1, row, lp_row

            row0 = tf.zeros(tf.stack([batch, 1, width, channels]), tf.float32)
            lp_row0 = (tf.zeros(tf.stack([batch, 1, width, channels,
                                          distributions.NUM_VALUES]), tf.float32)
                       if return_log_probs else tf.zeros([]))
            _, row, lp_row = tf.while_loop(lambda p, *_: p < width * channels, pixel_body,
                                           (tf.constant(0), row0, lp_row0))
            at_row = tf.one_hot(i, height)[None, :, None, None]
            canvas = canvas + at_row * row
            if return_log_probs:
                lp_canvas = lp_canvas + at_row[..., None] * lp_row
            return i + 1, canvas, lp_canvas

        canvas0 = tf.zeros(tf.shape(noise), tf.float32)
        lp0 = tf.zeros(lp_shape, tf.float32) if return_log_probs else tf.zeros([])
        _, canvas, lp_canvas = tf.while_loop(lambda i, *_: i < height, row_body,
                                             (tf.constant(0), canvas0, lp0))
        values = tf.cast(tf.round(canvas), tf.int32)
        return (values, lp_canvas) if return_log_probs else values

    def _compiled_sampler(self):
        if self._sampler is None:
            noise = tf.TensorSpec((None, *self.image_shape), tf.float32)
            temperature = tf.TensorSpec((), tf.float32)
            if self.num_classes:
                fn = tf.function(lambda n, labels, t: self.sample_from_noise(n, labels, t),
                                 input_signature=(noise, tf.TensorSpec((None,), tf.int32),
                                                  temperature))
            else:
                fn = tf.function(lambda n, t: self.sample_from_noise(n, None, t),
                                 input_signature=(noise, temperature))
            self._sampler = fn
        return self._sampler

    def generate(self, num_images, *, seed, labels=None, batch_size=256, temperature=1.0):
        """``num_images`` samples as float32 numpy ``[N, H, W, C]`` in [0, 1] (multiples of
        1/255). Deterministic per ``seed`` (see the module docstring); ``labels`` as for
        every generative model (conditional models); ``temperature`` > 0 samples
        ``p^(1/T)`` (< 1: sharper, > 1: flatter)."""
        num_images = positive_int(num_images, "num_images")
        batch_size = positive_int(batch_size, "batch_size")
        if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) \
                or not temperature > 0 or not math.isfinite(temperature):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        labels = self.labels_to_generate(labels, num_images)
        noise = self.sampling_noise(num_images, seed)
        sampler = self._compiled_sampler()
        t = tf.constant(float(temperature), tf.float32)
        batches = []
        bar = progress_bar(num_images, "image") if num_images > batch_size else None
        for start in range(0, num_images, batch_size):
            stop = min(start + batch_size, num_images)
            args = (noise[start:stop],) + (
                (tf.constant(labels[start:stop]),) if labels is not None else ()) + (t,)
            batches.append(sampler(*args).numpy())
            if bar is not None:
                bar.add(stop - start)
        return (np.concatenate(batches, axis=0) / 255.0).astype(np.float32)

    # --- config (compile: SingleOptimizerModel) -----------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "filters": self.filters,
            "num_layers": self.num_layers,
            "output": self.output_distribution,
            "mixture_components": self.mixture_components,
            "kernel_size": self.kernel_size,
            "input_kernel_size": self.input_kernel_size,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@register_architecture("pixelcnn", task="generation", kind="autoregressive")
def pixelcnn(
    *,
    image_shape=(28, 28, 1),
    num_classes=0,
    filters=64,
    num_layers=7,
    output="categorical256",
    mixture_components=5,
    kernel_size=3,
    input_kernel_size=7,
    seed=0,
    name="pixelcnn",
):
    """Gated PixelCNN: an autoregressive likelihood model of images (bits/dim)."""
    return PixelCNN(image_shape, num_classes=num_classes, filters=filters,
                    num_layers=num_layers, output=output,
                    mixture_components=mixture_components, kernel_size=kernel_size,
                    input_kernel_size=input_kernel_size, seed=seed, name=name)

"""keras_segen ``ddim`` vs a keras.io-style DDIM, trained side by side on Fashion-MNIST at
an equal budget, in one process: parameters, training images/s and FID/KID of samples.

    python benchmarks/ddim_vs_reference.py [--steps 2000 | --seconds 600] [--eval-samples 2000]
    python benchmarks/ddim_vs_reference.py --steps 3 --eval-samples 64      # a dry run

Ours: the ``ddim_fashion_mnist`` recipe's model (discrete cosine schedule, T = 1000,
noise-prediction MSE, GroupNorm/attention U-Net at 28x28, EMA 0.999, AdamW).

The reference is our own rewrite of the architecture of the keras.io example
"Denoising Diffusion Implicit Models" (A. Béres): the noise variance's sinusoidal
embedding (32 features, frequencies 1..1000) upsampled and concatenated to a 1x1 conv of
the image at the input, down blocks of ``block_depth`` residual blocks (parameter-free
batch norm, swish) + average pooling, up blocks of bilinear upsampling + residual blocks
eating the skips, no attention, zero-initialized output conv; continuous time ``t ~
U(0, 1)`` with signal rate ``cos(angle)``, ``angle`` linear in ``t`` between
``acos(0.95)`` and ``acos(0.02)``; mean absolute error on the noise; EMA 0.999; AdamW
(lr 1e-3, weight decay 1e-4, as keras.io). Its widths are keras.io's [32, 64, 96, 128]
scaled so that its parameter count is within a few percent of ours; it needs sizes
divisible by 8, so it trains on the images padded to 32x32 with the background value
(-1) and its samples are cropped back to 28x28 for FID.

Both sample with DDIM in ``--sampling-steps`` steps from the same seeds; FID/KID are on
the zoo Fashion classifier's features against the first ``--eval-samples`` test images
(values compare with each other, not with published Inception FIDs).
"""
import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import _common  # noqa: E402

RECIPE = "ddim_fashion_mnist"
KERAS_IO_WIDTHS = (32, 64, 96, 128)
MIN_SIGNAL_RATE, MAX_SIGNAL_RATE = 0.02, 0.95
EMBEDDING_DIMS, EMBEDDING_MAX_FREQUENCY = 32, 1000.0
PADDED = 32


# --- the reference ----------------------------------------------------------------------


def _sinusoidal(variance):
    frequencies = tf.exp(tf.linspace(0.0, math.log(EMBEDDING_MAX_FREQUENCY),
                                     EMBEDDING_DIMS // 2))
    angles = 2.0 * math.pi * frequencies * variance
    return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)


def _residual(x, width):
    shortcut = x if x.shape[-1] == width else layers.Conv2D(width, 1)(x)
    x = layers.BatchNormalization(center=False, scale=False)(x)
    x = layers.Conv2D(width, 3, padding="same", activation="swish")(x)
    x = layers.Conv2D(width, 3, padding="same")(x)
    return layers.Add()([x, shortcut])


def reference_network(size, channels, widths, block_depth):
    images = keras.Input((size, size, channels))
    variances = keras.Input((1, 1, 1))
    embedding = layers.Lambda(_sinusoidal, output_shape=(1, 1, EMBEDDING_DIMS))(variances)
    embedding = layers.UpSampling2D(size, interpolation="nearest")(embedding)
    x = layers.Concatenate()([layers.Conv2D(widths[0], 1)(images), embedding])
    skips = []
    for width in widths[:-1]:
        for _ in range(block_depth):
            x = _residual(x, width)
            skips.append(x)
        x = layers.AveragePooling2D(2)(x)
    for _ in range(block_depth):
        x = _residual(x, widths[-1])
    for width in reversed(widths[:-1]):
        x = layers.UpSampling2D(2, interpolation="bilinear")(x)
        for _ in range(block_depth):
            x = _residual(layers.Concatenate()([x, skips.pop()]), width)
    outputs = layers.Conv2D(channels, 1, kernel_initializer="zeros")(x)
    return keras.Model([images, variances], outputs, name="keras_io_unet")


class ReferenceDDIM(keras.Model):
    """keras.io's continuous-time DDIM training and sampling (see the module docstring)."""

    def __init__(self, make_network, ema_decay=0.999, seed=0):
        super().__init__()
        self.network = make_network()
        self.ema_network = make_network()  # its own copy (a Lambda layer does not clone)
        self.ema_network.set_weights(self.network.get_weights())
        self.ema_decay = ema_decay
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    @staticmethod
    def rates(times):
        start, end = math.acos(MAX_SIGNAL_RATE), math.acos(MIN_SIGNAL_RATE)
        angles = start + times * (end - start)
        return tf.sin(angles), tf.cos(angles)  # noise rate, signal rate

    def train_step(self, images):
        batch = tf.shape(images)[0]
        noises = keras.random.normal(tf.shape(images), seed=self.seed_generator)
        times = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
        noise_rates, signal_rates = self.rates(times)
        noisy = signal_rates * images + noise_rates * noises
        with tf.GradientTape() as tape:
            predicted = self.network([noisy, noise_rates**2], training=True)
            loss = tf.reduce_mean(tf.abs(noises - predicted))
        gradients = tape.gradient(loss, self.network.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.network.trainable_weights))
        for ema, weight in zip(self.ema_network.weights, self.network.weights):
            ema.assign(self.ema_decay * ema + (1 - self.ema_decay) * weight)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @tf.function(reduce_retracing=True)
    def _sample(self, noise, steps):
        step_size = 1.0 / tf.cast(steps, tf.float32)
        batch = tf.shape(noise)[0]

        def body(step, x):
            times = tf.fill([batch, 1, 1, 1], 1.0 - tf.cast(step, tf.float32) * step_size)
            noise_rates, signal_rates = self.rates(times)
            noises = self.ema_network([x, noise_rates**2], training=False)
            images = (x - noise_rates * noises) / signal_rates
            next_noise, next_signal = self.rates(times - step_size)
            return step + 1, next_signal * images + next_noise * noises

        _, x = tf.while_loop(lambda step, _: step < steps, body, (0, noise),
                             shape_invariants=(tf.TensorShape([]),
                                               tf.TensorShape([None, *noise.shape[1:]])))
        # the last prediction of the clean images (keras.io returns pred_images)
        times = tf.fill([batch, 1, 1, 1], step_size)
        noise_rates, signal_rates = self.rates(times)
        return (x - noise_rates * self.ema_network([x, noise_rates**2])) / signal_rates

    def generate(self, num_images, *, seed, steps, batch_size=256):
        noise = tf.random.stateless_normal((num_images, PADDED, PADDED, 1), seed=[seed, 0])
        out = [self._sample(noise[i:i + batch_size], tf.constant(steps))
               for i in range(0, num_images, batch_size)]
        images = np.concatenate([o.numpy() for o in out])
        start = (PADDED - 28) // 2
        images = images[:, start:start + 28, start:start + 28]
        return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


def reference_for(params_target, block_depth=2):
    """keras.io's widths times one factor (rounded to multiples of 8) whose network has
    the parameter count nearest to ``params_target``."""
    best = None
    for scale in np.linspace(0.5, 1.6, 23):
        widths = tuple(max(8, int(round(w * scale / 8)) * 8) for w in KERAS_IO_WIDTHS)
        params = reference_network(PADDED, 1, widths, block_depth).count_params()
        if best is None or abs(params - params_target) < abs(best[1] - params_target):
            best = (widths, params)
    return best[0]


# --- the run ----------------------------------------------------------------------------


def _train(model, data, steps):
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, default=None, help="training steps per model")
    budget.add_argument("--seconds", type=float, default=None,
                        help="training seconds per model (chunks of --chunk steps, "
                             "alternating)")
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--eval-samples", type=int, default=2000)
    parser.add_argument("--sampling-steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="runs/benchmarks/ddim_vs_reference.json")
    args = parser.parse_args(argv)
    if args.steps is None and args.seconds is None:
        args.steps = 2000

    import keras_segen
    from keras_segen import training
    from keras_segen.datasets import fashion_mnist
    from keras_segen.evaluation.feature_models import feature_classifier
    from keras_segen.metrics.feature_distances import fid_from_features, kid_from_features

    keras.utils.set_random_seed(args.seed)
    recipe = training.load_recipe(RECIPE)
    ours = keras_segen.build("ddim", **recipe["kwargs"])
    ours.compile(keras.optimizers.AdamW(5e-4, weight_decay=1e-4))
    widths = reference_for(ours.denoiser.count_params())
    reference = ReferenceDDIM(lambda: reference_network(PADDED, 1, widths, 2), seed=args.seed)
    reference.compile(keras.optimizers.AdamW(1e-3, weight_decay=1e-4))

    train, _ = fashion_mnist.load_arrays("train_full")
    train = train[..., None].astype(np.float32) / 127.5 - 1.0
    pad = (PADDED - 28) // 2
    padded = np.pad(train, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=-1.0)
    pipelines = {
        "keras_segen": tf.data.Dataset.from_tensor_slices(train),
        "reference": tf.data.Dataset.from_tensor_slices(padded),
    }
    pipelines = {name: ds.shuffle(10_000, seed=args.seed).repeat().batch(
        args.batch, drop_remainder=True).prefetch(2) for name, ds in pipelines.items()}
    models = {"keras_segen": ours, "reference": reference}
    for name, model in models.items():  # trace outside the timing
        _train(model, pipelines[name], 1)
    seconds = {name: 0.0 for name in models}
    steps = {name: 0 for name in models}
    while True:
        for name, model in models.items():
            if args.steps is not None:
                chunk = args.steps - steps[name]
            else:
                chunk = args.chunk if seconds[name] < args.seconds else 0
            if chunk > 0:
                seconds[name] += _train(model, pipelines[name], chunk)
                steps[name] += chunk
        if args.steps is not None or all(s >= args.seconds for s in seconds.values()):
            break

    test, _ = fashion_mnist.load_arrays("test")
    real = test[: args.eval_samples, ..., None].astype(np.float32) / 255.0
    extractor = feature_classifier(None)
    low, high = extractor.input_range

    def features(images01):
        return extractor.predict(images01 * (high - low) + low)[0]

    real_features = features(real)
    rows = []
    for name, model in models.items():
        started = time.perf_counter()
        samples = model.generate(args.eval_samples, seed=args.seed,
                                 steps=args.sampling_steps)
        sampling_s = time.perf_counter() - started
        generated = features(np.asarray(samples, np.float32))
        kid, kid_std = kid_from_features(real_features, generated, 100,
                                         min(1000, args.eval_samples), args.seed)
        network = model.denoiser if name == "keras_segen" else model.network
        rows.append({"model": name, "params": network.count_params(),
                     "steps": steps[name], "train_s": seconds[name],
                     "train_img_s": steps[name] * args.batch / seconds[name],
                     "sampling_s": sampling_s, "fid": fid_from_features(real_features,
                                                                        generated),
                     "kid": kid, "kid_std": kid_std})
    machine = _common.machine()
    columns = [("model", "model", ""), ("params", "params", ",d"), ("steps", "steps", "d"),
               ("train_s", "train s", ".1f"), ("train_img_s", "train img/s", ".1f"),
               ("sampling_s", f"sample s ({args.eval_samples})", ".1f"),
               ("fid", f"FID@{args.eval_samples}", ".2f"), ("kid", "KID", ".4f"),
               ("kid_std", "KID std", ".4f")]
    print(_common.format_table(
        rows, columns, f"DDIM vs keras.io-style reference (reference widths {list(widths)}, "
                       f"batch {args.batch}, {args.sampling_steps} DDIM steps, float32)"))
    print(f"cpu: {machine['cpu']} ({machine['cores']} cores), "
          f"load at start {machine['load_average_at_start']:.1f}")
    _common.write_json(args.json, {"machine": machine, "rows": rows,
                                   "reference_widths": list(widths), "args": vars(args)})
    return rows


if __name__ == "__main__":
    main()

"""Serving signatures of the autoregressive models (PixelCNN, keras_segen/generation/pixelcnn/).

* ``log_prob`` (= ``serving_default``): ``images`` uint8 ``[N, H, W, C]`` (+ ``labels``
  int32 ``[N]`` when conditional) -> ``bits_per_dim`` float32 ``[N]`` (negative
  log-likelihood per sub-pixel in bits) and ``log_prob`` float32 ``[N]`` (the image's
  log-likelihood in nats): the likelihood is what a PixelCNN is for (outlier and
  compression scores).
* ``sample``: ``batch_size`` int32, ``seed`` int64 scalars -> ``images`` uint8 (+
  ``labels``: classes in turn 0, 1, ..., as ``generate(labels=None)``): the images of
  ``model.generate(batch_size, seed=seed)`` -- the same uniform noise
  (``sampling_seed(seed)``), the same compiled loop over pixels.

Send ``sample``'s scalars in the columnar REST form, as for the other generators.
"""
import numpy as np
import tensorflow as tf

from keras_segen.generation.base import sampling_seed
from keras_segen.serving.endpoints import (
    Endpoint,
    check_labels,
    check_sample_batch,
    scalar_example,
    spec,
    uint8_to_unit,
)


def pixelcnn_endpoints(model):
    shape = tuple(int(d) for d in model.image_shape)
    num_classes = int(getattr(model, "num_classes", 0) or 0)
    dims = float(np.prod(shape))

    def likelihoods(images, labels=None):
        if labels is not None:
            labels = check_labels(labels, num_classes, f"{model.name}.log_prob")
        log_prob = model.log_prob(uint8_to_unit(images), labels)
        return {"bits_per_dim": -log_prob / (dims * np.log(2.0)), "log_prob": log_prob}

    def draw(batch_size, seed):
        batch_size = check_sample_batch(batch_size)
        noise = tf.random.stateless_uniform(tf.stack([batch_size, *shape]),
                                            seed=sampling_seed(seed), dtype=tf.float32)
        labels = tf.range(batch_size, dtype=tf.int32) % num_classes if num_classes else None
        values = model.sample_from_noise(noise, labels)
        outputs = {"images": tf.cast(values, tf.uint8)}
        if num_classes:
            outputs["labels"] = labels
        return outputs

    image_spec = spec([None, *shape], tf.uint8, "images")
    images = {"images": np.full((2, *shape), 128, np.uint8)}
    if num_classes:

        def log_prob(images, labels):
            return likelihoods(images, labels)

        default = Endpoint("log_prob", log_prob, (image_spec, spec([None], tf.int32, "labels")),
                           {**images, "labels": np.array([0, num_classes - 1], np.int32)})
    else:

        def log_prob(images):
            return likelihoods(images)

        default = Endpoint("log_prob", log_prob, (image_spec,), images)

    def sample(batch_size, seed):
        return draw(batch_size, seed)

    return [
        default,
        Endpoint("sample", sample, (spec([], tf.int32, "batch_size"), spec([], tf.int64, "seed")),
                 {"batch_size": scalar_example(2, np.int32), "seed": scalar_example(0, np.int64)}),
    ]

"""Serving signatures of the diffusion models (``keras_segen.generation.diffusion``).

Both run DDIM (eta = 0, deterministic) with the EMA denoiser inside the graph (one
``tf.while_loop``) and return ``images`` uint8 ``[N, H, W, C]``, mapped from [-1, 1] as
``generate()`` maps them to [0, 1], then rounded:

* ``sample``: ``batch_size`` int32, ``seed`` int64, ``steps`` int32 scalars -> the same
  images as ``model.generate(batch_size, seed=seed, steps=steps)`` (the initial noise is
  drawn with ``generation.base.sampling_seed``, as every family's ``sample`` is).
  Conditional models also take ``labels`` int32 ``[batch_size]`` and ``guidance``
  float32 (the weight ``w`` of ``(1 + w) eps(x, y) - w eps(x, null)``).
* ``serving_default``: ``z`` float32 ``[N, H, W, C]`` (the initial noise ``x_T``) and
  ``steps`` (+ ``labels``, ``guidance``) -> ``images``.

``steps`` outside ``[1, timesteps]``, a negative or non-finite ``guidance``, labels out
of range or not one per image, a ``batch_size`` outside ``[1, MAX_SAMPLE_BATCH]`` and a
NaN or infinite ``z`` fail with InvalidArgumentError naming the input. The warmup
requests ask for 2 steps. Over TF Serving's REST API send the scalars in the columnar
form (``{"signature_name": "sample", "inputs": {"batch_size": 4, "seed": 0, "steps": 50}}``).
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
    tanh_to_uint8,
)

_WARMUP_STEPS = 2


def diffusion_endpoints(model):
    if getattr(model, "KIND", None) != "diffusion" or not hasattr(model, "sample_graph"):
        raise TypeError(f"cannot export {model.name!r}: not a keras_segen diffusion model")
    image_shape, timesteps = tuple(model.image_shape), int(model.timesteps)
    num_classes = int(model.num_classes)
    where = model.name

    def check_steps(steps):
        steps = tf.cast(steps, tf.int32)
        checks = [tf.debugging.assert_positive(steps, message=f"{where}: steps must be >= 1"),
                  tf.debugging.assert_less_equal(
                      steps, timesteps, message=f"{where}: steps must be <= {timesteps}")]
        with tf.control_dependencies(checks):
            return tf.identity(steps)

    def check_guidance(guidance):
        guidance = tf.cast(guidance, tf.float32)
        checks = [tf.debugging.assert_all_finite(guidance, f"{where}: guidance must be finite"),
                  tf.debugging.assert_non_negative(
                      guidance, message=f"{where}: guidance must be >= 0")]
        with tf.control_dependencies(checks):
            return tf.identity(guidance)

    def check_noise(z):
        z = tf.cast(z, tf.float32)
        return tf.debugging.assert_all_finite(
            z, message=f"{where}.serving_default: z must be finite (no NaN or inf values)")

    def run(z, steps, labels=None, guidance=0.0):
        if labels is not None:
            labels = check_labels(labels, num_classes, f"{where}: labels")
            count = tf.debugging.assert_equal(
                tf.shape(labels)[0], tf.shape(z)[0],
                message=f"{where}: one label per image is needed")
            with tf.control_dependencies([count]):
                labels = tf.identity(labels)
        images = model.sample_graph(z, labels, check_steps(steps), guidance, 0.0,
                                    tf.zeros([2], tf.int32))
        return {"images": tanh_to_uint8(images)}

    def prior(batch_size, seed):
        batch_size = check_sample_batch(batch_size)
        return tf.random.stateless_normal(tf.concat([[batch_size], image_shape], 0),
                                          seed=sampling_seed(seed), dtype=tf.float32)

    z_spec = spec([None, *image_shape], tf.float32, "z")
    steps_spec = spec([], tf.int32, "steps")
    sample_specs = (spec([], tf.int32, "batch_size"), spec([], tf.int64, "seed"), steps_spec)
    z_example = {"z": np.zeros((2, *image_shape), np.float32),
                 "steps": scalar_example(_WARMUP_STEPS, np.int32)}
    sample_example = {"batch_size": scalar_example(2, np.int32),
                      "seed": scalar_example(0, np.int64),
                      "steps": scalar_example(_WARMUP_STEPS, np.int32)}
    if num_classes:
        labels_spec = spec([None], tf.int32, "labels")
        guidance_spec = spec([], tf.float32, "guidance")
        conditions = {"labels": np.array([0, num_classes - 1], np.int32),
                      "guidance": scalar_example(model.guidance, np.float32)}

        def serving_default(z, steps, labels, guidance):
            return run(check_noise(z), steps, labels, check_guidance(guidance))

        def sample(batch_size, seed, steps, labels, guidance):
            return run(prior(batch_size, seed), steps, labels, check_guidance(guidance))

        return [
            Endpoint("serving_default", serving_default,
                     (z_spec, steps_spec, labels_spec, guidance_spec),
                     {**z_example, **conditions}),
            Endpoint("sample", sample, (*sample_specs, labels_spec, guidance_spec),
                     {**sample_example, **conditions}),
        ]

    def serving_default(z, steps):
        return run(check_noise(z), steps)

    def sample(batch_size, seed, steps):
        return run(prior(batch_size, seed), steps)

    return [Endpoint("serving_default", serving_default, (z_spec, steps_spec), z_example),
            Endpoint("sample", sample, sample_specs, sample_example)]

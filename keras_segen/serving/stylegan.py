"""Serving signatures of StyleGAN (keras_segen/generation/stylegan/): the GAN signatures
of ``generation.py`` with the truncation ``psi`` as one more input.

* ``serving_default``: ``z`` float32 ``[N, latent_dim]``, ``truncation`` float32 scalar
  -> ``images`` uint8 ``[N, H, W, C]`` (``truncation`` 1.0: no truncation).
* ``sample``: ``batch_size`` int32, ``seed`` int64, ``truncation`` float32 scalars ->
  ``images``, the images of ``model.generate(batch_size, seed=seed,
  truncation=truncation)`` (latents drawn with ``generation.base.sampling_seed``).

A NaN or infinite ``z`` fails with InvalidArgumentError naming ``z``, a non-finite
``truncation`` with one naming ``truncation``. Over REST send the scalars in the
columnar form (``{"inputs": {"z": [[...]], "truncation": 0.7}}``).
"""
import numpy as np
import tensorflow as tf

from keras_segen.generation.base import check_latents
from keras_segen.serving.endpoints import Endpoint, scalar_example, spec, tanh_to_uint8
from keras_segen.serving.generation import prior_latents, sample_example, sample_specs


def stylegan_endpoints(model):
    latent_dim = int(model.latent_dim)

    def generate(z, truncation, where):
        z = check_latents(z, latent_dim, f"{model.name}.{where}")
        truncation = tf.debugging.assert_all_finite(
            tf.cast(truncation, tf.float32),
            message=f"{model.name}.{where}: truncation must be finite")
        return tanh_to_uint8(model.synthesize(z, truncation))

    # The parameter names below are the signatures' input names.
    def serving_default(z, truncation):
        return {"images": generate(z, truncation, "serving_default")}

    def sample(batch_size, seed, truncation):
        z, _ = prior_latents(batch_size, seed, latent_dim, 0)
        return {"images": generate(z, truncation, "sample")}

    truncation_spec = spec([], tf.float32, "truncation")
    truncation_example = {"truncation": scalar_example(model.truncation_psi, np.float32)}
    return [
        Endpoint("serving_default", serving_default,
                 (spec([None, latent_dim], tf.float32, "z"), truncation_spec),
                 {"z": np.zeros((2, latent_dim), np.float32), **truncation_example}),
        Endpoint("sample", sample, (*sample_specs(), truncation_spec),
                 {**sample_example(), **truncation_example}),
    ]

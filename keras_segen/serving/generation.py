"""Serving signatures of the generative models (see keras_segen/generation/).

Images go out as uint8 ``[N, H, W, C]``, mapped from the models' ranges exactly as
their ``generate()``/``decode()``/``translate()`` map them to [0, 1], then rounded.

* GANs (``generator``, ``latent_dim``; cGAN also ``num_classes``):
  ``serving_default``: ``z`` float32 ``[N, latent_dim]`` (+ ``labels`` int32 ``[N]``)
  -> ``images``; ``sample``: ``batch_size`` int32, ``seed`` int64 scalars -> ``images``
  (+ ``labels``: classes in turn 0, 1, ..., as ``generate(labels=None)``), the same
  images as ``model.generate(batch_size, seed=seed)``: every family draws its latents
  with ``keras_segen.generation.base.sampling_seed(seed)``.
* VAE/CVAE: ``reconstruct`` (= ``serving_default``): ``images`` uint8 (+ ``labels``)
  -> ``images``; ``encode``: ``images`` (+ ``labels``) -> ``mean``, ``log_var``;
  ``decode``: ``z`` (+ ``labels``) -> ``images``; ``sample`` as for GANs.
* pix2pix: ``translate`` (= ``serving_default``): ``masks`` int32 ``[N, H, W]`` of
  class ids (the condition map, one-hot encoded inside) -> ``images``.

Out-of-range labels or class ids fail with InvalidArgumentError naming the range, a
NaN or infinite ``z`` with one naming ``z`` (``generation.base.check_latents``).
Over TF Serving's REST API, send ``sample``'s scalars in the columnar form
(``{"signature_name": "sample", "inputs": {"batch_size": 16, "seed": 0}}``): the row
form (``instances``) needs every input to have a batch dimension.
"""
import keras
import numpy as np
import tensorflow as tf

from keras_segen.generation.base import check_latents, sampling_seed
from keras_segen.serving.endpoints import (
    Endpoint,
    check_labels,
    check_sample_batch,
    scalar_example,
    spec,
    tanh_to_uint8,
    uint8_to_unit,
    unit_to_uint8,
)


def sample_specs():
    return (spec([], tf.int32, "batch_size"), spec([], tf.int64, "seed"))


def sample_example():
    return {"batch_size": scalar_example(2, np.int32), "seed": scalar_example(0, np.int64)}


def prior_latents(batch_size, seed, latent_dim, num_classes):
    """``(z, labels)`` for ``sample``: what ``GenerativeModel.sample_latents`` and
    ``labels_to_generate(None, n)`` give (normal latents seeded by ``sampling_seed``,
    classes in turn 0, 1, ...)."""
    batch_size = check_sample_batch(batch_size)
    z = tf.random.stateless_normal(
        tf.stack([batch_size, latent_dim]), seed=sampling_seed(seed), dtype=tf.float32
    )
    labels = tf.range(batch_size, dtype=tf.int32) % num_classes if num_classes else None
    return z, labels


def gan_endpoints(model):
    if not isinstance(getattr(model, "generator", None), keras.Model) or not getattr(
        model, "latent_dim", None
    ):
        raise TypeError(
            f"cannot export {model.name!r}: a GAN needs a `generator` keras.Model and a "
            "`latent_dim` (as keras_segen's LatentGAN has)"
        )
    # The EMA generator of a model trained with one (LatentGAN.sampling_generator).
    generator = getattr(model, "sampling_generator", model.generator)
    latent_dim = int(model.latent_dim)
    num_classes = int(getattr(model, "num_classes", 0) or 0)

    def generate(z, labels=None):
        z = check_latents(z, latent_dim, f"{model.name}.serving_default")
        inputs = z if labels is None else [z, check_labels(labels, num_classes, model.name)]
        return tanh_to_uint8(generator(inputs, training=False))

    z_spec = spec([None, latent_dim], tf.float32, "z")
    z_example = np.zeros((2, latent_dim), np.float32)
    if num_classes:

        def serving_default(z, labels):
            return {"images": generate(z, labels)}

        def sample(batch_size, seed):
            z, labels = prior_latents(batch_size, seed, latent_dim, num_classes)
            return {"images": generate(z, labels), "labels": labels}

        default = Endpoint(
            "serving_default",
            serving_default,
            (z_spec, spec([None], tf.int32, "labels")),
            {"z": z_example, "labels": np.array([0, num_classes - 1], np.int32)},
        )
    else:

        def serving_default(z):
            return {"images": generate(z)}

        def sample(batch_size, seed):
            z, _ = prior_latents(batch_size, seed, latent_dim, 0)
            return {"images": generate(z)}

        default = Endpoint("serving_default", serving_default, (z_spec,), {"z": z_example})
    return [default, Endpoint("sample", sample, sample_specs(), sample_example())]


def vae_endpoints(model):
    latent_dim, num_classes = int(model.latent_dim), int(getattr(model, "num_classes", 0))
    image_spec = spec([None, *model.image_shape], tf.uint8, "images")
    z_spec = spec([None, latent_dim], tf.float32, "z")
    images = {"images": np.full((2, *model.image_shape), 128, np.uint8)}
    z = {"z": np.zeros((2, latent_dim), np.float32)}

    # The model's own label checks (prepare_labels) run inside encode/decode.
    def encode_outputs(images, labels=None):
        mean, log_var = model.encode(uint8_to_unit(images), labels)
        return {"mean": mean, "log_var": log_var}

    def decode_outputs(z, labels=None):
        z = check_latents(z, latent_dim, f"{model.name}.decode")
        return {"images": unit_to_uint8(model.decode(z, labels))}

    def reconstruct_outputs(images, labels=None):
        return {"images": unit_to_uint8(model.reconstruct(uint8_to_unit(images), labels))}

    def sample(batch_size, seed):
        z, labels = prior_latents(batch_size, seed, latent_dim, num_classes)
        outputs = decode_outputs(z, labels)
        if num_classes:
            outputs["labels"] = labels
        return outputs

    # The parameter names below are the signatures' input names.
    if num_classes:
        labels_spec = spec([None], tf.int32, "labels")
        labels = {"labels": np.array([0, num_classes - 1], np.int32)}

        def reconstruct(images, labels):
            return reconstruct_outputs(images, labels)

        def encode(images, labels):
            return encode_outputs(images, labels)

        def decode(z, labels):
            return decode_outputs(z, labels)

        image_specs, z_specs = (image_spec, labels_spec), (z_spec, labels_spec)
    else:
        labels = {}

        def reconstruct(images):
            return reconstruct_outputs(images)

        def encode(images):
            return encode_outputs(images)

        def decode(z):
            return decode_outputs(z)

        image_specs, z_specs = (image_spec,), (z_spec,)
    return [
        Endpoint("reconstruct", reconstruct, image_specs, {**images, **labels}),
        Endpoint("encode", encode, image_specs, {**images, **labels}),
        Endpoint("decode", decode, z_specs, {**z, **labels}),
        Endpoint("sample", sample, sample_specs(), sample_example()),
    ]


def pix2pix_endpoints(model):
    height, width, channels = model.condition_shape

    def translate(masks):
        masks = check_labels(masks, channels, f"{model.name}.translate: class ids (masks)")
        conditions = tf.one_hot(masks, channels, dtype=tf.float32)
        return {"images": tanh_to_uint8(model.generator(conditions, training=False))}

    example = (np.arange(height * width).reshape(1, height, width) % channels).astype(np.int32)
    return [
        Endpoint(
            "translate",
            translate,
            (spec([None, height, width], tf.int32, "masks"),),
            {"masks": example},
        )
    ]

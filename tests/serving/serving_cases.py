"""Tiny models of every exportable kind, with requests and the answers Keras gives.

``CASES`` maps a case name to its ``ArchitectureCase`` (tests/architecture_harness.py);
``requests_and_answers(case, model)`` returns
``{signature: (inputs, expected outputs)}`` where the expected outputs come from the
Keras model's own API (``predict``, ``generate``, ``encode``, ``translate``, ...).
"""
import numpy as np
import tensorflow as tf

from architecture_harness import CASES_BY_ARCH

# The served architectures, at the settings of the shared case table: exported once per
# session by tests/conftest.py's ``architecture_exports`` (the harness's export aspect uses
# the same exports).
SERVED = ("cgan", "cvae", "dcgan", "ddim", "pix2pix", "pixelcnn", "stylegan", "unet",
          "vae", "wgan_gp")
CASES = {arch: CASES_BY_ARCH[arch] for arch in SERVED}

SEED = 3


# Below this gap between the two largest logits (and above zero) float rounding in
# different kernels (another graph, folded batch norms, another CPU) may legitimately flip
# a pixel's argmax; elsewhere masks must agree.
NEAR_TIE = 1e-4


def assert_masks_match(masks, logits):
    """``masks`` are ``logits.argmax(-1)`` wherever the top two logits are not a near tie."""
    top2 = np.sort(logits, axis=-1)[..., -2:]
    gap = top2[..., 1] - top2[..., 0]
    compared = (gap == 0) | (gap > NEAR_TIE)  # exact ties: both take the first class
    assert compared.mean() > 0.99  # the comparison covers nearly every pixel
    np.testing.assert_array_equal(masks[compared], logits.argmax(-1)[compared])


def to_uint8(unit):
    return np.round(np.clip(np.asarray(unit, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def segmentation_answer(model, images):
    logits = np.asarray(model.predict_on_batch(images.astype(np.float32) / 255.0), np.float32)
    return {"masks": logits.argmax(-1).astype(np.int32),
            "probabilities": np.asarray(tf.nn.softmax(logits, axis=-1))}, logits


def random_images(rng, shape):
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def png_batch(images):
    return np.array([tf.io.encode_png(image).numpy() for image in images], dtype=object)


def requests_and_answers(case, model):
    """``{signature: (inputs, expected)}``; segmentation answers also carry ``"logits"``."""
    rng = np.random.default_rng(0)
    if case == "unet":
        images = random_images(rng, (2, 19, 26, 3))  # odd sizes: any size must work
        expected, logits = segmentation_answer(model, images)
        return {
            "serving_default": ({"images": images}, {**expected, "logits": logits}),
            "predict_bytes": ({"image_bytes": png_batch(images)}, {**expected, "logits": logits}),
        }
    if case in ("dcgan", "wgan_gp", "cgan"):
        z = rng.standard_normal((4, model.latent_dim)).astype(np.float32)
        if model.num_classes:
            labels = np.array([0, 1, 2, 1], np.int32)
            images = model([z, labels])
            sample_labels = np.arange(5, dtype=np.int32) % model.num_classes
            return {
                "serving_default": ({"z": z, "labels": labels},
                                    {"images": to_uint8((np.asarray(images) + 1) / 2)}),
                "sample": (_sample_request(),
                           {"images": to_uint8(model.generate(5, seed=SEED)),
                            "labels": sample_labels}),
            }
        images = model(z)
        return {
            "serving_default": ({"z": z}, {"images": to_uint8((np.asarray(images) + 1) / 2)}),
            "sample": (_sample_request(), {"images": to_uint8(model.generate(5, seed=SEED))}),
        }
    if case in ("vae", "cvae"):
        images = random_images(rng, (3, *model.image_shape))
        unit = images.astype(np.float32) / 255.0
        z = rng.standard_normal((3, model.latent_dim)).astype(np.float32)
        labels = np.array([2, 0, 1], np.int32) if model.num_classes else None
        with_labels = {} if labels is None else {"labels": labels}
        mean, log_var = model.encode(unit, labels)
        reconstruction = {"images": to_uint8(model.reconstruct(unit, labels))}
        sample = {"images": to_uint8(model.generate(5, seed=SEED))}
        if model.num_classes:
            sample["labels"] = np.arange(5, dtype=np.int32) % model.num_classes
        return {
            "reconstruct": ({"images": images, **with_labels}, reconstruction),
            "serving_default": ({"images": images, **with_labels}, reconstruction),
            "encode": ({"images": images, **with_labels},
                       {"mean": np.asarray(mean), "log_var": np.asarray(log_var)}),
            "decode": ({"z": z, **with_labels}, {"images": to_uint8(model.decode(z, labels))}),
            "sample": (_sample_request(), sample),
        }
    if case == "pix2pix":
        masks = rng.integers(0, model.condition_channels, size=(2, *model.condition_shape[:2]))
        masks = masks.astype(np.int32)
        expected = {"images": to_uint8(model.translate(masks))}
        return {"translate": ({"masks": masks}, expected),
                "serving_default": ({"masks": masks}, expected)}
    if case == "ddim":
        steps = np.array(3, np.int32)
        z = rng.standard_normal((2, *model.image_shape)).astype(np.float32)
        if model.num_classes:
            raise KeyError("the served ddim case is the unconditional one")
        return {
            "serving_default": ({"z": z, "steps": steps},
                                {"images": to_uint8(model.denoise_batch(z, steps=3))}),
            "sample": ({**_sample_request(), "steps": steps},
                       {"images": to_uint8(model.generate(5, seed=SEED, steps=3))}),
        }
    if case == "stylegan":
        z = rng.standard_normal((4, model.latent_dim)).astype(np.float32)
        truncation = np.array(0.7, np.float32)
        images = to_uint8((np.asarray(model.synthesize(z, 0.7)) + 1) / 2)
        return {
            "serving_default": ({"z": z, "truncation": truncation}, {"images": images}),
            "sample": ({**_sample_request(), "truncation": truncation},
                       {"images": to_uint8(model.generate(5, seed=SEED, truncation=0.7))}),
        }
    if case == "pixelcnn":
        images = random_images(rng, (3, *model.image_shape))
        unit = images.astype(np.float32) / 255.0
        likelihood = {"bits_per_dim": np.asarray(model.bits_per_dim(unit)),
                      "log_prob": np.asarray(model.log_prob(unit))}
        return {
            "serving_default": ({"images": images}, likelihood),
            "log_prob": ({"images": images}, likelihood),
            "sample": (_sample_request(), {"images": to_uint8(model.generate(5, seed=SEED))}),
        }
    raise KeyError(case)


def _sample_request():
    return {"batch_size": np.array(5, np.int32), "seed": np.array(SEED, np.int64)}

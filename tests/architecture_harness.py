"""One case table and one test driver for every registered architecture (keras-hub's
``run_task_test`` idea).

``CASES`` holds one ``ArchitectureCase`` per name of ``keras_segen.list_architectures()``:
tiny builder kwargs at two sizes, how to make a tiny training batch, the family that says
how to call, compile and compare the model, and which aspects it supports.
``run_architecture_test(case, aspects=...)`` checks, per aspect:

* ``build``: both sizes build; outputs have the promised shapes and dtypes.
* ``config``: ``get_config``/``from_config`` rebuilds the same config and, with the same
  weights, the same outputs.
* ``saving``: compile, fit 1 step, ``.keras`` save and load; optimizer types, iterations
  and slot variables come back; one more step from the loaded model equals one more step
  from the original.
* ``mixed_precision``: under ``mixed_bfloat16`` the model builds with bfloat16 layers,
  its outputs are float32 where the case promises it and finite, and a model with its
  own ``train_step`` trains one step.
* ``mirrored``: two replicas on the two logical CPUs of tests/conftest.py train as one
  device does (2 SGD steps: same logs and weights within the case's tolerance).
* ``export``: ``keras_segen.export`` then, in this process, every SignatureDef answers
  its warmup request (tests/serving/ checks the answers against Keras in a TF-only
  process).

tests/test_architectures.py drives it; architecture-specific behaviour stays in the
per-architecture test files, which also take ``two_cpu_strategy`` from here.
"""
import copy
import dataclasses
import pathlib
import zlib
from typing import Callable

import numpy as np
import pytest
import tensorflow as tf

import keras
import keras_segen

ASPECTS = ("build", "config", "saving", "mixed_precision", "mirrored", "export")
BATCH = 4  # global batch: 2 per replica on the two logical CPUs


def two_cpu_strategy():
    """A MirroredStrategy over the two logical CPUs with its own collective key range.

    Every MirroredStrategy starts its collective keys at the same value and TF caches a
    collective's shape per key for the whole process, so a second strategy running
    another graph fails with "Shape mismatch in the collective instance". The autouse
    fixture of tests/conftest.py moves the base per test; moving it here too keeps two
    strategies made in one test apart.
    """
    tf.distribute.MirroredStrategy._collective_key_base += 10_000
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


# --- families: how to feed, call, compile and compare each kind of model ----------------


def _uniform(rng, shape, low=0.0, high=1.0):
    return rng.uniform(low, high, shape).astype("float32")


def _labels(n, num_classes):
    return (np.arange(n) % num_classes).astype("int32")


class Family:
    """What ``run_architecture_test`` needs to know about one kind of model."""

    float32_outputs = True  # outputs stay float32 under mixed_bfloat16
    own_train_step = False  # overrides train_step: bfloat16 training is its own code
    sgd_learning_rate = 1e-2

    def probe_sizes(self, model):
        """Spatial sizes to probe at (``None``: the model's own fixed size)."""
        return [None]

    def inputs(self, model, n, rng, size=None):
        raise NotImplementedError

    def outputs(self, model, inputs):
        """Deterministic (inference) outputs as a list of numpy arrays."""
        raise NotImplementedError

    def expected(self, model, n, size=None):
        """``[(shape, dtype)]`` of ``outputs``."""
        raise NotImplementedError

    def batch(self, model, n, seed):
        """A training batch as a tuple of arrays for ``fit(*batch)``."""
        raise NotImplementedError

    def compile(self, model, optimizer, run_eagerly=False):
        """``optimizer``: "adam" (saving) or "sgd" (mirrored)."""
        raise NotImplementedError

    def optimizers(self, model):
        return [model.optimizer]

    def prepare_mirrored(self, model):
        """Make a model built under a strategy compute what one device computes."""

    def compared_weights(self, model):
        return model.weights


class Segmentation(Family):
    def probe_sizes(self, model):
        if None in model.input_shape[1:3]:  # any size: odd sizes, not multiples of 32
            return [(40, 56), (33, 19)]
        return [None]

    def _size(self, model, size):
        return size or self.probe_sizes(model)[0] or tuple(model.input_shape[1:3])

    def inputs(self, model, n, rng, size=None):
        return _uniform(rng, (n, *self._size(model, size), model.input_shape[-1]))

    def outputs(self, model, inputs):
        return [np.asarray(model(inputs, training=False))]

    def expected(self, model, n, size=None):
        return [((n, *self._size(model, size), model.output_shape[-1]), "float32")]

    def batch(self, model, n, seed):
        rng = np.random.default_rng(seed)
        size = (32, 32) if None in model.input_shape[1:3] else model.input_shape[1:3]
        images = _uniform(rng, (n, *size, model.input_shape[-1]))
        masks = rng.integers(0, model.output_shape[-1], (n, *size)).astype("int32")
        return images, masks

    def compile(self, model, optimizer, run_eagerly=False):
        num_classes = model.output_shape[-1]
        model.compile(
            optimizer=_optimizer(optimizer, self.sgd_learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras_segen.metrics.PixelAccuracy(num_classes),
                     keras_segen.metrics.MeanIoU(num_classes)],
            run_eagerly=run_eagerly,
        )

    def prepare_mirrored(self, model):
        from keras_segen.training.distribution import synchronize_batch_norm

        synchronize_batch_norm(model)  # global-batch statistics, as on one device


class AdversarialSegmentation(Segmentation):
    """A segmenter with a pair discriminator: two optimizers, its own train_step."""

    own_train_step = True

    def compile(self, model, optimizer, run_eagerly=False):
        num_classes = model.output_shape[-1]
        # Two optimizer classes: a reload must give each player its own back.
        d_optimizer = (keras.optimizers.RMSprop(1e-3) if optimizer == "adam"
                       else _optimizer("sgd", self.sgd_learning_rate))
        model.compile(
            optimizer=_optimizer(optimizer, self.sgd_learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[keras_segen.metrics.MeanIoU(num_classes)],
            d_optimizer=d_optimizer, run_eagerly=run_eagerly,
        )

    def optimizers(self, model):
        return [model.optimizer, model.d_optimizer]


class Classification(Segmentation):
    float32_outputs = False  # a softmax in the compute dtype (bfloat16 under mixed)

    def probe_sizes(self, model):
        return [None]

    def expected(self, model, n, size=None):
        return [((n, model.output_shape[-1]), "float32")]

    def batch(self, model, n, seed):
        rng = np.random.default_rng(seed)
        return (_uniform(rng, (n, *model.input_shape[1:])),
                _labels(n, model.output_shape[-1]))

    def compile(self, model, optimizer, run_eagerly=False):
        model.compile(optimizer=_optimizer(optimizer, self.sgd_learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      run_eagerly=run_eagerly)


class LatentGAN(Family):
    own_train_step = True
    def inputs(self, model, n, rng, size=None):
        z = rng.standard_normal((n, model.latent_dim)).astype("float32")
        return [z, _labels(n, model.num_classes)] if model.num_classes else z

    def outputs(self, model, inputs):
        return [np.asarray(model(inputs, training=False)), model.generate(3, seed=5)]

    def expected(self, model, n, size=None):
        return [((n, *model.image_shape), "float32"), ((3, *model.image_shape), "float32")]

    def batch(self, model, n, seed):
        images = _uniform(np.random.default_rng(seed), (n, *model.image_shape), -1.0, 1.0)
        return (images, _labels(n, model.num_classes)) if model.num_classes else (images,)

    def compile(self, model, optimizer, run_eagerly=False):
        # Two optimizer classes: a reload must give each player its own back.
        if optimizer == "adam":
            players = keras.optimizers.Adam(1e-3), keras.optimizers.RMSprop(1e-3)
        else:
            players = (_optimizer("sgd", self.sgd_learning_rate),
                       _optimizer("sgd", self.sgd_learning_rate))
        model.compile(g_optimizer=players[0], d_optimizer=players[1], run_eagerly=run_eagerly)

    def optimizers(self, model):
        return [model.g_optimizer, model.d_optimizer]

    def compared_weights(self, model):
        # The discriminator's moving statistics also see generated batches, drawn per
        # replica; its trainable weights and the whole generator are what must agree.
        return model.generator.weights + model.discriminator.trainable_weights


class StyleGANFamily(LatentGAN):
    """A latent GAN whose samples also depend on the tracked ``w_avg`` (truncation)."""

    def outputs(self, model, inputs):
        return super().outputs(model, inputs) + [model.generate(3, seed=5, truncation=0.5)]

    def expected(self, model, n, size=None):
        return super().expected(model, n, size) + [((3, *model.image_shape), "float32")]

    def compared_weights(self, model):
        return super().compared_weights(model) + model.generator_ema.weights + [model.w_avg]


class ImageToImage(LatentGAN):
    def inputs(self, model, n, rng, size=None):
        ids = rng.integers(0, model.condition_channels, (n, *model.condition_shape[:2]))
        return np.eye(model.condition_channels, dtype="float32")[ids]

    def outputs(self, model, inputs):
        return [np.asarray(model(inputs, training=False)), model.translate(inputs)]

    def expected(self, model, n, size=None):
        return [((n, *model.image_shape), "float32")] * 2

    def batch(self, model, n, seed):
        rng = np.random.default_rng(seed)
        return (self.inputs(model, n, rng),
                _uniform(rng, (n, *model.image_shape), -1.0, 1.0))

    def compared_weights(self, model):
        return model.weights


class Variational(Family):
    own_train_step = True
    sgd_learning_rate = 1e-3  # summed per-pixel losses: large gradients

    def _labels(self, model, n):
        return _labels(n, model.num_classes) if model.num_classes else None

    def inputs(self, model, n, rng, size=None):
        return _uniform(rng, (n, *model.image_shape)), self._labels(model, n)

    def outputs(self, model, inputs):
        images, labels = inputs
        mean, log_var = model.encode(images, labels)
        return [np.asarray(model.reconstruct(images, labels)), np.asarray(mean),
                np.asarray(log_var), model.generate(3, seed=5)]

    def expected(self, model, n, size=None):
        latent = ((n, model.latent_dim), "float32")
        return [((n, *model.image_shape), "float32"), latent, latent,
                ((3, *model.image_shape), "float32")]

    def batch(self, model, n, seed):
        images, labels = self.inputs(model, n, np.random.default_rng(seed))
        return (images,) if labels is None else (images, labels)

    def compile(self, model, optimizer, run_eagerly=False):
        model.compile(_optimizer(optimizer, self.sgd_learning_rate), run_eagerly=run_eagerly)


class Autoregressive(Family):
    """A likelihood model (PixelCNN): images in [0, 1] (+ labels) -> per-sub-pixel
    distribution parameters; its own train_step (NLL), one optimizer."""

    own_train_step = True

    def _labels(self, model, n):
        return _labels(n, model.num_classes) if model.num_classes else None

    def inputs(self, model, n, rng, size=None):
        images = rng.integers(0, 256, (n, *model.image_shape)).astype("float32") / 255.0
        return images, self._labels(model, n)

    def outputs(self, model, inputs):
        images, labels = inputs
        params = model(images if labels is None else [images, labels], training=False)
        return [np.asarray(params), np.asarray(model.bits_per_dim(images, labels)),
                model.generate(2, seed=5)]

    def expected(self, model, n, size=None):
        return [((n, *model.image_shape, model.params_per_channel), "float32"),
                ((n,), "float32"), ((2, *model.image_shape), "float32")]

    def batch(self, model, n, seed):
        images, labels = self.inputs(model, n, np.random.default_rng(seed))
        return (images,) if labels is None else (images, labels)

    def compile(self, model, optimizer, run_eagerly=False):
        model.compile(_optimizer(optimizer, self.sgd_learning_rate), run_eagerly=run_eagerly)


class Diffusion(Family):
    """A denoiser (DDIM): ``[x_t, t(, labels)] -> noise``; its own train_step, one
    optimizer, EMA weights (model weights, so compared and saved with the rest)."""

    own_train_step = True

    def inputs(self, model, n, rng, size=None):
        noisy = rng.standard_normal((n, *model.image_shape)).astype("float32")
        timesteps = (np.arange(n) * 7 % model.timesteps).astype("int32")
        if model.num_classes:
            return [noisy, timesteps, _labels(n, model.num_classes)]
        return [noisy, timesteps]

    def outputs(self, model, inputs):
        return [np.asarray(model(inputs, training=False)),
                np.asarray(model.predict_noise(*inputs)), model.generate(3, seed=5, steps=2)]

    def expected(self, model, n, size=None):
        return [((n, *model.image_shape), "float32")] * 2 + [((3, *model.image_shape),
                                                              "float32")]

    def batch(self, model, n, seed):
        images = _uniform(np.random.default_rng(seed), (n, *model.image_shape), -1.0, 1.0)
        return (images, _labels(n, model.num_classes)) if model.num_classes else (images,)

    def compile(self, model, optimizer, run_eagerly=False):
        model.compile(_optimizer(optimizer, self.sgd_learning_rate), run_eagerly=run_eagerly)


def _optimizer(name, sgd_learning_rate):
    if name == "adam":
        return keras.optimizers.Adam(1e-3)
    # SGD: Adam's first steps are about +-lr for any gradient, so a near-zero gradient
    # whose sign depends on a CPU's float summation order would move a weight a full step.
    return keras.optimizers.SGD(sgd_learning_rate)


SEGMENTATION, CLASSIFICATION = Segmentation(), Classification()
LATENT_GAN, IMAGE_TO_IMAGE, VARIATIONAL = LatentGAN(), ImageToImage(), Variational()
ADVERSARIAL_SEGMENTATION = AdversarialSegmentation()
AUTOREGRESSIVE = Autoregressive()
STYLEGAN = StyleGANFamily()
DIFFUSION = Diffusion()


# --- the case table --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ArchitectureCase:
    """One registered architecture at tiny sizes.

    Args:
        arch: the registry name.
        family: a ``Family`` (how to feed, call, compile and compare it).
        kwargs: tiny builder kwargs (the first size).
        second_size: overrides of ``kwargs`` giving the second size.
        deterministic: overrides that take the randomness out of a training step
            (dropout), for the mirrored comparison.
        unsupported: aspects that do not apply (e.g. no serving export).
        slow: aspects that run only with ``-m slow`` (never in the default suite before).
        mirrored_tolerance: ``{"logs": (rtol, atol), "weights": (rtol, atol)}``.
        class_names: written into the exported card's assets (tests/serving checks them).
        make_batch: ``(model, n, seed) -> tuple`` for ``fit(*batch)``; the family's by
            default.
    """

    arch: str
    family: Family
    kwargs: dict
    second_size: dict
    deterministic: dict = dataclasses.field(default_factory=dict)
    unsupported: frozenset = frozenset()
    slow: frozenset = frozenset()
    mirrored_tolerance: dict = dataclasses.field(
        default_factory=lambda: {"logs": (1e-4, 1e-5), "weights": (1e-4, 1e-5)})
    class_names: tuple | None = None
    make_batch: Callable | None = None

    def __str__(self):
        return self.arch

    @property
    def aspects(self):
        return tuple(a for a in ASPECTS if a not in self.unsupported)

    def build(self, **overrides):
        return keras_segen.build(self.arch, **{**self.kwargs, **overrides})

    def batch(self, model, n=2 * BATCH, seed=0):
        return (self.make_batch or self.family.batch)(model, n, seed)


def _segmentation(arch, unsupported=(), slow=(), **kwargs):
    return ArchitectureCase(
        arch, SEGMENTATION, {"num_classes": 3, **kwargs},
        second_size={"input_shape": (36, 44, 3)},  # fixed, not square, not a multiple of 32
        deterministic={k: 0.0 for k in ("dropout", "aspp_dropout") if k in kwargs},
        unsupported=frozenset(unsupported), slow=frozenset(slow),
    )


_FCN = dict(fc_units=8, fc_kernel=3, width=0.125, dropout=0.5)  # VGG16 at 1/8 width
# Adversarial steps: per-replica latent draws and two players; looser on weights.
_GAN_TOLERANCE = {"logs": (1e-4, 1e-5), "weights": (1e-3, 1e-5)}
_GENERATOR_TOLERANCE = {"logs": (1e-4, 1e-6), "weights": (1e-4, 1e-6)}
_LATENT = dict(image_shape=(8, 8, 1), latent_dim=4, base_filters=4, seed=0)
_VAE = dict(image_shape=(8, 8, 1), latent_dim=2, base_filters=4, depth=1, hidden_units=8,
            seed=0)
_DIFFUSION = dict(image_shape=(8, 8, 1), widths=(4, 8), block_depth=1, embedding_dim=8,
                  timesteps=50, sampling_steps=2, seed=0)

CASES = (
    dataclasses.replace(
        _segmentation("unet", slow={"mirrored"}, depth=2, base_filters=4),
        class_names=("ocean", "land", "lake")),
    _segmentation("fcn8s", **_FCN),
    _segmentation("fcn16s", slow={"mirrored", "export"}, **_FCN),
    _segmentation("fcn32s", slow={"mirrored", "export"}, **_FCN),
    # Its export (BN folding, ~60 layers traced twice) costs the most; never default before.
    _segmentation("deeplabv3plus", slow={"export"}, encoder="resnet18", encoder_width=4, aspp_filters=8,
                  low_level_filters=4, decoder_filters=8, aspp_dropout=0.1),
    _segmentation("pixel_baseline", slow={"mirrored"}, hidden_units=4),
    ArchitectureCase(
        "adversarial_segmenter", ADVERSARIAL_SEGMENTATION,
        dict(num_classes=3, depth=2, base_filters=4, discriminator_filters=4,
             discriminator_depth=2, adversarial_weight=0.5),
        second_size={"input_shape": (36, 44, 3)}, class_names=("ocean", "land", "lake"),
        slow=frozenset({"mirrored"})),  # 14 s on 2 shared CPUs
    _segmentation("segformer", slow={"mirrored"}, embed_dims=(8, 16), depths=(1, 1),
                  num_heads=(1, 2), sr_ratios=(2, 1), mlp_ratio=2, decoder_dim=8,
                  drop_path_rate=0.0, dropout=0.0),
    ArchitectureCase(
        "fashion_classifier", CLASSIFICATION,
        dict(widths=(4, 8), feature_dim=8, dropout=0.3),
        second_size=dict(input_shape=(16, 16, 3), num_classes=5),
        deterministic={"dropout": 0.0},
        unsupported=frozenset({"export"}),  # not served: the FID/KID feature net
        slow=frozenset({"mirrored"}),
    ),
    ArchitectureCase("dcgan", LATENT_GAN, dict(_LATENT), {"image_shape": (16, 16, 3)},
                     mirrored_tolerance=_GAN_TOLERANCE),
    ArchitectureCase("wgan_gp", LATENT_GAN, dict(_LATENT, critic_steps=2),
                     {"image_shape": (16, 16, 3)}, mirrored_tolerance=_GAN_TOLERANCE),
    # With a generator EMA: every aspect (round trip, mirrored, export) covers it.
    ArchitectureCase("cgan", LATENT_GAN, dict(_LATENT, num_classes=3, embedding_dim=2,
                                              ema_decay=0.9),
                     {"image_shape": (16, 16, 3), "num_classes": 4},
                     mirrored_tolerance=_GAN_TOLERANCE, class_names=("a", "b", "c")),
    ArchitectureCase("vae", VARIATIONAL, dict(_VAE), {"image_shape": (16, 12, 3)},
                     mirrored_tolerance=_GENERATOR_TOLERANCE),
    ArchitectureCase("cvae", VARIATIONAL, dict(_VAE, num_classes=3),
                     {"image_shape": (16, 12, 3), "num_classes": 4},
                     mirrored_tolerance=_GENERATOR_TOLERANCE, class_names=("a", "b", "c")),
    ArchitectureCase(
        "pix2pix", IMAGE_TO_IMAGE,
        dict(image_shape=(8, 8, 3), condition_channels=3, base_filters=4, depth=2,
             discriminator_depth=1, seed=0),
        {"image_shape": (16, 12, 1), "condition_channels": 2},
        deterministic={"dropout": 0.0}, mirrored_tolerance=_GENERATOR_TOLERANCE),
    # Minibatch-stddev groups of 2: the per-replica batch, so two replicas match one device.
    ArchitectureCase("stylegan", STYLEGAN,
                     dict(_LATENT, w_dim=4, mapping_layers=2, mbstd_group_size=2, r1_gamma=1.0),
                     {"image_shape": (16, 12, 3)}, mirrored_tolerance=_GAN_TOLERANCE,
                     slow=frozenset({"mirrored"})),  # R1's double backward: 24 s on 2 busy CPUs
    # Second size: RGB (colour-ordered masks) and the logistic-mixture output.
    ArchitectureCase("pixelcnn", AUTOREGRESSIVE,
                     dict(image_shape=(6, 6, 1), filters=4, num_layers=2, seed=0),
                     {"image_shape": (5, 7, 3), "filters": 6, "output": "logistic_mixture",
                      "mixture_components": 2},
                     mirrored_tolerance=_GENERATOR_TOLERANCE),
    # Second size: padded inside the U-Net (11x9 -> 12x10) and class-conditional;
    # tests/generation/test_diffusion.py runs every aspect of the conditional model too.
    ArchitectureCase("ddim", DIFFUSION, dict(_DIFFUSION),
                     {"image_shape": (11, 9, 3), "num_classes": 3},
                     mirrored_tolerance=_GENERATOR_TOLERANCE),
)
CASES_BY_ARCH = {case.arch: case for case in CASES}


# --- the driver ------------------------------------------------------------------------


def run_architecture_test(case, aspects=ASPECTS, *, tmp_path=None, exports=None):
    """Check ``aspects`` of ``case`` (see the module docstring).

    ``tmp_path`` is needed by ``saving`` (and by ``export`` without ``exports``);
    ``exports`` is tests/conftest.py's session ``architecture_exports`` (one export per
    architecture, shared with tests/serving/).
    """
    for aspect in aspects:
        if aspect in case.unsupported:
            raise ValueError(f"{case.arch} does not support {aspect!r}")
        {
            "build": _check_build,
            "config": _check_config,
            "saving": _check_saving,
            "mixed_precision": _check_mixed_precision,
            "mirrored": _check_mirrored,
            "export": _check_export,
        }[aspect](case, tmp_path=tmp_path, exports=exports)


def _assert_outputs(case, model, n=2):
    family, rng = case.family, np.random.default_rng(0)
    for size in family.probe_sizes(model):
        outputs = family.outputs(model, family.inputs(model, n, rng, size))
        expected = family.expected(model, n, size)
        assert [(o.shape, o.dtype.name) for o in outputs] == expected, (case.arch, size)
        for output in outputs:
            assert np.all(np.isfinite(output)), case.arch


def _check_build(case, **_):
    _assert_outputs(case, case.build())
    model = case.build(**case.second_size)
    _assert_outputs(case, model)
    if case.family is SEGMENTATION:
        assert model.output_shape[1:3] == case.second_size["input_shape"][:2]


def _check_config(case, **_):
    model = case.build()
    config = model.get_config()
    clone = type(model).from_config(copy.deepcopy(config))  # Functional pops its keys
    assert type(clone) is type(model)
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    inputs = case.family.inputs(model, 2, np.random.default_rng(1))
    # The same computation on the same shapes: equal up to float rounding.
    for got, want in zip(case.family.outputs(clone, inputs), case.family.outputs(model, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def _check_saving(case, tmp_path, **_):
    family = case.family
    model = case.build()
    # Eager: this aspect is about state, and tracing three train functions costs seconds.
    family.compile(model, "adam", run_eagerly=True)
    model.fit(*case.batch(model, BATCH, seed=0), batch_size=BATCH, shuffle=False, verbose=0)
    path = pathlib.Path(tmp_path) / f"{case.arch}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode: only registered, serializable parts
    assert type(loaded) is type(model) and loaded.name == model.name

    for original, restored in zip(family.optimizers(model), family.optimizers(loaded)):
        assert type(restored) is type(original)
        assert int(restored.iterations) == int(original.iterations) > 0
        assert [v.path for v in restored.variables] == [v.path for v in original.variables]
        for a, b in zip(original.variables, restored.variables):
            np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)  # stored bits
        # A slot variable with non-zero state really came back.
        assert any(np.any(v.numpy() != 0) for v in restored.variables[2:])
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(b.numpy(), a.numpy(), err_msg=a.path)  # stored bits
    inputs = family.inputs(model, 3, np.random.default_rng(2))
    for got, want in zip(family.outputs(loaded, inputs), family.outputs(model, inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

    # One more step from the loaded state equals one more step from the original.
    # A .keras file does not store SeedGenerator states (Keras saves weights, not RNG
    # state): a reloaded model restarts its noise (dropout, latents, VAE sampling) from
    # its seed. Carry the states over so the comparison is about the stored state.
    _copy_seed_states(model, loaded)
    loaded.run_eagerly = True  # a model's compile config need not keep it
    more = case.batch(model, BATCH, seed=1)
    logs_loaded = loaded.fit(*more, batch_size=BATCH, shuffle=False, verbose=0).history
    logs_original = model.fit(*more, batch_size=BATCH, shuffle=False, verbose=0).history
    assert set(logs_loaded) == set(logs_original)
    for name, value in logs_original.items():
        np.testing.assert_allclose(logs_loaded[name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    for original, restored in zip(family.optimizers(model), family.optimizers(loaded)):
        assert int(restored.iterations) == int(original.iterations)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


def _seed_states(model):
    return [v for v in model.non_trainable_variables if v.path.endswith("seed_generator_state")]


def _copy_seed_states(source, target):
    # By position: a reload numbers its seed generators anew (seed_generator_7, ...).
    states, targets = _seed_states(source), _seed_states(target)
    assert len(states) == len(targets)
    for state, other in zip(states, targets):
        other.assign(state)


def _leaf_layers(layer):
    for sub in getattr(layer, "layers", ()):
        yield sub
        yield from _leaf_layers(sub)


def _check_mixed_precision(case, **_):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = case.build()
        assert any(layer.compute_dtype == "bfloat16" for layer in _leaf_layers(model))
        inputs = case.family.inputs(model, 2, np.random.default_rng(0))
        for output in case.family.outputs(model, inputs):
            if case.family.float32_outputs:
                assert output.dtype == np.float32, case.arch
            assert np.all(np.isfinite(np.asarray(output, np.float32))), case.arch
        if case.family is SEGMENTATION:
            assert model.get_layer("logits").dtype_policy.name == "float32"
        if case.family.own_train_step:  # Keras' own step is tested by Keras
            case.family.compile(model, "adam", run_eagerly=True)
            history = model.fit(*case.batch(model, BATCH), batch_size=BATCH, verbose=0).history
            assert all(np.isfinite(v[0]) for v in history.values()), history
    finally:
        keras.config.set_dtype_policy(previous)


def _check_mirrored(case, **_):
    """Two replicas on the same data and weights log and learn what one device does:
    the summed per-replica gradients equal the one-device gradient."""
    family = case.family
    single = case.build(**case.deterministic)
    family.compile(single, "sgd", run_eagerly=True)  # eager and graph steps agree too
    with two_cpu_strategy().scope():
        mirrored = case.build(**case.deterministic)
        family.prepare_mirrored(mirrored)
        family.compile(mirrored, "sgd")
    mirrored.set_weights(single.get_weights())

    data = case.batch(single, 2 * BATCH, seed=3)
    expected = single.fit(*data, batch_size=BATCH, shuffle=False, verbose=0).history
    got = mirrored.fit(*data, batch_size=BATCH, shuffle=False, verbose=0).history
    assert set(got) == set(expected)
    rtol, atol = case.mirrored_tolerance["logs"]
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=rtol, atol=atol, err_msg=name)
    rtol, atol = case.mirrored_tolerance["weights"]
    ours, theirs = family.compared_weights(single), family.compared_weights(mirrored)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=rtol, atol=atol, err_msg=a.path)


class ExportCache:
    """One export per architecture under one TF Serving root, for the whole session:
    ``get(case) -> (model, path)``. The model is built under a fixed global seed, so its
    exported answers are reproducible."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self._done = {}

    def get(self, case):
        if isinstance(case, str):
            case = CASES_BY_ARCH[case]
        if case.arch not in self._done:
            # A seed of the name alone: a new case never changes another case's weights.
            keras.utils.set_random_seed(zlib.crc32(case.arch.encode()) % 2**31)
            model = case.build()
            names = list(case.class_names) if case.class_names else None
            card = {"name": case.arch, "task": "test", "classes": {"names": names}}
            path = keras_segen.export(model, self.root, name=case.arch, version=1, card=card)
            self._done[case.arch] = (model, pathlib.Path(path))
        return self._done[case.arch]


def _check_export(case, tmp_path=None, exports=None, **_):
    from keras_segen.serving import WARMUP_FILE, read_warmup_requests

    exports = exports or ExportCache(tmp_path)
    _, path = exports.get(case)
    assert path == exports.root / case.arch / "1"
    saved = tf.saved_model.load(str(path))
    requests = read_warmup_requests(path / "assets.extra" / WARMUP_FILE)
    names = [request.model_spec.signature_name for request in requests]
    assert sorted(names) == sorted(saved.signatures) and "serving_default" in names
    for request in requests:
        assert request.model_spec.name == case.arch
        inputs = {k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()}
        outputs = saved.signatures[request.model_spec.signature_name](**inputs)
        assert outputs, request.model_spec.signature_name
        # Every output has one row per request row (or per requested sample).
        rows = {int(v.shape[0]) for v in inputs.values() if v.shape.rank}
        rows |= {int(v) for k, v in inputs.items() if k == "batch_size"}
        assert len(rows) == 1, rows
        for name, value in outputs.items():
            value = value.numpy()
            assert value.shape[0] in rows, (request.model_spec.signature_name, name)
            if value.dtype.kind == "f":
                assert np.all(np.isfinite(value)), name


def case_params(aspects=ASPECTS):
    """``pytest.param(case, aspect)`` for every supported pair, ``slow`` ones marked."""
    return [
        pytest.param(case, aspect, id=f"{case.arch}-{aspect}",
                     marks=[pytest.mark.slow] if aspect in case.slow else [])
        for case in CASES for aspect in aspects if aspect not in case.unsupported
    ]

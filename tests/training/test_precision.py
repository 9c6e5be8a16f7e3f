"""Precision: the ``auto`` rule, scoped policies, and mixed_float16 loss scaling for the
models with their own ``train_step`` (GANs, VAEs, pix2pix)."""
import keras
import numpy as np
import pytest

import keras_segen
from keras_segen.training import distribution
from keras_segen.kinds import kind_of
from keras_segen.training.precision import (
    POLICIES,
    auto_precision,
    precision_policy,
    resolve_precision,
)


@pytest.mark.parametrize("gpus, flags, expected", [
    ([(9, 0)], set(), "mixed_bfloat16"),  # Hopper
    ([(8, 6), (7, 5)], set(), "mixed_float16"),  # the slowest GPU decides
    ([(7, 0)], {"avx512_bf16"}, "mixed_float16"),  # a GPU wins over the CPU
    ([(6, 1)], set(), "float32"),  # Pascal: no tensor cores
    ([], {"avx512f", "avx512_bf16"}, "mixed_bfloat16"),
    ([], {"amx_bf16"}, "mixed_bfloat16"),
    ([], {"avx2", "avx512f", "avx512_fp16"}, "float32"),  # fp16 on CPU measured slower
])
def test_auto_rule(gpus, flags, expected):
    assert auto_precision(gpu_compute_capabilities=gpus, cpu_flags=flags) == expected


def test_auto_resolves_to_a_policy_on_this_machine_and_is_scoped():
    chosen = resolve_precision("auto")
    assert chosen in POLICIES
    before = keras.config.dtype_policy().name
    with precision_policy("auto"):
        assert keras.config.dtype_policy().name == chosen
        model = keras_segen.build("unet", num_classes=3, depth=2, base_filters=4)
    assert keras.config.dtype_policy().name == before
    assert model.get_layer("encoder1_1_conv").dtype_policy.name == chosen
    with pytest.raises(ValueError, match="precision must be one of .*'auto'"):
        resolve_precision("float8")


def _tiny(arch):
    gan = dict(image_shape=(16, 16, 1), latent_dim=8, base_filters=8, seed=0)
    vae = dict(image_shape=(16, 16, 1), latent_dim=4, base_filters=8, hidden_units=16, seed=0)
    kwargs = {"dcgan": gan, "wgan_gp": {**gan, "critic_steps": 2},
              "cgan": {**gan, "num_classes": 3}, "vae": vae, "cvae": {**vae, "num_classes": 3},
              "pix2pix": dict(image_shape=(16, 16, 3), base_filters=4, depth=2, seed=0)}[arch]
    return keras_segen.build(arch, **kwargs)


def _batch(arch, n=4):
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    if arch == "pix2pix":
        return np.eye(3, dtype="float32")[rng.integers(0, 3, (n, 16, 16))], rng.uniform(
            -1, 1, (n, 16, 16, 3)).astype("float32")
    images = rng.uniform(0 if arch in ("vae", "cvae") else -1, 1, (n, 16, 16, 1))
    images = images.astype("float32")
    return (images, labels) if arch in ("cgan", "cvae") else (images,)


def _optimizers(model):
    return [model.optimizer] if callable(getattr(model, "encode", None)) else [
        model.g_optimizer, model.d_optimizer]


@pytest.mark.parametrize("arch", ["dcgan", "wgan_gp", "cgan", "vae", "cvae", "pix2pix"])
def test_mixed_float16_steps_use_loss_scaling_and_stay_finite(arch):
    with precision_policy("mixed_float16"):
        model = _tiny(arch)
        kind_of(model).compile(model, {})
    optimizers = _optimizers(model)
    assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) for o in optimizers)
    assert {o.inner_optimizer.name for o in optimizers} != {None}
    # Four steps: a step whose scaled gradients overflow float16 is skipped and the
    # scale halved (pix2pix's L1 term x 100 overflows the initial 2**15 twice).
    history = model.fit(*_batch(arch, 16), batch_size=4, epochs=1, verbose=0).history
    for name, values in history.items():
        assert np.all(np.isfinite(values)), (name, values)
    for o in optimizers:
        assert int(o.inner_optimizer.iterations) >= 1  # updates were applied
        assert 1.0 <= float(o.dynamic_scale) <= 2.0**15
    if arch == "pix2pix":
        output = model(_batch(arch)[0][:1])
    elif arch in ("vae", "cvae"):
        output = model.decode(np.zeros((1, 4), "float32"), *([[0]] if arch == "cvae" else []))
    else:
        z = np.zeros((1, 8), "float32")
        output = model([z, np.array([0])]) if arch == "cgan" else model(z)
    assert output.dtype == "float32"


def test_mixed_float16_gan_under_mirrored_strategy():
    strategy = distribution.make_strategy("mirrored")
    with precision_policy("mixed_float16"), strategy.scope():
        model = _tiny("dcgan")
        kind_of(model).compile(model, {})
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(*_batch("dcgan"), batch_size=4, epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in history.values())
    assert model.d_optimizer.inner_optimizer.iterations.numpy() == 1


def test_trainer_precision_reaches_the_saved_model(tmp_path, random_fashion_mnist):
    from keras_segen import training

    classifier = random_fashion_mnist(train=16, test=8)
    recipe = {
        "name": "tiny_dcgan", "task": "generation", "arch": "dcgan",
        "kwargs": {"latent_dim": 4, "base_filters": 4, "seed": 0},
        "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                    "train_split": "train", "val_split": None, "test_split": "test"},
        "train": {"epochs": 1, "batch_size": 8, "steps_per_epoch": 1, "seed": 0,
                  "precision": "float32", "samples": {"num_images": 4}},
        "evaluation": {"kid_subset_size": 4, "kid_subsets": 2, "baselines": False,
                       "classifier": str(classifier)},
    }
    results = training.train(recipe, tmp_path / "run", precision="auto", verbose=0)
    chosen = resolve_precision("auto")
    assert results["recipe"]["train"]["precision"] == "auto"
    assert results["trained_with"]["precision"] == chosen
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert model.generator.get_layer("g_project").dtype_policy.name == chosen
    assert model.generate(1, seed=0).dtype == np.float32

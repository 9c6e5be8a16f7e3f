"""Precision: the ``auto`` rule and CPU probe with its cache, scoped policies, and
mixed_float16 loss scaling for the models with their own ``train_step`` (GANs, VAEs,
pix2pix)."""
import json

import keras
import numpy as np
import pytest

import keras_segen
from keras_segen.training import distribution, precision
from keras_segen.kinds import kind_of
from keras_segen.training.precision import (
    POLICIES,
    auto_choice,
    auto_precision,
    precision_policy,
    resolve_precision,
)

_REAL_MEASURE = precision._measure_rates
BF16 = {"avx512f", "avx512_bf16", "amx_bf16"}


@pytest.fixture(autouse=True)
def probe(tmp_path, monkeypatch):
    """Every test gets its own cache home and a fake probe (bfloat16 2x float32) that
    counts its calls; ``probe.ratio`` sets what the next measurement finds."""
    monkeypatch.setenv("KERAS_SEGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(precision.PROBE_ENV, raising=False)

    class Fake:
        calls = 0
        ratio = 2.0

        def __call__(self, **settings):
            assert settings == precision._PROBE
            self.calls += 1
            return {"float32": 10.0, "mixed_bfloat16": 10.0 * self.ratio}

    fake = Fake()
    monkeypatch.setattr(precision, "_measure_rates", fake)
    return fake


def _cache(tmp_path):
    return tmp_path / "home" / precision.CACHE_FILE


@pytest.mark.parametrize("gpus, flags, expected", [
    ([(9, 0)], set(), "mixed_bfloat16"),  # Hopper
    ([(8, 6), (7, 5)], set(), "mixed_float16"),  # the slowest GPU decides
    ([(7, 0)], {"avx512_bf16"}, "mixed_float16"),  # a GPU wins over the CPU
    ([(6, 1)], set(), "float32"),  # Pascal: no tensor cores
    ([], {"avx512f", "avx512_bf16"}, "mixed_bfloat16"),
    ([], {"amx_bf16"}, "mixed_bfloat16"),
    ([], {"avx2", "avx512f", "avx512_fp16"}, "float32"),  # fp16 on CPU measured slower
])
def test_auto_rule_without_the_probe(gpus, flags, expected, monkeypatch, probe):
    monkeypatch.setenv(precision.PROBE_ENV, "off")
    assert auto_precision(gpu_compute_capabilities=gpus, cpu_flags=flags) == expected
    assert probe.calls == 0


def test_gpus_follow_the_rule_without_probing(probe, tmp_path):
    choice = auto_choice(gpu_compute_capabilities=[(8, 0)], cpu_flags=BF16)
    assert choice == ("mixed_bfloat16", "rule for GPU compute capability 8.0")
    assert probe.calls == 0 and not _cache(tmp_path).exists()


def test_cpu_without_bf16_units_is_float32_without_probing(probe, tmp_path):
    choice = auto_choice(gpu_compute_capabilities=[], cpu_flags={"avx2", "avx512f"})
    assert choice.policy == "float32" and "no bfloat16 units" in choice.reason
    assert probe.calls == 0 and not _cache(tmp_path).exists()


@pytest.mark.parametrize("ratio, expected", [
    (2.0, "mixed_bfloat16"), (1.15, "mixed_bfloat16"),  # the margin itself passes
    (1.1, "float32"), (0.5, "float32"),  # faster by less than the margin, or slower
])
def test_probe_decides_by_the_margin_and_records_it(ratio, expected, probe, tmp_path):
    probe.ratio = ratio
    choice = auto_choice(gpu_compute_capabilities=[], cpu_flags=BF16)
    assert choice.policy == expected and probe.calls == 1
    assert choice.reason.startswith(f"measured {ratio:.2f}x bfloat16/float32")
    (key, entry), = json.loads(_cache(tmp_path).read_text()).items()
    assert precision._cpu_model() in key and "amx_bf16+avx512_bf16" in key
    assert f"keras {keras.__version__}" in key
    assert entry["policy"] == expected and entry["ratio"] == pytest.approx(ratio)
    assert entry["rates_img_per_s"] == {"float32": 10.0, "mixed_bfloat16": 10.0 * ratio}
    assert entry["margin"] == precision.MARGIN and len(entry["date"]) == 10


def test_cache_is_used_and_keyed_by_machine(probe, tmp_path, monkeypatch):
    first = auto_choice(gpu_compute_capabilities=[], cpu_flags=BF16)
    probe.ratio = 0.5  # a new measurement would now pick float32
    again = auto_choice(gpu_compute_capabilities=[], cpu_flags=BF16)
    assert probe.calls == 1 and again.policy == first.policy == "mixed_bfloat16"
    assert again.reason.startswith("cached: measured 2.00x")
    monkeypatch.setattr(precision, "_cpu_model", lambda: "Another CPU")
    other = auto_choice(gpu_compute_capabilities=[], cpu_flags=BF16)
    assert probe.calls == 2 and other.policy == "float32"
    assert len(json.loads(_cache(tmp_path).read_text())) == 2  # both machines kept
    fewer_flags = auto_choice(gpu_compute_capabilities=[], cpu_flags={"avx512_bf16"})
    assert probe.calls == 3 and fewer_flags.reason.startswith("measured")


@pytest.mark.parametrize("damage", [
    "{not json", "", "[1, 2]", None,  # None: an entry of ours with a bogus policy
])
def test_damaged_or_foreign_cache_is_measured_again(damage, probe, tmp_path):
    auto_choice(gpu_compute_capabilities=[], cpu_flags=BF16)
    path = _cache(tmp_path)
    if damage is None:
        entries = json.loads(path.read_text())
        entries[next(iter(entries))]["policy"] = "mixed_float8"
        damage = json.dumps(entries)
    path.write_text(damage)
    choice = auto_choice(gpu_compute_capabilities=[], cpu_flags=BF16)
    assert probe.calls == 2 and choice.reason.startswith("measured")
    (entry,) = json.loads(path.read_text()).values()  # rewritten, readable
    assert entry["policy"] == "mixed_bfloat16"


def test_probe_off_keeps_the_flag_rule(probe, tmp_path, monkeypatch):
    monkeypatch.setenv(precision.PROBE_ENV, "OFF")
    choice = auto_choice(gpu_compute_capabilities=[], cpu_flags=BF16)
    assert choice.policy == "mixed_bfloat16" and "=off" in choice.reason
    assert probe.calls == 0 and not _cache(tmp_path).exists()


def test_real_probe_measures_and_caches(tmp_path, monkeypatch):
    # The unmocked probe, shrunk: it must run both policies and record what it found
    # (no claim about which wins: that is the machine's answer).
    monkeypatch.setattr(precision, "_measure_rates", _REAL_MEASURE)
    monkeypatch.setattr(precision, "_PROBE", dict(
        image_size=16, batch_size=2, depth=1, base_filters=4, rounds=1, steps=1))
    before = keras.config.dtype_policy().name
    choice = auto_choice(gpu_compute_capabilities=[], cpu_flags=BF16)
    assert choice.policy in ("float32", "mixed_bfloat16")
    assert keras.config.dtype_policy().name == before  # the probe restored the policy
    (entry,) = json.loads(_cache(tmp_path).read_text()).values()
    assert entry["policy"] == choice.policy
    assert all(rate > 0 for rate in entry["rates_img_per_s"].values())


def test_auto_resolves_to_a_policy_on_this_machine_and_is_scoped():
    lines = []
    chosen = resolve_precision("auto", report=lines.append)
    assert chosen in POLICIES
    assert lines and lines[0].startswith(f"precision auto: {chosen} (")
    assert resolve_precision("float32", report=lines.append) == "float32"
    assert len(lines) == 1  # only ``auto`` is reported
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


def test_trainer_precision_reaches_the_saved_model(tmp_path, random_fashion_mnist, capsys):
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
    results = training.train(recipe, tmp_path / "run", precision="auto", verbose=1)
    chosen = resolve_precision("auto")
    # One line says what auto chose and why.
    assert capsys.readouterr().out.count(f"precision auto: {chosen} (") == 1
    assert results["recipe"]["train"]["precision"] == "auto"
    assert results["trained_with"]["precision"] == chosen
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert model.generator.get_layer("g_project").dtype_policy.name == chosen
    assert model.generate(1, seed=0).dtype == np.float32

"""The evaluation cache (real features, untrained baseline, real floor) and
``--eval-samples``: same numbers with and without the cache, misses on any key change,
damaged entries recomputed, and the flag reaching the evaluation."""
import json

import keras
import numpy as np
import pytest

import keras_segen
from keras_segen.cli import main
from keras_segen.evaluation import cache as cache_module
from keras_segen.evaluation.cache import EvaluationCache
from keras_segen.evaluation.generation import GenerationEvaluator, evaluate_recipe_model
from keras_segen.training.recipe_checks import RecipeError
from keras_segen.training.recipes import read_recipe


def _recipe(classifier, **evaluation):
    return {
        "name": "tiny_dcgan", "task": "generation", "arch": "dcgan",
        "kwargs": {"image_shape": [28, 28, 1], "latent_dim": 4, "base_filters": 4},
        "dataset": {"name": "fashion_mnist", "options": {"scale": "tanh"},
                    "train_split": "train_full", "val_split": None, "test_split": "test"},
        "train": {"epochs": 1, "batch_size": 8, "seed": 3},
        "evaluation": {"num_images": 24, "kid_subset_size": 8, "kid_subsets": 3,
                       "baselines": True, "classifier": str(classifier), **evaluation},
    }


@pytest.fixture
def setup(random_fashion_mnist, tmp_path, monkeypatch):
    """(recipe, trained-stand-in model, embed call counter); the cache under tmp_path."""
    monkeypatch.setenv("KERAS_SEGEN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(cache_module.ENV_VAR, raising=False)
    classifier = random_fashion_mnist(30, 24)
    calls = []
    embed = GenerationEvaluator.embed

    def counting(self, images01):
        calls.append(len(images01))
        return embed(self, images01)

    monkeypatch.setattr(GenerationEvaluator, "embed", counting)
    keras.utils.set_random_seed(7)
    recipe = _recipe(classifier)
    model = keras_segen.build(recipe["arch"], **recipe["kwargs"])
    return recipe, model, calls


def _entries(tmp_path):
    return sorted((tmp_path / "home" / "eval_cache").iterdir())


def test_a_cache_hit_gives_the_same_numbers_and_skips_the_work(setup, tmp_path):
    recipe, model, calls = setup
    without = evaluate_recipe_model(model, recipe, cache=False)
    assert len(calls) == 4  # generated, held-out, untrained, floor's train images
    first = evaluate_recipe_model(model, recipe)  # the default cache, under the home
    assert len(calls) == 8
    assert {p.name.split("-")[0] for p in _entries(tmp_path)} == {
        "real_features", "untrained", "real_floor"}
    second = evaluate_recipe_model(model, recipe)
    assert len(calls) == 9  # only the trained model's images were embedded
    assert without == first == second
    assert without["baselines"]["untrained"]["fid"] != without["fid"]


def test_the_cache_can_be_turned_off(setup, tmp_path, monkeypatch):
    recipe, model, calls = setup
    monkeypatch.setenv(cache_module.ENV_VAR, "off")
    evaluate_recipe_model(model, recipe)
    assert not (tmp_path / "home" / "eval_cache").exists()


@pytest.mark.parametrize("change", ["feature_model", "split", "eval_samples", "arch_kwargs"])
def test_a_key_change_misses(setup, tmp_path, change):
    recipe, model, calls = setup
    cache = EvaluationCache()
    evaluate_recipe_model(model, recipe, cache=cache)
    options = {}
    if change == "feature_model":  # same architecture, other weights, other file
        keras.utils.set_random_seed(1)
        other = tmp_path / "other_classifier.keras"
        keras_segen.build("fashion_classifier", widths=(4,), feature_dim=8).save(other)
        recipe = _recipe(other)
    elif change == "split":
        options["split"] = "train_full"
    elif change == "eval_samples":
        options["eval_samples"] = 10
    else:
        recipe = {**recipe, "kwargs": {**recipe["kwargs"], "base_filters": 8}}
    cache.log.clear()
    evaluate_recipe_model(model, recipe, cache=cache, **options)
    assert ("untrained", "miss") in cache.log
    if change != "arch_kwargs":
        assert ("real_features", "miss") in cache.log
    else:  # the real images' features don't depend on the generator
        assert ("real_features", "hit") in cache.log


def test_a_damaged_entry_is_recomputed_and_rewritten(setup, tmp_path):
    recipe, model, calls = setup
    first = evaluate_recipe_model(model, recipe)
    entries = _entries(tmp_path)
    for index, path in enumerate(entries):
        data = path.read_bytes()
        if path.suffix == ".json":  # still valid JSON, another number: not trusted
            entry = json.loads(data)
            entry["value"]["fid"] = entry["value"]["fid"] + 1.0
            path.write_text(json.dumps(entry))
        elif index % 2:  # a truncated file
            path.write_bytes(data[:len(data) // 2])
        else:  # one flipped byte inside the arrays
            middle = len(data) // 2
            path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
    del calls[:]
    again = evaluate_recipe_model(model, recipe)
    assert len(calls) == 4 and again == first
    del calls[:]
    assert evaluate_recipe_model(model, recipe) == first and len(calls) == 1


def test_eval_samples_limits_real_and_generated_images(setup):
    recipe, model, calls = setup
    results = evaluate_recipe_model(model, recipe, eval_samples=10)
    assert (results["num_real"], results["num_generated"]) == (10, 10)
    assert results["baselines"]["real_floor"]["num_images"] == 10
    explicit = evaluate_recipe_model(model, recipe, eval_samples=10, num_images=6)
    assert (explicit["num_real"], explicit["num_generated"]) == (10, 6)
    with pytest.raises(ValueError, match="eval_samples"):
        evaluate_recipe_model(model, recipe, eval_samples=0)


def test_the_trainer_evaluates_with_train_eval_samples(setup):
    from types import SimpleNamespace

    from keras_segen.kinds import kind_of

    recipe, model, calls = setup
    recipe = read_recipe(recipe).with_overrides(eval_samples=12).to_dict()
    results = kind_of(model).evaluate_run(model, recipe, SimpleNamespace(class_names=None))
    metrics = results["fashion_mnist/test"]
    assert (metrics["num_real"], metrics["num_generated"]) == (12, 12)
    assert results["baselines"]["untrained"]["num_generated"] == 12


def test_train_eval_samples_is_checked(setup):
    recipe, _, _ = setup
    with pytest.raises(RecipeError, match="train.eval_samples"):
        read_recipe(recipe).with_overrides(eval_samples=0)
    segmentation = read_recipe("unet_bluemarble").to_dict()
    with pytest.raises(RecipeError, match=r"train.eval_samples \(--eval-samples\)"):
        read_recipe(segmentation).with_overrides(eval_samples=5)


@pytest.mark.parametrize("command", ["train", "evaluate"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_cli_refuses_non_positive_eval_samples(command, value, tmp_path, capsys):
    argv = ([command, "dcgan_fashion_mnist", "--out", str(tmp_path / "run")]
            if command == "train" else [command, "dcgan_fashion_mnist"])
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, f"--eval-samples={value}"])
    assert exit_info.value.code == 2
    assert "--eval-samples" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_train_passes_eval_samples(monkeypatch, tmp_path):
    import keras_segen.training as training

    seen = {}
    monkeypatch.setattr(training, "train", lambda *a, **kw: seen.update(kw))
    assert main(["train", "dcgan_fashion_mnist", "--out", str(tmp_path / "run"),
                 "--eval-samples", "7"]) == 0
    assert seen["eval_samples"] == 7


def test_cli_evaluate_eval_samples_reaches_the_evaluation(setup, tmp_path, capsys):
    recipe, model, calls = setup
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "metrics.json").write_text(json.dumps({"recipe": recipe}))
    out = tmp_path / "metrics.json"
    assert main(["evaluate", str(run), "--eval-samples", "9", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert (results["num_real"], results["num_generated"]) == (9, 9)
    assert "untrained" in results["baselines"]


def test_cli_evaluate_refuses_eval_samples_for_segmentation(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    keras_segen.build("unet", num_classes=3, depth=2, base_filters=4).save(run / "model.keras")
    recipe = read_recipe("unet_bluemarble").to_dict()
    (run / "metrics.json").write_text(json.dumps({"recipe": recipe}))
    assert main(["evaluate", str(run), "--eval-samples", "9"]) == 2
    err = capsys.readouterr().err
    assert "--eval-samples applies to generative models" in err and "Traceback" not in err


def test_pix2pix_features_are_cached_by_the_segmenter_file(tmp_path):
    keras.utils.set_random_seed(0)
    segmenter = tmp_path / "segmenter.keras"
    keras_segen.build("unet", num_classes=3, depth=2, base_filters=4).save(segmenter)
    model = keras_segen.build("pix2pix", image_shape=(16, 16, 3), base_filters=4,
                              discriminator_depth=2, seed=0)
    rng = np.random.default_rng(0)
    conditions = np.eye(3, dtype=np.float32)[rng.integers(0, 3, (6, 16, 16))]
    pairs = (conditions, rng.uniform(-1, 1, (6, 16, 16, 3)).astype(np.float32))
    cache = EvaluationCache(tmp_path / "cache")
    options = {"kind": "image_to_image", "segmenter": segmenter, "kid_subset_size": 4,
               "kid_subsets": 2}
    uncached = GenerationEvaluator(pairs, cache=False, **options).evaluate(model)
    found = [GenerationEvaluator(pairs, cache=cache, **options).evaluate(model)
             for _ in range(2)]
    assert found == [uncached, uncached]
    assert cache.log == [("real_features", "miss"), ("real_features", "hit")]

"""``keras-segen train`` flags for distribution, precision and XLA reach ``training.train``;
recipe keys ``jit_compile`` and ``optimizer`` reach ``compile``."""
import keras
import pytest

import keras_segen
from keras_segen import cli, training
from keras_segen.training.compiling import compile_for_recipe


@pytest.fixture
def captured(monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train", lambda *args, **kwargs: calls.append((args, kwargs)))
    return calls


def test_flags_are_passed_to_train(captured):
    assert cli.main(["train", "unet_bluemarble", "--out", "run", "--strategy", "mirrored",
                     "--precision", "auto", "--jit-compile"]) == 0
    (args, kwargs), = captured
    assert args == ("unet_bluemarble", "run")
    assert kwargs["strategy"] == "mirrored" and kwargs["precision"] == "auto"
    assert kwargs["jit_compile"] is True
    assert kwargs["overwrite"] is False


def test_overwrite_flag_reaches_train(captured):
    cli.main(["train", "unet_bluemarble", "--out", "run", "--overwrite"])
    (_, kwargs), = captured
    assert kwargs["overwrite"] is True


def test_defaults_keep_the_recipe_settings(captured):
    cli.main(["train", "unet_bluemarble", "--out", "run"])
    cli.main(["train", "unet_bluemarble", "--out", "run", "--no-jit-compile"])
    (_, first), (_, second) = captured
    assert first["strategy"] == "none"
    assert first["precision"] is None and first["jit_compile"] is None  # recipe decides
    assert second["jit_compile"] is False


@pytest.mark.parametrize("flag", [["--strategy", "horovod"], ["--precision", "float8"]])
def test_unknown_choices_are_refused(flag, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["train", "unet_bluemarble", "--out", "run", *flag])
    assert "invalid choice" in capsys.readouterr().err


def test_train_writes_precision_and_jit_compile_into_the_recipe(monkeypatch):
    seen = {}
    import keras_segen.training.trainer as trainer

    def fake_trainer(recipe, out_dir, *, verbose, strategy, overwrite):
        seen.update(recipe=recipe, strategy=strategy)

    monkeypatch.setattr(trainer, "run_training", fake_trainer)
    training.train("unet_bluemarble", "run", strategy="mirrored", precision="mixed_bfloat16",
                   jit_compile=False, epochs=3)
    assert seen["strategy"] == "mirrored"
    assert seen["recipe"]["train"]["precision"] == "mixed_bfloat16"
    assert seen["recipe"]["train"]["jit_compile"] is False
    assert seen["recipe"]["train"]["epochs"] == 3


def test_recipe_jit_compile_and_optimizer_reach_compile():
    recipe = {"task": "segmentation", "arch": "unet", "classes": {"names": ["a", "b", "c"]},
              "train": {"jit_compile": True, "optimizer": {"name": "sgd", "learning_rate": 0.1}}}
    model = compile_for_recipe(keras_segen.build("unet", num_classes=3, depth=2, base_filters=4),
                               recipe)
    assert model.jit_compile is True
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    gan = compile_for_recipe(keras_segen.build("dcgan", image_shape=(16, 16, 1), latent_dim=8,
                                               base_filters=8),
                             {"task": "generation", "arch": "dcgan", "train": {"jit_compile": False}})
    assert gan.jit_compile is False
    with pytest.raises(ValueError, match="train.jit_compile must be"):
        compile_for_recipe(keras_segen.build("unet", num_classes=3, depth=2, base_filters=4),
                           {**recipe, "train": {"jit_compile": "yes"}})

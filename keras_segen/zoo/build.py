"""``keras-segen zoo build NAME``: recipe -> trained run -> artifact folder + card + index.

Steps:

1. a trained model: train the recipe (``keras_segen.training.train``) into a run folder
   (``runs/zoo_build/NAME`` beside the zoo, resumable), or take a finished run
   (``--from-run``; its ``metrics.json`` recipe must equal the current recipe), or a model
   file (``--from-model``, for entries trained outside ``train``, e.g. the
   Fashion-MNIST feature classifier). Classification recipes train through the script
   their recipe names (``trainer``), whose ``main`` runs in this process.
2. in a staging folder beside the artifact folder: ``model.keras`` without optimizer state
   (rebuilt from the recipe, trained weights copied in, saved uncompiled; a file already
   without optimizer state is copied byte for byte), loaded back with ``safe_mode``;
3. the card's metrics, measured on that file (``zoo.evaluation``), sample PNGs
   (``zoo.samples``), the run's learning curve (``zoo.learning_curve``) and the TF Serving export (``keras_segen.serving.export``) when
   that module is installed;
4. publish: the staging folder is renamed into ``zoo/artifacts/NAME``, then the card is
   written (atomically, last) and the index regenerated. An interrupted build leaves
   the previous artifact and card as they were.
"""
import json
import os
import pathlib
import shutil
import time
import warnings
import zipfile

import keras

from keras_segen import registry
from keras_segen.paths import artifacts_dir, zoo_dir
from keras_segen.training.precision import precision_policy
from keras_segen.training.recipes import load_recipe, with_overrides
from keras_segen.zoo import describe
from keras_segen.zoo.artifacts import file_records, sha256_file
from keras_segen.zoo.cards import make_card, write_card
from keras_segen.zoo.evaluation import (
    evaluate_entry,
    feature_model_paths,
    generation_baselines,
)
from keras_segen.zoo.index import write_index
from keras_segen.zoo.learning_curve import learning_curve
from keras_segen.training.compiling import compile_for_recipe
from keras_segen.zoo.samples import write_samples
from keras_segen.zoo.schema import MODEL_FILE
from keras_segen.zoo.verify import compare_metrics


def recipe_differences(run_value, recipe_value, prefix="") -> list[str]:
    """``["train.epochs: run 5, recipe 60", ...]`` for every key whose value differs."""
    if isinstance(run_value, dict) and isinstance(recipe_value, dict):
        found = []
        for key in sorted(set(run_value) | set(recipe_value)):
            missing = object()
            a, b = run_value.get(key, missing), recipe_value.get(key, missing)
            path = f"{prefix}{key}"
            if a is missing or b is missing:
                found.append(f"{path}: {'absent' if a is missing else repr(a)} in the run, "
                             f"{'absent' if b is missing else repr(b)} in the recipe")
            else:
                found += recipe_differences(a, b, f"{path}.")
        return found
    if run_value != recipe_value:
        return [f"{prefix.rstrip('.')}: run {run_value!r}, recipe {recipe_value!r}"]
    return []


def read_run(run_dir, recipe) -> dict:
    """The ``metrics.json`` of a finished run of ``recipe``; refuses another recipe's run."""
    run_dir = pathlib.Path(run_dir)
    metrics_path = run_dir / "metrics.json"
    if not (run_dir / MODEL_FILE).is_file() or not metrics_path.is_file():
        raise FileNotFoundError(
            f"{run_dir} is not a finished training run: it needs {MODEL_FILE} and "
            "metrics.json (written when training ends)"
        )
    record = json.loads(metrics_path.read_text())
    differences = recipe_differences(record.get("recipe"), recipe)
    if differences:
        listed = "\n  ".join(differences)
        raise ValueError(
            f"the run in {run_dir} was trained with another recipe than the current "
            f"{recipe['name']} recipe; differing keys:\n  {listed}\nRetrain it, or make the "
            "recipe (and --time-budget) match the run."
        )
    return record


def default_run_dir(name) -> pathlib.Path:
    return zoo_dir().parent / "runs" / "zoo_build" / name


def _has_optimizer_state(path) -> bool:
    with zipfile.ZipFile(path) as archive:
        return bool(json.loads(archive.read("config.json")).get("compile_config"))


def package_model(source, recipe, destination) -> keras.Model:
    """Write ``source``'s weights to ``destination`` as an uncompiled ``.keras`` file of
    the recipe's architecture (no optimizer state); returns the model loaded back."""
    trained = keras.saving.load_model(source, safe_mode=True)
    with precision_policy(recipe["train"].get("precision", "float32")):
        fresh = registry.build_without_pretrained(recipe["arch"], recipe["kwargs"])
    theirs = [(w.path, tuple(w.shape)) for w in trained.weights]
    ours = [(w.path, tuple(w.shape)) for w in fresh.weights]
    if [s for _, s in theirs] != [s for _, s in ours]:
        first = next((f"{a} vs {b}" for a, b in zip(theirs, ours) if a[1] != b[1]),
                     f"{len(theirs)} vs {len(ours)} weights")
        raise ValueError(
            f"{source} is not a {recipe['arch']} built with the {recipe['name']} recipe's "
            f"kwargs: its weights differ ({first})"
        )
    if _has_optimizer_state(source):
        fresh.set_weights(trained.get_weights())
        fresh.save(destination)
    else:  # already without optimizer state: keep the exact bytes
        shutil.copyfile(source, destination)
    return keras.saving.load_model(destination, safe_mode=True)


# Flags of a classification recipe's training script, from its ``train`` / ``kwargs``.
_TRAINER_FLAGS = {"train": ("epochs", "batch_size", "learning_rate", "seed", "precision"),
                  "kwargs": ("feature_dim", "widths")}


def _classification_run(recipe, run_dir) -> dict:
    """Train a classification recipe with the script it names (``trainer.script``);
    returns the script's results (``metrics.json`` in ``run_dir``)."""
    trainer = recipe.get("trainer")
    if not trainer:
        raise ValueError(f"recipe {recipe['name']}: classification recipes name their "
                         "training script in trainer.script")
    run_dir.mkdir(parents=True, exist_ok=True)
    script = zoo_dir().parent / trainer["script"]
    args = ["--out", str(run_dir / MODEL_FILE), "--json", str(run_dir / "metrics.json"),
            "--floor-samples", "0"]
    for section, keys in _TRAINER_FLAGS.items():
        for key in keys:
            if key in recipe[section]:
                value = recipe[section][key]
                args += [f"--{key.replace('_', '-')}",
                         *map(str, value if isinstance(value, list) else [value])]
    print("training:", script, " ".join(args))
    started = time.time()
    _run_script_main(script, args)
    record = json.loads((run_dir / "metrics.json").read_text())
    record["trained_with"].update(wall_seconds=round(time.time() - started, 1),
                                  fit_seconds=record.get("train_seconds"),
                                  best_epoch=record.get("best_epoch"))
    record["recipe"] = recipe
    (run_dir / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _run_script_main(script, args):
    """Run a training script's ``main(argv)`` in this process (its module is loaded from
    its path: scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_zoo_trainer_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with precision_policy("float32"):  # the script sets its own policy; restore ours after
        module.main(args)


def _from_model_record(recipe, path) -> dict:
    from keras_segen.training.provenance import environment

    train_cfg = recipe.get("train", {})
    return {"trained_with": {
        "seed": train_cfg.get("seed"),
        "precision": train_cfg.get("precision"),
        "epochs": train_cfg.get("epochs"),
        "wall_seconds": None,
        "note": f"packaged from the existing model file {path}, whose training run was not "
                "recorded; the versions and hardware below are those of the packaging run "
                "(on the machine that trained it)",
        **environment(),
    }}


def _portable(value):
    """Paths under the zoo folder written relative to it (cards travel between machines)."""
    root = str(zoo_dir().resolve())
    if isinstance(value, str) and value.startswith(root):
        return "zoo" + value[len(root):]
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    return value


def _feature_models(recipe) -> dict:
    found = {}
    root = zoo_dir().resolve()
    for name, path in feature_model_paths(recipe).items():
        path = pathlib.Path(path).resolve()
        if path.is_file():
            shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
            found[name] = {"path": shown, "sha256": sha256_file(path)}
    return found


def export_serving(model, folder, card, names):
    """TF Serving export into ``folder/serving`` via ``keras_segen.serving`` when present."""
    if card["task"] == "classification":
        print("serving export: skipped (the classifier is a feature extractor for the "
              "zoo's metrics, not a served model)")
        return None
    try:
        from keras_segen import serving

        export = serving.export
    except (ImportError, AttributeError) as err:
        warnings.warn(f"serving export skipped: keras_segen.serving is not available ({err})")
        print(f"WARNING: serving export skipped: keras_segen.serving is not available ({err})")
        return None
    return export(model, pathlib.Path(folder) / "serving", name=card["name"], version=1,
                  card=card, class_names=names)


def _check_against_run(measured, run_record) -> bool:
    """Warn about every metric the artifact measures differently from its training run
    (e.g. a feature model rebuilt since); True when all agree."""
    agree = True
    for key, values in measured.items():
        recorded = run_record.get(key)
        if not isinstance(recorded, dict) or "error" in recorded:
            continue
        bad = [row for row in compare_metrics(values, recorded) if not row["ok"]]
        for row in bad:
            agree = False
            print(f"WARNING: {key} {row['metric']}: the artifact measures {row['card']!r}, "
                  f"the training run recorded {row['measured']!r}")
    return agree


def publish(staging, card) -> pathlib.Path:
    """Rename ``staging`` into ``zoo/artifacts/NAME``, then write the card, then the
    index: the card (what makes an artifact loadable) only ever names complete files."""
    final = artifacts_dir() / card["name"]
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old{os.getpid()}")
        os.replace(final, old)
    try:
        os.replace(staging, final)
        try:
            write_card(card)
        except BaseException:  # the new files go back to staging (removed by the caller)
            os.replace(final, staging)
            raise
    except BaseException:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    write_index()
    return final


def build_entry(name, *, from_run=None, from_model=None, time_budget=None, run_dir=None,
                url=None) -> dict:
    """Build zoo entry ``name`` (see the module docstring); returns its new card."""
    if from_run and from_model:
        raise ValueError("give --from-run or --from-model, not both")
    stored = load_recipe(name)
    if stored["name"] != name:
        raise ValueError(f"recipe {name} names itself {stored['name']!r}")
    if time_budget is not None and not time_budget > 0:  # 0 is not "no budget"
        raise ValueError(f"time_budget must be a positive number of seconds, got {time_budget}")
    overrides = {"time_budget_s": float(time_budget)} if time_budget is not None else {}
    recipe = with_overrides(stored, **overrides)  # what trains; the card keeps `stored`
    started = time.time()

    if from_model:
        model_path, run_record = pathlib.Path(from_model), _from_model_record(recipe, from_model)
    else:
        run = pathlib.Path(from_run or run_dir or default_run_dir(name))
        if from_run or (run / "metrics.json").is_file():
            print(f"packaging the finished run in {run}")
            run_record = read_run(run, recipe)
        elif recipe["task"] == "classification":
            run_record = _classification_run(recipe, run)
        else:
            from keras_segen.training import train

            print(f"training {name} into {run}")
            run_record = train(recipe, run)
        model_path = run / MODEL_FILE
    if not model_path.is_file():
        raise FileNotFoundError(f"model file {model_path} does not exist")

    root = artifacts_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{name}.build{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    from keras_segen.progress import progress_bar

    stages = progress_bar(4, "stage")  # package, evaluate, samples, export
    try:
        model = package_model(model_path, recipe, staging / MODEL_FILE)
        stages.add(1)
        classes = describe.classes_record(recipe, run_record.get("class_names"),
                                          run_record.get("palette"))
        names = classes["names"]
        compile_for_recipe(model, recipe, names)  # proves the artifact compiles as it trains

        print("evaluating", name)
        evaluated = time.time()
        metrics = _portable(evaluate_entry(model, recipe, names))
        seconds = round(time.time() - evaluated, 1)
        stages.add(1)
        # The run's baselines are reused only when its numbers reproduce: otherwise they
        # were measured on another scale (e.g. FID features of an older segmenter).
        agree = _check_against_run(metrics, run_record)
        baselines = (agree and run_record.get("baselines")) or generation_baselines(model, recipe)
        evaluation = {"command": f"keras-segen zoo verify {name}", "seconds": seconds,
                      "splits": describe.evaluated_splits(recipe),
                      "feature_models": _feature_models(recipe)}
        write_samples(model, recipe, classes, staging)
        curve = None if from_model else learning_curve(run, recipe, picture_folder=staging)
        stages.add(1)

        trained_with = dict(run_record.get("trained_with") or {})
        trained_with["build_seconds"] = round(time.time() - started, 1)
        card_args = dict(num_params=model.count_params(), metrics=metrics,
                         trained_with=trained_with, class_names=names,
                         palette=classes.get("palette"), overrides=overrides or None,
                         baselines=_portable(baselines) or None, evaluation=evaluation, url=url,
                         learning_curve=curve)
        draft = make_card(stored, files=file_records(staging, name), **card_args)
        export_serving(model, staging, draft, names)
        stages.add(1)
        card = make_card(stored, files=file_records(staging, name), **card_args)
        final = publish(staging, card)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"built {name}: {final} ({card['size_bytes']} bytes, {len(card['files'])} files)")
    return card

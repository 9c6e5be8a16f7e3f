"""``keras-segen`` command line: a thin argparse front end over the Python API.

``main`` is the one error boundary (its rules are in ``cli_errors.py``): a user error
(``is_user_error``) is one line ``keras-segen COMMAND: error: MESSAGE`` on stderr and
exit 2; anything else is a bug and keeps its traceback (exit 1). ``keras-segen --debug
...`` prints the traceback of user errors too.
"""
import argparse
import json
import math
import sys
import traceback

from keras_segen.cli_errors import (  # noqa: F401 - USER_ERRORS etc. importable from here
    USER_ERRORS,
    error_message,
    is_user_error,
    user_error_types,
)

COMMANDS = {}


def number_type(convert, accepts, what):
    """An argparse ``type=`` reading ``convert(text)`` and taking the values ``accepts``
    allows; else "must be ``what``" (argparse names the flag in its error)."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


positive_int = number_type(int, lambda v: v >= 1, "a positive integer")
non_negative_int = number_type(int, lambda v: v >= 0, "an integer >= 0")  # seeds, versions
# nan and inf are refused too.
positive_float = number_type(float, lambda v: math.isfinite(v) and v > 0, "a positive number")


def command(name, help_text, add_arguments):
    """Register ``fn`` as subcommand ``name``; ``add_arguments(parser)`` declares its flags."""
    def decorator(fn):
        COMMANDS[name] = (fn, help_text, add_arguments)
        return fn

    return decorator


def _add_train(parser):
    parser.add_argument("recipe", help="zoo recipe name (e.g. unet_bluemarble) or a recipe JSON "
                                       "path; with --data, an architecture or zoo name")
    parser.add_argument("--data", metavar="DIR",
                        help="train on your own folder: images/, masks/, classes.txt (or "
                             "train/ and val/ of them) for segmentation, a folder of images "
                             "(class subfolders = labels) for generation, or a data pack")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--image-size", type=positive_int, nargs="+", metavar="N",
                      help="with --data: resize images to H W (one number: square)")
    size.add_argument("--tile-size", type=positive_int, metavar="N",
                      help="with --data, segmentation: train on random NxN crops at full "
                           "resolution, evaluate whole images as NxN tiles")
    parser.add_argument("--out", required=True,
                        help="output folder of this run (re-use it to resume; a folder "
                             "holding another recipe's run is refused)")
    parser.add_argument("--overwrite", action="store_true",
                        help="empty an --out that holds another recipe's run and reuse it")
    parser.add_argument("--epochs", type=positive_int)
    parser.add_argument("--batch-size", type=positive_int)
    parser.add_argument("--steps-per-epoch", type=positive_int,
                        help="batches per epoch (default: the recipe's)")
    parser.add_argument("--seed", type=non_negative_int)
    parser.add_argument("--time-budget", type=positive_float,
                        help="stop fitting after this many seconds")
    from keras_segen.training.distribution import STRATEGIES
    from keras_segen.training.precision import PRECISIONS

    parser.add_argument("--strategy", choices=STRATEGIES, default="none",
                        help="mirrored: all local GPUs (or CPU devices); multi_worker: the "
                             "cluster in TF_CONFIG, the chief writes --out; tpu: TPU_NAME or "
                             "this TPU VM's. --batch-size is the global batch")
    parser.add_argument("--precision", choices=PRECISIONS,
                        help="dtype policy (default: the recipe's train.precision); auto "
                             "picks the faster one for this machine")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                        help="XLA-compile the train step (default: Keras' choice, off on CPU)")
    parser.add_argument("--eval-samples", type=positive_int, metavar="N",
                        help="generative recipes: evaluate the trained model on at most N "
                             "real and N generated images (a quick look; default: the "
                             "recipe's evaluation)")


@command("train", "train a recipe; writes model.keras, history.csv, metrics.json", _add_train)
def _train(args):
    from keras_segen.training import train

    if args.data is None and (args.image_size or args.tile_size):
        raise ValueError("--image-size and --tile-size go with --data DIR")
    if args.image_size and len(args.image_size) > 2:
        raise ValueError(f"--image-size takes H W or one size, got {len(args.image_size)} "
                         "numbers")
    train(
        args.recipe, args.out, data=args.data, image_size=args.image_size,
        tile_size=args.tile_size, epochs=args.epochs, batch_size=args.batch_size,
        steps_per_epoch=args.steps_per_epoch, seed=args.seed, time_budget_s=args.time_budget,
        strategy=args.strategy, precision=args.precision, jit_compile=args.jit_compile,
        overwrite=args.overwrite, eval_samples=args.eval_samples,
    )
    return 0


def _add_evaluate(parser):
    parser.add_argument("model", help="zoo name, run folder or .keras file")
    parser.add_argument("--split", default="test")
    parser.add_argument("--json", help="also write the metrics to this JSON file")
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--num-images", type=positive_int,
                        help="generative models: images to generate (default: the recipe's)")
    parser.add_argument("--eval-samples", type=positive_int, metavar="N",
                        help="generative models: at most N real images and, unless "
                             "--num-images, N generated ones (a quick look)")
    parser.add_argument("--baselines", action="store_true",
                        help="generative models: also score an untrained model and the "
                             "real-vs-real floor")
    parser.add_argument("--report", metavar="PATH.html",
                        help="also write a self-contained HTML report of the evaluation")
    parser.add_argument("--protocol", metavar="NAME",
                        help="segmentation: another evaluation protocol of the dataset "
                             "(bluemarble: regions = whole 384-px test blocks, "
                             "regions_no_caspian); default: the recipe's tiles")
    parser.add_argument("--tta", choices=["flips"],
                        help="segmentation: average the class probabilities over the four "
                             "flips (test-time augmentation, 4x the cost)")


@command("evaluate", "evaluate a trained model on a dataset split; prints a table", _add_evaluate)
def _evaluate(args):
    from keras_segen.model_lookup import load_trained
    from keras_segen.training.io import write_json_atomic

    if args.report:
        from keras_segen.reports import check_report_path

        check_report_path(args.report)
    model, meta = load_trained(args.model)
    recipe = meta["recipe"]
    if recipe is None:
        raise ValueError(
            f"{args.model}: no metrics.json or card.json beside the model says which dataset "
            "it was trained on; evaluate it from Python with keras_segen.evaluation"
        )
    kind = meta["kind"]
    quick = {}
    if args.eval_samples is not None:
        if kind.task != "generation":
            raise ValueError(f"--eval-samples applies to generative models; {args.model} is "
                             f"a {kind.task} model")
        quick["eval_samples"] = args.eval_samples
    for flag, value in (("--protocol", args.protocol), ("--tta", args.tta)):
        if value is not None and kind.task != "segmentation":
            raise ValueError(f"{flag} applies to segmentation models; {args.model} is a "
                             f"{kind.task} model")
    if args.protocol is not None:
        quick["protocol"] = args.protocol
    if args.tta is not None:
        quick["tta"] = args.tta
    results = kind.evaluate(model, recipe, args.split, batch_size=args.batch_size,
                            num_images=args.num_images, baselines=args.baselines or None,
                            **quick)
    from keras_segen.kinds.base import metrics_key

    where = metrics_key(recipe, args.split, args.protocol)
    print(kind.format_results(results, f"{args.model} on {where}"
                                       f"{' with flip TTA' if args.tta else ''}"))
    if args.json:
        write_json_atomic(args.json, results)
    if args.report:
        from keras_segen.reports import evaluation_report

        print(evaluation_report(args.report, model, recipe, kind, results, split=args.split,
                                source=args.model))
    return 0


def _add_generate(parser):
    parser.add_argument("model", help="zoo name, run folder or .keras file")
    parser.add_argument("--num", type=positive_int, default=64,
                        help="number of images (pix2pix: tiles)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="the same seed gives the same grid")
    parser.add_argument("--label",
                        help="conditional models: a class id, or 'all' for one row per class")
    parser.add_argument("--columns", type=positive_int,
                        help="grid columns (default: a square grid)")
    parser.add_argument("--scale", type=positive_int, default=2,
                        help="enlarge the PNG this many times")
    parser.add_argument("--out", required=True, help="PNG file to write")


@command("generate", "write a PNG grid of generated images (pix2pix: input|target|output tiles)",
         _add_generate)
def _generate(args):
    from keras_segen.model_lookup import load_trained
    from keras_segen.pictures import png_path

    png_path(args.out)  # a wrong --out is refused before the model loads
    model, meta = load_trained(args.model)
    kind = meta["kind"]
    if "generate" not in kind.verbs:
        raise ValueError(f"{args.model} is a model of kind {kind.name!r}: `generate` draws "
                         "pictures of generative models (use `predict` for segmentation "
                         "models)")
    path = kind.write_picture(model, meta["recipe"], num=args.num, seed=args.seed,
                              label=args.label, path=args.out, columns=args.columns,
                              scale=args.scale)
    print(path)
    return 0


def _add_predict(parser):
    parser.add_argument("model", help="zoo name, run folder or .keras file")
    parser.add_argument("images", nargs="+", help="image files (any size)")
    parser.add_argument("--out", required=True,
                        help="folder for <stem>_mask.png and <stem>_overlay.png; inputs that "
                             "share a stem keep their extension (a/x.png b/x.jpg: "
                             "x.png_mask.png, x.jpg_mask.png), those sharing the file name "
                             "too get parent folders in front (a_x.png_mask.png); the same "
                             "file twice: <stem>-2. The written paths are printed")
    parser.add_argument("--tta", choices=["flips"],
                        help="average the class probabilities over the four flips "
                             "(test-time augmentation, 4x the cost)")


@command("predict", "predict masks for image files; writes palette masks and overlays", _add_predict)
def _predict(args):
    from keras_segen.model_lookup import load_trained
    from keras_segen.inference import predict_files

    model, meta = load_trained(args.model)
    if "predict" not in meta["kind"].verbs:
        raise ValueError(f"{args.model} is a model of kind {meta['kind'].name!r}: `predict` "
                         "segments images with segmentation models (use `generate` for "
                         "generative models)")
    for path in predict_files(model, args.images, args.out, palette=meta.get("palette"),
                              tta=args.tta):
        print(path)
    return 0


def _add_list(parser):
    parser.add_argument("--task", choices=["segmentation", "generation", "classification"])


@command("list", "list the zoo's models: task, dataset, headline metrics, size, license",
         _add_list)
def _list(args):
    from keras_segen import registry
    from keras_segen.zoo.text import list_table

    print(list_table(args.task))
    names = registry.list_architectures(args.task)
    print(f"\narchitectures (keras_segen.build): {', '.join(names)}")
    return 0


def _add_info(parser):
    parser.add_argument("name", help="zoo name (keras-segen list), or a recipe name")


@command("info", "show a zoo model's card: data, classes, input, metrics, files, recipe",
         _add_info)
def _info(args):
    from keras_segen.training.recipes import list_recipes, load_recipe
    from keras_segen.zoo import list_models
    from keras_segen.zoo.text import info_text

    if args.name not in list_models() and args.name in list_recipes():
        print(f"{args.name} is a recipe, not a zoo entry; its recipe:")
        print(json.dumps(load_recipe(args.name), indent=2))
        return 0
    print(info_text(args.name))
    return 0


def _add_export(parser):
    parser.add_argument("model", help="zoo name, run folder or .keras file")
    parser.add_argument("--base", required=True,
                        help="TF Serving model root; writes BASE/NAME/VERSION/")
    parser.add_argument("--name", help="model name under BASE (default: the recipe's name, "
                                       "else the model's folder or file name)")
    parser.add_argument("--version", type=non_negative_int, default=1,
                        help="version folder (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version")
    parser.add_argument("--tflite", action="store_true",
                        help="segmentation models: also write VERSION/model.tflite")
    parser.add_argument("--no-fold-batch-norm", dest="fold_batch_norm", action="store_false",
                        help="segmentation models: serve the batch normalizations as separate "
                             "layers instead of folding them into the convolutions")


@command("export", "export a trained model for TF Serving (BASE/NAME/VERSION/, atomically)",
         _add_export)
def _export(args):
    import pathlib

    from keras_segen.model_lookup import load_trained
    from keras_segen.serving import export

    model, meta = load_trained(args.model)
    recipe = meta.get("recipe") or {}
    source = pathlib.Path(args.model)
    if source.suffix == ".keras":
        source = source.parent if source.stem == "model" else pathlib.Path(source.stem)
    name = args.name or recipe.get("name") or source.resolve().name
    card = meta.get("card") or {
        key: value
        for key, value in (("name", name), ("recipe", meta.get("recipe")),
                           ("class_names", meta.get("class_names")),
                           ("palette", meta.get("palette")))
        if value
    }
    path = export(model, args.base, name=name, version=args.version,
                  overwrite=args.overwrite, card=card,
                  class_names=meta.get("class_names") or None, tflite=args.tflite,
                  fold_batch_norm=args.fold_batch_norm)  # FileExistsError: main() reports it
    print(path)
    return 0


def _add_report(parser):
    parser.add_argument("run", help="a training run folder (train --out)")
    parser.add_argument("--out", help="the HTML file to write (default RUN/report.html)")


@command("report", "rebuild RUN/report.html from a run's model.keras, history.csv, "
                   "metrics.json and run.json", _add_report)
def _report(args):
    from keras_segen.reports import rebuild_report

    print(rebuild_report(args.run, args.out))
    return 0


def _add_zoo(parser):
    actions = parser.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="train (or package) an entry into zoo/artifacts/NAME, "
                                             "measure it, write its card and the index")
    build.add_argument("name", help="zoo recipe name")
    source = build.add_mutually_exclusive_group()
    source.add_argument("--from-run", help="package this finished training run (its recipe "
                                           "must equal the current recipe)")
    source.add_argument("--from-model", help="package this .keras file (for entries trained "
                                             "outside keras-segen train)")
    build.add_argument("--time-budget", type=positive_float,
                       help="training budget in seconds (recorded "
                                                         "on the card as an override)")
    build.add_argument("--run-dir", help="training run folder (default runs/zoo_build/NAME; "
                                         "re-use it to resume)")
    build.add_argument("--url", help="where the artifact folder will be published, for the card")
    verify = actions.add_parser("verify", help="check artifacts' sha256 and re-measure their "
                                               "card metrics; exit 1 on any difference")
    verify.add_argument("names", nargs="*", help="entries (default: every entry with weights)")
    verify.add_argument("--cheap", action="store_true",
                        help="only entries whose evaluation took at most --max-seconds at build")
    verify.add_argument("--max-seconds", type=positive_float, default=60.0)
    verify.add_argument("--json", help="also write the results to this JSON file")
    index = actions.add_parser("index", help="regenerate zoo/index.json from the cards")
    index.add_argument("--check", action="store_true",
                       help="only check: exit 1 when the index is stale")
    card = actions.add_parser("card", help="write the card of a recipe-only entry (no weights)")
    card.add_argument("names", nargs="+", help="zoo recipe names")


@command("zoo", "zoo maintenance: build NAME, verify [NAME...], index, card NAME", _add_zoo)
def _zoo(args):
    if args.action == "build":
        from keras_segen.zoo.build import build_entry

        build_entry(args.name, from_run=args.from_run, from_model=args.from_model,
                    time_budget=args.time_budget, run_dir=args.run_dir, url=args.url)
        return 0
    if args.action == "verify":
        from keras_segen.training.io import write_json_atomic
        from keras_segen.zoo.verify import select_entries, verify_entry

        names = select_entries(args.names, cheap=args.cheap, max_seconds=args.max_seconds)
        if not names:
            print("no zoo entries with weights to verify")
            return 0
        results = [verify_entry(name) for name in names]
        if args.json:
            write_json_atomic(args.json, results)
        failed = [r["name"] for r in results if not r["ok"]]
        print(f"verified {len(results) - len(failed)}/{len(results)}"
              + (f"; FAILED: {', '.join(failed)}" if failed else ""))
        return 1 if failed else 0
    if args.action == "index":
        from keras_segen.zoo.index import stale_entries, write_index

        if args.check:
            stale = stale_entries()
            print(f"zoo index is stale for: {', '.join(stale)}; run keras-segen zoo index"
                  if stale else "zoo index is up to date")
            return 1 if stale else 0
        print(write_index())
        return 0
    from keras_segen.training.recipes import load_recipe
    from keras_segen.zoo.cards import card_path, read_card, recipe_only_card, write_card
    from keras_segen.zoo.index import write_index

    for name in args.names:
        path = card_path(name)
        if path.is_file() and read_card(path)["files"]:
            raise ValueError(f"{path} describes trained weights; rebuild it with "
                             f"keras-segen zoo build {name}")
        print(write_card(recipe_only_card(load_recipe(name))))
    print(write_index())
    return 0


def _add_data(parser):
    actions = parser.add_subparsers(dest="action", required=True)
    pack = actions.add_parser("pack", help="write a --data folder as sharded TFRecords "
                                           "(OUT/pack.json + OUT/<split>-NNNNN-of-NNNNN.tfrecord)")
    pack.add_argument("source", metavar="DIR", help="a folder `train --data` reads")
    pack.add_argument("out", metavar="OUT", help="the pack folder to create (`--data OUT`)")
    pack.add_argument("--shards", type=positive_int,
                      help="shard files per split (default: ~128 MiB each, at least 8; use a "
                           "multiple of the number of training workers)")
    pack.add_argument("--image-size", type=positive_int, nargs="+", metavar="N",
                      help="folders of images (generation): fit them to H W (one number: "
                           "square); segmentation packs keep the native size")
    pack.add_argument("--seed", type=non_negative_int, default=0,
                      help="salt of the split by file-name hash (folders without val/ or "
                           "test/; recorded in pack.json)")
    pack.add_argument("--overwrite", action="store_true", help="replace an existing pack at OUT")


@command("data", "data packs: `data pack DIR OUT` writes sharded TFRecords that --data OUT "
                 "reads", _add_data)
def _data(args):
    from keras_segen.datasets.packed_write import describe, pack
    from keras_segen.training.own_data import image_size_option

    manifest = pack(args.source, args.out, shards=args.shards, seed=args.seed,
                    image_size=image_size_option(args.image_size),
                    overwrite=args.overwrite)
    print(describe(manifest, args.out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-segen", description="keras_segen: segmentation and generation model zoo"
    )
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        metavar="MODULE",
                        help="import this module first (repeatable; the current folder is "
                             "searched first): its @keras_segen.register_architecture "
                             "builders become usable by every command")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of errors instead of a one-line message")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and C++ log lines (hidden otherwise)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, help_text, add_arguments) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text)
        add_arguments(child)
        child.set_defaults(handler=fn)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)  # bad flags: argparse's message, exit 2
    from keras_segen.tf_logging import quiet_python_logs

    quiet_python_logs(args.verbose)
    try:
        if args.imports:
            from keras_segen.user_modules import import_user_modules

            import_user_modules(args.imports, "--import")
        return args.handler(args)
    except KeyboardInterrupt:
        if args.debug:
            traceback.print_exc()
        print(f"keras-segen {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if not is_user_error(err):
            raise  # a bug: its traceback is what a bug report needs
        if args.debug:
            traceback.print_exc()
        else:
            print(f"keras-segen {args.command}: error: {error_message(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

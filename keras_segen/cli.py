"""``keras-segen`` command line: a thin argparse front end over the Python API."""
import argparse
import json
import sys

COMMANDS = {}


def command(name, help_text, add_arguments):
    """Register ``fn`` as subcommand ``name``; ``add_arguments(parser)`` declares its flags."""
    def decorator(fn):
        COMMANDS[name] = (fn, help_text, add_arguments)
        return fn

    return decorator


def _add_train(parser):
    parser.add_argument("recipe", help="zoo recipe name (e.g. unet_bluemarble) or a recipe JSON path")
    parser.add_argument("--out", required=True, help="output folder (re-use it to resume)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--time-budget", type=float, help="stop fitting after this many seconds")


@command("train", "train a recipe; writes model.keras, history.csv, metrics.json", _add_train)
def _train(args):
    from keras_segen.training import train

    train(
        args.recipe, args.out, epochs=args.epochs, batch_size=args.batch_size,
        steps_per_epoch=args.steps_per_epoch, seed=args.seed, time_budget_s=args.time_budget,
    )
    return 0


def _add_evaluate(parser):
    parser.add_argument("model", help="zoo name, run folder or .keras file")
    parser.add_argument("--split", default="test")
    parser.add_argument("--json", help="also write the metrics to this JSON file")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-images", type=int,
                        help="generative models: images to generate (default: the recipe's)")
    parser.add_argument("--baselines", action="store_true",
                        help="generative models: also score an untrained model and the "
                             "real-vs-real floor")


@command("evaluate", "evaluate a trained model on a dataset split; prints a table", _add_evaluate)
def _evaluate(args):
    from keras_segen import datasets
    from keras_segen.artifacts import load_trained
    from keras_segen.evaluation import evaluate_segmentation, format_table
    from keras_segen.training.io import write_json_atomic

    model, meta = load_trained(args.model)
    recipe = meta["recipe"]
    if recipe is None:
        raise ValueError(
            f"{args.model}: no metrics.json or card.json beside the model says which dataset "
            "it was trained on; evaluate it from Python with keras_segen.evaluation"
        )
    if recipe["task"] == "generation":
        return _evaluate_generation(args, model, recipe)
    if recipe["task"] != "segmentation":
        raise ValueError(f"evaluate handles segmentation models; {args.model} is {recipe['task']}")
    data = recipe["dataset"]
    dataset, info = datasets.load(data["name"], args.split, **data.get("options", {}))
    results = evaluate_segmentation(model, dataset, info.class_names, batch_size=args.batch_size)
    print(format_table(results, title=f"{args.model} on {data['name']}/{args.split}"))
    if args.json:
        write_json_atomic(args.json, results)
    return 0


def _evaluate_generation(args, model, recipe):
    """fid/kid/inception_score (GANs), psnr/ssim/fid (VAEs, pix2pix) on the recipe's split."""
    from keras_segen.evaluation.generation import evaluate_recipe_model, format_generation_table
    from keras_segen.training.io import write_json_atomic

    results = evaluate_recipe_model(model, recipe, split=args.split, num_images=args.num_images,
                                    baselines=args.baselines or None)
    title = f"{args.model} on {recipe['dataset']['name']}/{args.split}"
    print(format_generation_table(results, title=title))
    if args.json:
        write_json_atomic(args.json, results)
    return 0


def _add_generate(parser):
    parser.add_argument("model", help="zoo name, run folder or .keras file")
    parser.add_argument("--num", type=int, default=64, help="number of images (pix2pix: tiles)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same grid")
    parser.add_argument("--label",
                        help="conditional models: a class id, or 'all' for one row per class")
    parser.add_argument("--columns", type=int, help="grid columns (default: a square grid)")
    parser.add_argument("--scale", type=int, default=2, help="enlarge the PNG this many times")
    parser.add_argument("--out", required=True, help="PNG file to write")


@command("generate", "write a PNG grid of generated images (pix2pix: input|target|output tiles)",
         _add_generate)
def _generate(args):
    from keras_segen.artifacts import load_trained
    from keras_segen.generate import generate_grid, recipe_translation_grid

    model, meta = load_trained(args.model)
    if callable(getattr(model, "translate", None)):
        if meta["recipe"] is None:
            raise ValueError(
                f"{args.model}: no metrics.json or card.json says which tiles it translates")
        if args.label is not None:
            raise ValueError("pix2pix takes no --label: it translates condition tiles")
        path = recipe_translation_grid(model, meta["recipe"], args.num, seed=args.seed,
                                       path=args.out, scale=args.scale)
    else:
        path = generate_grid(model, args.num, seed=args.seed, label=args.label, path=args.out,
                             columns=args.columns, scale=args.scale)
    print(path)
    return 0


def _add_predict(parser):
    parser.add_argument("model", help="zoo name, run folder or .keras file")
    parser.add_argument("images", nargs="+", help="image files (any size)")
    parser.add_argument("--out", required=True, help="folder for <stem>_mask.png and <stem>_overlay.png")


@command("predict", "predict masks for image files; writes palette masks and overlays", _add_predict)
def _predict(args):
    from keras_segen.artifacts import load_trained
    from keras_segen.inference import predict_files

    model, meta = load_trained(args.model)
    for path in predict_files(model, args.images, args.out, palette=meta.get("palette")):
        print(path)
    return 0


def _add_list(parser):
    parser.add_argument("--task", choices=["segmentation", "generation", "classification"])


@command("list", "list recipes and architectures", _add_list)
def _list(args):
    from keras_segen import registry
    from keras_segen.training.recipes import list_recipes, load_recipe

    print("recipes:")
    for name in list_recipes():
        recipe = load_recipe(name)
        if args.task in (None, recipe["task"]):
            print(f"  {name:<28}{recipe['task']:<14}{recipe['arch']:<16}{recipe['dataset']['name']}")
    print("architectures:")
    for name in registry.list_architectures(args.task):
        print(f"  {name:<28}{registry.get_architecture(name).task}")
    return 0


def _add_info(parser):
    parser.add_argument("name", help="recipe / zoo name")


@command("info", "show a recipe (and its measured metrics when trained)", _add_info)
def _info(args):
    from keras_segen.training.recipes import load_recipe

    print(json.dumps(load_recipe(args.name), indent=2))
    return 0



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-segen", description="keras_segen: segmentation and generation model zoo"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, help_text, add_arguments) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text)
        add_arguments(child)
        child.set_defaults(handler=fn)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (KeyError, ValueError, FileNotFoundError, RuntimeError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"keras-segen {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

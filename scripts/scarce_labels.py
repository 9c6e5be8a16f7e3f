"""Does pix2pix-synthesized data help segmentation when labelled imagery is scarce?

One command runs the whole experiment on Blue Marble (issue 3, section 5):

1. Labelled share S: a seeded ``--fraction`` of the distinct train tiles the
   ``unet_bluemarble`` recipe trains on (informative tiles, with its lake oversampling),
   stratified by the classes a tile holds. The other train tiles give only their masks:
   label maps are cheap, imagery is what is scarce. Their images are never used.
2. pix2pix (the ``pix2pix_bluemarble`` recipe's model) learns mask -> image on S alone,
   with left-right/up-down flips, for ``--pix2pix-budget`` seconds (or
   ``--pix2pix-steps``), then paints an image for every mask-only tile.
3. Two U-Nets with the ``unet_bluemarble`` recipe (same initial weights, same data order
   for the real part, same augmentation, same number of gradient steps):
   ``real_only`` trains on S; ``real_plus_synthetic`` draws each training example from
   the synthetic pairs with probability ``--synthetic-weight`` (default 0.5), else from S.
   The first run stops after ``--unet-epochs x --unet-steps-per-epoch`` steps or
   ``--unet-budget`` seconds, whichever comes first; the second runs exactly as many
   steps as the first did (its time cap is 1.5x the budget, so that load on the machine
   cannot make the step counts differ). Each keeps the weights of its best epoch by val
   mean IoU (the same rule for both; val is the full labelled val split).
4. Both are evaluated on the test (and val) split; a table is printed and everything is
   written to ``OUT/results.json`` (plus ``OUT/pix2pix/``, ``OUT/<arm>/model.keras``,
   history CSVs and ``OUT/pix2pix/val_samples.png``: mask | real | synthetic tiles).

    python scripts/scarce_labels.py --fraction 0.05 --pix2pix-budget 300 \\
        --unet-budget 240 --out runs/scarce

One seed is one draw: differences of a point or two of mIoU are within seed noise;
repeat with ``--seed 1``, ``--seed 2`` for a spread. The run is not resumable.
"""
import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_segen import datasets, registry  # noqa: E402
from keras_segen.datasets.augment import JointAugment  # noqa: E402
from keras_segen.evaluation import evaluate_segmentation  # noqa: E402
from keras_segen.pictures import pick_tiles, translation_grid  # noqa: E402
from keras_segen.training import load_recipe  # noqa: E402
from keras_segen.training.compiling import compile_for_recipe  # noqa: E402
from keras_segen.callbacks.checkpoint import save_model_atomic  # noqa: E402
from keras_segen.training.io import write_json_atomic  # noqa: E402
from keras_segen.training.precision import precision_policy, resolve_precision  # noqa: E402
from keras_segen.training.provenance import environment  # noqa: E402
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # synthetic_pairs.py
from synthetic_pairs import (  # noqa: E402
    bluemarble_scarce_tiles,
    fit_steps,
    mixed_pipeline,
    synthesize_pairs,
)

ARMS = ("real_only", "real_plus_synthetic")
# Flips only: the target image must stay the real colours (no photometric jitter) and
# scaling would blur the few real tiles pix2pix has.
PIX2PIX_AUGMENT = JointAugment(hflip=True, vflip=True, scale_range=None, brightness=0.0,
                               contrast=0.0, mode="paired_images")
SLOWER_ARM_SLACK = 1.5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fraction", type=float, default=0.05,
                        help="share of the distinct train tiles that keep their images")
    parser.add_argument("--out", default="runs/scarce", help="output folder")
    parser.add_argument("--seed", type=int, default=0,
                        help="chooses the labelled tiles and seeds both models")
    parser.add_argument("--pix2pix-budget", type=float, default=300.0,
                        help="pix2pix training seconds")
    parser.add_argument("--pix2pix-steps", type=int, default=100_000,
                        help="pix2pix gradient steps at most (the budget usually stops it)")
    parser.add_argument("--pix2pix-steps-per-epoch", type=int, default=50)
    parser.add_argument("--unet-budget", type=float, default=240.0,
                        help="seconds cap of the first U-Net run")
    parser.add_argument("--unet-epochs", type=int, default=15)
    parser.add_argument("--unet-steps-per-epoch", type=int, default=80)
    parser.add_argument("--synthetic-weight", type=float, default=0.5,
                        help="probability that a training example of the second run is "
                             "synthetic")
    parser.add_argument("--max-synthetic", type=int, default=None,
                        help="synthesize at most this many mask-only rows (seeded subset)")
    parser.add_argument("--eval-limit", type=int, default=None,
                        help="use only the first N val/test tiles (quick checks only)")
    parser.add_argument("--tile-size", type=int, default=None,
                        help="override the recipes' tile size (quick checks)")
    parser.add_argument("--precision", default=None,
                        help="U-Net dtype policy (default: the recipe's)")
    parser.add_argument("--unet-recipe", default="unet_bluemarble")
    parser.add_argument("--pix2pix-recipe", default="pix2pix_bluemarble")
    parser.add_argument("--unet-kwargs", type=json.loads, default={},
                        help='JSON overrides of the U-Net builder kwargs, e.g. \'{"depth": 2}\'')
    parser.add_argument("--pix2pix-kwargs", type=json.loads, default={},
                        help="JSON overrides of the pix2pix builder kwargs")
    parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity")
    args = parser.parse_args(argv)
    if not 0.0 < args.fraction < 1.0:
        parser.error(f"--fraction must be in (0, 1), got {args.fraction}")
    if not 0.0 < args.synthetic_weight < 1.0:
        parser.error(f"--synthetic-weight must be in (0, 1), got {args.synthetic_weight}")
    return args


def _recipes(args):
    unet, pix2pix = load_recipe(args.unet_recipe), load_recipe(args.pix2pix_recipe)
    if unet["dataset"]["name"] != "bluemarble" or unet["task"] != "segmentation":
        raise ValueError(f"recipe {unet['name']}: needs a segmentation recipe on 'bluemarble', "
                         f"got {unet['task']} on {unet['dataset']['name']!r}")
    if pix2pix["arch"] != "pix2pix":
        raise ValueError(f"recipe {pix2pix['name']}: needs arch 'pix2pix', got {pix2pix['arch']!r}")
    if unet["train"].get("class_weighting"):
        raise ValueError(f"recipe {unet['name']}: class_weighting is not supported here")
    if args.tile_size:
        unet["dataset"]["options"]["tile_size"] = args.tile_size
    tile = int(unet["dataset"]["options"].get("tile_size", 64))
    unet["kwargs"].update(args.unet_kwargs)
    pix2pix["kwargs"].update(image_shape=[tile, tile, 3], **args.pix2pix_kwargs)
    if args.precision:
        unet["train"]["precision"] = args.precision
    return unet, pix2pix


def _eval_split(recipe, split, limit):
    options = recipe["dataset"].get("options", {})
    dataset, _ = datasets.load("bluemarble", recipe["dataset"].get(f"{split}_split", split),
                               **options)
    return dataset.take(limit) if limit else dataset


def _as_pix2pix_pairs(dataset, num_classes):
    return dataset.map(lambda image, mask: (tf.one_hot(mask, num_classes), image * 2.0 - 1.0))


def _image_quality(images, masks, reference, palette_means):
    """Mean absolute error and PSNR (both in [0, 1] units) of ``images`` against the real
    ``reference``, and the same for a floor: every pixel painted its class's mean colour."""
    def scores(fake):
        error = fake - reference
        mse = np.maximum((error ** 2).reshape(len(error), -1).mean(axis=1), 1e-10)
        return float(np.abs(error).mean()), float(np.mean(10 * np.log10(1.0 / mse)))

    l1, psnr = scores(images)
    floor_l1, floor_psnr = scores(palette_means[masks])
    return {"l1": l1, "psnr": psnr, "class_mean_colour_l1": floor_l1,
            "class_mean_colour_psnr": floor_psnr}


def train_pix2pix(recipe, tiles, val_ds, out, args):
    train_cfg = recipe["train"]
    keras.utils.set_random_seed(args.seed)
    model = registry.build("pix2pix", **{**recipe["kwargs"], "seed": args.seed})
    compile_for_recipe(model, recipe)
    batches = datasets.make_pipeline(tiles.pix2pix_pairs(), batch_size=int(train_cfg["batch_size"]),
                                     training=True, augment=PIX2PIX_AUGMENT, seed=args.seed,
                                     repeat=True)
    out.mkdir(parents=True, exist_ok=True)
    record = fit_steps(model, batches, steps_per_epoch=args.pix2pix_steps_per_epoch,
                       max_steps=args.pix2pix_steps, time_budget_s=args.pix2pix_budget,
                       history_csv=out / "history.csv", verbose=args.verbose)
    save_model_atomic(model, out / "model.keras")

    val_images, val_masks = (np.stack(a) for a in zip(*val_ds.as_numpy_iterator()))
    means = np.stack([tiles.images[tiles.masks == k].mean(axis=0) / 255.0
                      if (tiles.masks == k).any() else np.full(3, 0.5)
                      for k in range(len(tiles.class_names))]).astype(np.float32)
    record["val"] = _image_quality(model.translate(val_masks), val_masks, val_images, means)
    pairs = _as_pix2pix_pairs(val_ds, len(tiles.class_names))
    conditions, targets = pick_tiles(pairs, 8, args.seed)
    translation_grid(model, conditions, targets, path=out / "val_samples.png",
                     palette=list(tiles.palette))
    return model, record


def train_unet(recipe, name, real, synthetic, val_ds, test_ds, class_names, out, args, *,
               max_steps, time_budget_s):
    train_cfg = recipe["train"]
    batch_size = int(train_cfg["batch_size"])
    seed = int(train_cfg.get("seed", 0)) + args.seed
    keras.utils.set_random_seed(seed)  # the same initial weights in both runs
    with precision_policy(resolve_precision(train_cfg.get("precision", "float32"))):
        model = registry.build(recipe["arch"], **recipe["kwargs"])
        compile_for_recipe(model, recipe, class_names)
        batches = mixed_pipeline(real, synthetic,
                                 synthetic_weight=args.synthetic_weight if synthetic else None,
                                 batch_size=batch_size, augment=train_cfg.get("augment"),
                                 seed=seed)
        validation = datasets.make_pipeline(val_ds, batch_size=batch_size, training=False)
        (out / name).mkdir(parents=True, exist_ok=True)
        record = fit_steps(model, batches, steps_per_epoch=args.unet_steps_per_epoch,
                           max_steps=max_steps, time_budget_s=time_budget_s,
                           validation=validation, monitor="val_mean_iou",
                           history_csv=out / name / "history.csv", verbose=args.verbose)
    save_model_atomic(model, out / name / "model.keras")
    return {
        "bluemarble/test": evaluate_segmentation(model, test_ds, class_names),
        "bluemarble/val": evaluate_segmentation(model, val_ds, class_names),
        "training": record,
    }


def format_results(runs, class_names) -> str:
    columns = ["steps", "fit_s", "pixel_acc", "mIoU"] + [f"iou_{n}" for n in class_names]
    lines = [f"{'test split':<22}" + "".join(f"{c:>11}" for c in columns)]
    for name, run in runs.items():
        test, training = run["bluemarble/test"], run["training"]
        values = [training["steps_run"], training["fit_seconds"], test["pixel_accuracy"],
                  test["mean_iou"]] + [test["per_class_iou"][n] for n in class_names]
        cells = [f"{v:>11d}" if isinstance(v, int) else
                 f"{'n/a':>11}" if v is None else
                 f"{v:>11.1f}" if i == 1 else f"{v:>11.4f}" for i, v in enumerate(values)]
        lines.append(f"{name:<22}" + "".join(cells))
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    started = time.time()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    unet_recipe, pix2pix_recipe = _recipes(args)
    data_cfg = unet_recipe["dataset"]
    tile_options = {**data_cfg.get("options", {}), **data_cfg.get("train_options", {})}
    tiles = bluemarble_scarce_tiles(args.fraction, **tile_options,
                                    seed=int(unet_recipe["train"].get("seed", 0)),
                                    split_seed=args.seed)
    class_names = list(tiles.class_names)
    val_ds = _eval_split(unet_recipe, "val", args.eval_limit).cache()
    test_ds = _eval_split(unet_recipe, "test", args.eval_limit).cache()
    print(f"labelled share: {tiles.summary()}", flush=True)

    pix2pix, pix2pix_record = train_pix2pix(pix2pix_recipe, tiles, val_ds, out / "pix2pix", args)
    mask_only = tiles.mask_only
    if args.max_synthetic and args.max_synthetic < len(mask_only):
        rows = np.random.default_rng(args.seed).choice(len(mask_only), args.max_synthetic,
                                                       replace=False)
        mask_only = mask_only[np.sort(rows)]
    synthetic = synthesize_pairs(pix2pix, mask_only)
    print(f"pix2pix: {pix2pix_record}; synthesized {len(mask_only)} pairs", flush=True)

    runs = {}
    max_steps, budget = args.unet_epochs * args.unet_steps_per_epoch, args.unet_budget
    for name in ARMS:
        runs[name] = train_unet(unet_recipe, name, tiles.labelled_dataset(),
                                synthetic if name == "real_plus_synthetic" else None,
                                val_ds, test_ds, class_names, out, args,
                                max_steps=max_steps, time_budget_s=budget)
        # The second run does exactly the first run's steps, with slack on the clock.
        max_steps = runs[name]["training"]["steps_run"]
        budget = args.unet_budget * SLOWER_ARM_SLACK

    steps = [run["training"]["steps_run"] for run in runs.values()]
    notes = [] if len(set(steps)) == 1 else [
        f"the runs did different numbers of steps {steps}: the second hit its time cap"]
    tests = {name: run["bluemarble/test"]["mean_iou"] for name, run in runs.items()}
    results = {
        "experiment": "scarce_labels",
        "command": "python scripts/scarce_labels.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "settings": {key: value for key, value in vars(args).items() if key != "verbose"},
        "data": {**tiles.summary(), "synthetic_pairs": len(mask_only),
                 "val_tiles": int(val_ds.reduce(0, lambda n, _: n + 1)),
                 "test_tiles": int(test_ds.reduce(0, lambda n, _: n + 1)),
                 "tile_options": tile_options},
        "pix2pix": {**pix2pix_record, "recipe": pix2pix_recipe["name"],
                    "kwargs": pix2pix_recipe["kwargs"], "augment": PIX2PIX_AUGMENT.get_config()},
        "runs": runs,
        "summary": {"test_mean_iou": tests,
                    "delta_test_mean_iou": tests["real_plus_synthetic"] - tests["real_only"]},
        "unet_recipe": unet_recipe,
        "class_names": class_names,
        "notes": notes,
        "wall_seconds": round(time.time() - started, 1),
        "environment": environment(),
    }
    write_json_atomic(out / "results.json", results)
    print(format_results(runs, class_names))
    print(f"delta test mIoU (synthetic - real only): "
          f"{results['summary']['delta_test_mean_iou']:+.4f}")
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {out / 'results.json'}")
    return results


if __name__ == "__main__":
    main()

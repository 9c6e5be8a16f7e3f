"""Class imbalance, measured: the context U-Net recipe trained with each loss, weighting and
crop sampling at one equal budget, scored on whole test regions (the lake class is 0.3%
of the pixels).

    python benchmarks/class_imbalance.py [--epochs N | --budget SECONDS] [--only NAME ...]

``--epochs`` (default 20, 40 steps of 8 crops each) is the fair budget on a shared CPU:
a wall-clock ``--budget`` gives fewer epochs to whichever variant ran beside another job.

Every variant is ``zoo/recipes/unet_context_bluemarble.json`` with only its loss, class
weighting and lake-crop share changed, trained by ``keras_segen.train`` (same seed, data, model and budget) into
``runs/benchmarks/class_imbalance/NAME``; a re-run resumes finished variants from their
folders. The table gives test mIoU and lake IoU on whole regions (with and without the
Caspian) and on the 64-px tiles, with the CPU named.
"""
import argparse
import copy
import pathlib
import sys
import time

from _common import format_table, machine, write_json

# name -> (loss, class weighting, share of lake-centred crops); everything else is the
# context recipe's.
CE = [["cross_entropy", 1.0]]
CE_DICE = CE + [["dice", 0.5]]
VARIANTS = {
    "ce": (CE, None, 0.0),
    "ce+dice": (CE_DICE, None, 0.0),
    "focal": ([["focal", 1.0]], None, 0.0),
    "tversky": ([["tversky", 1.0]], None, 0.0),
    "lovasz": ([["lovasz", 1.0]], None, 0.0),
    "ce inverse weights": (CE, "inverse", 0.0),
    "ce median weights": (CE, "median", 0.0),
    "ce + lake crops": (CE, None, 0.67),
    "recipe: ce+dice, inverse_sqrt weights, lake crops": (CE_DICE, "inverse_sqrt", 0.67),
}


def variant_recipe(base, name, *, epochs=None, budget=None):
    """The base recipe with variant ``name``'s loss, weighting and lake-crop share, trained
    for ``epochs`` (no time limit) or for ``budget`` seconds."""
    loss, weighting, focus_rate = VARIANTS[name]
    recipe = copy.deepcopy(base)
    recipe["name"] = "unet_context_bluemarble_" + "".join(c if c.isalnum() else "_" for c in name)
    recipe["train"].update(loss=loss, class_weighting=weighting)
    if epochs is not None:
        recipe["train"]["epochs"] = epochs
        recipe["train"].pop("time_budget_s", None)
    else:
        recipe["train"]["time_budget_s"] = budget
    recipe["train"]["augment"]["focus_rate"] = focus_rate
    return recipe


def recipe_folder(name):
    return "".join(c if c.isalnum() else "_" for c in name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, default=None,
                        help="epochs per variant (default 20 when --budget is not given)")
    budget.add_argument("--budget", type=float, default=None,
                        help="training seconds per variant instead of epochs")
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), metavar="NAME")
    parser.add_argument("--out", default="runs/benchmarks/class_imbalance")
    parser.add_argument("--json", default="runs/benchmarks/class_imbalance.json")
    args = parser.parse_args(argv)
    if args.budget is None and args.epochs is None:
        args.epochs = 20
    if (args.epochs is not None and args.epochs < 1) or (args.budget is not None
                                                         and args.budget <= 0):
        parser.error("--epochs and --budget must be positive")

    import keras_segen
    from keras_segen.training.recipes import load_recipe

    base = load_recipe("unet_context_bluemarble")
    rows = []
    for name in args.only or VARIANTS:
        started = time.time()
        results = keras_segen.train(variant_recipe(base, name, epochs=args.epochs,
                                                   budget=args.budget),
                                    pathlib.Path(args.out) / recipe_folder(name),
                                    verbose=0)
        row = {"variant": name, "epochs": results["trained_with"].get("epochs_completed"),
               "seconds": round(time.time() - started)}
        for key, label in (("bluemarble/test/regions", "regions"),
                           ("bluemarble/test/regions_no_caspian", "no_caspian"),
                           ("bluemarble/test", "tiles")):
            metrics = results[key]
            row[f"{label}_miou"] = metrics["mean_iou"]
            row[f"{label}_lake"] = metrics["per_class_iou"]["lake"]
        rows.append(row)
        print(f"{name}: regions mIoU {row['regions_miou']:.4f} lake {row['regions_lake']:.4f}",
              flush=True)
    columns = [("variant", "variant", "s"), ("epochs", "epochs", "d"),
               ("regions_miou", "regions mIoU", ".4f"), ("regions_lake", "lake", ".4f"),
               ("no_caspian_miou", "no Caspian mIoU", ".4f"), ("no_caspian_lake", "lake", ".4f"),
               ("tiles_miou", "tiles mIoU", ".4f"), ("tiles_lake", "lake", ".4f")]
    where = machine()
    budget = (f"{args.epochs} epochs" if args.epochs is not None
              else f"{args.budget:.0f} s of training")
    print(format_table(rows, columns, f"Class imbalance at {budget} per variant, "
                                      f"{where['cpu']}"))
    write_json(args.json, {"machine": where, "epochs": args.epochs, "budget_s": args.budget,
                           "rows": rows})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

"""Class imbalance, measured: the zoo U-Net recipe trained with each loss, weighting and
crop sampling at one equal budget, scored on whole test regions (the lake class is 0.3%
of the pixels).

    python benchmarks/class_imbalance.py [--budget SECONDS] [--only NAME ...] [--json PATH]

Every variant is ``zoo/recipes/unet_bluemarble.json`` with only the named fields
changed, trained by ``keras_segen.train`` (same seed, data, model and time budget) into
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

# name -> (train-section changes, augment changes)
CE = [["cross_entropy", 1.0]]
VARIANTS = {
    "ce": ({"loss": CE}, {"focus_rate": 0.0}),
    "ce+dice": ({"loss": CE + [["dice", 0.5]]}, {"focus_rate": 0.0}),
    "focal": ({"loss": [["focal", 1.0]]}, {"focus_rate": 0.0}),
    "tversky": ({"loss": [["tversky", 1.0]]}, {"focus_rate": 0.0}),
    "lovasz": ({"loss": [["lovasz", 1.0]]}, {"focus_rate": 0.0}),
    "ce inverse weights": ({"loss": CE, "class_weighting": "inverse"}, {"focus_rate": 0.0}),
    "ce median weights": ({"loss": CE, "class_weighting": "median"}, {"focus_rate": 0.0}),
    "ce + lake crops": ({"loss": CE}, {"focus_rate": 0.5}),
    "ce+dice + lake crops (zoo)": ({}, {}),
}


def variant_recipe(base, name, budget):
    train_changes, augment_changes = VARIANTS[name]
    recipe = copy.deepcopy(base)
    recipe["name"] = f"unet_bluemarble_{name.replace(' ', '_').replace('+', '_')}"
    recipe["train"].update(train_changes, time_budget_s=budget)
    recipe["train"]["augment"].update(augment_changes)
    return recipe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=600.0,
                        help="training seconds per variant (default 600)")
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), metavar="NAME")
    parser.add_argument("--out", default="runs/benchmarks/class_imbalance")
    parser.add_argument("--json", default="runs/benchmarks/class_imbalance.json")
    args = parser.parse_args(argv)

    import keras_segen
    from keras_segen.training.recipes import load_recipe

    base = load_recipe("unet_bluemarble")
    rows = []
    for name in args.only or VARIANTS:
        started = time.time()
        results = keras_segen.train(variant_recipe(base, name, args.budget),
                                    pathlib.Path(args.out) / name.replace(" ", "_"),
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
               ("regions mIoU", "regions_miou", ".4f"), ("lake", "regions_lake", ".4f"),
               ("no Caspian mIoU", "no_caspian_miou", ".4f"), ("lake", "no_caspian_lake", ".4f"),
               ("tiles mIoU", "tiles_miou", ".4f"), ("lake", "tiles_lake", ".4f")]
    where = machine()
    print(format_table(rows, columns, f"Class imbalance at {args.budget:.0f} s of training "
                                      f"per variant, {where['cpu']}"))
    write_json(args.json, {"machine": where, "budget_s": args.budget, "rows": rows})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

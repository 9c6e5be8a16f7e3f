"""Train segmentation recipes under the same CPU time budget and compare them on the
held-out Blue Marble test regions. Prints a table and writes JSON.

    python benchmarks/segmentation_quality.py --budget 600 --out runs/quality \
        unet_bluemarble fcn_bluemarble deeplabv3plus_bluemarble pixel_baseline_bluemarble

``NAME:key=value`` overrides a builder argument for one run, e.g.
``fcn_bluemarble:vgg_weights=none`` (random encoder init) to measure what the trained
VGG16 weights bring. Runs already finished in ``--out`` are read back, not retrained.
"""
import argparse
import json
import pathlib

from keras_segen import training


def parse_run(spec: str):
    name, *overrides = spec.split(":")
    kwargs = {}
    for item in overrides:
        key, value = item.split("=", 1)
        try:  # numbers, lists, null; anything else is a string
            kwargs[key] = None if value.lower() == "none" else json.loads(value)
        except json.JSONDecodeError:
            kwargs[key] = value
    label = spec.replace(":", "_").replace("=", "-")
    return name, kwargs, label


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="recipe names, optionally NAME:key=value")
    parser.add_argument("--budget", type=float, default=600, help="training seconds per run")
    parser.add_argument("--out", default="runs/quality")
    parser.add_argument("--json", help="where to write the table (default OUT/quality.json)")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    rows = []
    for spec in args.runs:
        name, kwargs, label = parse_run(spec)
        folder = out / label
        if (folder / "metrics.json").is_file():
            results = json.loads((folder / "metrics.json").read_text())
        else:
            recipe = training.load_recipe(name)
            recipe["kwargs"].update(kwargs)
            results = training.train(recipe, folder, time_budget_s=args.budget)
        test = results["bluemarble/test"]
        rows.append({
            "run": label,
            "arch": results["recipe"]["arch"],
            "params": results["trained_with"]["num_params"],
            "epochs": results["trained_with"]["epochs_run_this_session"],
            "fit_s": results["trained_with"]["fit_seconds_this_session"],
            "pixel_accuracy": test["pixel_accuracy"],
            "mean_iou": test["mean_iou"],
            **{f"iou_{k}": v for k, v in test["per_class_iou"].items()},
        })
    header = f"{'run':<44}{'params':>10}{'epochs':>7}{'fit s':>7}{'pix acc':>9}{'mIoU':>8}" \
             f"{'ocean':>8}{'land':>8}{'lake':>8}"
    print(header)
    for row in rows:
        print(f"{row['run']:<44}{row['params']:>10,}{row['epochs']:>7}{row['fit_s']:>7.0f}"
              f"{row['pixel_accuracy']:>9.4f}{row['mean_iou']:>8.4f}{row['iou_ocean']:>8.4f}"
              f"{row['iou_land']:>8.4f}{row['iou_lake']:>8.4f}")
    target = pathlib.Path(args.json) if args.json else out / "quality.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

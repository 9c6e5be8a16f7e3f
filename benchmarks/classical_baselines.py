"""Classical segmentation baselines on Blue Marble: Otsu thresholding, k-means colour
clustering and SLIC superpixels with a random forest, each fitted on the train regions
and scored on the test split with the same confusion matrix and metrics as the deep
models (``evaluate_predictions``), as 64-px tiles and as whole 384-px regions.

    python benchmarks/classical_baselines.py [--methods otsu kmeans superpixels]
                                             [--json runs/benchmarks/classical_baselines.json]

Columns: fit seconds (on all 59 train regions; the pixel methods sample pixels) and
predict ms per 384x384 region (best of ``--rounds`` over the 20 test regions).
"""
import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _common  # noqa: E402

REGION = 384
TILE = 64
# --quick: small samples and forests, a smoke run of the whole path.
QUICK = {"otsu": {"sample": 20_000}, "kmeans": {"sample": 20_000},
         "superpixels": {"trees": 10}}


def rows_for(name, config, train, test_sets, class_names, rounds):
    from keras_segen.classical import make_baseline
    from keras_segen.evaluation.predictions import evaluate_predictions

    baseline = make_baseline(name, **config)
    started = time.perf_counter()
    baseline.fit(train["image"], train["mask"])
    fit_seconds = time.perf_counter() - started
    regions = test_sets["regions"][1]
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        baseline.predict(regions)
        best = min(best, time.perf_counter() - started)
    rows = []
    for protocol, (dataset, _) in test_sets.items():
        result = evaluate_predictions(baseline.predict, dataset, class_names)
        iou = result["per_class_iou"]
        rows.append({"method": name, "protocol": protocol,
                     "pixel_accuracy": result["pixel_accuracy"],
                     "mean_iou": result["mean_iou"],
                     **{f"iou_{k}": v for k, v in iou.items()},
                     "fit_s": fit_seconds, "predict_ms_per_region": 1000 * best / len(regions),
                     "config": baseline.get_config(), "confusion_matrix":
                     result["confusion_matrix"]})
    return rows


def main(argv=None):
    from keras_segen import datasets
    from keras_segen.classical import BASELINES
    from keras_segen.datasets import bluemarble

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=list(BASELINES),
                        choices=sorted(BASELINES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small samples (a smoke run)")
    parser.add_argument("--json", default="runs/benchmarks/classical_baselines.json")
    args = parser.parse_args(argv)
    machine = _common.machine()
    train = bluemarble.tile_arrays("train", REGION)
    test_sets = {}
    for protocol, size in (("tiles", TILE), ("regions", REGION)):
        dataset, info = datasets.load("bluemarble", "test", tile_size=size)
        test_sets[protocol] = (dataset, bluemarble.tile_arrays("test", size)["image"])
    rows = []
    for name in args.methods:
        rows += rows_for(name, QUICK[name] if args.quick else {}, train, test_sets,
                         info.class_names, args.rounds)
    columns = [("method", "method", ""), ("protocol", "protocol", ""),
               ("pixel_accuracy", "pixel acc", ".4f"), ("mean_iou", "mean IoU", ".4f")]
    columns += [(f"iou_{k}", f"IoU {k}", ".4f") for k in info.class_names]
    columns += [("fit_s", "fit s", ".1f"), ("predict_ms_per_region", "ms/384² region", ".1f")]
    print(_common.format_table(rows, columns, f"Classical baselines, bluemarble test split, "
                                              f"on {machine['cpu']} ({machine['cores']} cores)"))
    _common.write_json(args.json, {"machine": machine, "rows": rows})
    return rows


if __name__ == "__main__":
    main()

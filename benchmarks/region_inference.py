"""Whole-region inference, measured: one fully convolutional pass over each 384-px test
region against overlapping windows with blended probabilities
(``keras_segen.inference.predict_probabilities``), with and without flip TTA.

    python benchmarks/region_inference.py [MODEL ...] [--json PATH]

MODEL: zoo names, run folders or .keras files (default unet_bluemarble). For each mode
the table gives test mIoU and lake IoU over the 20 whole test regions and ms per region,
with the CPU named.
"""
import argparse
import sys
import time

import numpy as np

from _common import format_table, machine, write_json

# name -> (window, overlap, tta); window 384 is the whole region in one pass.
MODES = {
    "whole region": (384, 0, None),
    "128-px windows, 32 blended": (128, 32, None),
    "64-px windows, 16 blended": (64, 16, None),
    "whole region + flip TTA": (384, 0, "flips"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=["unet_bluemarble"])
    parser.add_argument("--json", default="runs/benchmarks/region_inference.json")
    args = parser.parse_args(argv)

    from keras_segen.datasets.recipe_data import load_recipe_split
    from keras_segen.evaluation.predictions import evaluate_predictions
    from keras_segen.evaluation.tta import with_tta
    from keras_segen.inference import predict_mask
    from keras_segen.model_lookup import load_trained

    rows = []
    for source in args.models:
        model, meta = load_trained(source)
        dataset, info = load_recipe_split(meta["recipe"], "test", protocol="regions")
        dataset = dataset.cache()  # read once, predicted in every mode
        count = int(dataset.reduce(0, lambda n, _: n + 1))
        for mode, (window, overlap, tta) in MODES.items():
            predictor = with_tta(model, tta)

            def predict(images, predictor=predictor, window=window, overlap=overlap):
                return np.stack([predict_mask(predictor, np.round(image * 255).astype(np.uint8),
                                              window=window, overlap=overlap)
                                 for image in images])

            started = time.perf_counter()
            scores = evaluate_predictions(predict, dataset, info.class_names, batch_size=1)
            seconds = time.perf_counter() - started
            rows.append({"model": source, "mode": mode, "mean_iou": scores["mean_iou"],
                         "lake": scores["per_class_iou"][info.class_names[-1]],
                         "ms_per_region": 1000 * seconds / count})
            print(f"{source} {mode}: mIoU {scores['mean_iou']:.4f}", flush=True)
    where = machine()
    columns = [("model", "model", "s"), ("mode", "mode", "s"), ("mean_iou", "mIoU", ".4f"),
               ("lake", "lake IoU", ".4f"), ("ms_per_region", "ms/region", ".0f")]
    print(format_table(rows, columns, f"Whole-region inference, 20 test regions of 384 px, "
                                      f"{where['cpu']}"))
    write_json(args.json, {"machine": where, "rows": rows})
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)

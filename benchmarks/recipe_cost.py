"""What the zoo U-Net recipe's loss and metrics cost per training step: the same model and
optimizer compiled with cross-entropy alone, + the batch-level Dice term, + the recipe's
scores as five one-score metrics (one confusion matrix each, the recipe until issue 13)
and as the recipe compiles them now (``ConfusionMatrixScores``: one confusion matrix),
timed side by side (interleaved rounds of ``fit`` on one batch).

    python benchmarks/recipe_cost.py [--rounds 8] [--steps 10]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import _common  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="training steps per round")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", default="runs/benchmarks/recipe_cost.json")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    import keras_segen
    from keras_segen import losses, metrics as segen_metrics
    from keras_segen.kinds.segmentation import segmentation_metrics
    from keras_segen.training.recipes import load_recipe

    recipe = load_recipe("unet_bluemarble")
    names = ["ocean", "land", "lake"]
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(args.batch, 64, 64, 3)).astype("float32")
    masks = rng.integers(0, 3, (args.batch, 64, 64)).astype("int32")
    data = tf.data.Dataset.from_tensors((images, masks)).repeat()

    def ce_and_dice():
        return losses.CombinedLoss([losses.SparseCrossEntropy(), losses.DiceLoss()], [1.0, 0.5])

    def one_score_metrics():  # what segmentation_metrics(names) compiled before issue 13
        return [segen_metrics.PixelAccuracy(3, name="pixel_accuracy"),
                segen_metrics.MeanIoU(3, name="mean_iou")] + [
            segen_metrics.PerClassIoU(3, class_id=k, name=f"iou_{n}")
            for k, n in enumerate(names)]

    variants = {
        "cross-entropy": (losses.SparseCrossEntropy, []),
        "+ Dice": (ce_and_dice, []),
        "+ Dice + 5 one-score metrics": (ce_and_dice, one_score_metrics()),
        "+ Dice + shared scores (recipe)": (ce_and_dice, segmentation_metrics(names)),
    }
    models = {}
    for label, (make_loss, metrics) in variants.items():
        keras.utils.set_random_seed(0)
        model = keras_segen.build("unet", **{**recipe["kwargs"], "input_shape": (64, 64, 3)})
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=make_loss(), metrics=metrics)
        model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace and warm up
        models[label] = model

    def round_of(model):
        return lambda: model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0)

    rates = _common.interleaved({label: round_of(m) for label, m in models.items()},
                                rounds=args.rounds, work_per_round=args.steps * args.batch)
    base = rates["cross-entropy"]
    rows = [{"compiled with": label, "img_s": r["best_per_s"], "img_cpu_s": r["best_per_cpu_s"],
             "cost": base["best_per_s"] / r["best_per_s"] - 1,
             "cpu_cost": base["best_per_cpu_s"] / r["best_per_cpu_s"] - 1}
            for label, r in rates.items()]
    columns = [("compiled with", "U-Net (zoo size) compiled with", ""), ("img_s", "img/s", ".1f"),
               ("img_cpu_s", "img/CPU-s", ".1f"), ("cost", "cost (wall)", "+.1%"),
               ("cpu_cost", "cost (per CPU-s)", "+.1%")]
    print(_common.format_table(rows, columns, f"Recipe loss and metrics, batch {args.batch} "
                                              "at 64x64, AdamW"))
    _common.write_json(args.json, {"machine": _common.machine(), "rows": rows, "rounds": rates})
    return rows


if __name__ == "__main__":
    main()

"""What the input pipeline costs: U-Net training steps fed by the real Blue Marble
pipeline (load -> cache -> shuffle -> augment -> batch -> prefetch, as the recipe trains)
vs fed from in-memory tensors, interleaved in one process.

    python benchmarks/input_pipeline.py [--recipe unet_bluemarble] [--rounds 6] [--steps 20]
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _common  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", default="unet_bluemarble")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--json", default="runs/benchmarks/input_pipeline.json")
    args = parser.parse_args(argv)

    from keras_segen import datasets, registry
    from keras_segen.datasets.augment import JointAugment
    from keras_segen.training.compiling import compile_for_recipe
    from keras_segen.training.recipes import load_recipe

    recipe = load_recipe(args.recipe)
    data_cfg, train_cfg = recipe["dataset"], recipe["train"]
    train_ds, info = datasets.load(data_cfg["name"], "train", **data_cfg.get("options", {}),
                                   **data_cfg.get("train_options", {}), seed=0)
    batch = int(train_cfg["batch_size"])
    augment = JointAugment.from_config(train_cfg["augment"]) if train_cfg.get("augment") else None
    pipeline = datasets.make_pipeline(train_ds, batch_size=batch, training=True,
                                      augment=augment, seed=0).repeat()
    # The same number of distinct batches, already decoded and augmented, held in memory.
    images, masks = zip(*[(x.numpy(), y.numpy())
                          for x, y in pipeline.take(args.steps)])
    in_memory = tf.data.Dataset.from_tensor_slices(
        (np.concatenate(images), np.concatenate(masks))).batch(batch).repeat()

    model = registry.build(recipe["arch"], **recipe["kwargs"])
    compile_for_recipe(model, recipe, info.class_names)

    def fed_by(dataset):
        return lambda: model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=0)

    runs = {"pipeline": fed_by(pipeline), "in_memory": fed_by(in_memory)}
    for run in runs.values():
        run()
    rates = _common.interleaved(runs, rounds=args.rounds, work_per_round=args.steps * batch)
    row = {"recipe": args.recipe, "batch": batch,
           "pipeline_img_s": rates["pipeline"]["best_per_s"],
           "in_memory_img_s": rates["in_memory"]["best_per_s"]}
    row["overhead"] = 1 - row["pipeline_img_s"] / row["in_memory_img_s"]
    columns = [("recipe", "recipe", ""), ("batch", "batch", "d"),
               ("pipeline_img_s", "pipeline img/s", ".1f"),
               ("in_memory_img_s", "in-memory img/s", ".1f"),
               ("overhead", "pipeline overhead", ".1%")]
    print(_common.format_table([row], columns, "Input pipeline cost (fit, float32)"))
    _common.write_json(args.json, {"machine": _common.machine(), "row": row, "rounds": rates})
    return row


if __name__ == "__main__":
    main()

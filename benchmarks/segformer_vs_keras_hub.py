"""Training throughput of keras_segen ``segformer`` B0 vs keras-hub's SegFormer B0, in one
process with interleaved rounds, at equal settings: same input size, batch 8, 3 classes,
AdamW (lr 6e-4, weight decay 0.01), sparse cross-entropy from logits, float32, no metrics.

    python benchmarks/segformer_vs_keras_hub.py [--sizes 128 256] [--rounds 4] [--steps 3]

keras-hub's model is built from its config without weights (MiT-B0: depths 2-2-2-2,
heads 1-2-5-8, sr 8-4-2-1, patches 7-3-3-3 / strides 4-2-2-2, decoder 256, drop path 0.1).
It needs a fixed square input (its layers reshape with sqrt of the sequence length);
ours is built as the zoo builds it, for any size. Known differences: keras-hub drops 10%
of the attention weights and projections in training (the paper: 0), and normalizes
inputs outside the model (ours inside: one multiply-add per pixel).
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _common  # noqa: E402

B0 = dict(hidden_dims=[32, 64, 160, 256], layerwise_depths=[2, 2, 2, 2],
          layerwise_num_heads=[1, 2, 5, 8], layerwise_sr_ratios=[8, 4, 2, 1])


def hub_segformer_b0(size, num_classes):
    import keras_hub

    encoder = keras_hub.models.MiTBackbone(
        **B0, num_layers=4, max_drop_path_rate=0.1, layerwise_patch_sizes=[7, 3, 3, 3],
        layerwise_strides=[4, 2, 2, 2], image_shape=(size, size, 3))
    backbone = keras_hub.models.SegFormerBackbone(image_encoder=encoder,
                                                  projection_filters=256)
    return keras_hub.models.SegFormerImageSegmenter(backbone=backbone,
                                                    num_classes=num_classes)


def ours_segformer_b0(num_classes):
    import keras_segen

    return keras_segen.build("segformer", num_classes=num_classes, variant="b0",
                             drop_path_rate=0.1, dropout=0.1)


def _compiled(model):
    model.compile(optimizer=keras.optimizers.AdamW(6e-4, weight_decay=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[])
    return model


def _round(model, data, steps):
    return lambda: model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)


def compare(size, *, batch, num_classes, steps, rounds):
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((batch, size, size, 3), dtype=np.float32))
    masks = tf.constant(rng.integers(0, num_classes, (batch, size, size)), tf.int32)
    data = tf.data.Dataset.from_tensors((images, masks)).repeat()
    models = {"keras_segen": _compiled(ours_segformer_b0(num_classes)),
              "keras_hub": _compiled(hub_segformer_b0(size, num_classes))}
    runs = {name: _round(model, data, steps) for name, model in models.items()}
    for run in runs.values():  # trace and warm up outside the timing
        run()
    rates = _common.interleaved(runs, rounds=rounds, work_per_round=steps * batch)
    row = {"input": f"{size}x{size}", "batch": batch, "rounds": rates}
    for name, model in models.items():
        row[f"{name}_img_s"] = rates[name]["best_per_s"]
        row[f"{name}_median_img_s"] = rates[name]["median_per_s"]
        row[f"{name}_params"] = model.count_params()
        row[f"{name}_gflop"] = _common.forward_flops(model, [(1, size, size, 3)]) / 1e9
    row["ratio"] = row["keras_segen_img_s"] / row["keras_hub_img_s"]
    row["cpu_ratio"] = (rates["keras_segen"]["best_per_cpu_s"]
                        / rates["keras_hub"]["best_per_cpu_s"])
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3, help="training steps per round")
    parser.add_argument("--json", default="runs/benchmarks/segformer_vs_keras_hub.json")
    args = parser.parse_args(argv)
    rows = [compare(size, batch=args.batch, num_classes=3, steps=args.steps,
                    rounds=args.rounds) for size in args.sizes]
    columns = [("input", "input", ""), ("batch", "batch", "d"),
               ("keras_segen_img_s", "ours img/s", ".2f"),
               ("keras_hub_img_s", "keras-hub img/s", ".2f"),
               ("ratio", "ours/hub", ".2f"), ("cpu_ratio", "per CPU-s", ".2f"),
               ("keras_segen_median_img_s", "ours median", ".2f"),
               ("keras_hub_median_img_s", "hub median", ".2f"),
               ("keras_segen_params", "ours params", ",d"),
               ("keras_hub_params", "hub params", ",d"),
               ("keras_segen_gflop", "ours fwd GFLOP", ".3f"),
               ("keras_hub_gflop", "hub fwd GFLOP", ".3f")]
    print(_common.format_table(
        rows, columns, "SegFormer B0 training throughput (float32, fit, AdamW, 3 classes)"))
    machine = _common.machine()
    print(f"cpu: {machine['cpu']} ({machine['cores']} cores), "
          f"load at start {machine['load_average_at_start']:.1f}")
    _common.write_json(args.json, {"machine": machine, "rows": rows})
    return rows


if __name__ == "__main__":
    main()

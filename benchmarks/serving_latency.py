"""What serving through the exported SavedModel costs: the ``serving_default`` signature
(uint8 in, preprocessing, softmax and argmax inside), as exported (batch norms folded into
the convolutions) and exported with ``fold_batch_norm=False`` (the Keras layers as they
are), vs calling the Keras model directly on float32 images (a compiled ``tf.function``
around ``model(x)``, the fastest plain Keras call, and ``model.predict_on_batch``), at
batch 1 (latency) and batch 32 (throughput).

    python benchmarks/serving_latency.py [--model unet_bluemarble] [--size 64] [--rounds 7]
"""
import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _common  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="unet_bluemarble",
                        help="zoo name, run folder or .keras file")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20, help="calls per round")
    parser.add_argument("--json", default="runs/benchmarks/serving_latency.json")
    args = parser.parse_args(argv)

    from keras_segen.model_lookup import load_trained
    from keras_segen.serving import export

    model, _ = load_trained(args.model)
    with tempfile.TemporaryDirectory() as base:
        path = export(model, base, name="bench", version=1)
        signature = tf.saved_model.load(str(path)).signatures["serving_default"]
        path = export(model, base, name="bench_unfolded", version=1, fold_batch_norm=False)
        unfolded = tf.saved_model.load(str(path)).signatures["serving_default"]
        compiled = tf.function(lambda x: model(x, training=False))
        rows = []
        for batch in (1, 32):
            pixels = np.random.default_rng(0).integers(
                0, 256, (batch, args.size, args.size, 3), dtype=np.uint8)
            as_uint8 = tf.constant(pixels)
            as_float = tf.constant(pixels.astype(np.float32) / 255.0)
            calls = {
                "signature": lambda: signature(images=as_uint8)["masks"].numpy(),
                "signature_unfolded": lambda: unfolded(images=as_uint8)["masks"].numpy(),
                "keras_tf_function": lambda: compiled(as_float).numpy(),
                "keras_predict_on_batch": lambda: model.predict_on_batch(as_float),
            }

            def rounds_of(call):
                def run():
                    for _ in range(args.calls):
                        call()
                return run

            runs = {name: rounds_of(call) for name, call in calls.items()}
            for run in runs.values():
                run()
            rates = _common.interleaved(runs, rounds=args.rounds,
                                        work_per_round=args.calls * batch)
            row = {"batch": batch, **{f"{name}_img_s": r["best_per_s"]
                                      for name, r in rates.items()}}
            row["latency_ms_signature"] = 1000 * batch / row["signature_img_s"]
            row["latency_ms_keras"] = 1000 * batch / row["keras_tf_function_img_s"]
            row["overhead_vs_tf_function"] = (
                row["keras_tf_function_img_s"] / row["signature_img_s"] - 1)
            row["unfolded_overhead_vs_tf_function"] = (
                row["keras_tf_function_img_s"] / row["signature_unfolded_img_s"] - 1)
            rows.append(row)
    columns = [("batch", "batch", "d"), ("signature_img_s", "signature img/s", ".1f"),
               ("signature_unfolded_img_s", "unfolded signature img/s", ".1f"),
               ("keras_tf_function_img_s", "keras tf.function img/s", ".1f"),
               ("keras_predict_on_batch_img_s", "predict_on_batch img/s", ".1f"),
               ("latency_ms_signature", "signature ms/call", ".2f"),
               ("latency_ms_keras", "keras ms/call", ".2f"),
               ("overhead_vs_tf_function", "signature overhead", "+.1%"),
               ("unfolded_overhead_vs_tf_function", "unfolded overhead", "+.1%")]
    print(_common.format_table(rows, columns, f"Serving {args.model} at {args.size}x{args.size}"))
    _common.write_json(args.json, {"machine": _common.machine(), "model": args.model,
                                   "size": args.size, "rows": rows})
    return rows


if __name__ == "__main__":
    main()

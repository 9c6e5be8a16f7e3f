"""Where a ``serving_default`` call spends its time: op time by op type, as TF Serving
runs the export (the v1 loader and ``Session.run``, traced with ``FULL_TRACE``), for the
export as written (batch norms folded) and with ``fold_batch_norm=False``.

    python benchmarks/serving_profile.py [--model unet_bluemarble] [--batch 32] [--runs 20]
"""
import argparse
import collections
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _common  # noqa: E402


def op_times(path, pixels, runs):
    """``{op type: mean microseconds per call}`` of ``serving_default`` on ``pixels``."""
    graph = tf.Graph()
    with graph.as_default():
        session = tf.compat.v1.Session(graph=graph)
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(path))
    signature = meta.signature_def["serving_default"]
    feed = {signature.inputs["images"].name: pixels}
    fetches = [output.name for output in signature.outputs.values()]
    for _ in range(3):
        session.run(fetches, feed)
    totals = collections.Counter()
    options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
    for _ in range(runs):
        metadata = tf.compat.v1.RunMetadata()
        session.run(fetches, feed, options=options, run_metadata=metadata)
        for device in metadata.step_stats.dev_stats:
            for node in device.node_stats:
                label = node.timeline_label  # "name = OpType(inputs)"
                op = label.split("=", 1)[1].split("(", 1)[0].strip() if "=" in label \
                    else node.node_name
                totals[op] += node.op_end_rel_micros
    session.close()
    return {op: micros / runs for op, micros in totals.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="unet_bluemarble",
                        help="zoo name, run folder or .keras file")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", default="runs/benchmarks/serving_profile.json")
    args = parser.parse_args(argv)

    from keras_segen.model_lookup import load_trained
    from keras_segen.serving import export

    model, _ = load_trained(args.model)
    pixels = np.random.default_rng(0).integers(
        0, 256, (args.batch, args.size, args.size, 3), dtype=np.uint8)
    profiles = {}
    with tempfile.TemporaryDirectory() as base:
        for fold in (True, False):
            path = export(model, base, name=f"fold_{fold}", fold_batch_norm=fold)
            profiles["folded" if fold else "unfolded"] = op_times(path, pixels, args.runs)
    unfolded = profiles["unfolded"]
    total = sum(unfolded.values())
    ops = sorted(set(unfolded) | set(profiles["folded"]),
                 key=lambda op: -max(unfolded.get(op, 0), profiles["folded"].get(op, 0)))
    rows = [{"op": op, "unfolded_us": unfolded.get(op), "unfolded_share": unfolded.get(op, 0) / total,
             "folded_us": profiles["folded"].get(op)} for op in ops[: args.top]]
    rows.append({"op": "all ops", "unfolded_us": total, "unfolded_share": 1.0,
                 "folded_us": sum(profiles["folded"].values())})
    columns = [("op", "op type", "s"), ("unfolded_us", "unfolded us/call", ".0f"),
               ("unfolded_share", "share", ".1%"), ("folded_us", "folded us/call", ".0f")]
    print(_common.format_table(
        rows, columns,
        f"serving_default op time, {args.model}, batch {args.batch} at {args.size}x{args.size}"))
    _common.write_json(args.json, {"machine": _common.machine(), "model": args.model,
                                   "batch": args.batch, "size": args.size,
                                   "profiles": profiles})
    return profiles


if __name__ == "__main__":
    main()

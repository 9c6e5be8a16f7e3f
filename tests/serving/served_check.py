"""Load exported SavedModels the way a server does, in a process that knows only TF.

Run as ``python served_check.py JOB.json``; imports tensorflow (and the serving API's
protos) with keras and keras_segen made unimportable, and lists ``sys.modules`` to show
that neither was loaded.

JOB.json: ``{"exports": [{"path": DIR, "inputs": NPZ, "outputs": NPZ}], "result": JSON}``.
For each export:

* TF2: ``tf.saved_model.load`` and run every ``"<signature>/<input>"`` group of arrays in
  ``inputs`` through that signature; outputs go to ``outputs`` as ``"<sig>/<name>"``.
* TF Serving style: the TF1 loader with tag ``serve`` in a fresh graph and session; each
  warmup record of ``assets.extra/tf_serving_warmup_requests`` is fed through the
  SignatureDef it names (feeds and fetches by tensor name, as the server does).
* Every op of the graph and of its function library must be a stock TF op
  (``tf.raw_ops``): TF Serving's binary has no custom ops.

The result JSON has, per export path: ``signatures`` (name -> method_name, inputs,
outputs), ``warmup`` (one entry per record: signature, output shapes and dtypes or the
error), ``non_stock_ops``, and at the top level ``modules`` (keras/keras_segen loaded?).
"""
import importlib.abc
import json
import pathlib
import sys

HIDDEN = ("keras", "keras_segen", "tf_keras")


class _WithoutKeras(importlib.abc.MetaPathFinder):
    """Make keras and keras_segen unfindable, as on a server that has only TensorFlow
    (TensorFlow then imports without its ``tf.keras`` shim)."""

    def __init__(self, finders):
        self.finders = finders

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            return None
        for finder in self.finders:
            spec = finder.find_spec(name, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None:
                return spec
        return None


sys.meta_path[:] = [_WithoutKeras(list(sys.meta_path))]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import prediction_log_pb2  # noqa: E402
from v1_session import ServedModel, request_inputs  # noqa: E402


def run_signatures(path, inputs_npz, outputs_npz):
    loaded = tf.saved_model.load(path)
    arrays = np.load(inputs_npz, allow_pickle=True)
    groups = {}
    for key in arrays.files:
        signature, name = key.split("/", 1)
        groups.setdefault(signature, {})[name] = arrays[key]
    outputs = {}
    for signature, feeds in groups.items():
        result = loaded.signatures[signature](**{k: tf.constant(v) for k, v in feeds.items()})
        for name, value in result.items():
            outputs[f"{signature}/{name}"] = value.numpy()
    np.savez(outputs_npz, **outputs)


def served_style(path):
    report = {"signatures": {}, "warmup": [], "non_stock_ops": []}
    warmup = pathlib.Path(path) / "assets.extra" / "tf_serving_warmup_requests"
    served = ServedModel(path)
    try:
        meta = served.meta
        for name, signature in meta.signature_def.items():
            report["signatures"][name] = {
                "method_name": signature.method_name,
                "inputs": sorted(signature.inputs),
                "outputs": sorted(signature.outputs),
            }
        for record in tf.compat.v1.io.tf_record_iterator(str(warmup)):
            request = prediction_log_pb2.PredictionLog.FromString(record).predict_log.request
            entry = {"signature": request.model_spec.signature_name,
                     "model_name": request.model_spec.name}
            try:
                values = served.run(entry["signature"], request_inputs(request))
                entry["outputs"] = {k: [list(v.shape), v.dtype.name] for k, v in values.items()}
            except Exception as err:  # reported, the test fails on it
                entry["error"] = f"{type(err).__name__}: {err}"
            report["warmup"].append(entry)
        graph_def = meta.graph_def
        ops = {node.op for node in graph_def.node}
        for function in graph_def.library.function:
            ops |= {node.op for node in function.node_def}
        report["num_ops"] = len(ops)
        report["non_stock_ops"] = sorted(op for op in ops if not hasattr(tf.raw_ops, op))
    finally:
        served.close()
    return report


def main(job_path):
    job = json.loads(pathlib.Path(job_path).read_text())
    results = {"exports": {}}
    for item in job["exports"]:
        if item.get("inputs"):
            run_signatures(item["path"], item["inputs"], item["outputs"])
        results["exports"][item["path"]] = served_style(item["path"])
    results["modules"] = sorted(m for m in sys.modules if m.partition(".")[0] in HIDDEN)
    pathlib.Path(job["result"]).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
